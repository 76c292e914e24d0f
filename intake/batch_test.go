package intake

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casemail/casemail/notify"
)

// batchOf turns raw mails into deliveries of mailbox helpdesk from UID first.
func batchOf(first uint32, raws []string) []Delivery {
	ds := make([]Delivery, len(raws))
	for i, raw := range raws {
		raw = strings.ReplaceAll(raw, "\n", "\r\n")
		ds[i] = Delivery{Mailbox: "helpdesk", UIDValidity: 7, UID: first + uint32(i), Raw: []byte(raw), Size: int64(len(raw))}
	}
	return ds
}

func plainRequest(i int) string {
	return mailText(fmt.Sprintf("user%d@example.net", i), "helpdesk@example.org",
		fmt.Sprintf("Question %d", i), fmt.Sprintf("q%d@example.net", i), "", "Hello, something is wrong.")
}

func TestSplitPinsWhatMayThread(t *testing.T) {
	e := newProc(t)
	var raws []string
	for i := 0; i < 60; i++ {
		raws = append(raws, plainRequest(i))
	}
	raws[7] = mailText("user5@example.net", "helpdesk@example.org", "Re: Question 5", "r5@example.net",
		"In-Reply-To: <q5@example.net>\n", "More about it.") // refers to mail 5
	raws[20] = raws[30]                                                                                      // same Message-ID twice
	raws[40] = mailText("x@example.net", "helpdesk@example.org", "Re: [#9] Old", "t@example.net", "", "tag") // may thread by tag
	tok := e.keys.Sign(9, "y@example.net", e.now.Add(time.Hour))
	raws[41] = mailText("y@example.net", notify.ReplyAddress("helpdesk@example.org", tok), "Hi", "tok@example.net", "", "to a reply address")
	ds := batchOf(1, raws)
	ps := make([]parsedMail, len(ds))
	for i, d := range ds {
		ps[i].mb = e.p.mailbox(d.Mailbox)
	}
	e.p.parseBatch(context.Background(), ds, ps, false)
	parts := e.p.split(ds, ps)
	if len(parts) < 2 {
		t.Fatalf("a batch of 60 mostly new requests was not split: %v", parts)
	}
	var all []int
	for _, part := range parts {
		if !slices.IsSorted(part) {
			t.Errorf("part %v is not in UID order", part)
		}
		all = append(all, part...)
	}
	slices.Sort(all)
	if !slices.Equal(all, seq(len(ds))) {
		t.Fatalf("parts %v do not hold each mail exactly once", parts)
	}
	for _, i := range []int{5, 7, 20, 30, 40, 41} {
		if !slices.Contains(parts[0], i) {
			t.Errorf("mail %d is not in the first part %v", i, parts[0])
		}
	}
	// A small batch stays whole.
	if parts := e.p.split(ds[:20], ps[:20]); len(parts) != 1 {
		t.Errorf("a batch of 20 was split: %v", parts)
	}
}

// TestDeliverBatchSplit commits a batch that is split into parallel
// transactions and checks that it comes out as if delivered one by one:
// a reply to a mail of the same batch threads to its case, a duplicate is
// one message, a tagged follow-up threads, the cursor is at the last UID
// and the round robin stays even.
func TestDeliverBatchSplit(t *testing.T) {
	e := newProc(t)
	first := e.deliver(t, "helpdesk", mailText("alice@example.net", "helpdesk@example.org", "Printer", "p@example.net", "", "It jams."))
	var raws []string
	for i := 0; i < 80; i++ {
		raws = append(raws, plainRequest(i))
	}
	raws[50] = mailText("user5@example.net", "helpdesk@example.org", "Re: Question 5", "r5@example.net",
		"In-Reply-To: <q5@example.net>\n", "More about it.")
	raws[60] = raws[10]
	raws[70] = mailText("alice@example.net", "helpdesk@example.org", fmt.Sprintf("Re: [#%d] Printer", first.CaseNumber),
		"p2@example.net", "", "Still jams.")
	ds := batchOf(2, raws)
	n, err := e.p.DeliverBatch(context.Background(), ds)
	if err != nil || n != len(ds) {
		t.Fatalf("DeliverBatch = %d, %v; want %d, nil", n, err, len(ds))
	}
	// 80 mails: 77 new requests, a reply, a duplicate and a follow-up.
	if got := e.count(t, `SELECT count(*) FROM cases`); got != 1+77 {
		t.Errorf("%d cases, want %d", got, 1+77)
	}
	if got := e.count(t, `SELECT count(*) FROM messages m JOIN messages o ON o.case_id = m.case_id
		WHERE m.message_id = 'r5@example.net' AND o.message_id = 'q5@example.net'`); got != 1 {
		t.Errorf("the reply to mail 5 is not on mail 5's case")
	}
	if got := e.count(t, `SELECT count(*) FROM messages WHERE message_id = 'q10@example.net'`); got != 1 {
		t.Errorf("the mail delivered twice is %d messages, want 1", got)
	}
	if got := e.count(t, `SELECT count(*) FROM messages m JOIN cases c ON c.id = m.case_id
		WHERE c.number = $1`, first.CaseNumber); got != 2 {
		t.Errorf("case #%d has %d messages, want the tagged follow-up too", first.CaseNumber, got)
	}
	if got := e.count(t, `SELECT count(*) FROM ingested WHERE outcome NOT IN ('case', 'message', 'duplicate')`); got != 0 {
		t.Errorf("%d claims without an outcome", got)
	}
	if got := e.count(t, `SELECT count(*) FROM ingested`); got != 1+len(ds) {
		t.Errorf("%d claims, want %d", got, 1+len(ds))
	}
	if got := e.count(t, `SELECT last_uid FROM imap_cursors WHERE mailbox = 'helpdesk'`); got != int(ds[len(ds)-1].UID) {
		t.Errorf("cursor at %d, want %d", got, ds[len(ds)-1].UID)
	}
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); got != 1+77 {
		t.Errorf("%d acknowledgements, want one per case (%d)", got, 1+77)
	}
	eva := e.count(t, `SELECT count(*) FROM cases WHERE assignee = 'eva'`)
	per := e.count(t, `SELECT count(*) FROM cases WHERE assignee = 'per'`)
	if eva+per != 1+77 || eva-per > 1 || per-eva > 1 {
		t.Errorf("round robin gave eva %d and per %d cases", eva, per)
	}
}

