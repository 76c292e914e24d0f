package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// Processor applies delivered mail to cases. It implements Handler: each
// Deliver runs in one transaction that claims the IMAP UID, stores the mail
// as a case, a message or a quarantine record, queues the mail casemail
// sends in reply, and advances the mailbox cursor — all or nothing.
type Processor struct {
	Store     *store.Store
	Config    *config.Daemon
	Rules     func() *config.Rules // the rules in force; swapped on reload
	Keys      *notify.Keys
	Templates *notify.Templates
	Log       *slog.Logger
	Now       func() time.Time
	// Committed is called after a transaction that queued outgoing mail
	// commits, to wake the outbox sender.
	Committed func()

	ingested atomic.Int64
	stats    stats
	// splitting is held by the one batch at a time that may be split into
	// parallel transactions (see DeliverBatch): that is enough to use a
	// second core, and it bounds the connections intake takes.
	splitting sync.Mutex
}

// Outcomes of one delivery, as recorded in the ingested table.
const (
	OutcomeCase        = "case"
	OutcomeMessage     = "message"
	OutcomeDuplicate   = "duplicate"
	OutcomeQuarantined = "quarantined"
	OutcomeSkipped     = "skipped" // handled before: another daemon or an earlier run
)

// Result says what one Deliver did, for tests, logs and metrics.
type Result struct {
	Outcome    string
	CaseNumber int64
	Quarantine int64
	Reason     string
	Auto       mailparse.AutoKind // what kind of automatic mail it was; AutoNone when a person wrote it
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Processor) mailer() *notify.Mailer {
	return &notify.Mailer{Config: p.Config, Keys: p.Keys, Templates: p.Templates}
}

// location is the zone dates in mails are shown in.
func (p *Processor) location() *time.Location {
	if p.Config.Location != nil {
		return p.Config.Location
	}
	return time.UTC
}

func (p *Processor) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// Cursor implements Handler.
func (p *Processor) Cursor(ctx context.Context, mailbox string) (uint32, uint32, bool, error) {
	return p.Store.Cursor(ctx, mailbox)
}

// Unmarked implements MarkTracker.
func (p *Processor) Unmarked(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error) {
	return p.Store.Unmarked(ctx, mailbox, uidValidity)
}

// Marked implements MarkTracker.
func (p *Processor) Marked(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error {
	return p.Store.SetMarked(ctx, mailbox, uidValidity, uids)
}

// Deliver implements Handler.
func (p *Processor) Deliver(ctx context.Context, d Delivery) error {
	_, err := p.Process(ctx, d)
	return err
}

// DeliverBatch implements BatchHandler: the mails are parsed, then
// committed in as few transactions as their independence allows, which is
// what lets a backlog go faster than one commit per mail. Should a
// transaction fail (a conflict with another instance, a mail that trips a
// database error), its mails are delivered one by one instead, in UID
// order, so one bad mail never holds up the others.
//
// A large enough batch of mostly new requests is split (see split) into
// parts committed in parallel transactions, so that the database and the
// parsing, routing and rendering here keep both of a small machine's cores
// busy. Each mail's claim commits with its case as always, so it is still
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
		p.parseBatch(ds, ps, true)
		parts = p.split(ds, ps)
	} else {
		p.parseBatch(ds, ps, false)
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
		if err := p.advanceCursors(ctx, p.Store.Pool, ds); err != nil {
			return len(ds), err
		}
	}
	return len(ds), nil
}

// parsedMail is a mail of a batch, parsed.
type parsedMail struct {
	mb  *config.Mailbox
	msg *mailparse.Message
	err error
	// shared: another mail of the batch has the same Message-ID.
	shared bool
}

