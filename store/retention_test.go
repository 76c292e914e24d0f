package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestApplyRetention: expired closed and dropped cases go with everything
// on them; raw mail and attachment bodies go after their own periods while
// their cases and messages stay; nothing younger is touched, and a body a
// queued mail still needs survives.
func TestApplyRetention(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	f := &fixture{t: t, st: st, ctx: ctx}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	policy := RetentionPolicy{ClosedCases: 365 * day, RawMail: 90 * day, Attachments: 180 * day}

	// Closed 400 days ago: deleted. A later case links to it and stays.
	oldClosed := f.newCase("a@example.org", "old closed", now.Add(-500*day))
	f.mail(oldClosed.ID, "a@example.org", nil, "old closed", "text", now.Add(-500*day), "OLDCLOSEDFILE")
	f.outbox(oldClosed.ID, "ack", []string{"a@example.org"}, "ack", "ack")
	if err := SetCaseStatus(ctx, st.pool, oldClosed.ID, "closed", now.Add(-400*day)); err != nil {
		t.Fatal(err)
	}
	linked := f.newCase("a@example.org", "follow-up", now.Add(-10*day))
	if _, err := st.pool.Exec(ctx, `UPDATE cases SET linked_case_id = $1 WHERE id = $2`, oldClosed.ID, linked.ID); err != nil {
		t.Fatal(err)
	}
	// Dropped and untouched for 400 days: deleted.
	dropped := f.newCase("list@example.org", "newsletter", now.Add(-400*day))
	if err := SetCaseStatus(ctx, st.pool, dropped.ID, "dropped", now.Add(-400*day)); err != nil {
		t.Fatal(err)
	}
	// Closed 100 days ago: kept, but its raw mail (older than 90 days) goes.
	recentClosed := f.newCase("b@example.org", "recent closed", now.Add(-120*day))
	rcMsg := f.mail(recentClosed.ID, "b@example.org", nil, "recent closed", "text b", now.Add(-120*day), "RECENTFILE")
	if err := SetCaseStatus(ctx, st.pool, recentClosed.ID, "closed", now.Add(-100*day)); err != nil {
		t.Fatal(err)
	}
	// Open for 200 days: kept; raw mail and attachment bodies go, except a
	// body that a queued forward still attaches.
	open := f.newCase("c@example.org", "long open", now.Add(-200*day))
	openMsg := f.mail(open.ID, "c@example.org", nil, "long open", "text c", now.Add(-200*day), "OPENFILE", "FORWARDEDFILE")
	f.outbox(open.ID, "forward", []string{"vendor@example.com"}, "fwd", "fwd", hashOf("FORWARDEDFILE"))
	// Fresh: untouched.
	fresh := f.newCase("d@example.org", "fresh", now.Add(-time.Hour))
	freshMsg := f.mail(fresh.ID, "d@example.org", nil, "fresh", "text d", now.Add(-time.Hour), "FRESHFILE")
	freshSnap := snapshot(t, st, fresh.ID)

	if ok, err := allowAck(ctx, st, "e@example.org", now.Add(-3*day)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := allowAck(ctx, st, "e@example.org", now.Add(-time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	q1, _ := Quarantine(ctx, st.pool, "helpdesk", 1, 1, "bad", []byte("old resolved"))
	q2, _ := Quarantine(ctx, st.pool, "helpdesk", 1, 2, "bad", []byte("old unresolved"))
	if _, err := st.pool.Exec(ctx, `UPDATE quarantine SET created_at = $1`, now.Add(-100*day)); err != nil {
		t.Fatal(err)
	}
	if err := ResolveQuarantine(ctx, st.pool, q1, now.Add(-99*day)); err != nil {
		t.Fatal(err)
	}

	res, err := st.ApplyRetention(ctx, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %+v", res)

	for _, gone := range []*Case{oldClosed, dropped} {
		if _, err := CaseByID(ctx, st.pool, gone.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("case %q: %v, want deleted", gone.Subject, err)
		}
		if n := count(t, st, `SELECT count(*) FROM messages WHERE case_id = $1`, gone.ID) +
			count(t, st, `SELECT count(*) FROM events WHERE case_id = $1`, gone.ID) +
			count(t, st, `SELECT count(*) FROM outbox WHERE case_id = $1`, gone.ID) +
			count(t, st, `SELECT count(*) FROM sent_message_ids WHERE case_id = $1`, gone.ID); n != 0 {
			t.Errorf("case %q: %d rows left behind", gone.Subject, n)
		}
	}
	for _, kept := range []*Case{linked, recentClosed, open, fresh} {
		if _, err := CaseByID(ctx, st.pool, kept.ID); err != nil {
			t.Errorf("case %q: %v, want kept", kept.Subject, err)
		}
	}
	if lc, _ := CaseByID(ctx, st.pool, linked.ID); lc != nil && lc.LinkedCaseID != nil {
		t.Errorf("the later case still links to a deleted one")
	}
	for _, body := range []string{"OLDCLOSEDFILE", "OPENFILE"} {
		if n := count(t, st, `SELECT count(*) FROM blobs WHERE sha256 = $1`, hashOf(body)); n != 0 {
			t.Errorf("attachment body %s kept, want deleted", body)
		}
	}
	for _, body := range []string{"RECENTFILE", "FORWARDEDFILE", "FRESHFILE"} {
		if n := count(t, st, `SELECT count(*) FROM blobs WHERE sha256 = $1`, hashOf(body)); n != 1 {
			t.Errorf("attachment body %s deleted, want kept", body)
		}
	}
	// Expired contents leave the attachment listed, without a body.
	if n := count(t, st, `SELECT count(*) FROM attachments WHERE message_id = $1 AND sha256 IS NULL`, openMsg); n != 2 {
		t.Errorf("attachments of the long-open case without body = %d, want 2 listed", n)
	}
	for _, m := range []int64{rcMsg, openMsg} {
		if n := count(t, st, `SELECT count(*) FROM messages WHERE id = $1 AND raw_sha256 IS NULL AND text_body <> ''`, m); n != 1 {
			t.Errorf("message %d: want its text kept and its raw mail gone", m)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM messages WHERE id = $1 AND raw_sha256 IS NOT NULL`, freshMsg); n != 1 {
		t.Error("the fresh message lost its raw mail")
	}
	if n := count(t, st, `SELECT count(*) FROM raw_mails`); n != 1 {
		t.Errorf("raw mails left = %d, want only the fresh one", n)
	}
	if after := snapshot(t, st, fresh.ID); after != freshSnap {
		t.Errorf("the fresh case changed:\n%s\n%s", freshSnap, after)
	}
	if n := count(t, st, `SELECT count(*) FROM ack_log WHERE address NOT LIKE 'mailbox:%'`); n != 1 {
		t.Errorf("ack log entries = %d, want the recent one only", n)
	}
	if n := count(t, st, `SELECT count(*) FROM quarantine WHERE id = $1`, q1) + count(t, st, `SELECT count(*) FROM quarantine WHERE id = $1`, q2); n != 1 {
		t.Errorf("quarantine: %d of resolved+unresolved left, want the unresolved one", n)
	}
	if res.Cases != 2 || res.Quarantine != 1 || res.AckLog != 1 || res.Attachments != 2 || res.RawMails != 2 {
		t.Errorf("result %+v", res)
	}

	// A second run finds nothing more.
	res2, err := st.ApplyRetention(ctx, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	if res2 != (RetentionResult{}) {
		t.Errorf("second run: %+v, want nothing", res2)
	}
	// Once the forward is sent, its body is no longer needed.
	if _, err := st.pool.Exec(ctx, `UPDATE outbox SET status = 'sent'`); err != nil {
		t.Fatal(err)
	}
	res3, err := st.ApplyRetention(ctx, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	if res3.BlobOrphans != 1 || count(t, st, `SELECT count(*) FROM blobs WHERE sha256 = $1`, hashOf("FORWARDEDFILE")) != 0 {
		t.Errorf("after the forward was sent: %+v, want its body deleted", res3)
	}
}

// TestRetentionBatches: more expired cases than one batch holds are all
// deleted in one run.
func TestRetentionBatches(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	now := time.Now()
	n := retentionBatch + 7
	if _, err := st.pool.Exec(ctx, `INSERT INTO cases (status, requester, mailbox, closed_at)
		SELECT 'closed', 'x' || i || '@example.org', 'helpdesk', $2 FROM generate_series(1, $1) i`,
		n, now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err := st.ApplyRetention(ctx, RetentionPolicy{ClosedCases: 24 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases != int64(n) || count(t, st, `SELECT count(*) FROM cases`) != 0 {
		t.Errorf("deleted %d of %d cases", res.Cases, n)
	}
}

// TestRunJob: a job runs once per period across instances; a held lock
// makes another instance skip; a failed run is recorded and tried again.
func TestRunJob(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	now := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	runs := 0
	job := func(context.Context) (any, error) { runs++; return map[string]int{"n": runs}, nil }

	ran, err := st.RunJob(ctx, "retention", 24*time.Hour, now, job)
	if err != nil || !ran {
		t.Fatalf("first run: %v %v", ran, err)
	}
	if ran, err := st.RunJob(ctx, "retention", 24*time.Hour, now.Add(23*time.Hour), job); err != nil || ran {
		t.Errorf("within the day: ran=%v err=%v, want skipped", ran, err)
	}

	// Another instance holds the lock.
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, jobLockKey("retention")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RunJob(ctx, "retention", 24*time.Hour, now.Add(25*time.Hour), job); !errors.Is(err, ErrJobBusy) {
		t.Errorf("while locked elsewhere: %v, want ErrJobBusy", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, jobLockKey("retention")); err != nil {
		t.Fatal(err)
	}
	conn.Release()

	failing := func(context.Context) (any, error) { return nil, errors.New("disk full") }
	if ran, err := st.RunJob(ctx, "retention", 24*time.Hour, now.Add(25*time.Hour), failing); !ran || err == nil {
		t.Errorf("failing run: ran=%v err=%v", ran, err)
	}
	jr, err := st.JobRuns(ctx)
	if err != nil || len(jr) != 1 || jr[0].LastError != "disk full" || !jr[0].FinishedAt.Equal(now) {
		t.Fatalf("job runs after a failure: %+v %v", jr, err)
	}
	// The failure does not count as a run: the next call runs it.
	if ran, err := st.RunJob(ctx, "retention", 24*time.Hour, now.Add(26*time.Hour), job); err != nil || !ran {
		t.Errorf("after a failure: ran=%v err=%v, want it run again", ran, err)
	}
	jr, _ = st.JobRuns(ctx)
	if runs != 2 || jr[0].LastError != "" || string(jr[0].Result) != `{"n": 2}` {
		t.Errorf("runs=%d record=%+v", runs, jr[0])
	}
}
