package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func outboxTestCase(t *testing.T, st *Store) int64 {
	t.Helper()
	c, err := CreateCase(context.Background(), st.pool, NewCase{Subject: "Printer", Requester: "ola@example.no", Mailbox: "helpdesk"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func testOutMail(n int) OutMail {
	return OutMail{
		Kind:      "ack",
		MessageID: fmt.Sprintf("tok%d.rnd@example.org", n),
		From:      "Helpdesk <helpdesk@example.org>",
		To:        []string{"ola@example.no"},
		Subject:   "[#1001] Printer",
		Text:      "Hello\n",
	}
}

func TestEnqueueMailRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	caseID := outboxTestCase(t, st)
	sum := sha256.Sum256([]byte("attachment"))
	in := OutMail{
		CaseID:      caseID,
		Kind:        "assignment",
		MessageID:   "<abc.def@example.org>",
		From:        "Helpdesk <helpdesk@example.org>",
		ReplyTo:     "helpdesk+abc@example.org",
		To:          []string{"anna@example.org"},
		Cc:          []string{},
		Subject:     "[#1001] Skrivaren",
		Text:        "Hej\nåäö\x00",
		HTML:        "<p>Hej</p>",
		InReplyTo:   "<orig@client.example>",
		References:  []string{"<first@client.example>", "orig@client.example"},
		Headers:     map[string]string{"Auto-Submitted": "auto-generated"},
		Attachments: []OutAttachment{{SHA256: sum[:], Filename: "a.txt", ContentType: "text/plain"}},
		Recipient:   "Anna@Example.org",
	}
	var id int64
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = EnqueueMail(ctx, tx, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.OutboxByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.MessageID = "abc.def@example.org"
	want.InReplyTo = "orig@client.example"
	want.References = []string{"first@client.example", "orig@client.example"}
	want.Text = "Hej\nåäö" // NUL dropped: PostgreSQL text cannot hold it
	want.Recipient = ""    // not stored on the row
	if !reflect.DeepEqual(got.OutMail, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.OutMail, want)
	}
	if got.Status != "pending" || got.Attempts != 0 || got.SentAt != nil {
		t.Errorf("new row state: %+v", got)
	}

	rcpt, c, found, err := SentTo(ctx, st.pool, "abc.def@example.org")
	if err != nil || !found || rcpt != "anna@example.org" || c != caseID {
		t.Errorf("sent_message_ids: %q, %d, %v, %v", rcpt, c, found, err)
	}
	if c, found, err := CaseByMessageIDs(ctx, st.pool, []string{"abc.def@example.org"}); err != nil || !found || c != caseID {
		t.Errorf("threading by our Message-ID: %d, %v, %v", c, found, err)
	}
}

func TestEnqueueMailRollsBackWithTransaction(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	caseID := outboxTestCase(t, st)
	boom := errors.New("later step failed")
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		m := testOutMail(1)
		m.CaseID = caseID
		if _, err := EnqueueMail(ctx, tx, m); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if n, _, err := st.OutboxStats(ctx); err != nil || n != 0 {
		t.Errorf("after rollback: %d queued, %v", n, err)
	}
	if _, _, found, _ := SentTo(ctx, st.pool, testOutMail(1).MessageID); found {
		t.Error("sent_message_ids row survived the rollback")
	}
}

// TestEnqueueMailOnce: of two transactions queueing the same Message-ID,
// one queues it; the other (waiting for the first to commit, if it comes
// while the first is open) queues nothing and says so; OutboxHolds finds
// it.
func TestEnqueueMailOnce(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	m := testOutMail(1)
	m.Kind = "mine"
	first, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx) //nolint:errcheck
	if ok, err := EnqueueMailOnce(ctx, first, m); !ok || err != nil {
		t.Fatalf("first: %v, %v", ok, err)
	}
	second := make(chan error, 1)
	go func() {
		second <- st.InTx(ctx, func(tx pgx.Tx) error {
			ok, err := EnqueueMailOnce(ctx, tx, m)
			if err == nil && ok {
				err = errors.New("queued a second time")
			}
			return err
		})
	}()
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Errorf("second: %v", err)
	}
	if held, err := OutboxHolds(ctx, st.pool, "<"+m.MessageID+">"); !held || err != nil {
		t.Errorf("OutboxHolds = %v, %v", held, err)
	}
	if held, err := OutboxHolds(ctx, st.pool, testOutMail(2).MessageID); held || err != nil {
		t.Errorf("OutboxHolds of another = %v, %v", held, err)
	}
	if n, _, err := st.OutboxStats(ctx); err != nil || n != 1 {
		t.Errorf("%d queued, want 1 (%v)", n, err)
	}
}

func TestEnqueueMailSingleRecipientDefault(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	caseID := outboxTestCase(t, st)
	m := testOutMail(1)
	m.CaseID = caseID
	m.To = []string{`"Nordmann, Ola" <Ola@Example.no>`}
	if _, err := EnqueueMail(ctx, st.pool, m); err != nil {
		t.Fatal(err)
	}
	if rcpt, _, _, _ := SentTo(ctx, st.pool, m.MessageID); rcpt != "ola@example.no" {
		t.Errorf("recipient = %q, want the only To", rcpt)
	}
	// No case: no sent_message_ids row (it needs a case).
	m2 := testOutMail(2)
	if _, err := EnqueueMail(ctx, st.pool, m2); err != nil {
		t.Fatal(err)
	}
	if _, _, found, _ := SentTo(ctx, st.pool, m2.MessageID); found {
		t.Error("mail without a case recorded in sent_message_ids")
	}
}