// parseBatch parses ds into ps (their mailboxes set), on two goroutines
// if parallel, and marks the shared ones.
func (p *Processor) parseBatch(ds []Delivery, ps []parsedMail, parallel bool) {
	parse := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ps[i].msg, ps[i].err = p.parse(ds[i], ps[i].mb)
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

// commitPart applies the mails part (indexes into ds) in one transaction
// and reports whether it queued mail and whether it committed; results
// are filled in for the part's mails. advance moves the cursor in the same
// transaction; apart takes round-robin turns outside it, which parts
// running in parallel need (see store.Assigner).
func (p *Processor) commitPart(ctx context.Context, ds []Delivery, ps []parsedMail, part []int, results []Result, advance, apart bool) (queued, committed bool) {
	err := p.Store.InTx(ctx, func(tx pgx.Tx) error {
		queued = false
		ids, err := store.ReserveMessageIDs(ctx, tx, len(part))
		if err != nil {
			return err
		}
		tms := make([]txMail, len(part))
		shared := make([]bool, len(part))
		for k, i := range part {
			tms[k] = txMail{d: ds[i], mb: ps[i].mb, msg: ps[i].msg, perr: ps[i].err, msgID: ids[k], apart: apart}
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
		if !advance {
			return nil
		}
		sub := make([]Delivery, len(part))
		for k, i := range part {
			sub[k] = ds[i]
		}
		return p.advanceCursors(ctx, tx, sub)
	})
	if err != nil {
		p.log().Debug("batch not committed, delivering one by one", "mails", len(part), "error", err)
		return false, false
	}
	return queued, true
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

// splitParts is how many parallel transactions a batch may be split into,
// and splitMin the fewest mails a part is worth. Four parts keep two cores
// busy: each part alternates between work here and work in PostgreSQL.
const (
	splitParts = 4
	splitMin   = 16
)

// split divides a batch into parts that can commit in parallel
// transactions without one needing to see another's writes. Mails that
// may thread to a case (a reply token, references, a subject tag, a
// bounce), mails another mail of the batch refers to, mails sharing a
// Message-ID and unparsable mails all go into the first part, in order;
// the new requests that remain are spread over the parts. Such a mail
// touches only the case it opens, so no part reads what another writes.
func (p *Processor) split(ds []Delivery, ps []parsedMail) [][]int {
	k := min(splitParts, len(ds)/splitMin)
	if k < 2 {
		return [][]int{seq(len(ds))}
	}
	referred := map[string]bool{}
	for _, pm := range ps {
		if pm.msg == nil {
			continue
		}
		for _, r := range pm.msg.References {
			referred[r] = true
		}
		referred[pm.msg.InReplyTo] = true
	}
	var pinned, free []int
	for i, pm := range ps {
		m := pm.msg
		if pm.err != nil || m == nil || pm.shared || p.mayThread(m) ||
			(m.MessageID != "" && referred[m.MessageID]) {
			pinned = append(pinned, i)
		} else {
			free = append(free, i)
		}
	}
	per := (len(ds) + k - 1) / k
	if len(free) < per {
		return [][]int{seq(len(ds))}
	}
	// The first part fills up to its share with free mails; the rest are
	// dealt out in runs, keeping each part in UID order.
	take := max(per-len(pinned), 0)
	first := append(pinned, free[:take]...)
	slices.Sort(first)
	parts := [][]int{first}
	rest := free[take:]
	n := k - 1
	for j := 0; j < n; j++ {
		lo, hi := j*len(rest)/n, (j+1)*len(rest)/n
		if hi > lo {
			parts = append(parts, rest[lo:hi])
		}
	}
	if len(first) == 0 {
		parts = parts[1:]
	}
	return parts
}

// mayThread reports whether m could belong to an existing case.
func (p *Processor) mayThread(m *mailparse.Message) bool {
	if m.InReplyTo != "" || len(m.References) > 0 || m.Bounce != nil {
		return true
	}
	if _, ok := mailparse.CaseTag(m.Subject); ok {
		return true
	}
	for _, addr := range recipients(m) {
		if _, ok := p.tokenIn(addr); ok {
			return true
		}
	}
	return false
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// Process is Deliver returning what happened.
func (p *Processor) Process(ctx context.Context, d Delivery) (Result, error) {
	mb := p.mailbox(d.Mailbox)
	if mb == nil {
		return Result{}, fmt.Errorf("mail for unknown mailbox %q", d.Mailbox)
	}
	msg, perr := p.parse(d, mb)
	var res Result
	var queued bool
	// A unique violation means another instance committed the same mail
	// (same Message-ID and content, via another mailbox) at the same moment:
	// run again and find it as a duplicate.
	for attempt := 0; ; attempt++ {
		queued = false
		err := p.Store.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			res, queued, err = p.deliverTx(ctx, tx, txMail{d: d, mb: mb, msg: msg, perr: perr, advance: true})
			return err
		})
		if err == nil {
			break
		}
		if store.IsUniqueViolation(err) && attempt < 3 {
			continue
		}
		return Result{}, fmt.Errorf("storing uid %d of %s: %w", d.UID, d.Mailbox, err)
	}
	p.logResult(d, res)
	if queued && p.Committed != nil {
		p.Committed()
	}
	return res, nil
}

// Retry processes a quarantined mail again, after a fix to the parser or
// the rules. It succeeds or leaves the record as it was, with the new reason.
func (p *Processor) Retry(ctx context.Context, q *store.QuarantineRecord) (Result, error) {
	mb := p.mailbox(q.Mailbox)
	if mb == nil && len(p.Config.Mailboxes) > 0 {
		mb = &p.Config.Mailboxes[0]
	}
	if mb == nil {
		return Result{}, errors.New("no mailbox configured")
	}
	d := Delivery{Mailbox: mb.Name, UIDValidity: q.UIDValidity, UID: q.UID, Raw: q.Raw, Size: int64(len(q.Raw))}
	msg, perr := p.parse(d, mb)
	if perr != nil {
		reason := "unparsable mail: " + perr.Error()
		return Result{Outcome: OutcomeQuarantined, Quarantine: q.ID, Reason: reason},
			p.Store.RetryFailed(ctx, q.ID, reason, p.now())
	}
	var res Result
	var queued bool
	err := p.Store.InTx(ctx, func(tx pgx.Tx) error {
		a, err := p.newApplier(ctx, tx, d, mb, msg, 0)
		if err != nil {
			return err
		}
		r, row, err := a.apply(ctx)
		if err != nil {
			return err
		}
		if err := a.w.Send(ctx, tx); err != nil {
			return err
		}
		res, queued = r, a.queued
		if err := store.SetOutcome(ctx, tx, q.Mailbox, q.UIDValidity, q.UID, r.Outcome, row, q.ID); err != nil {
			return err
		}
		return store.ResolveQuarantine(ctx, tx, q.ID, p.now())
	})
	if err != nil {
		return Result{}, err
	}
	if queued && p.Committed != nil {
		p.Committed()
	}
	return res, nil
}

func (p *Processor) logResult(d Delivery, res Result) {
	if res.Outcome != OutcomeSkipped {
		p.ingested.Add(1)
		p.stats.record(d.Mailbox, res)
	}
	p.log().Info("mail ingested", "mailbox", d.Mailbox, "uid", d.UID, "outcome", res.Outcome,
		"case", res.CaseNumber, "reason", res.Reason)
}

func (p *Processor) mailbox(name string) *config.Mailbox {
	for i := range p.Config.Mailboxes {
		if p.Config.Mailboxes[i].Name == name {
			return &p.Config.Mailboxes[i]
		}
	}
	return nil
}

// oversize reports whether the mail was over its mailbox's size limit, so
// that only its text and attachment list were kept.
func (a *applier) oversize() bool {
	return a.p.isOversize(a.d, a.mb)
}

func (p *Processor) isOversize(d Delivery, mb *config.Mailbox) bool {
	limit := int64(mb.MaxMessageSize)
	return d.Truncated || (limit > 0 && (d.Size > limit || int64(len(d.Raw)) > limit))
}

// parse never panics: a parser panic becomes an error, and the mail is
// quarantined with it instead of stopping the mailbox.
func (p *Processor) parse(d Delivery, mb *config.Mailbox) (msg *mailparse.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log().Error("parser panic", "mailbox", d.Mailbox, "uid", d.UID, "panic", r, "stack", string(debug.Stack()))
			msg, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	limit := int64(mb.MaxMessageSize)
	if p.isOversize(d, mb) {
		msg, err = mailparse.ParseLimited(d.Raw, oversizeTextLimit, false)
		if msg != nil {
			size := d.Size
			if size < int64(len(d.Raw)) {
				size = int64(len(d.Raw))
			}
			msg.Problems = append(msg.Problems, fmt.Sprintf(
				"mail of %d bytes is over this mailbox's limit of %d: text kept up to %d bytes, attachments listed without their contents",
				size, limit, oversizeTextLimit))
			if d.BodyStructure != nil {
				// Only a prefix was fetched: the server's structure lists
				// every attachment, also those past the cut.
				msg.Attachments = attachmentsOf(d.BodyStructure)
			}
		}
		return msg, err
	}
	return mailparse.Parse(d.Raw)
}

// attachmentsOf lists the attachments an IMAP BODYSTRUCTURE describes,
// by name, type and size, without contents.
func attachmentsOf(bs imap.BodyStructure) []mailparse.Attachment {
	var out []mailparse.Attachment
	bs.Walk(func(path []int, part imap.BodyStructure) bool {
		sp, ok := part.(*imap.BodyStructureSinglePart)
		if !ok {
			return true
		}
		name := sp.Filename()
		disp := sp.Disposition()
		isAttachment := name != "" || (disp != nil && strings.EqualFold(disp.Value, "attachment"))
		if !isAttachment {
			return true
		}
		if name == "" {
			name = "part-" + strings.Trim(strings.ReplaceAll(fmt.Sprint(path), " ", "."), "[]")
		}
		size := int64(sp.Size)
		if strings.EqualFold(sp.Encoding, "base64") {
			size = size * 3 / 4 // the server counts encoded bytes, line breaks included
		}
		out = append(out, mailparse.Attachment{Filename: name, ContentType: sp.MediaType(), Size: size})
		return true
	})
	return out
}

// oversizeTextLimit is how much text of an oversized mail is kept.
const oversizeTextLimit = 256 << 10

// txMail is one mail for deliverTx, with what the caller did for it.
type txMail struct {
	d    Delivery
	mb   *config.Mailbox
	msg  *mailparse.Message
	perr error
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
}

// deliverTx applies one mail in tx.
func (p *Processor) deliverTx(ctx context.Context, tx pgx.Tx, tm txMail) (Result, bool, error) {
	d, mb, msg, perr, msgID, advance, apart := tm.d, tm.mb, tm.msg, tm.perr, tm.msgID, tm.advance, tm.apart
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
		if perr != nil {
			reason = "unparsable mail: " + perr.Error()
		}
		id, err := store.Quarantine(ctx, tx, d.Mailbox, d.UIDValidity, d.UID, reason, d.Raw)
		if err != nil {
			return Result{}, false, err
		}
		r, err := finish(Result{Outcome: OutcomeQuarantined, Quarantine: id, Reason: reason}, 0)
		return r, false, err
	}
	a, err := p.newApplier(ctx, tx, d, mb, msg, msgID)
	if err != nil {
		return Result{}, false, err
	}
	a.hash, a.dup = hash, &dup
	if apart {
		a.assigner = p.Store.Apart(tx)
	}
	r, msgRow, err := a.apply(ctx)
	if err != nil {
		return Result{}, false, err
	}
	r.Auto = msg.Auto
	if err := store.SetOutcome(ctx, a.w, d.Mailbox, d.UIDValidity, d.UID, r.Outcome, msgRow, r.Quarantine); err != nil {
		return r, false, err
	}
	if err := cursor(a.w); err != nil {
		return r, false, err
	}
	return r, a.queued, a.w.Send(ctx, tx)
}

// applier carries one mail through threading, routing and storing.
type applier struct {
	p  *Processor
	tx pgx.Tx
	// w collects the writes that need no answer, sent in one round trip.
	w *store.Batch
	// msgID is the reserved row id of the message this mail becomes.
	msgID int64
	// hash is the mail's identity across mailboxes; dup, when set, is what
	// the claim found stored under it (nil: look it up).
	hash   []byte
	dup    *store.Inbound
	d      Delivery
	mb     *config.Mailbox
	msg    *mailparse.Message
	now    time.Time
	rules  *config.Rules
	queued bool
	// linkWhy says why a mail that threaded to a case opened a new one
	// linked to it instead (see redirect).
	linkWhy string
	// assigner picks assignees for a new case.
	assigner store.Assigner
}

// newApplier starts applying msg in tx; msgID is a reserved message row id,
// or 0 to reserve one now.
func (p *Processor) newApplier(ctx context.Context, tx pgx.Tx, d Delivery, mb *config.Mailbox, msg *mailparse.Message, msgID int64) (*applier, error) {
	if msgID == 0 {
		ids, err := store.ReserveMessageIDs(ctx, tx, 1)
		if err != nil {
			return nil, err
		}
		msgID = ids[0]
	}
	return &applier{p: p, tx: tx, w: &store.Batch{}, msgID: msgID, d: d, mb: mb, msg: msg,
		now: p.now(), rules: p.Rules(), assigner: store.Assigner{Q: tx}}, nil
}

// thread is how a mail was matched to an existing case.
type thread struct {
	c *store.Case
	// how: token, token-expired, references, tag, bounce
	how string
	// proven: the sender showed a valid token or a Message-ID signed for them.
	proven bool
}

func (a *applier) apply(ctx context.Context) (Result, int64, error) {
	hash := a.hash
	if hash == nil {
		hash = identityHash(a.msg, a.d.Raw)
	}
	if a.dup == nil {
		caseID, row, found, err := store.FindInbound(ctx, a.tx, a.msg.MessageID, hash)
		if err != nil {
			return Result{}, 0, err
		}
		a.dup = &store.Inbound{CaseID: caseID, MessageRow: row, Found: found}
	}
	if caseID, row := a.dup.CaseID, a.dup.MessageRow; a.dup.Found {
		c, err := store.CaseByID(ctx, a.tx, caseID)
		if err != nil {
			return Result{}, 0, err
		}
		return Result{Outcome: OutcomeDuplicate, CaseNumber: c.Number,
			Reason: "same Message-ID and content already stored"}, row, nil
	}
	th, linked, err := a.findThread(ctx)
	if err != nil {
		return Result{}, 0, err
	}
	if th != nil {
		if th, linked, err = a.redirect(ctx, th); err != nil {
			return Result{}, 0, err
		}
	}
	if th != nil {
		row, err := a.addToCase(ctx, th, hash)
		if err != nil {
			return Result{}, 0, err
		}
		return Result{Outcome: OutcomeMessage, CaseNumber: th.c.Number, Reason: "threaded by " + th.how}, row, nil
	}
	c, row, err := a.newCase(ctx, hash, linked)
	if err != nil {
		return Result{}, 0, err
	}
	return Result{Outcome: OutcomeCase, CaseNumber: c.Number, Reason: c.Status}, row, nil
}

// identityHash identifies a mail across mailboxes: the same mail delivered
// to two aliases differs only in trace headers (Received, Delivered-To), so
// the hash covers the identifying headers and the body, not the raw bytes.
func identityHash(m *mailparse.Message, raw []byte) []byte {
	h := sha256.New()
	for _, s := range []string{m.MessageID, m.From.Addr, m.Date.UTC().Format(time.RFC3339), m.Subject} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body(raw))
	return h.Sum(nil)
}

