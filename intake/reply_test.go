package intake

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/store"
)

const convRules = `people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  central_support: {everyone: [per]}
  system_responsible: {everyone: [eva]}
suppliers:
  - {id: qm-vendor, name: Qm vendor, email: support@vendor.example}
services:
  - id: qm-handbook
    name: Qm+ e-handbook
    keywords: [e-håndbok]
    chain:
      - {tier: 1, role: superuser}
      - {tier: 2, role: central_support}
      - {tier: 3, role: system_responsible}
      - {tier: external, supplier: qm-vendor}
  - id: licences
    name: Software licences
    keywords: [licence]
    approval: system_responsible
    chain: [{tier: 2, role: central_support}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
default: {service: triage}
`

const (
	ola    = "ola@bryne.example.no"
	kari   = "kari@bryne.example.no"
	anna   = "anna@example.org"
	per    = "per@example.org"
	eva    = "eva@example.org"
	vendor = "support@vendor.example"
)

// newConvProc is newProc with a catalogue that has a supplier, an
// approval service and a colleague to consult.
func newConvProc(t *testing.T) *procEnv {
	t.Helper()
	return newProcWith(t, convRules)
}

var convSeq int

// mailFrom delivers a mail and moves the clock on a minute, so that rows
// keep their order.
func (e *procEnv) mailFrom(t *testing.T, from, to, subject, extra, body string) Result {
	t.Helper()
	convSeq++
	e.now = e.now.Add(time.Minute)
	return e.deliver(t, "helpdesk", mailText(from, to, subject, fmt.Sprintf("conv%d@test", convSeq), extra, body))
}

// sent returns the outbox rows of a case of one kind to one address.
func (e *procEnv) sent(t *testing.T, number int64, kind, to string) []store.OutboxRow {
	t.Helper()
	rows, err := store.CaseOutbox(context.Background(), e.st.DB(), e.caseOf(t, number).ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.OutboxRow
	for _, r := range rows {
		if r.Kind != kind {
			continue
		}
		for _, a := range r.To {
			if pa, err := mail.ParseAddress(a); err == nil && strings.EqualFold(pa.Address, to) {
				out = append(out, r)
			}
		}
	}
	return out
}

// kinds lists every mail queued on a case as "kind→address".
// kinds lists a case's queued mails as kind→recipient, in the order they
// were queued.
func (e *procEnv) kinds(t *testing.T, number int64) []string {
	t.Helper()
	rows, err := store.CaseOutbox(context.Background(), e.st.DB(), e.caseOf(t, number).ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		for _, to := range r.To {
			a, err := mail.ParseAddress(to)
			if err != nil {
				t.Fatalf("outbox row %d: To %q: %v", r.ID, to, err)
			}
			out = append(out, r.Kind+"→"+a.Address)
		}
	}
	return out
}

// answer replies to an outbox row the way a mail client does: to its
// Reply-To, with In-Reply-To and References naming it.
func (e *procEnv) answer(t *testing.T, row store.OutboxRow, from, body string, extra string) Result {
	t.Helper()
	refs := "<" + row.MessageID + ">"
	return e.mailFrom(t, from, row.ReplyTo, "Re: "+row.Subject,
		"In-Reply-To: "+refs+"\nReferences: "+refs+"\n"+extra, body)
}

// open starts a case from ola (with kari in Cc) assigned to anna.
func (e *procEnv) open(t *testing.T) int64 {
	t.Helper()
	r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", "Spørsmål om e-håndbok",
		"Cc: Kari <"+kari+">\n", "Hvor finner jeg rutinen i e-håndbok?")
	if r.Outcome != OutcomeCase {
		t.Fatalf("first mail: %v", r)
	}
	if c := e.caseOf(t, r.CaseNumber); c.Assignee != "anna" {
		t.Fatalf("case assigned to %q, want anna", c.Assignee)
	}
	return r.CaseNumber
}

// notice is the assignment notice anna got for case n.
func (e *procEnv) notice(t *testing.T, n int64, to string) store.OutboxRow {
	t.Helper()
	rows := e.sent(t, n, "assignment", to)
	if len(rows) != 1 {
		t.Fatalf("assignment notices to %s on #%d: %d, want 1", to, n, len(rows))
	}
	return rows[0]
}

