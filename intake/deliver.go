package intake

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/store"
	"github.com/jackc/pgx/v5"
)

// txMail is one mail for deliverTx, with what the caller did for it.
type txMail struct {
	d    Delivery
	mb   *config.Mailbox
	msg  *mailparse.Message
	perr error
	// sender is the mail's sender authentication (checkSender).
	sender senderauth.Verdict
	// msgID is a reserved message row id, or 0 to reserve one.
	msgID int64
	// advance moves the cursor past the mail in the same transaction.
	advance bool
	// apart takes round-robin turns outside the transaction (see
	// store.Assigner), as parts committed in parallel must.
	apart bool
	// claimed, when set, says the mail was claimed already (with hash,
	// its identity) and what was found stored under that identity.
	claimed *store.Claimed
	hash    []byte
	// acks is the transaction's count of its mailboxes' acknowledgements,
	// shared by its mails (store.MailboxAcks); nil for a transaction of one.
	acks store.MailboxAcks
	// w, when set, is the transaction's queue of writes, shared by its
	// mails and sent by the caller after the last; nil queues this mail's
	// writes and sends them before deliverTx returns. alone says the mail
	// reads nothing an earlier mail of the transaction writes (see
	// standsAlone): otherwise what is queued is sent before it is applied.
	w     *store.Batch
	alone bool
}

// deliverTx applies one mail in tx.
func (p *Processor) deliverTx(ctx context.Context, tx pgx.Tx, tm txMail) (Result, bool, error) {
	d, msg, perr, msgID, advance, apart := tm.d, tm.msg, tm.perr, tm.msgID, tm.advance, tm.apart
	w := tm.w
	if w == nil {
		w = &store.Batch{}
	} else if !tm.alone {
		if err := w.Send(ctx, tx); err != nil {
			return Result{}, false, err
		}
	}
	cursor := func(e store.Execer) error {
		if !advance {
			return nil // the batch moves the cursor once, past its last mail
		}
		return store.AdvanceCursor(ctx, e, d.Mailbox, d.UIDValidity, d.UID)
	}
	var (
		fresh bool
		hash  []byte
		dup   store.Inbound
		err   error
	)
	switch {
	case tm.claimed != nil:
		hash, fresh, dup = tm.hash, tm.claimed.Fresh, tm.claimed.Dup
	case perr == nil && msg != nil:
		hash = identityHash(msg, d.Raw)
		fresh, dup, err = store.ClaimAndFind(ctx, tx, d.Mailbox, d.UIDValidity, d.UID, msg.MessageID, hash)
	default:
		fresh, err = store.ClaimUID(ctx, tx, d.Mailbox, d.UIDValidity, d.UID)
	}
	if err != nil {
		return Result{}, false, err
	}
	if !fresh {
		return Result{Outcome: OutcomeSkipped}, false, cursor(tx)
	}
	finish := func(r Result, msgRow int64) (Result, error) {
		if err := store.SetOutcome(ctx, tx, d.Mailbox, d.UIDValidity, d.UID, r.Outcome, msgRow, r.Quarantine); err != nil {
			return r, err
		}
		return r, cursor(tx)
	}
	if perr != nil || msg == nil {
		reason := "unparsable mail"
		switch {
		case errors.Is(perr, mailparse.ErrBudget):
			reason = "over the processing budget (processing_budget): " + perr.Error()
		case perr != nil:
			reason = "unparsable mail: " + perr.Error()
		}
		id, err := store.Quarantine(ctx, tx, d.Mailbox, d.UIDValidity, d.UID, reason, d.Raw)
		if err != nil {
			return Result{}, false, err
		}
		r, err := finish(Result{Outcome: OutcomeQuarantined, Quarantine: id, Reason: reason}, 0)
		return r, false, err
	}
	var assigner store.Assigner
	if apart {
		assigner = p.Store.Apart(tx)
	} else {
		assigner = store.Assigner{Q: tx}
	}
	tm.hash, tm.msgID = hash, msgID
	tm.claimed = &store.Claimed{Fresh: true, Dup: dup}
	r, msgRow, queued, err := p.apply(ctx, tx, w, tm, assigner)
	if err != nil {
		return Result{}, false, err
	}
	if r.Outcome == OutcomeQuarantined && r.Quarantine == 0 {
		if r.Quarantine, err = store.Quarantine(ctx, tx, d.Mailbox, d.UIDValidity, d.UID, r.Reason, d.Raw); err != nil {
			return Result{}, false, err
		}
	}
	r.Auto = msg.Auto
	if err := store.SetOutcome(ctx, w, d.Mailbox, d.UIDValidity, d.UID, r.Outcome, msgRow, r.Quarantine); err != nil {
		return r, false, err
	}
	if err := cursor(w); err != nil {
		return r, false, err
	}
	if tm.w != nil {
		return r, queued, nil // the caller sends w
	}
	return r, queued, w.Send(ctx, tx)
}