// TestDeliverBatchTwoInstancesAtOnce has two processors (two daemons on
// one database) deliver the same split batch at the same moment.
func TestDeliverBatchTwoInstancesAtOnce(t *testing.T) {
	e := newProc(t)
	other := &Processor{Store: e.p.Store, Config: e.p.Config, Rules: e.p.Rules, Keys: e.p.Keys,
		Templates: e.p.Templates, Now: e.p.Now, Log: e.p.Log}
	var raws []string
	for i := 0; i < 64; i++ {
		raws = append(raws, plainRequest(i))
	}
	ds := batchOf(1, raws)
	var wg sync.WaitGroup
	for _, p := range []*Processor{e.p, other} {
		wg.Go(func() {
			if n, err := p.DeliverBatch(context.Background(), ds); err != nil || n != len(ds) {
				t.Errorf("DeliverBatch = %d, %v; want %d, nil", n, err, len(ds))
			}
		})
	}
	wg.Wait()
	if got := e.count(t, `SELECT count(*) FROM cases`); got != len(ds) {
		t.Errorf("%d cases, want %d", got, len(ds))
	}
	if got := e.count(t, `SELECT count(DISTINCT message_id) FROM messages WHERE direction = 'in'`); got != len(ds) {
		t.Errorf("%d distinct mails stored, want %d", got, len(ds))
	}
	if got := e.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); got != len(ds) {
		t.Errorf("%d incoming messages, want %d", got, len(ds))
	}
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); got != len(ds) {
		t.Errorf("%d acknowledgements, want %d", got, len(ds))
	}
}

// TestDeliverBatchFindsWhatCameBefore: a batch claimed in one round trip
// still skips UIDs handled before and recognises mail stored from another
// mailbox.
func TestDeliverBatchFindsWhatCameBefore(t *testing.T) {
	e := newProc(t)
	var raws []string
	for i := 0; i < 40; i++ {
		raws = append(raws, plainRequest(i))
	}
	ds := batchOf(1, raws)
	for round := 0; round < 2; round++ { // the second round: the same UIDs again
		if n, err := e.p.DeliverBatch(context.Background(), ds); err != nil || n != len(ds) {
			t.Fatalf("round %d: DeliverBatch = %d, %v", round, n, err)
		}
	}
	qm := batchOf(1, raws)
	for i := range qm {
		qm[i].Mailbox = "qm"
	}
	if n, err := e.p.DeliverBatch(context.Background(), qm); err != nil || n != len(qm) {
		t.Fatalf("DeliverBatch to qm = %d, %v", n, err)
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != len(raws) {
		t.Errorf("%d cases, want %d", got, len(raws))
	}
	if got := e.count(t, `SELECT count(*) FROM ingested WHERE mailbox = 'helpdesk' AND outcome = 'case'`); got != len(raws) {
		t.Errorf("%d helpdesk claims became cases, want %d", got, len(raws))
	}
	if got := e.count(t, `SELECT count(*) FROM ingested WHERE mailbox = 'qm' AND outcome = 'duplicate'`); got != len(raws) {
		t.Errorf("%d qm claims are duplicates, want %d", got, len(raws))
	}
}

// TestDeliverBatchPartsWaitingTooLongAreRedone: while another transaction
// holds the round robin's row past the wait allowed for a turn taken apart
// (a stand-in for a wait cycle through the client), the parallel parts
// give up and their mails are delivered one by one, each exactly once.
func TestDeliverBatchPartsWaitingTooLongAreRedone(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the lock timeout: -short")
	}
	e := newProc(t)
	var logBuf wtSyncBuffer
	e.p.Log = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.deliver(t, "helpdesk", plainRequest(1000)) // creates the rotation's row
	ctx := context.Background()
	holder, err := e.st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `UPDATE assignment_state SET position = position`); err != nil {
		t.Fatal(err)
	}
	var raws []string
	for i := 0; i < 64; i++ {
		raws = append(raws, plainRequest(i))
	}
	ds := batchOf(2, raws)
	done := make(chan error, 1)
	go func() {
		n, err := e.p.DeliverBatch(ctx, ds)
		if err == nil && n != len(ds) {
			err = fmt.Errorf("%d of %d committed", n, len(ds))
		}
		done <- err
	}()
	// Held until a part has given up (past the 2 s lock timeout of a turn
	// taken apart), however long a loaded machine takes to get there.
	wtEventually(t, "a part gave up", func() bool {
		return strings.Contains(logBuf.String(), "batch not committed, delivering one by one")
	})
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logBuf.String(), "batch not committed, delivering one by one") {
		t.Errorf("no part gave up; log:\n%s", logBuf.String())
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != 1+len(ds) {
		t.Errorf("%d cases, want %d", got, 1+len(ds))
	}
	if got := e.count(t, `SELECT count(*) FROM ingested WHERE outcome = 'case'`); got != 1+len(ds) {
		t.Errorf("%d claims became cases, want %d", got, 1+len(ds))
	}
	if got := e.count(t, `SELECT last_uid FROM imap_cursors WHERE mailbox = 'helpdesk'`); got != int(ds[len(ds)-1].UID) {
		t.Errorf("cursor at %d, want %d", got, ds[len(ds)-1].UID)
	}
}

