package intake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/store"
	"github.com/jackc/pgx/v5"
)

// DeliverBatch implements BatchHandler: the mails are parsed, then
// committed in as few transactions as their independence allows, which is
// what lets a backlog go faster than one commit per mail. Should a
// transaction fail (a conflict with another instance, a mail that trips a
// database error), its mails are delivered one by one instead, in UID
// order, so one bad mail never holds up the others.
//
// A large enough batch is split (see split) into parts committed in
// parallel transactions, so that the database and the parsing, routing
// and rendering here keep both of a small machine's cores busy. Each mail's claim commits with its case as always, so it is still
// ingested exactly once; what the split changes is that the cursor then
// moves after the parts commit, in a statement of its own (a crash in
// between only makes the next pass skip the claimed mails again), and that
// case numbers in the batch follow commit order rather than UID order.
func (p *Processor) DeliverBatch(ctx context.Context, ds []Delivery) (int, error) {
	ps := make([]parsedMail, len(ds))
	for i, d := range ds {
		ps[i].mb = p.mailbox(d.Mailbox)
		if ps[i].mb == nil {
			return 0, fmt.Errorf("mail for unknown mailbox %q", d.Mailbox)
		}
	}
	parts := [][]int{seq(len(ds))}
	if p.splitting.TryLock() {
		defer p.splitting.Unlock()
		p.parseBatch(ctx, ds, ps, true)
		parts = p.split(ctx, ds, ps)
	} else {
		p.parseBatch(ctx, ds, ps, false)
	}
	results := make([]Result, len(ds))
	committed := make([]bool, len(parts))
	queued := make([]bool, len(parts))
	defer func() {
		if slices.Contains(queued, true) && p.Committed != nil {
			p.Committed()
		}
	}()
	if len(parts) == 1 {
		queued[0], committed[0] = p.commitPart(ctx, ds, ps, parts[0], results, true, false)
	} else {
		p.log().Info("batch split into parallel transactions", "mails", len(ds), "parts", len(parts))
		var wg sync.WaitGroup
		for i, part := range parts {
			wg.Go(func() { queued[i], committed[i] = p.commitPart(ctx, ds, ps, part, results, false, true) })
		}
		wg.Wait()
	}
	// What did not commit goes one by one, in UID order.
	var redo []int
	for i, part := range parts {
		if !committed[i] {
			redo = append(redo, part...)
		}
	}
	slices.Sort(redo)
	for i := range ds {
		if len(redo) > 0 && redo[0] == i {
			// Mails after i may be committed already: the count returned
			// is of those known to be, from the start, and a later pass
			// skips the rest by their claims.
			if err := p.Deliver(ctx, ds[i]); err != nil {
				return i, err
			}
			redo = redo[1:]
		} else {
			p.logResult(ds[i], results[i])
		}
	}
	if len(parts) > 1 {
		if err := p.advanceCursors(ctx, p.Store.DB(), ds); err != nil {
			return len(ds), err
		}
	}
	return len(ds), nil
}

// parsedMail is a mail of a batch, parsed.
type parsedMail struct {
	mb     *config.Mailbox
	msg    *mailparse.Message
	err    error
	sender senderauth.Verdict
	// shared: another mail of the batch has the same Message-ID.
	shared bool
}

// parseBatch parses ds into ps (their mailboxes set), on two goroutines
// if parallel, and marks the shared ones.
func (p *Processor) parseBatch(ctx context.Context, ds []Delivery, ps []parsedMail, parallel bool) {
	parse := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ps[i].msg, ps[i].err = p.parse(ds[i], ps[i].mb)
			ps[i].sender = p.checkSender(ctx, ds[i], ps[i].msg)
		}
	}
	if parallel {
		var wg sync.WaitGroup
		half := len(ds) / 2
		wg.Go(func() { parse(0, half) })
		parse(half, len(ds))
		wg.Wait()
	} else {
		parse(0, len(ds))
	}
	seen := map[string]int{}
	for _, pm := range ps {
		if pm.msg != nil && pm.msg.MessageID != "" {
			seen[pm.msg.MessageID]++
		}
	}
	for i, pm := range ps {
		ps[i].shared = pm.msg != nil && seen[pm.msg.MessageID] > 1
	}
}

// partRetries is how often a part that collided with another transaction
// (a deadlock, a serialization failure, a lock wait given up) is run again
// before its mails go one by one.
const partRetries = 3

// commitPart applies the mails part (indexes into ds) in one transaction
// and reports whether it queued mail and whether it committed; results
// are filled in for the part's mails. advance moves the cursor in the same
// transaction; apart takes round-robin turns outside it, which parts
// running in parallel need (see store.Assigner). A part that collides with
// another transaction is run again, with backoff; one that fails otherwise
// is left to the caller to deliver one by one. Both are logged at WARN.
func (p *Processor) commitPart(ctx context.Context, ds []Delivery, ps []parsedMail, part []int, results []Result, advance, apart bool) (queued, committed bool) {
	for attempt := 0; ; attempt++ {
		queued, err := p.tryPart(ctx, ds, ps, part, results, advance, apart)
		if err == nil {
			return queued, true
		}
		reason, conflict := store.Conflict(err)
		if conflict {
			p.stats.conflict(reason)
		}
		// A lock wait given up is how a wait cycle through this process
		// (parts of one batch) is broken: running the part again would
		// meet it again.
		if !conflict || reason == "lock_timeout" || attempt == partRetries || ctx.Err() != nil {
			p.log().Warn("batch not committed, delivering one by one", "mails", len(part), "error", err)
			return false, false
		}
		p.log().Warn("batch collided with another transaction; running it again", "reason", reason,
			"attempt", attempt+1, "mails", len(part), "detail", store.ConflictDetail(err))
		if !sleepCtx(ctx, conflictBackoff(attempt)) {
			return false, false
		}
	}
}