func (e *procEnv) messageKind(t *testing.T, n int64) string {
	t.Helper()
	var kind string
	if err := e.st.DB().QueryRow(context.Background(), `SELECT kind FROM messages WHERE case_id = $1 ORDER BY id DESC LIMIT 1`,
		e.caseOf(t, n).ID).Scan(&kind); err != nil {
		t.Fatal(err)
	}
	return kind
}

// noRequesterAddressInHeaders fails when a mail to an agent names the
// requester in a header.
func noRequesterAddressInHeaders(t *testing.T, r store.OutboxRow, requester string) {
	t.Helper()
	for _, h := range append(append([]string{r.From, r.ReplyTo}, r.To...), r.Cc...) {
		if strings.Contains(strings.ToLower(h), requester) {
			t.Errorf("%s mail to %v carries the requester's address in a header: %q", r.Kind, r.To, h)
		}
	}
}

func TestConversationPublicReply(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	body := "Rutinen ligger under Kvalitet → Avvik.\n\nOn Mon, 23 Nov 2026, Helpdesk <helpdesk@example.org> wrote:\n> Hvor finner jeg rutinen?\n> hemmelig intern tekst"
	raw := "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain; charset=utf-8\n\n" + body +
		"\n--B\nContent-Type: application/pdf; name=rutine.pdf\nContent-Disposition: attachment; filename=rutine.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n"
	convSeq++
	e.now = e.now.Add(time.Minute)
	refs := "<" + notice.MessageID + ">"
	r := e.deliver(t, "helpdesk", fmt.Sprintf("From: Anna Berg <%s>\nTo: %s\nSubject: Re: %s\nMessage-ID: <reply%d@example.org>\nIn-Reply-To: %s\nReferences: %s\n%s",
		anna, notice.ReplyTo, notice.Subject, convSeq, refs, refs, raw))
	if r.Outcome != OutcomeMessage || r.CaseNumber != n {
		t.Fatalf("agent reply: %v", r)
	}
	for _, to := range []string{ola, kari} {
		rows := e.sent(t, n, "reply", to)
		if len(rows) != 1 {
			t.Fatalf("public replies to %s: %d, want 1 (sent: %v)", to, len(rows), e.kinds(t, n))
		}
		rr := rows[0]
		if !strings.HasPrefix(rr.Subject, fmt.Sprintf("[#%d] ", n)) {
			t.Errorf("reply subject %q lacks the case tag", rr.Subject)
		}
		from, err := mail.ParseAddress(rr.From)
		if err != nil || from.Address != "helpdesk@example.org" || from.Name != "Anna Berg via Helpdesk" {
			t.Errorf("reply From = %q, want \"Anna Berg via Helpdesk\" <helpdesk@example.org>", rr.From)
		}
		if !strings.Contains(rr.Text, "Kvalitet → Avvik") || strings.Contains(rr.Text, "hemmelig") {
			t.Errorf("reply text should carry the answer without the quoted history:\n%s", rr.Text)
		}
		if len(rr.Attachments) != 1 || rr.Attachments[0].Filename != "rutine.pdf" {
			t.Errorf("reply attachments = %+v, want rutine.pdf passed on", rr.Attachments)
		}
		if len(rr.To) != 1 {
			t.Errorf("a public reply goes to one person at a time, got To %v", rr.To)
		}
	}
	if len(e.sent(t, n, "reply", anna)) != 0 {
		t.Errorf("the agent got their own reply back")
	}
	c := e.caseOf(t, n)
	if c.FirstResponse == nil || !c.FirstResponse.Equal(e.now) {
		t.Errorf("first_response_at = %v, want %v", c.FirstResponse, e.now)
	}
	if k := e.messageKind(t, n); k != "agent" {
		t.Errorf("stored kind = %s, want agent", k)
	}

	// The requester answers: the case stays one thread and anna is told,
	// without the requester's address in any header.
	rr := e.sent(t, n, "reply", ola)[0]
	r = e.answer(t, rr, "Ola Nordmann <"+ola+">", "Takk, fant den!", "")
	if r.CaseNumber != n {
		t.Fatalf("requester's answer: %v", r)
	}
	fu := e.sent(t, n, "followup", anna)
	if len(fu) != 1 {
		t.Fatalf("follow-up notices to anna: %d, want 1 (%v)", len(fu), e.kinds(t, n))
	}
	noRequesterAddressInHeaders(t, fu[0], ola)
	if !strings.Contains(fu[0].Text, "Takk, fant den!") {
		t.Errorf("follow-up notice lacks the requester's text:\n%s", fu[0].Text)
	}
}

