package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// caseSnapshot is every row belonging to a case, raw mail included, as
// JSON, to compare a case before and after.
func caseSnapshot(t *testing.T, st *store.Store, caseID int64) string {
	t.Helper()
	var s string
	err := st.DB().QueryRow(context.Background(), `SELECT jsonb_build_object(
		'case', (SELECT to_jsonb(c) FROM cases c WHERE id = $1),
		'participants', (SELECT jsonb_agg(to_jsonb(p) ORDER BY address) FROM participants p WHERE case_id = $1),
		'messages', (SELECT jsonb_agg(to_jsonb(m) ORDER BY id) FROM messages m WHERE case_id = $1),
		'raw', (SELECT jsonb_agg(md5(r.data) ORDER BY r.sha256) FROM raw_mails r
			WHERE r.sha256 IN (SELECT raw_sha256 FROM messages WHERE case_id = $1)),
		'events', (SELECT jsonb_agg(to_jsonb(e) ORDER BY id) FROM events e WHERE case_id = $1),
		'outbox', (SELECT jsonb_agg(to_jsonb(o) ORDER BY id) FROM outbox o WHERE case_id = $1),
		'sent', (SELECT jsonb_agg(to_jsonb(s) ORDER BY message_id) FROM sent_message_ids s WHERE case_id = $1)
	)::text`, caseID).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEraseRequester: after a real session on Dovecot — a requester opens
// a case, is copied on a colleague's case and answers there — `casemail
// erase -requester` leaves no trace of them in any column of any table,
// raw mail included; the dry run before it changes nothing; an unrelated
// case stays exactly as it was; and a restart ingests nothing again.
func TestEraseRequester(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const (
		ola      = "ola.nordmann@bryne.example.no"
		olaText  = "OLA-TEXT my login to the e-handbook fails since Monday"
		olaReply = "OLA-REPLY the projector was fine before the holidays"
		kariText = "KARI-TEXT the projector in room B12 flickers"
		perText  = "PER-TEXT the printer on floor 2 jams"
	)
	run := w.start(t)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <`+ola+`>`, w.helpdesk,
		"Login to ehandbok", "o1@bryne.example.no", "", olaText))
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Kari Holm" <kari@school.example.com>`, w.helpdesk,
		"Projector", "k1@school.example.com", "Cc: Ola Nordmann <"+ola+">\r\n", kariText))
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Per Lund" <per.lund@other.example.org>`, w.helpdesk,
		"Printer", "p1@other.example.org", "", perText))
	var kariCase, perCase int64
	var kariNumber int64
	waitFor(t, 30*time.Second, func() bool {
		return w.store.DB().QueryRow(ctx, `SELECT id, number FROM cases WHERE requester = 'kari@school.example.com'`).
			Scan(&kariCase, &kariNumber) == nil &&
			w.store.DB().QueryRow(ctx, `SELECT id FROM cases WHERE requester = 'per.lund@other.example.org'`).Scan(&perCase) == nil
	})
	// Ola, copied on Kari's case, answers there.
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <`+ola+`>`, w.helpdesk,
		fmt.Sprintf("Re: [#%d] Projector", kariNumber), "o2@bryne.example.no", "", olaReply))
	waitFor(t, 30*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM ingested WHERE outcome <> 'pending'`) == 4 &&
			countRows(t, w.store, `SELECT count(*) FROM outbox WHERE status <> 'sent'`) == 0
	})
	if n := countRows(t, w.store, `SELECT count(*) FROM messages WHERE case_id = $1 AND from_addr = $2`, kariCase, ola); n != 1 {
		t.Fatalf("Ola's answer did not land on Kari's case (%d)", n)
	}
	run.stop(t)

	for _, needle := range []string{ola, olaText, olaReply} {
		if tr, err := w.store.Traces(ctx, needle); err != nil || len(tr) == 0 {
			t.Fatalf("before the erasure %q is nowhere (%v): the session went wrong", needle, err)
		}
	}
	perBefore := caseSnapshot(t, w.store, perCase)
	messagesBefore := countRows(t, w.store, `SELECT count(*) FROM messages`)

	// The dry run says what would go and changes nothing.
	var out, errOut bytes.Buffer
	if err := run1(ctx, []string{"erase", "-config", w.cfgPath, "-requester", "Ola.Nordmann@bryne.example.no", "-dry-run"}, &out, &errOut); err != nil {
		t.Fatalf("erase -dry-run: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "dry run") || !strings.Contains(out.String(), "raw mails deleted") {
		t.Errorf("dry run output:\n%s", out.String())
	}
	if tr, _ := w.store.Traces(ctx, olaText); len(tr) == 0 {
		t.Fatal("the dry run erased data")
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM erasures`); n != 0 {
		t.Errorf("the dry run recorded an erasure")
	}

	out.Reset()
	errOut.Reset()
	if err := run1(ctx, []string{"erase", "-config", w.cfgPath, "-requester", ola, "-by", "dpo"}, &out, &errOut); err != nil {
		t.Fatalf("erase: %v\n%s%s", err, out.String(), errOut.String())
	}
	t.Logf("casemail erase:\n%s", out.String())
	if !strings.Contains(out.String(), "verified: the address is in no table") {
		t.Errorf("erase output does not report the verification:\n%s", out.String())
	}
	if strings.Contains(out.String(), olaText) {
		t.Error("erase printed the person's text")
	}

	// Nothing of Ola left: every text, array, JSON and bytea column.
	for _, needle := range []string{ola, "Ola Nordmann", olaText, olaReply, "Login to ehandbok"} {
		tr, err := w.store.Traces(ctx, needle)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr) > 0 {
			t.Errorf("after the erasure %q is still in %v", needle, tr)
		}
	}
	// Per's case is whole; Kari's keeps her text and her raw mail is gone
	// only because it named Ola in Cc.
	if after := caseSnapshot(t, w.store, perCase); after != perBefore {
		t.Errorf("Per's case changed:\nbefore %s\nafter  %s", perBefore, after)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM messages WHERE case_id = $1 AND text_body LIKE $2`, kariCase, "%"+kariText+"%"); n != 1 {
		t.Errorf("Kari's text is gone from her case")
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM messages`); n != messagesBefore {
		t.Errorf("messages %d, before %d: rows are emptied, not deleted", n, messagesBefore)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM events WHERE kind = 'erasure'`); n != 2 {
		t.Errorf("%d erasure events, want one on Ola's case and one on Kari's", n)
	}
	es, err := w.store.Erasures(ctx, ola)
	if err != nil || len(es) != 1 || es[0].RequestedBy != "dpo" {
		t.Errorf("erasure record: %+v %v", es, err)
	}

	// The mail is still in the mailbox: a restart must not bring it back.
	run2 := w.start(t)
	run2.synced(t, time.Now())
	run2.stop(t)
	if tr, _ := w.store.Traces(ctx, olaText); len(tr) > 0 {
		t.Errorf("after a restart Ola's text is back in %v", tr)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM messages`); n != messagesBefore {
		t.Errorf("a restart added messages: %d, want %d", n, messagesBefore)
	}
}

// run1 is run with the context of a test: a command line, its output.
func run1(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) error {
	return run(ctx, args, stdout, stderr)
}