func TestEnqueueMailRejects(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	for name, mutate := range map[string]func(*OutMail){
		"no message id": func(m *OutMail) { m.MessageID = " <> " },
		"no from":       func(m *OutMail) { m.From = "" },
		"no recipient":  func(m *OutMail) { m.To = nil },
		"no kind":       func(m *OutMail) { m.Kind = "" },
		"blobless att":  func(m *OutMail) { m.Attachments = []OutAttachment{{Filename: "x"}} },
	} {
		m := testOutMail(1)
		mutate(&m)
		if _, err := EnqueueMail(ctx, st.pool, m); err == nil {
			t.Errorf("%s: queued", name)
		}
	}
	if _, err := EnqueueMail(ctx, st.pool, testOutMail(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := EnqueueMail(ctx, st.pool, testOutMail(1)); !IsUniqueViolation(err) {
		t.Errorf("duplicate Message-ID: err = %v, want a unique violation", err)
	}
}

func TestClaimOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	id, err := EnqueueMail(ctx, st.pool, testOutMail(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second) // the row's next_attempt_at is the database's now()

	rows, err := st.ClaimOutbox(ctx, 10, time.Minute, now)
	if err != nil || len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("first claim: %v, %v", rows, err)
	}
	if rows[0].Status != "sending" || rows[0].Attempts != 1 || rows[0].LockedUntil == nil {
		t.Errorf("claimed row: status %s attempts %d lock %v", rows[0].Status, rows[0].Attempts, rows[0].LockedUntil)
	}
	// Leased: nobody else gets it.
	if again, err := st.ClaimOutbox(ctx, 10, time.Minute, now.Add(30*time.Second)); err != nil || len(again) != 0 {
		t.Fatalf("claim during lease: %v, %v", again, err)
	}
	// The claimer died: after the lease the row is claimed again, same Message-ID.
	again, err := st.ClaimOutbox(ctx, 10, time.Minute, now.Add(61*time.Second))
	if err != nil || len(again) != 1 || again[0].MessageID != rows[0].MessageID || again[0].Attempts != 2 {
		t.Fatalf("claim after lease: %+v, %v", again, err)
	}

	// Temporary failure: not due before next.
	next := now.Add(10 * time.Minute)
	if err := st.MarkRetry(ctx, id, "451 try later", next); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ClaimOutbox(ctx, 10, time.Minute, next.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("claimed before its retry time: %+v", got)
	}
	got, err := st.ClaimOutbox(ctx, 10, time.Minute, next)
	if err != nil || len(got) != 1 || got[0].LastError != "451 try later" {
		t.Fatalf("claim at retry time: %+v, %v", got, err)
	}

	sentAt := next.Add(time.Second)
	if err := st.MarkSent(ctx, id, sentAt); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ClaimOutbox(ctx, 10, time.Minute, sentAt.Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("sent row claimed again: %+v", got)
	}
	row, err := st.OutboxByID(ctx, id)
	if err != nil || row.Status != "sent" || row.SentAt == nil || !row.SentAt.Equal(sentAt.Truncate(time.Microsecond)) || row.LastError != "" {
		t.Errorf("sent row: %+v, %v", row, err)
	}
	// A late retry/failure from a slow duplicate sender does not undo "sent".
	if err := st.MarkFailed(ctx, id, "550 late"); err != nil {
		t.Fatal(err)
	}
	if row, _ := st.OutboxByID(ctx, id); row.Status != "sent" {
		t.Errorf("MarkFailed overwrote a sent row: %s", row.Status)
	}
}

func TestClaimOutboxFailedAndReleased(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	var ids []int64
	for i := range 3 {
		id, err := EnqueueMail(ctx, st.pool, testOutMail(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	now := time.Now().Add(time.Second)
	rows, err := st.ClaimOutbox(ctx, 2, time.Hour, now)
	if err != nil || len(rows) != 2 || rows[0].ID != ids[0] || rows[1].ID != ids[1] {
		t.Fatalf("claim with limit 2: %+v, %v", rows, err)
	}
	if err := st.MarkFailed(ctx, ids[0], "550 no such user"); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseOutbox(ctx, []int64{ids[1]}); err != nil {
		t.Fatal(err)
	}
	r, _ := st.OutboxByID(ctx, ids[1])
	if r.Status != "pending" || r.Attempts != 0 {
		t.Errorf("released row: status %s attempts %d", r.Status, r.Attempts)
	}
	rows, err = st.ClaimOutbox(ctx, 10, time.Hour, now)
	if err != nil || len(rows) != 2 || rows[0].ID != ids[1] || rows[1].ID != ids[2] {
		t.Fatalf("claim after fail+release: %+v, %v", rows, err)
	}
	r, _ = st.OutboxByID(ctx, ids[0])
	if r.Status != "failed" || r.LastError != "550 no such user" {
		t.Errorf("failed row: %+v", r)
	}
	pending, oldest, err := st.OutboxStats(ctx)
	if err != nil || pending != 2 || oldest <= 0 || oldest > time.Minute {
		t.Errorf("stats: %d, %v, %v", pending, oldest, err)
	}
}

// Several instances claiming at once never get the same row.
func TestClaimOutboxConcurrent(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	const total = 300
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		for i := range total {
			if _, err := EnqueueMail(ctx, tx, testOutMail(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rows, err := st.ClaimOutbox(ctx, 7, time.Hour, now)
				if err != nil {
					errs <- err
					return
				}
				if len(rows) == 0 {
					return
				}
				mu.Lock()
				for _, r := range rows {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Errorf("claimed %d distinct rows, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("row %d claimed %d times", id, n)
		}
	}
}