func TestConversationNoteStaysInternal(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	r := e.answer(t, e.notice(t, n, anna), "Anna Berg <"+anna+">", "#note\nOla har glemt passordet igjen.", "")
	if r.CaseNumber != n {
		t.Fatalf("note: %v", r)
	}
	for _, k := range e.kinds(t, n) {
		if strings.HasSuffix(k, ola) && !strings.HasPrefix(k, "ack") || strings.HasSuffix(k, kari) {
			t.Errorf("a #note reached the requester side: %s", k)
		}
	}
	if k := e.messageKind(t, n); k != "note" {
		t.Errorf("stored kind = %s, want note", k)
	}
	if c := e.caseOf(t, n); c.FirstResponse != nil {
		t.Errorf("a note set first_response_at")
	}
}

func TestConversationCommandsAndWaiting(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#wait 2d\n#PRIORITY high\n\nVi venter på leverandøren.", "")
	c := e.caseOf(t, n)
	if c.Status != "waiting" || c.Priority != "high" {
		t.Fatalf("after #wait and #priority: status %s priority %s", c.Status, c.Priority)
	}
	var until time.Time
	if err := e.st.DB().QueryRow(context.Background(), `SELECT wait_until FROM cases WHERE id = $1`, c.ID).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if !until.Equal(e.now.Add(48 * time.Hour)) {
		t.Errorf("wait_until = %v, want two calendar days on: %v", until, e.now.Add(48*time.Hour))
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'command' AND actor = 'anna'`, c.ID); n != 2 {
		t.Errorf("command events by anna = %d, want 2", n)
	}
	if len(e.sent(t, n, "reply", ola)) != 1 {
		t.Errorf("the text after the commands did not reach the requester")
	}
	// The requester writes while the case waits: it is taken up again.
	// (Their client shows the address as their name: it must not reach
	// the header of anna's notice.)
	e.answer(t, e.sent(t, n, "reply", ola)[0], `"`+ola+`" <`+ola+`>`, "Her er mer informasjon.", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("status after the requester wrote = %s, want open", c.Status)
	}
	fu := e.sent(t, n, "followup", anna)
	if len(fu) != 1 {
		t.Fatalf("follow-ups to anna: %d", len(fu))
	}
	noRequesterAddressInHeaders(t, fu[0], ola)
}

func TestConversationRefusedCommandsChangeNothing(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)

	// Unknown command next to a good one: neither is applied.
	e.answer(t, notice, anna, "#frobnicate\n#priority urgent\n\nDette er til Ola.", "")
	c := e.caseOf(t, n)
	if c.Priority != "normal" || c.Status != "open" {
		t.Errorf("a reply with an unknown command changed the case: priority %s status %s", c.Priority, c.Status)
	}
	errs := e.sent(t, n, "error", anna)
	if len(errs) != 1 || !strings.Contains(errs[0].Text, "#frobnicate") {
		t.Fatalf("error replies to anna: %d %v", len(errs), errs)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("the text of a refused reply reached the requester")
	}
	if k := e.messageKind(t, n); k != "note" {
		t.Errorf("refused reply stored as %s, want note", k)
	}

	// A command that fails against the case (no tier 9) changes nothing either.
	e.answer(t, notice, anna, "#priority urgent\n#tier 9", "")
	if c := e.caseOf(t, n); c.Priority != "normal" {
		t.Errorf("priority = %s after a reply whose #tier failed", c.Priority)
	}
	if len(e.sent(t, n, "error", anna)) != 2 {
		t.Errorf("no error reply for #tier 9")
	}

	// anna's From without a token or a chain signed for her: plain text, nothing moves.
	before := len(e.kinds(t, n))
	r := e.mailFrom(t, "Anna Berg <"+anna+">", "helpdesk@example.org", fmt.Sprintf("Re: [#%d] Spørsmål", n), "", "#close")
	if r.CaseNumber != n {
		t.Fatalf("forged mail threaded to %v, want the tagged case (anna is on it)", r)
	}
	// A chain that names only mail sent to someone else proves nothing for anna.
	ack := e.sent(t, n, "ack", ola)[0]
	e.mailFrom(t, anna, "helpdesk@example.org", "Re: x", "In-Reply-To: <"+ack.MessageID+">\nReferences: <"+ack.MessageID+">\n", "#close")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("unproven #close: status %s, want open", c.Status)
	}
	for _, k := range e.kinds(t, n)[before:] {
		if !strings.HasPrefix(k, "error→") {
			t.Errorf("an unproven mail sent %s", k)
		}
	}
	// Someone not in people: their # lines are text.
	e.answer(t, ack, ola, "#close\nDette er bare tekst.", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("the requester's #close closed the case")
	}

	// An expired token: an error reply saying so, kept as a note.
	old := e.keys.Sign(n, anna, e.now.Add(-time.Hour))
	e.mailFrom(t, anna, notify.ReplyAddress("helpdesk@example.org", old), "Re: gammel", "", "#close")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("expired token closed the case")
	}
	last := e.sent(t, n, "error", anna)
	if !strings.Contains(last[len(last)-1].Text, "gått ut") {
		t.Errorf("the expired-token error does not say so:\n%s", last[len(last)-1].Text)
	}
}

func TestConversationConsult(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#consult Per Dahl\nPer, kjenner du denne rutinen?", "")
	rows := e.sent(t, n, "consult", per)
	if len(rows) != 1 {
		t.Fatalf("consult notices to per: %d (%v)", len(rows), e.kinds(t, n))
	}
	noRequesterAddressInHeaders(t, rows[0], ola)
	if !strings.Contains(rows[0].Text, "kjenner du denne rutinen") || !strings.Contains(rows[0].Text, "Hvor finner jeg rutinen") {
		t.Errorf("consult notice lacks the question or the requester's text:\n%s", rows[0].Text)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("the question to the consultant reached the requester")
	}
	if c := e.caseOf(t, n); c.Assignee != "anna" {
		t.Errorf("consulting handed the case to %s", c.Assignee)
	}
	// Per answers: it reaches anna only, as an internal note.
	e.answer(t, rows[0], per, "Ja, den ligger under Kvalitet.", "")
	notes := e.sent(t, n, "note", anna)
	if len(notes) != 1 || !strings.Contains(notes[0].Text, "ligger under Kvalitet") {
		t.Fatalf("notes to anna: %v (%v)", notes, e.kinds(t, n))
	}
	if len(e.sent(t, n, "reply", ola)) != 0 || len(e.sent(t, n, "reply", kari)) != 0 {
		t.Errorf("the consultant's answer reached the requester side")
	}
	if k := e.messageKind(t, n); k != "note" {
		t.Errorf("consultant's answer stored as %s, want note", k)
	}
	// A consultant who commands #resolve speaks to the requester.
	e.answer(t, rows[0], per, "#resolve Rutinen ligger under Kvalitet → Avvik.", "")
	if c := e.caseOf(t, n); c.Status != "resolved" {
		t.Errorf("consultant's #resolve: status %s", c.Status)
	}
	if len(e.sent(t, n, "resolved", ola)) != 1 {
		t.Errorf("consultant's #resolve did not tell the requester")
	}
}

func TestConversationSupplier(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#supplier\nKan dere se på dette? Feilen kom etter siste oppdatering.", "")
	fw := e.sent(t, n, "forward", vendor)
	if len(fw) != 1 {
		t.Fatalf("forwards to the supplier: %d (%v)", len(fw), e.kinds(t, n))
	}
	if strings.Contains(fw[0].Text, ola) || strings.Contains(fw[0].ReplyTo, ola) {
		t.Errorf("the supplier forward names the requester:\n%s", fw[0].Text)
	}
	if !strings.Contains(fw[0].Text, "siste oppdatering") || !strings.Contains(fw[0].Text, "Hvor finner jeg rutinen") {
		t.Errorf("forward lacks the note or the description:\n%s", fw[0].Text)
	}
	tok, ok := notify.TokenFromAddress(fw[0].ReplyTo, "helpdesk@example.org")
	if !ok {
		t.Fatalf("forward Reply-To %q has no token", fw[0].ReplyTo)
	}
	if _, err := e.keys.Verify(tok, vendor, e.now); err != nil {
		t.Errorf("the forward's token is not the supplier's own: %v", err)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("the note to the supplier reached the requester")
	}
	// The supplier answers: to anna, never to the requester.
	e.answer(t, fw[0], "Qm Support <"+vendor+">", "#close\nPatch 4.2 fikser dette.", "")
	ans := e.sent(t, n, "supplier_answer", anna)
	if len(ans) != 1 || !strings.Contains(ans[0].Text, "Patch 4.2") {
		t.Fatalf("supplier answers to anna: %v (%v)", ans, e.kinds(t, n))
	}
	noRequesterAddressInHeaders(t, ans[0], ola)
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("the supplier's answer reached the requester")
	}
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("the supplier's #close was taken as a command: status %s", c.Status)
	}
	if k := e.messageKind(t, n); k != "supplier" {
		t.Errorf("supplier answer stored as %s", k)
	}
}

func TestConversationResolveReopenAndClosed(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "#resolve Rutinen ligger under Kvalitet.\nSi fra om noe mangler.", "")
	c := e.caseOf(t, n)
	if c.Status != "resolved" || c.FirstResponse == nil {
		t.Fatalf("after #resolve: status %s first response %v", c.Status, c.FirstResponse)
	}
	res := e.sent(t, n, "resolved", ola)
	if len(res) != 1 || !strings.Contains(res[0].Text, "Rutinen ligger under Kvalitet.") || !strings.Contains(res[0].Text, "Si fra om noe mangler.") {
		t.Fatalf("resolved mails to ola: %v", res)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("#resolve sent a reply besides the resolution")
	}
	// Within reopen_window the requester's reply reopens the case.
	e.answer(t, res[0], ola, "Den mangler fortsatt.", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Fatalf("requester's reply to the resolved case: status %s, want open", c.Status)
	}
	// Closed: a reply opens a new case linked to the old one.
	e.answer(t, notice, anna, "#close", "")
	if c := e.caseOf(t, n); c.Status != "closed" {
		t.Fatalf("#close: status %s", c.Status)
	}
	r := e.answer(t, res[0], ola, "Enda et spørsmål.", "")
	if r.Outcome != OutcomeCase || r.CaseNumber == n {
		t.Fatalf("reply to a closed case: %v, want a new case", r)
	}
	nc := e.caseOf(t, r.CaseNumber)
	if nc.LinkedCaseID == nil || *nc.LinkedCaseID != c.ID {
		t.Errorf("new case not linked to #%d", n)
	}
	if e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'created' AND reason LIKE '%closed%'`, nc.ID) != 1 {
		t.Errorf("the new case's created event does not say the old one was closed")
	}
	// An agent may still reopen the closed case.
	e.answer(t, notice, anna, "#reopen", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("#reopen: status %s", c.Status)
	}
	// Resolved longer ago than reopen_window: a new case too.
	e.answer(t, notice, anna, "#resolve", "")
	e.now = e.now.Add(15 * 24 * time.Hour)
	r = e.answer(t, res[0], ola, "Tre uker senere.", "")
	if r.Outcome != OutcomeCase || r.CaseNumber == n {
		t.Errorf("reply after reopen_window: %v, want a new case", r)
	}
}