// conflictBackoff is the wait before running a collided transaction again:
// 20 ms doubling, with jitter so that the two sides do not meet again.
func conflictBackoff(attempt int) time.Duration {
	d := 20 * time.Millisecond << attempt
	return d/2 + rand.N(d)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tryPart is one attempt of commitPart.
func (p *Processor) tryPart(ctx context.Context, ds []Delivery, ps []parsedMail, part []int, results []Result, advance, apart bool) (queued bool, err error) {
	err = p.Store.InTx(ctx, func(tx pgx.Tx) error {
		queued = false
		ids, err := store.ReserveMessageIDs(ctx, tx, len(part))
		if err != nil {
			return err
		}
		// Every lock a part may take on a sender's acknowledgement
		// allowance is taken here, up front and in one global order, so
		// that no two transactions (parts of a batch, other instances)
		// ever wait on each other's in opposite orders.
		var senders []string
		for _, i := range part {
			if s, ok := acknowledged(ps[i]); ok {
				senders = append(senders, s)
			}
		}
		if err := store.LockAckAllowances(ctx, tx, senders); err != nil {
			return err
		}
		tms := make([]txMail, len(part))
		shared := make([]bool, len(part))
		acks := store.MailboxAcks{}
		// The part's writes that need no answer go out together: a mail
		// that stands alone is applied while those of the mails before it
		// are still queued, so that they travel with its first round trip
		// and the events and participants of many mails are one statement.
		w := &store.Batch{}
		for k, i := range part {
			tms[k] = txMail{d: ds[i], mb: ps[i].mb, msg: ps[i].msg, perr: ps[i].err, sender: ps[i].sender, msgID: ids[k],
				apart: apart, acks: acks, w: w, alone: p.standsAlone(ps[i])}
			shared[k] = ps[i].shared
		}
		if err := p.claimAhead(ctx, tx, tms, shared); err != nil {
			return err
		}
		for k, i := range part {
			r, q, err := p.deliverTx(ctx, tx, tms[k])
			if err != nil {
				return err
			}
			results[i], queued = r, queued || q
		}
		if err := w.Send(ctx, tx); err != nil {
			return err
		}
		if !advance {
			return nil
		}
		sub := make([]Delivery, len(part))
		for k, i := range part {
			sub[k] = ds[i]
		}
		return p.advanceCursors(ctx, tx, sub)
	})
	return queued, err
}

// standsAlone reports whether applying a mail reads nothing that another
// mail of its transaction writes: a new request, or an unparsable mail.
// What may thread reads the cases, messages and participants it may
// thread to; a mail whose Message-ID another shares is claimed and looked
// up on its own; a mail to a mine address lists an agent's cases; a
// supplier's mail may name any of their cases.
func (p *Processor) standsAlone(pm parsedMail) bool {
	m := pm.msg
	if m == nil || pm.err != nil {
		return true // quarantined: its claim and its record only
	}
	if pm.shared || m.InReplyTo != "" || len(m.References) > 0 || m.Bounce != nil {
		return false
	}
	if _, ok := mailparse.CaseTag(m.Subject); ok {
		return false
	}
	for _, addr := range recipients(m) {
		if _, ok := p.tokenIn(addr); ok {
			return false
		}
		if pm.mb != nil && pm.mb.MineAddress != "" && strings.EqualFold(addr, pm.mb.MineAddress) {
			return false
		}
	}
	return p.Rules == nil || p.Rules().SupplierBySender(m.From.Addr) == nil
}

// senderOf is whom a mail's acknowledgement would go to: the From address,
// else Sender's, lower-cased (as the allowance counts them).
func senderOf(m *mailparse.Message) string {
	a := m.From.Addr
	if a == "" {
		a = m.Sender.Addr
	}
	return strings.ToLower(a)
}

// claimAhead claims the mails of a transaction in one round trip instead
// of one each, with the search for each stored before. It leaves out the
// shared ones, whose Message-ID another mail of the batch has: the search
// would not see that one's writes. Those, and unparsable mails, are
// claimed by deliverTx as it comes to them.
func (p *Processor) claimAhead(ctx context.Context, tx pgx.Tx, tms []txMail, shared []bool) error {
	var cs []store.Claim
	var which []int
	for k := range tms {
		tm := &tms[k]
		if tm.perr != nil || tm.msg == nil || shared[k] {
			continue
		}
		tm.hash = identityHash(tm.msg, tm.d.Raw)
		cs = append(cs, store.Claim{Mailbox: tm.d.Mailbox, UIDValidity: tm.d.UIDValidity, UID: tm.d.UID,
			MessageID: tm.msg.MessageID, ContentHash: tm.hash})
		which = append(which, k)
	}
	if len(cs) < 2 {
		return nil
	}
	got, err := store.ClaimAndFindMany(ctx, tx, cs)
	if err != nil {
		return err
	}
	for j, k := range which {
		tms[k].claimed = &got[j]
	}
	return nil
}

// advanceCursors moves each mailbox's cursor once, past its last mail in ds.
func (p *Processor) advanceCursors(ctx context.Context, e store.Execer, ds []Delivery) error {
	last := map[string]Delivery{}
	for _, d := range ds {
		if l, ok := last[d.Mailbox]; !ok || d.UID > l.UID {
			last[d.Mailbox] = d
		}
	}
	for _, d := range last {
		if err := store.AdvanceCursor(ctx, e, d.Mailbox, d.UIDValidity, d.UID); err != nil {
			return err
		}
	}
	return nil
}
