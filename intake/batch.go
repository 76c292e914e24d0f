package intake

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
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
		if err := p.advanceCursors(ctx, p.Store.DB(), ds); err != nil {
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