func TestConversationApproval(t *testing.T) {
	e := newConvProc(t)
	r := e.mailFrom(t, "Ola <"+ola+">", "helpdesk@example.org", "Need a licence", "", "Please buy a Visio licence for me.")
	n := r.CaseNumber
	c := e.caseOf(t, n)
	if c.Status != "waiting" {
		t.Fatalf("a case of a service with approval: status %s, want waiting", c.Status)
	}
	ap := e.sent(t, n, "approval", eva)
	if len(ap) != 1 || !strings.Contains(ap[0].Text, "Visio") {
		t.Fatalf("approval notices to eva: %v (%v)", ap, e.kinds(t, n))
	}
	noRequesterAddressInHeaders(t, ap[0], ola)
	// Per has the case but does not hold the role: his #approve is refused.
	tok := e.keys.Sign(n, per, e.now.Add(time.Hour))
	e.mailFrom(t, per, notify.ReplyAddress("helpdesk@example.org", tok), "Re: x", "", "#approve")
	if c := e.caseOf(t, n); c.Status != "waiting" {
		t.Errorf("#approve from a non-holder: status %s", c.Status)
	}
	if len(e.sent(t, n, "error", per)) != 1 {
		t.Errorf("no error reply to per")
	}
	e.answer(t, ap[0], eva, "#approve", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Errorf("after #approve: status %s, want open", c.Status)
	}
	if len(e.sent(t, n, "approved", ola)) != 1 {
		t.Errorf("the requester was not told of the approval (%v)", e.kinds(t, n))
	}
	if e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'approval' AND actor = 'eva'`, c.ID) != 1 {
		t.Errorf("no approval event by eva")
	}

	// A rejection closes the case and tells the requester why.
	r = e.mailFrom(t, "Ola <"+ola+">", "helpdesk@example.org", "Another licence", "", "And a licence for Photoshop.")
	ap = e.sent(t, r.CaseNumber, "approval", eva)
	e.answer(t, ap[0], eva, "#reject Too costly this year.", "")
	if c := e.caseOf(t, r.CaseNumber); c.Status != "closed" {
		t.Errorf("after #reject: status %s, want closed", c.Status)
	}
	rej := e.sent(t, r.CaseNumber, "rejected", ola)
	if len(rej) != 1 || !strings.Contains(rej[0].Text, "Too costly this year.") {
		t.Errorf("rejection mails: %v", rej)
	}
}

func TestConversationMerge(t *testing.T) {
	e := newConvProc(t)
	a := e.open(t)
	r := e.mailFrom(t, "Ola <"+ola+">", "helpdesk@example.org", "Samme problem med e-håndbok", "", "Igjen: e-håndbok.")
	b := r.CaseNumber
	e.answer(t, e.notice(t, b, anna), anna, fmt.Sprintf("#merge %d\nVi tar dette i den første saken.", a), "")
	cb := e.caseOf(t, b)
	if cb.Status != "closed" {
		t.Errorf("merged case status %s, want closed", cb.Status)
	}
	var into *int64
	if err := e.st.DB().QueryRow(context.Background(), `SELECT merged_into_id FROM cases WHERE id = $1`, cb.ID).Scan(&into); err != nil {
		t.Fatal(err)
	}
	if into == nil || *into != e.caseOf(t, a).ID {
		t.Fatalf("merged_into_id = %v", into)
	}
	m := e.sent(t, a, "merged", ola)
	if len(m) != 1 || !strings.Contains(m[0].Text, "Vi tar dette i den første saken.") ||
		!strings.HasPrefix(m[0].Subject, fmt.Sprintf("[#%d]", a)) {
		t.Fatalf("merge notices to ola on #%d: %v", a, m)
	}
	if got := len(e.sent(t, b, "reply", ola)) + len(e.sent(t, a, "reply", ola)); got != 0 {
		t.Errorf("the merge sent %d replies besides its notice", got)
	}
	// A later reply in the merged case's thread lands on the case it joined.
	ack := e.sent(t, b, "ack", ola)[0]
	r = e.answer(t, ack, ola, "Noe nytt.", "")
	if r.Outcome != OutcomeMessage || r.CaseNumber != a {
		t.Errorf("reply to the merged case: %v, want a message on #%d", r, a)
	}
	// A mail with only the merged case's tag lands there too, unverified:
	// anna is told how it was matched, merge and all, in her language.
	r = e.mailFrom(t, "Ola <"+ola+">", "helpdesk@example.org", fmt.Sprintf("[#%d] En ting til", b), "", "Hei igjen.")
	if r.Outcome != OutcomeMessage || r.CaseNumber != a {
		t.Fatalf("tagged mail to the merged case: %v, want a message on #%d", r, a)
	}
	follow := e.sent(t, a, "followup", anna)
	last := follow[len(follow)-1].Text
	if want := fmt.Sprintf("enbart via ärendetaggen i ämnet, ärende #%d sammanslaget med #%d", b, a); !strings.Contains(last, want) {
		t.Errorf("anna's notice lacks %q:\n%s", want, last)
	}
	if w := langtest.English(last); len(w) > 0 {
		t.Errorf("English %q in anna's notice:\n%s", w, last)
	}
}

func TestConversationCommandsAloneSendNothingToTheRequester(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#priority urgent\n\n", "")
	if c := e.caseOf(t, n); c.Priority != "urgent" || c.FirstResponse != nil {
		t.Errorf("priority %s, first response %v", c.Priority, c.FirstResponse)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("a reply of commands only reached the requester")
	}
	if k := e.messageKind(t, n); k != "note" {
		t.Errorf("a reply of commands only stored as %s, want note", k)
	}
}

// A command that fails while being applied (here the transfer: the case's
// service left the catalogue) undoes the commands applied before it.
func TestConversationFailedCommandUndoesTheOthers(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	renamed, err := config.ParseRules("rules.yaml", []byte(strings.Replace(convRules, "id: qm-handbook", "id: qm-book", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.p.Rules = func() *config.Rules { return renamed }
	e.answer(t, e.notice(t, n, anna), anna, "#priority urgent\n#assign per\nPer tar over.", "")
	c := e.caseOf(t, n)
	if c.Priority != "normal" || c.Assignee != "anna" {
		t.Errorf("after a failed #assign: priority %s assignee %s, want nothing changed", c.Priority, c.Assignee)
	}
	errs := e.sent(t, n, "error", anna)
	if len(errs) != 1 || !strings.Contains(errs[0].Text, "#assign") {
		t.Fatalf("error replies: %v", errs)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 || len(e.sent(t, n, "assignment", per)) != 0 {
		t.Errorf("mail of the undone commands was queued: %v", e.kinds(t, n))
	}
	if e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind IN ('command', 'priority', 'transfer')`, c.ID) != 0 {
		t.Errorf("events of the undone commands remain")
	}
	if k := e.messageKind(t, n); k != "note" {
		t.Errorf("the reply is stored as %s, want note", k)
	}
}