// TestDeliverBatchSharedSendersNeverDeadlock is the regression test of the
// acknowledgement-lock deadlock: batches whose new requests come from a
// few senders who write often (as real helpdesks get them), split into
// parallel parts, delivered by two processors at once. The locks on the
// senders' acknowledgement allowances are taken in one global order and a
// sender's mails stay in one part, so PostgreSQL never reports a
// deadlock and no part has to be run again.
func TestDeliverBatchSharedSendersNeverDeadlock(t *testing.T) {
	e := newProc(t)
	ctx := context.Background()
	other := &Processor{Store: e.p.Store, Config: e.p.Config, Rules: e.p.Rules, Keys: e.p.Keys,
		Templates: e.p.Templates, Now: e.p.Now, Log: e.p.Log}
	deadlocks := func() int {
		return e.count(t, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`)
	}
	before := deadlocks()
	// Two mailboxes' worth of batches: mail i comes from one of six
	// senders, the first of them writing half of all mail.
	sender := func(i int) string {
		if i%2 == 0 {
			return "frequent@example.net"
		}
		return fmt.Sprintf("user%d@example.net", i%11%5)
	}
	batch := func(first uint32, n int, tag string) []Delivery {
		var raws []string
		for i := 0; i < n; i++ {
			raws = append(raws, mailText(sender(i*7+int(first)), "helpdesk@example.org", fmt.Sprintf("Question %s%d", tag, i),
				fmt.Sprintf("q%s%d@example.net", tag, i), "", "Hello, something is wrong."))
		}
		return batchOf(first, raws)
	}
	for round := 0; round < 3; round++ {
		a := batch(uint32(1+200*round), 100, fmt.Sprintf("a%d-", round))
		b := batch(uint32(101+200*round), 100, fmt.Sprintf("b%d-", round))
		if parts := func() [][]int {
			ps := make([]parsedMail, len(a))
			for i, d := range a {
				ps[i].mb = e.p.mailbox(d.Mailbox)
			}
			e.p.parseBatch(context.Background(), a, ps, false)
			return e.p.split(a, ps)
		}(); len(parts) < 2 {
			t.Fatalf("the batch was not split: %v", parts)
		}
		var wg sync.WaitGroup
		for _, run := range []struct {
			p  *Processor
			ds []Delivery
		}{{e.p, a}, {other, b}} {
			wg.Go(func() {
				if n, err := run.p.DeliverBatch(ctx, run.ds); err != nil || n != len(run.ds) {
					t.Errorf("DeliverBatch = %d, %v", n, err)
				}
			})
		}
		wg.Wait()
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != 600 {
		t.Errorf("%d cases, want 600", got)
	}
	if d := deadlocks() - before; d != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks", d)
	}
	for _, p := range []*Processor{e.p, other} {
		if c := p.Stats().Conflicts; c["deadlock"] != 0 || c["lock_timeout"] != 0 {
			t.Errorf("transactions run again: %v", c)
		}
	}
	// The limit of acknowledgements per sender and hour held across parts.
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE kind = 'ack'
		AND array_to_string(to_addrs, ',') LIKE '%frequent@example.net%'`); got != 3 {
		t.Errorf("the frequent sender got %d acknowledgements, want ack_limit_per_hour = 3", got)
	}
}