// apply applies one parsed mail in tx: a mail stored before is recorded as
// a duplicate; a mail to the mailbox's mine address that threads to no
// case is answered with its sender's cases, or refused as quarantined
// (with the reason, Quarantine 0: the caller keeps the mail); any other
// is threaded and handed to case work. tm.msgID is a
// reserved message row id, or 0 to reserve one; tm.hash the mail's
// identity, or nil to compute it; tm.claimed what its claim found stored
// under it, or nil to look it up. Writes that need no answer go to w.
func (p *Processor) apply(ctx context.Context, tx pgx.Tx, w *store.Batch, tm txMail, assigner store.Assigner) (Result, int64, bool, error) {
	d, mb, msg, msgID, hash := tm.d, tm.mb, tm.msg, tm.msgID, tm.hash
	var dup *store.Inbound
	if tm.claimed != nil {
		dup = &tm.claimed.Dup
	}
	if msgID == 0 {
		ids, err := store.ReserveMessageIDs(ctx, tx, 1)
		if err != nil {
			return Result{}, 0, false, err
		}
		msgID = ids[0]
	}
	if hash == nil {
		hash = identityHash(msg, d.Raw)
	}
	if dup == nil {
		caseID, row, found, err := store.FindInbound(ctx, tx, msg.MessageID, hash)
		if err != nil {
			return Result{}, 0, false, err
		}
		dup = &store.Inbound{CaseID: caseID, MessageRow: row, Found: found}
	}
	if dup.Found {
		c, err := store.CaseByID(ctx, tx, dup.CaseID)
		if err != nil {
			return Result{}, 0, false, err
		}
		return Result{Outcome: OutcomeDuplicate, CaseNumber: c.Number,
			Reason: "same Message-ID and content already stored"}, dup.MessageRow, false, nil
	}
	now := p.now()
	th, linked, err := p.findThread(ctx, tx, msg, now)
	if err != nil {
		return Result{}, 0, false, err
	}
	if mine := p.mineMailbox(mb, msg); th == nil && mine != nil {
		// A request for my cases, not a case: answered, or refused (then
		// quarantined by the caller, with the reason). A copy in another
		// mailbox (the mine address and that mailbox both addressed) is
		// the same request, answered once, and no case either.
		ans, err := p.desk().AnswerMine(ctx, tx, p.Rules(), casework.Mail{Msg: msg, Raw: d.Raw, Mailbox: mine, UID: d.UID,
			Hash: hash, Sender: tm.sender}, now)
		if err != nil {
			return Result{}, 0, false, err
		}
		if ans.Capped {
			p.stats.capped("mine")
		}
		switch {
		case ans.Refused != "":
			return Result{Outcome: OutcomeQuarantined, Reason: ans.Refused}, 0, false, nil
		case ans.Duplicate:
			return Result{Outcome: OutcomeDuplicate, Reason: ans.Reason}, 0, false, nil
		}
		return Result{Outcome: OutcomeAnswered, Reason: ans.Reason}, 0, ans.Queued, nil
	}
	exposed, why := p.exposedTokens(msg)
	ap, err := p.desk().Apply(ctx, tx, w, p.Rules(), casework.Mail{Msg: msg, Raw: d.Raw, Mailbox: mb, UID: d.UID,
		Hash: hash, Row: msgID, Oversize: p.isOversize(d, mb), Thread: th, Linked: linked,
		Sender: tm.sender, Exposed: exposed, ExposedWhy: why, Acks: tm.acks}, assigner, now)
	if err != nil {
		return Result{}, 0, false, err
	}
	for _, c := range ap.Capped {
		p.stats.capped(c)
	}
	r := Result{Outcome: OutcomeMessage, CaseNumber: ap.Case.Number, Reason: ap.Reason}
	if ap.Opened {
		r.Outcome = OutcomeCase
	}
	return r, ap.Row, ap.Queued, nil
}

// mineMailbox is the mailbox whose mine address msg is addressed to: mb's
// own, else another's; nil for none.
func (p *Processor) mineMailbox(mb *config.Mailbox, msg *mailparse.Message) *config.Mailbox {
	to := recipients(msg)
	is := func(m *config.Mailbox) bool {
		return m.MineAddress != "" && slices.ContainsFunc(to, func(a string) bool { return strings.EqualFold(a, m.MineAddress) })
	}
	if is(mb) {
		return mb
	}
	for i := range p.Config.Mailboxes {
		if m := &p.Config.Mailboxes[i]; is(m) {
			return m
		}
	}
	return nil
}
