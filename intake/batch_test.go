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

// splitOf parses a batch and splits it as DeliverBatch would.
func (e *procEnv) splitOf(t *testing.T, ds []Delivery) [][]int {
	t.Helper()
	ps := make([]parsedMail, len(ds))
	for i, d := range ds {
		ps[i].mb = e.p.mailbox(d.Mailbox)
	}
	e.p.parseBatch(context.Background(), ds, ps, false)
	return e.p.split(context.Background(), ds, ps)
}

// checkParts fails unless parts hold each of n mails once, each part in
// UID order, and returns the part of each mail.
func checkParts(t *testing.T, parts [][]int, n int) []int {
	t.Helper()
	var all []int
	partOf := make([]int, n)
	for j, part := range parts {
		if !slices.IsSorted(part) {
			t.Errorf("part %v is not in UID order", part)
		}
		all = append(all, part...)
		for _, i := range part {
			partOf[i] = j
		}
	}
	slices.Sort(all)
	if !slices.Equal(all, seq(n)) {
		t.Fatalf("parts %v do not hold each mail exactly once", parts)
	}
	return partOf
}

// TestSplitKeepsWhatMayTouchTheSameTogether: the split puts mails that may
// touch the same case, lock or row into one part (see split), and spreads
// the rest evenly.
func TestSplitKeepsWhatMayTouchTheSameTogether(t *testing.T) {
	e := newProc(t)
	old := e.deliver(t, "helpdesk", mailText("alice@example.net", "helpdesk@example.org", "Printer", "p@example.net", "", "It jams."))
	ack := e.sent(t, old.CaseNumber, "ack", "alice@example.net")
	if len(ack) != 1 {
		t.Fatalf("%d acknowledgements of the first case", len(ack))
	}
	var raws []string
	for i := 0; i < 64; i++ {
		raws = append(raws, plainRequest(i))
	}
	reply := func(from, subject, id, to, extra string) string {
		return mailText(from, "helpdesk@example.org", subject, id, "In-Reply-To: <"+to+">\nReferences: <"+to+">\n"+extra, "More.")
	}
	// A reply to mail 5 of the batch, and a reply to that one.
	raws[7] = reply("user5@example.net", "Re: Question 5", "r5@example.net", "q5@example.net", "")
	raws[9] = reply("user5@example.net", "Re: Question 5", "rr5@example.net", "r5@example.net", "")
	// The same mail twice.
	raws[20] = raws[30]
	// Four mails to the case in the database: a reply to its first mail,
	// one to its acknowledgement, its tag, its reply token.
	raws[40] = reply("alice@example.net", "Re: Printer", "a1@example.net", "p@example.net", "")
	raws[41] = reply("bob@example.net", "Re: Printer", "a2@example.net", ack[0].MessageID, "")
	raws[42] = mailText("carol@example.net", "helpdesk@example.org", fmt.Sprintf("Re: [#%d] Printer", old.CaseNumber),
		"a3@example.net", "", "tag")
	tok := e.keys.Sign(old.CaseNumber, "dave@example.net", e.now.Add(time.Hour))
	raws[43] = mailText("dave@example.net", notify.ReplyAddress("helpdesk@example.org", tok), "Hi", "a4@example.net", "", "token")
	// Two threads of one sender who writes often.
	raws[50] = mailText("heavy@example.net", "helpdesk@example.org", "One", "h1@example.net", "", "First.")
	raws[51] = mailText("heavy@example.net", "helpdesk@example.org", "Two", "h2@example.net", "", "Second.")
	raws[52] = reply("heavy@example.net", "Re: One", "h3@example.net", "h1@example.net", "")
	// One attachment body in two mails from different senders.
	attached := func(from, id string) string {
		return fmt.Sprintf("From: %s\nTo: helpdesk@example.org\nSubject: Scan\nMessage-ID: <%s>\n"+
			"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nSee the scan.\n"+
			"--B\nContent-Type: application/pdf; name=scan.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n", from, id)
	}
	raws[60] = attached("erik@example.net", "s1@example.net")
	raws[61] = attached("frida@example.net", "s2@example.net")
	ds := batchOf(2, raws)
	parts := e.splitOf(t, ds)
	if len(parts) != splitParts {
		t.Fatalf("a batch of 64 split into %d parts, want %d: %v", len(parts), splitParts, parts)
	}
	partOf := checkParts(t, parts, len(ds))
	for _, group := range [][]int{{5, 7, 9}, {20, 30}, {40, 41, 42, 43}, {50, 51, 52}, {60, 61}} {
		for _, i := range group[1:] {
			if partOf[i] != partOf[group[0]] {
				t.Errorf("mails %v are not in one part: %v", group, parts)
			}
		}
	}
	// The rest are spread: 64 mails, the largest group 4.
	for _, part := range parts {
		if len(part) < 64/splitParts-4 || len(part) > 64/splitParts+4 {
			t.Errorf("parts of %d mails are uneven: %v", len(part), parts)
		}
	}
	// A small batch stays whole.
	if parts := e.splitOf(t, ds[:20]); len(parts) != 1 {
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

// TestDeliverBatchThreadsInOrder: in a split batch, a new request, a reply
// to it and a reply to the reply land on one case in UID order, and two
// replies to a case in the database (to its first mail and to its
// acknowledgement) both land on it, without any transaction waiting for
// another or running again.
func TestDeliverBatchThreadsInOrder(t *testing.T) {
	e := newProc(t)
	old := e.deliver(t, "helpdesk", mailText("alice@example.net", "helpdesk@example.org", "Printer", "p@example.net", "", "It jams."))
	ack := e.sent(t, old.CaseNumber, "ack", "alice@example.net")
	if len(ack) != 1 {
		t.Fatalf("%d acknowledgements of the first case", len(ack))
	}
	reply := func(from, id, to string) string {
		return mailText(from, "helpdesk@example.org", "Re: it", id, "In-Reply-To: <"+to+">\nReferences: <"+to+">\n", "More.")
	}
	var raws []string
	for i := 0; i < 64; i++ {
		raws = append(raws, plainRequest(i))
	}
	raws[10] = mailText("ann@example.net", "helpdesk@example.org", "Screen", "n1@example.net", "", "Flickers.")
	raws[11] = reply("ann@example.net", "n2@example.net", "n1@example.net")
	raws[12] = reply("ann@example.net", "n3@example.net", "n2@example.net")
	raws[40] = reply("alice@example.net", "a1@example.net", "p@example.net")
	raws[41] = reply("bob@example.net", "a2@example.net", ack[0].MessageID)
	ds := batchOf(2, raws)
	if parts := e.splitOf(t, ds); len(parts) < 2 {
		t.Fatalf("the batch was not split: %v", parts)
	}
	deadlocks := `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`
	before := e.count(t, deadlocks)
	if n, err := e.p.DeliverBatch(context.Background(), ds); err != nil || n != len(ds) {
		t.Fatalf("DeliverBatch = %d, %v", n, err)
	}
	thread := func(ids ...string) (cases, ordered int) {
		return e.count(t, `SELECT count(DISTINCT case_id) FROM messages WHERE message_id = ANY($1)`, ids),
			e.count(t, `SELECT count(*) FROM (SELECT message_id, row_number() OVER (ORDER BY id) AS n FROM messages
				WHERE message_id = ANY($1)) m WHERE m.n = array_position($1, m.message_id)`, ids)
	}
	if cases, ordered := thread("n1@example.net", "n2@example.net", "n3@example.net"); cases != 1 || ordered != 3 {
		t.Errorf("the thread of the batch is on %d cases with %d of 3 messages in UID order", cases, ordered)
	}
	if got := e.count(t, `SELECT count(*) FROM messages m JOIN cases c ON c.id = m.case_id
		WHERE c.number = $1 AND m.direction = 'in'`, old.CaseNumber); got != 3 {
		t.Errorf("case #%d has %d incoming messages, want its first and both replies", old.CaseNumber, got)
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != 1+60 {
		t.Errorf("%d cases, want %d", got, 1+60)
	}
	if d := e.count(t, deadlocks) - before; d != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks", d)
	}
	if c := e.p.Stats().Conflicts; len(c) != 0 {
		t.Errorf("transactions run again: %v", c)
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
		if parts := e.splitOf(t, a); len(parts) < 2 {
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

func TestHasMerge(t *testing.T) {
	for text, want := range map[string]bool{"#merge 12": true, "ok\n#MERGE 3": true, "# merge": false,
		"#mer": false, "no command": false, "#resolve #Merge 4": true} {
		if got := hasMerge(text); got != want {
			t.Errorf("hasMerge(%q) = %v, want %v", text, got, want)
		}
	}
}