func TestConversationAssign(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#assign eva@example.org\n#note\nEva kan dette bedre.", "")
	c := e.caseOf(t, n)
	if c.Assignee != "eva" {
		t.Fatalf("after #assign: assignee %s", c.Assignee)
	}
	if len(e.sent(t, n, "reply", ola)) != 0 {
		t.Errorf("#assign with #note reached the requester")
	}
	if e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'command' AND actor = 'anna' AND reason LIKE '#assign%'`, c.ID) != 1 {
		t.Errorf("no command event for #assign")
	}
}

func TestConversationTemplatesRender(t *testing.T) {
	tm, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	data := notify.Data{Case: notify.CaseView{Number: 1042, Subject: "Skrivaren", ServiceName: "Printing",
		Message: notify.MessageView{Text: "the text", Attachments: []notify.AttachmentView{{Name: "a.pdf", Size: 10}}}},
		Actor: "Anna Berg", Reason: "the reason", Cases: []notify.CaseView{{Number: 1001, Subject: "Old"}}}
	for _, kind := range []string{notify.KindFollowup, notify.KindNote, notify.KindConsult, notify.KindSupplierAnswer, notify.KindApproval, notify.KindApproved, notify.KindRejected, notify.KindMerged, notify.KindBounceNotice} {
		for _, lang := range []string{"sv", "nb", "en"} {
			subj, text, _, err := tm.Render(kind, lang, data)
			if err != nil {
				t.Fatalf("%s/%s: %v", lang, kind, err)
			}
			if !strings.HasPrefix(subj, "[#1042] ") || strings.Contains(text, "<no value>") {
				t.Errorf("%s/%s: subject %q, text:\n%s", lang, kind, subj, text)
			}
			switch kind {
			case notify.KindFollowup, notify.KindNote, notify.KindSupplierAnswer, notify.KindApproval, notify.KindConsult:
				if !strings.Contains(text, "the text") || !strings.Contains(text, "a.pdf") {
					t.Errorf("%s/%s lacks the message or its attachment:\n%s", lang, kind, text)
				}
			case notify.KindMerged:
				if !strings.Contains(text, "1001") {
					t.Errorf("%s/%s does not name the merged case:\n%s", lang, kind, text)
				}
			}
		}
	}
}