// body returns the raw mail after its header.
func body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[i+2:]
	}
	return nil
}

// findThread matches a mail to a case: the reply token first, then
// In-Reply-To/References against every Message-ID we stored or sent, then
// the [#N] subject tag, which counts only from someone already on the case.
// A tag from anyone else returns the tagged case as linked: a new case is
// opened and linked to it, never the old one changed by a stranger.
func (a *applier) findThread(ctx context.Context) (*thread, *store.Case, error) {
	from := a.msg.From.Addr
	var expired *thread
	for _, addr := range recipients(a.msg) {
		tok, ok := a.tokenIn(addr)
		if !ok {
			continue
		}
		t, err := a.p.Keys.Verify(tok, from, a.now)
		switch {
		case err == nil:
			c, err := store.CaseByNumber(ctx, a.tx, t.Case)
			if err == nil {
				return &thread{c: c, how: "reply token", proven: true}, nil, nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, nil, err
			}
		case errors.Is(err, notify.ErrExpired):
			if c, err := store.CaseByNumber(ctx, a.tx, t.Case); err == nil && expired == nil {
				expired = &thread{c: c, how: "expired reply token"}
			}
		}
	}
	if a.msg.Bounce != nil && a.msg.Bounce.OriginalMessageID != "" {
		if _, caseID, found, err := store.SentTo(ctx, a.tx, a.msg.Bounce.OriginalMessageID); err != nil {
			return nil, nil, err
		} else if found {
			c, err := store.CaseByID(ctx, a.tx, caseID)
			if err != nil {
				return nil, nil, err
			}
			return &thread{c: c, how: "bounce of our mail"}, nil, nil
		}
	}
	refs := append([]string{}, a.msg.References...)
	if a.msg.InReplyTo != "" {
		refs = append(refs, a.msg.InReplyTo)
	}
	if len(refs) > 0 {
		caseID, found, err := store.CaseByMessageIDs(ctx, a.tx, refs)
		if err != nil {
			return nil, nil, err
		}
		if found {
			c, err := store.CaseByID(ctx, a.tx, caseID)
			if err != nil {
				return nil, nil, err
			}
			return &thread{c: c, how: "references", proven: a.provenByReferences(ctx, refs, c)}, nil, nil
		}
	}
	if expired != nil {
		return expired, nil, nil
	}
	if n, ok := mailparse.CaseTag(a.msg.Subject); ok {
		c, err := store.CaseByNumber(ctx, a.tx, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		kind, err := store.ParticipantKind(ctx, a.tx, c.ID, from)
		if err != nil {
			return nil, nil, err
		}
		if kind != "" {
			return &thread{c: c, how: "subject tag"}, nil, nil
		}
		return nil, c, nil
	}
	return nil, nil, nil
}

// provenByReferences reports whether the references hold a Message-ID we
// signed for this sender.
func (a *applier) provenByReferences(ctx context.Context, refs []string, c *store.Case) bool {
	for _, ref := range refs {
		tok, ok := notify.TokenFromMessageID(ref)
		if !ok {
			continue
		}
		if t, err := a.p.Keys.Verify(tok, a.msg.From.Addr, a.now); err == nil && t.Case == c.Number {
			return true
		}
	}
	return false
}

// recipients are the addresses m was sent to, trace headers included (a
// Bcc'd alias shows only in Delivered-To / X-Original-To).
func recipients(m *mailparse.Message) []string {
	var out []string
	for _, ad := range m.To {
		out = append(out, ad.Addr)
	}
	for _, ad := range m.Cc {
		out = append(out, ad.Addr)
	}
	return append(out, m.DeliveredTo...)
}

func (a *applier) tokenIn(addr string) (string, bool) { return a.p.tokenIn(addr) }

// tokenIn finds a reply token in addr, a plus address of one of our mailboxes.
func (p *Processor) tokenIn(addr string) (string, bool) {
	for _, mb := range p.Config.Mailboxes {
		if tok, ok := notify.TokenFromAddress(addr, mb.Address); ok {
			return tok, true
		}
	}
	return "", false
}

// isOurs reports whether addr is one of casemail's own mailbox addresses
// (plus-tagged or not): never a requester or participant.
func (a *applier) isOurs(addr string) bool {
	for _, mb := range a.p.Config.Mailboxes {
		if strings.EqualFold(addr, mb.Address) {
			return true
		}
		if _, ok := notify.TokenFromAddress(addr, mb.Address); ok {
			return true
		}
	}
	return false
}

// messageKind names what the sender is to the case.
func (a *applier) messageKind(ctx context.Context, c *store.Case) (string, error) {
	if a.msg.Auto != mailparse.AutoNone {
		if a.msg.Auto == mailparse.AutoBounce {
			return "bounce", nil
		}
		return "automatic", nil
	}
	kind, err := store.ParticipantKind(ctx, a.tx, c.ID, a.msg.From.Addr)
	if err != nil {
		return "", err
	}
	switch kind {
	case "requester", "agent", "consultant", "supplier", "manager":
		return kind, nil
	}
	// People in rules.yaml are agents, suppliers suppliers, wherever they
	// stand on the case; whether their mail proves itself is the thread's.
	if a.rules.PersonByEmail(a.msg.From.Addr) != nil {
		return "agent", nil
	}
	if a.rules.SupplierByEmail(a.msg.From.Addr) != nil {
		return "supplier", nil
	}
	return "participant", nil
}

func (a *applier) storeMessage(ctx context.Context, caseID int64, kind string, hash []byte) (int64, error) {
	m := a.msg
	var sent *time.Time
	if !m.Date.IsZero() {
		d := m.Date
		sent = &d
	}
	nm := store.NewMessage{
		CaseID: caseID, Direction: "in", Kind: kind, Mailbox: a.d.Mailbox,
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		From: m.From.Addr, FromName: m.From.Name, To: addrs(m.To), Cc: addrs(m.Cc),
		Subject: m.Subject, Text: m.Text, NewText: m.NewText, Raw: a.d.Raw, ContentHash: hash,
		SentAt: sent, CreatedAt: a.now, ID: a.msgID,
	}
	for _, at := range m.Attachments {
		nm.Attachments = append(nm.Attachments, store.NewAttachment{
			Filename: at.Filename, ContentType: at.ContentType, Size: at.Size, Data: at.Data, Inline: at.Inline,
		})
	}
	return store.AddMessage(ctx, a.w, nm)
}

func addrs(as []mailparse.Address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}

// addToCase stores a follow-up on an existing case.
func (a *applier) addToCase(ctx context.Context, th *thread, hash []byte) (int64, error) {
	kind, err := a.messageKind(ctx, th.c)
	if err != nil {
		return 0, err
	}
	row, err := a.storeMessage(ctx, th.c.ID, kind, hash)
	if err != nil {
		return 0, err
	}
	data := map[string]any{"from": a.msg.From.Addr, "threaded_by": th.how, "proven": th.proven, "kind": kind}
	if len(a.msg.Problems) > 0 {
		data["problems"] = a.msg.Problems
	}
	if err := store.AddEvent(ctx, a.w, th.c.ID, a.now, a.msg.From.Addr, "message",
		"follow-up threaded by "+th.how, data); err != nil {
		return 0, err
	}
	// Cc'd people of a follow-up become participants too.
	for _, cc := range a.msg.Cc {
		if !a.isOurs(cc.Addr) {
			if err := store.AddParticipant(ctx, a.w, th.c.ID, cc.Addr, cc.Name, "cc", ""); err != nil {
				return 0, err
			}
		}
	}
	// A requester's reply to a resolved case reopens it within the window.
	if kind == "requester" && th.c.Status == "resolved" && th.c.ResolvedAt != nil &&
		a.now.Sub(*th.c.ResolvedAt) <= time.Duration(a.p.Config.ReopenWindow) {
		if err := store.SetCaseStatus(ctx, a.w, th.c.ID, "open", a.now); err != nil {
			return 0, err
		}
		if err := store.AddEvent(ctx, a.w, th.c.ID, a.now, a.msg.From.Addr, "status",
			"the requester replied to a resolved case", map[string]any{"from": "resolved", "to": "open"}); err != nil {
			return 0, err
		}
	}
	// Relay, tell, command: what the mail means for the people on the case.
	if err := a.converse(ctx, th, kind, row); err != nil {
		return 0, err
	}
	return row, nil
}

// newCase routes a mail that threads to nothing and opens a case for it.
func (a *applier) newCase(ctx context.Context, hash []byte, linked *store.Case) (*store.Case, int64, error) {
	m := a.msg
	dec, err := routing.Route(ctx, a.rules, RoutingInput(m, a.mb.Defaults.Service, a.now.In(a.p.location())), a.assigner)
	if err != nil {
		return nil, 0, fmt.Errorf("routing: %w", err)
	}
	status := "new"
	if dec.Assignee != "" || dec.Supplier != "" {
		status = "open"
	}
	var dropReason string
	switch {
	case dec.Drop:
		dropReason = "dropped by rule: " + dec.DropReason
	case m.Auto == mailparse.AutoLoop:
		dropReason = "our own mail came back (" + m.AutoReason + ")"
	case m.Auto == mailparse.AutoList && !a.trustedList(m.ListID):
		dropReason = fmt.Sprintf("list mail from %q, which is not in trusted_lists", m.ListID)
	}
	if dropReason != "" {
		status = "dropped"
	}
	var linkedID *int64
	if linked != nil {
		linkedID = &linked.ID
	}
	requester := m.From
	if requester.Addr == "" {
		requester = m.Sender
	}
	lang := notify.Language(dec.Language, a.mb.Defaults.Language, a.p.Config.Language)
	nc := store.NewCase{
		Status: status, Subject: m.Subject, Requester: requester.Addr, RequesterName: requester.Name,
		Mailbox: a.d.Mailbox, Language: lang, Priority: dec.Priority, Service: dec.Service, Unit: dec.Unit,
		WorkArea: dec.WorkArea, Tier: dec.Tier, Rung: dec.Rung, Role: dec.Role, Supplier: dec.Supplier,
		Assignee: dec.Assignee, Tags: dec.Tags, Automatic: m.Auto != mailparse.AutoNone, LinkedCaseID: linkedID,
		CreatedAt: a.now,
	}
	// SLA due times, kept on the case so the SLA check reads only due ones
	// (written with the row: an UPDATE after it would cost a row version).
	if status != "dropped" {
		prio := dec.Priority
		if prio == "" {
			prio = "normal"
		}
		due := routing.Due(a.rules, dec.Service, prio, a.now)
		if !due.FirstResponse.IsZero() {
			nc.FirstResponseDue = &due.FirstResponse
		}
		if !due.Resolution.IsZero() {
			nc.ResolutionDue = &due.Resolution
		}
	}
	// The acknowledgement's allowance is settled with the insert, in its
	// round trip.
	ack := ackPending{wanted: dropReason == "" && m.Auto == mailparse.AutoNone && requester.Addr != "" && !a.isOurs(requester.Addr)}
	var c *store.Case
	if ack.wanted {
		c, ack.allowed, err = store.CreateCaseWithAck(ctx, a.tx, nc, a.p.Config.AckLimitPerHour, a.now)
	} else {
		c, err = store.CreateCase(ctx, a.tx, nc)
	}
	if err != nil {
		return nil, 0, err
	}
	if requester.Addr != "" {
		if err := store.AddParticipant(ctx, a.w, c.ID, requester.Addr, requester.Name, "requester", ""); err != nil {
			return nil, 0, err
		}
	}
	for _, cc := range m.Cc {
		if cc.Addr != requester.Addr && !a.isOurs(cc.Addr) {
			if err := store.AddParticipant(ctx, a.w, c.ID, cc.Addr, cc.Name, "cc", ""); err != nil {
				return nil, 0, err
			}
		}
	}
	if p := a.rules.Person(dec.Assignee); p != nil {
		if err := store.AddParticipant(ctx, a.w, c.ID, p.Email, p.Name, "agent", p.ID); err != nil {
			return nil, 0, err
		}
	}
	row, err := a.storeMessage(ctx, c.ID, "requester", hash)
	if err != nil {
		return nil, 0, err
	}
	created := map[string]any{"mailbox": a.d.Mailbox, "uid": a.d.UID, "from": requester.Addr,
		"message_id": m.MessageID, "automatic": m.Auto.String()}
	if len(m.Problems) > 0 {
		created["problems"] = m.Problems
	}
	if linked != nil {
		created["linked_case"] = linked.Number
	}
	reason := "new mail"
	if linked != nil && a.linkWhy != "" {
		reason = a.linkWhy
	} else if linked != nil {
		reason = fmt.Sprintf("subject names case #%d, but %s is not on that case: opened a new case linked to it",
			linked.Number, requester.Addr)
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, requester.Addr, "created", reason, created); err != nil {
		return nil, 0, err
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "routed", routedReason(dec), decisionData(dec)); err != nil {
		return nil, 0, err
	}
	if dropReason != "" {
		err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "dropped", dropReason, nil)
		return c, row, err
	}
	if dec.Assignee != "" {
		if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "assigned",
			fmt.Sprintf("%s holds %s (%s)", dec.Assignee, dec.Role, dec.Strategy),
			map[string]any{"assignee": dec.Assignee, "role": dec.Role, "tier": dec.Tier, "strategy": dec.Strategy}); err != nil {
			return nil, 0, err
		}
	}
	if err := a.queueNewCaseMail(ctx, c, dec, ack); err != nil {
		return nil, 0, err
	}
	if err := a.awaitApproval(ctx, c); err != nil {
		return nil, 0, err
	}
	return c, row, nil
}

