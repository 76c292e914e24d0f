package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/notify"
)

// TestLoopIdentityEndToEnd, on real Dovecot, PostgreSQL and SMTP: the mail
// casemail sends carries this deployment's identity; that very mail
// coming back to the mailbox causes nothing; a mail from another casemail
// deployment opens an automatic case that is never acknowledged.
func TestLoopIdentityEndToEnd(t *testing.T) {
	w := newWorld(t)
	run := w.start(t)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <ola@bryne.example.no>`, w.helpdesk,
		"Hjelp med e-håndbok", "loop-first@bryne.example.no", "", "Jeg finner ikke rutinen."))
	var ackRaw []byte
	for _, m := range w.smtp.Wait(t, 2, 60*time.Second) {
		if len(m.To) == 1 && m.To[0] == "ola@bryne.example.no" {
			ackRaw = m.Data
		}
	}
	if ackRaw == nil {
		t.Fatal("no acknowledgement")
	}
	ack := w.waitMail(t, "ola@bryne.example.no", 1)
	if got := ack.Header.Get(notify.LoopHeader); got != run.d.keys.LoopID() || strings.Contains(got, "@") {
		t.Fatalf("%s = %q, want the deployment's identity %q", notify.LoopHeader, got, run.d.keys.LoopID())
	}
	outbox := func() int { return countRows(t, w.store, `SELECT count(*) FROM outbox`) }
	cases := func() int { return countRows(t, w.store, `SELECT count(*) FROM cases`) }
	queued, opened := outbox(), cases()

	// The acknowledgement itself comes back (a requester's server sent it
	// on, say): it is recognised as ours and answered by nothing.
	w.dovecot.Append(t, w.helpdesk, "INBOX", ackRaw)
	// Whatever the mail made casemail queue commits with its message row.
	w.waitIncoming(t, 2)
	if n := outbox(); n != queued {
		t.Errorf("our own mail coming back queued %d mails", n-queued)
	}
	if n := cases(); n > opened {
		// A new case is allowed only as a dropped one.
		if live := countRows(t, w.store, `SELECT count(*) FROM cases WHERE status <> 'dropped'`); live > opened {
			t.Errorf("our own mail opened a live case")
		}
	}

	// Another casemail's acknowledgement: automatic mail, a live case, no
	// acknowledgement back (two helpdesks never answer each other).
	other, err := notify.NewKeys([]byte("another-deployment-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("Partner Helpdesk <helpdesk@partner.example>", w.helpdesk,
		"[#4711] We received your mail", "partner-ack@partner.example",
		"Auto-Submitted: auto-replied\r\n"+notify.LoopHeader+": "+other.LoopID()+"\r\n", "Your case number is 4711."))
	w.waitIncoming(t, 3)
	var status string
	var automatic bool
	if err := w.store.DB().QueryRow(context.Background(), `SELECT status, automatic FROM cases
		WHERE requester = 'helpdesk@partner.example'`).Scan(&status, &automatic); err != nil {
		t.Fatalf("another deployment's mail: %v", err)
	}
	if status == "dropped" || !automatic {
		t.Errorf("another deployment's mail: status %s automatic %v, want a live automatic case", status, automatic)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM outbox WHERE EXISTS
		(SELECT 1 FROM unnest(to_addrs) a WHERE a LIKE '%helpdesk@partner.example%')`); n != 0 {
		t.Errorf("%d mails queued to another casemail deployment", n)
	}
}
