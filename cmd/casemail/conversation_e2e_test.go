package main

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// mailsTo parses every mail the SMTP server accepted for addr, in order.
func (w *world) mailsTo(t *testing.T, addr string) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	for _, m := range w.smtp.Messages() {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, addr) {
				pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatalf("casemail sent an unparsable mail: %v", err)
				}
				out = append(out, pm)
			}
		}
	}
	return out
}

// waitMail waits until addr has received n mails and returns the n-th.
func (w *world) waitMail(t *testing.T, addr string, n int) *mail.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ms := w.mailsTo(t, addr); len(ms) >= n {
			return ms[n-1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not receive mail number %d within 60s (got %d)", addr, n, len(w.mailsTo(t, addr)))
	return nil
}

var e2eSeq int

// answer delivers a reply to a mail casemail sent, as a mail client writes
// it: to the Reply-To (or to the plain helpdesk address when viaAddress is
// false, leaving References to prove the sender), threaded to it.
func (w *world) answer(t *testing.T, to *mail.Message, from, body string, viaAddress bool) {
	t.Helper()
	e2eSeq++
	rcpt := w.helpdesk
	if viaAddress {
		rcpt = to.Header.Get("Reply-To")
	}
	id := to.Header.Get("Message-ID")
	refs := strings.TrimSpace(to.Header.Get("References") + " " + id)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(from, rcpt, "Re: "+decodeHeader(to.Header.Get("Subject")),
		fmt.Sprintf("answer%d@clients.example", e2eSeq), "In-Reply-To: "+id+"\r\nReferences: "+refs+"\r\n", body))
}