// RoutingInput is what routing sees of a parsed mail.
func RoutingInput(m *mailparse.Message, defaultService string, received time.Time) routing.Input {
	return routing.Input{
		From: m.From.Addr, FromName: m.From.Name, To: addrs(m.To), Cc: addrs(m.Cc), DeliveredTo: m.DeliveredTo,
		Subject: m.Subject, Body: m.Text, HasAttachment: len(m.Attachments) > 0, Received: received,
		MailboxDefaultService: defaultService, Header: m.Header.Values,
	}
}

func (a *applier) trustedList(id string) bool {
	for _, l := range a.mb.TrustedLists {
		if strings.EqualFold(strings.Trim(l, "<>"), strings.Trim(id, "<>")) {
			return true
		}
	}
	return false
}

func routedReason(d routing.Decision) string {
	s := "service " + d.Service
	if d.Unit != "" {
		s += ", unit " + d.Unit
	}
	s += ", tier " + d.Tier
	if d.Role != "" {
		s += ", role " + d.Role
	}
	if d.Supplier != "" {
		s += ", supplier " + d.Supplier
	}
	return s
}

func decisionData(d routing.Decision) map[string]any {
	return map[string]any{
		"service": d.Service, "unit": d.Unit, "work_area": d.WorkArea, "tier": d.Tier, "rung": d.Rung,
		"role": d.Role, "supplier": d.Supplier, "candidates": d.Candidates, "assignee": d.Assignee,
		"strategy": d.Strategy, "priority": d.Priority, "tags": d.Tags, "trail": d.Trail,
	}
}