// waitIncoming waits until the database holds n incoming messages.
func (w *world) waitIncoming(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM messages WHERE direction = 'in'`) >= n
	})
}

// queuedTo counts the mails a case queued for an address.
func queuedTo(t *testing.T, st *store.Store, caseID int64, addr string) int {
	t.Helper()
	return countRows(t, st, `SELECT count(*) FROM outbox WHERE case_id = $1 AND $2 = ANY(to_addrs)`, caseID, addr) +
		countRows(t, st, `SELECT count(*) FROM outbox WHERE case_id = $1 AND EXISTS
			(SELECT 1 FROM unnest(to_addrs) a WHERE a LIKE '%<' || $2 || '>')`, caseID, addr)
}

// TestConversationEndToEnd works one case by mail on real Dovecot,
// PostgreSQL and SMTP: notes stay internal, replies reach the requester
// with the case tag, a consulted colleague answers the owner only, the
// supplier's answer reaches the owner only, a forged From commands
// nothing, an unknown command gets an error reply, #resolve tells the
// requester and their answer reopens the case.
func TestConversationEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.start(t)
	const (
		ola    = "ola@bryne.example.no"
		anna   = "anna@example.org"
		per    = "per@example.org"
		vendor = "support@vendor.example"
	)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <`+ola+`>`, w.helpdesk,
		"Hjelp med e-håndbok", "conv-first@bryne.example.no", "", "Jeg finner ikke rutinen for avvik i e-håndbok."))
	w.waitMail(t, ola, 1) // the acknowledgement
	notice := w.waitMail(t, anna, 1)
	n := mustCaseNumber(t, w.store)
	c, err := store.CaseByNumber(context.Background(), w.store.DB(), n)
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("[#%d]", n)
	status := func() string {
		t.Helper()
		c, err := store.CaseByNumber(context.Background(), w.store.DB(), n)
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Status)
	}

	// #note: stored, nothing to the requester.
	w.answer(t, notice, "Anna Berg <"+anna+">", "#note\nOla har spurt om dette før.", true)
	w.waitIncoming(t, 2)
	if got := queuedTo(t, w.store, c.ID, ola); got != 1 {
		t.Fatalf("after #note the requester has %d mails queued, want only the acknowledgement", got)
	}

	// A plain reply, proven by References alone, with quoted history.
	w.answer(t, notice, "Anna Berg <"+anna+">",
		"Rutinen ligger under Kvalitet → Avvik.\r\n\r\nDen 23. nov. 2026 kl. 09:00 skrev Helpdesk <helpdesk@example.org>:\r\n> intern historikk", false)
	reply := w.waitMail(t, ola, 2)
	if s := decodeHeader(reply.Header.Get("Subject")); !strings.Contains(s, tag) {
		t.Errorf("public reply subject %q lacks %s", s, tag)
	}
	from, err := mail.ParseAddress(reply.Header.Get("From"))
	if err != nil || from.Name != "Anna Berg via Helpdesk" || from.Address != w.helpdesk {
		t.Errorf("public reply From = %q, want the agent's name via the helpdesk address", reply.Header.Get("From"))
	}
	if body := decodeBody(t, reply); !strings.Contains(body, "Kvalitet → Avvik") || strings.Contains(body, "intern historikk") {
		t.Errorf("public reply body should hold the answer without the quoted history:\n%s", body)
	}

	// #consult per: he is asked; his answer reaches anna only.
	w.answer(t, notice, anna, "#consult per\nPer, vet du hvor skjemaet ligger?", true)
	consult := w.waitMail(t, per, 1)
	if body := decodeBody(t, consult); !strings.Contains(body, "vet du hvor skjemaet ligger") {
		t.Errorf("consult mail lacks the question:\n%s", body)
	}
	w.answer(t, consult, "Per Dahl <"+per+">", "Skjemaet ligger på intranettet under Skjema.", true)
	note := w.waitMail(t, anna, 2)
	if body := decodeBody(t, note); !strings.Contains(body, "intranettet under Skjema") {
		t.Errorf("anna did not get per's answer:\n%s", body)
	}

	// #supplier: forwarded with the supplier's token; their answer goes to anna.
	w.answer(t, notice, anna, "#supplier\nKan dere se på avviksskjemaet?", true)
	forward := w.waitMail(t, vendor, 1)
	for name, vals := range forward.Header {
		for _, v := range vals {
			if strings.Contains(strings.ToLower(v), ola) {
				t.Errorf("the supplier forward names the requester in %s: %q", name, v)
			}
		}
	}
	w.answer(t, forward, "Qm Support <"+vendor+">", "Dette er rettet i versjon 4.2.", true)
	answer := w.waitMail(t, anna, 3)
	if body := decodeBody(t, answer); !strings.Contains(body, "versjon 4.2") {
		t.Errorf("anna did not get the supplier's answer:\n%s", body)
	}
	w.waitIncoming(t, 7)
	if got := queuedTo(t, w.store, c.ID, ola); got != 2 {
		t.Errorf("the requester has %d mails queued after the consult and the supplier, want 2", got)
	}

	// anna's From, no token, no chain: #close is text; nothing moves.
	e2eSeq++
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("Anna Berg <"+anna+">", w.helpdesk, "Re: "+tag+" Hjelp med e-håndbok",
		"forged@evil.example", "", "#close"))
	w.waitIncoming(t, 8)
	if s := status(); s != "open" {
		t.Errorf("a forged #close: status %s, want open", s)
	}
	forgedRefusal := w.waitMail(t, anna, 4)
	if body := decodeBody(t, forgedRefusal); !strings.Contains(body, "kan ikke vises at den er din") { // anna reads Norwegian
		t.Errorf("the real anna is not told of the unproven mail:\n%s", body)
	}

	// An unknown command: an error reply, nothing changed.
	w.answer(t, notice, anna, "#frobnicate\nHei Ola!", true)
	errMail := w.waitMail(t, anna, 5)
	if body := decodeBody(t, errMail); !strings.Contains(body, "#frobnicate") {
		t.Errorf("error reply does not name the command:\n%s", body)
	}
	if got := queuedTo(t, w.store, c.ID, ola); got != 2 {
		t.Errorf("a refused reply reached the requester (%d mails queued)", got)
	}

	// #resolve tells the requester; their answer reopens the case.
	w.answer(t, notice, anna, "#resolve Skjemaet ligger under Kvalitet → Skjema.", true)
	resolved := w.waitMail(t, ola, 3)
	if body := decodeBody(t, resolved); !strings.Contains(body, "Kvalitet → Skjema") {
		t.Errorf("resolved mail lacks the resolution:\n%s", body)
	}
	if s := status(); s != "resolved" {
		t.Fatalf("after #resolve: status %s", s)
	}
	w.answer(t, resolved, `"Ola Nordmann" <`+ola+`>`, "Skjemaet mangler fortsatt feltet for dato.", true)
	followup := w.waitMail(t, anna, 6)
	if body := decodeBody(t, followup); !strings.Contains(body, "feltet for dato") {
		t.Errorf("anna's follow-up notice lacks the requester's text:\n%s", body)
	}
	if s := status(); s != "open" {
		t.Errorf("the requester's answer to the resolved case: status %s, want open", s)
	}

	// No mail to an agent ever names the requester in a header.
	for _, addr := range []string{anna, per} {
		for _, m := range w.mailsTo(t, addr) {
			for name, vals := range m.Header {
				for _, v := range vals {
					if strings.Contains(strings.ToLower(v), ola) {
						t.Errorf("a mail to %s carries the requester's address in %s: %q", addr, name, v)
					}
				}
			}
		}
	}
	if got := len(w.mailsTo(t, ola)); got != 3 {
		t.Errorf("the requester received %d mails, want 3 (ack, reply, resolved)", got)
	}

	// `casemail case N` shows the thread and the trail.
	var out bytes.Buffer
	if err := cmdCase(context.Background(), []string{"-config", w.cfgPath, fmt.Sprint(n)}, &out, &out); err != nil {
		t.Fatalf("case %d: %v", n, err)
	}
	if os.Getenv("E2E_DUMP") != "" {
		t.Log(out.String())
	}
	for _, want := range []string{"note (internal)", "Ola har spurt om dette før.", "out reply to", "out forward to",
		"#consult per", "#resolve", "command-refused", "participants"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("`casemail case %d` lacks %q:\n%s", n, want, out.String())
		}
	}
}