// ackPending says whether a new case's requester is to be acknowledged
// (a person, not one of our addresses, the case not dropped) and whether
// the per-hour limit allowed it.
type ackPending struct{ wanted, allowed bool }

// queueNewCaseMail queues the acknowledgement to the requester and the
// assignment notice to the assignee, in the transaction that opened the case.
func (a *applier) queueNewCaseMail(ctx context.Context, c *store.Case, dec routing.Decision, ack ackPending) error {
	view := a.caseView(c, dec)
	if ack.wanted {
		if ack.allowed {
			data := notify.Data{Case: view}
			if a.oversize() {
				data.Oversize = a.mb.MaxMessageSize.String()
			}
			if err := a.queue(ctx, c, "ack", notify.Recipient{Name: c.RequesterName, Address: c.Requester, Language: c.Language},
				data, "auto-replied", true); err != nil {
				return err
			}
		} else if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "ack-suppressed",
			fmt.Sprintf("%s already got %d acknowledgements this hour", c.Requester, a.p.Config.AckLimitPerHour), nil); err != nil {
			return err
		}
	}
	if p := a.rules.Person(dec.Assignee); p != nil && p.Email != "" {
		lang := notify.Language(p.Language, dec.Language, a.mb.Defaults.Language, a.p.Config.Language)
		if err := a.queue(ctx, c, "assignment", notify.Recipient{Name: p.Name, Address: p.Email, Language: lang},
			notify.Data{Case: view}, "auto-generated", false); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) caseView(c *store.Case, dec routing.Decision) notify.CaseView {
	m := a.msg
	v := notify.CaseView{
		Number: c.Number, Subject: c.Subject, Service: c.Service, ServiceName: dec.ServiceName,
		Tier: c.Tier, Role: dec.Role, Unit: c.Unit, Priority: c.Priority, Status: c.Status,
		Requester: c.Requester, RequesterName: c.RequesterName, Created: c.CreatedAt.In(a.p.location()),
		Routine: dec.Routine, Trail: dec.Explain(),
	}
	v.Message = notify.MessageView{From: m.From.Addr, FromName: m.From.Name, Text: m.Text}
	for _, at := range m.Attachments {
		v.Message.Attachments = append(v.Message.Attachments, notify.AttachmentView{Name: at.Filename, Type: at.ContentType, Size: at.Size})
	}
	return v
}

// queue renders one mail about c to one person and queues it. The
// requester's mails continue the thread of their own mail; an agent's
// notice references only the case's own mail.
func (a *applier) queue(ctx context.Context, c *store.Case, kind string, to notify.Recipient, data notify.Data, autoSubmitted string, threadOriginal bool) error {
	cm := notify.CaseMail{Case: c, Kind: kind, To: to, Data: data, Mailbox: a.mb,
		AutoSubmitted: autoSubmitted}
	if threadOriginal && a.msg.MessageID != "" {
		cm.InReplyTo = a.msg.MessageID
		cm.References = append(append([]string{}, a.msg.References...), a.msg.MessageID)
	}
	if _, err := a.p.mailer().Queue(ctx, a.w, cm, a.now); err != nil {
		return err
	}
	a.queued = true
	return nil
}
