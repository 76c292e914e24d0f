package intake

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/store"
)

// The attacks of the trust issue, each against real PostgreSQL through the
// same delivery path as mail from IMAP: the forged, replayed or hostile
// mail is sent, and the test asserts that nothing changed that it could
// not prove the right to change.

const stranger = "stranger@evil.example"

// participants lists the addresses on case n.
func (e *procEnv) participants(t *testing.T, n int64) map[string]store.Party {
	t.Helper()
	ps, err := store.Participants(context.Background(), e.st.DB(), e.caseOf(t, n).ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Party{}
	for _, p := range ps {
		out[p.Address] = p.Kind
	}
	return out
}

// events counts the events of a kind on case n.
func (e *procEnv) events(t *testing.T, n int64, kind string) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = $2`, e.caseOf(t, n).ID, kind)
}

// TestTrustForgedFromAddsNobody: a mail with the requester's (or an
// agent's) address in From and the case tag in the subject, but no reply
// address or signed reference, lands on the case for its owner, marked as
// unverified. It adds its Cc to nobody's case, reopens nothing and relays
// nothing; as an agent's it commands nothing.
func TestTrustForgedFromAddsNobody(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#resolve Rutinen ligger under Kvalitet.", "")
	if c := e.caseOf(t, n); c.Status != store.StatusResolved {
		t.Fatalf("status %s, want resolved", c.Status)
	}
	before := len(e.kinds(t, n))

	r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", fmt.Sprintf("Re: [#%d] Spørsmål", n),
		"Cc: Stranger <"+stranger+">\n", "Legg til min kollega, takk.")
	if r.Outcome != OutcomeMessage || r.CaseNumber != n {
		t.Fatalf("forged requester mail: %v, want a message on #%d", r, n)
	}
	if _, ok := e.participants(t, n)[stranger]; ok {
		t.Error("a forged mail made its Cc a participant")
	}
	if c := e.caseOf(t, n); c.Status != store.StatusResolved {
		t.Errorf("a forged mail changed the status to %s", c.Status)
	}
	follow := e.sent(t, n, "followup", anna)
	if len(follow) != 1 || !strings.Contains(follow[0].Text, "OVERIFIERAT") ||
		!strings.Contains(follow[0].Text, "enbart via ärendetaggen i ämnet") {
		t.Fatalf("the owner's notice of the forged mail: %v", follow)
	}
	if w := langtest.English(follow[0].Text); len(w) > 0 {
		t.Errorf("English %q in the owner's notice:\n%s", w, follow[0].Text)
	}
	for _, k := range e.kinds(t, n)[before:] {
		if k != "followup→"+anna {
			t.Errorf("the forged mail sent %s", k)
		}
	}

	// The same with an agent's address: no command, no Cc.
	r = e.mailFrom(t, "Anna Berg <"+anna+">", "helpdesk@example.org", fmt.Sprintf("Re: [#%d] Spørsmål", n),
		"Cc: "+stranger+"\n", "#reopen\n#priority urgent\n\nHei Ola.")
	if r.CaseNumber != n {
		t.Fatalf("forged agent mail: %v", r)
	}
	c := e.caseOf(t, n)
	if c.Status != store.StatusResolved || c.Priority == "urgent" {
		t.Errorf("a forged agent mail commanded: status %s, priority %s", c.Status, c.Priority)
	}
	if _, ok := e.participants(t, n)[stranger]; ok {
		t.Error("a forged agent mail made its Cc a participant")
	}
	if got := len(e.sent(t, n, "reply", ola)); got != 0 {
		t.Errorf("%d replies relayed to the requester", got)
	}
}

// TestTrustSpentToken: an agent's reply that shows its reply address to
// someone else (a Cc) spends that token. Whoever saw it cannot use it with
// the agent's address in From: no command, nothing relayed to the
// requester as the agent, and the agent is told why.
func TestTrustSpentToken(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "Vi ser på det.", "Cc: Bob <bob@elsewhere.example>\n")
	if got := len(e.sent(t, n, "reply", ola)); got != 1 {
		t.Fatalf("the agent's own reply: %d replies to ola, want 1", got)
	}
	if e.events(t, n, "token-spent") != 1 {
		t.Fatal("the token shown to bob was not spent")
	}
	// Bob replays anna's reply address with her address in From.
	e.answer(t, notice, "Anna Berg <"+anna+">", "#priority urgent\n\nOla, kontoen din er stengt. Send passordet ditt.", "")
	if c := e.caseOf(t, n); c.Priority == "urgent" {
		t.Error("a spent token applied a command")
	}
	if got := len(e.sent(t, n, "reply", ola)); got != 1 {
		t.Errorf("a spent token relayed text to the requester (%d replies)", got)
	}
	errs := e.sent(t, n, "error", anna)
	if len(errs) != 1 || !strings.Contains(errs[len(errs)-1].Text, "visats för andra") { // in Swedish, anna's language
		t.Fatalf("anna was not told why: %v", errs)
	}
	// A fresh notice works again.
	e.mailFrom(t, "Ola Nordmann <"+ola+">", e.sent(t, n, "reply", ola)[0].ReplyTo, "Re: svar", "", "Takk, men det virker ikke.")
	follow := e.sent(t, n, "followup", anna)
	e.answer(t, follow[len(follow)-1], anna, "#priority high", "")
	if c := e.caseOf(t, n); c.Priority != "high" {
		t.Errorf("a fresh notice's command: priority %s, want high", c.Priority)
	}
}

// TestTrustCommandRights: command rights end when the agent no longer
// holds the case, and after command_ttl, while their mail still threads.
func TestTrustCommandRights(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "#escalate Trenger sentral støtte", "")
	if c := e.caseOf(t, n); c.Assignee == "anna" {
		t.Fatalf("not escalated: %+v", c)
	}
	r := e.answer(t, notice, anna, "#close", "")
	if r.CaseNumber != n || e.caseOf(t, n).Status == store.StatusClosed {
		t.Fatalf("a former holder closed the case: %v", r)
	}
	if errs := e.sent(t, n, "error", anna); len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Text, "inte längre ditt") {
		t.Errorf("anna was not told she no longer holds the case: %v", errs)
	}

	// Past command_ttl (14 days), within token_ttl (90): it threads, commands nothing.
	m := e.open(t)
	old := e.notice(t, m, anna)
	e.now = e.now.Add(15 * 24 * time.Hour)
	r = e.answer(t, old, anna, "#priority urgent\n\nHar du prøvd igjen?", "")
	if r.CaseNumber != m {
		t.Fatalf("an old notice's reply did not thread: %v", r)
	}
	if c := e.caseOf(t, m); c.Priority == "urgent" {
		t.Error("a notice older than command_ttl applied a command")
	}
	errs := e.sent(t, m, "error", anna)
	if len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Text, "command_ttl") {
		t.Fatalf("anna was not told the notice is too old: %v", errs)
	}
	// command_ttl in her language, not as rules.yaml writes it ("14d").
	if text := errs[len(errs)-1].Text; !strings.Contains(text, "äldre än 14 dagar (command_ttl)") {
		t.Errorf("the error does not say how old a notice may be in Swedish:\n%s", text)
	}
}

// TestTrustMerge: #merge only from someone who holds both cases (or the
// support manager); a merge tells the other case's owner who joined it.
func TestTrustMerge(t *testing.T) {
	e := newProcWith(t, strings.Replace(convRules, "  system_responsible: {everyone: [eva]}\n",
		"  system_responsible: {everyone: [eva]}\n  support_manager: {everyone: [eva]}\n", 1))
	a := e.open(t) // ola and kari, with anna
	b := e.mailFrom(t, "Nils <nils@other.example>", "helpdesk@example.org", "Printer", "", "Skriveren.").CaseNumber
	if c := e.caseOf(t, b); c.Assignee != "per" {
		t.Fatalf("case #%d assigned to %q, want per", b, c.Assignee)
	}
	// anna holds #a, not #b: refused.
	e.answer(t, e.notice(t, a, anna), anna, fmt.Sprintf("#merge %d", b), "")
	if e.caseOf(t, a).Status == store.StatusClosed {
		t.Fatal("a merge by someone who does not hold the other case went through")
	}
	if errs := e.sent(t, a, "error", anna); len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Text, "har båda ärendena") { // anna reads Swedish
		t.Errorf("anna was not told why: %v", errs)
	}
	// eva, the support manager, consulted on #a, may; per is told who joined #b.
	e.answer(t, e.notice(t, a, anna), anna, "#consult eva\nKan du se på denne?", "")
	consult := e.sent(t, a, "consult", eva)
	if len(consult) != 1 {
		t.Fatalf("consult notices to eva: %d", len(consult))
	}
	e.answer(t, consult[0], eva, fmt.Sprintf("#merge %d", b), "")
	if e.caseOf(t, a).Status != store.StatusClosed {
		t.Fatalf("the support manager's merge did not go through; sent: %v", e.kinds(t, a))
	}
	notes := e.sent(t, b, "note", per)
	if len(notes) != 1 || !strings.Contains(notes[0].Text, ola) || !strings.Contains(notes[0].Text, kari) {
		t.Fatalf("per was not told who joined #%d: %v", b, notes)
	}
}

// TestTrustCc: the owner adds a participant on purpose with #cc.
func TestTrustCc(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	e.answer(t, e.notice(t, n, anna), anna, "#cc Rektor <rektor@bryne.example.no>\nRektor følger saken.", "")
	if k := e.participants(t, n)["rektor@bryne.example.no"]; k != store.PartyCc {
		t.Fatalf("#cc: participant kind %q", k)
	}
	if got := len(e.sent(t, n, "reply", "rektor@bryne.example.no")); got != 1 {
		t.Errorf("the Cc'd person got %d public replies, want 1", got)
	}
}

// TestTrustRelayCap: two autoresponders that set no Auto-Submitted header
// cannot ping-pong through a case: mails about it to one recipient stop at
// relay_limit_per_hour, each one held back an event and a metric.
func TestTrustRelayCap(t *testing.T) {
	e := newConvProc(t)
	e.p.Config.RelayLimitPerHour = 3
	n := e.open(t)
	ack := e.sent(t, n, "ack", ola)[0]
	for i := range 5 {
		e.answer(t, ack, ola, fmt.Sprintf("Jeg er på ferie (%d).", i), "")
	}
	if got := len(e.sent(t, n, "followup", anna)); got != 3 {
		t.Errorf("%d follow-up notices to anna, want the cap of 3", got)
	}
	if got := e.events(t, n, "relay-capped"); got != 2 {
		t.Errorf("%d relay-capped events, want 2", got)
	}
	if got := e.p.Stats().Capped["relay"]; got != 2 {
		t.Errorf("casemail_caps_total{cap=relay} = %d, want 2", got)
	}
}

// TestTrustAckFlood: forged senders get no more acknowledgements from one
// mailbox than ack_limit_per_mailbox an hour (backscatter).
func TestTrustAckFlood(t *testing.T) {
	e := newConvProc(t)
	e.p.Config.AckLimitPerMailbox = 5
	for i := range 8 {
		e.mailFrom(t, fmt.Sprintf("victim%d@spoofed.example", i), "helpdesk@example.org", "Cheap watches", "", "Buy now.")
	}
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); got != 5 {
		t.Errorf("%d acknowledgements, want the mailbox's cap of 5", got)
	}
	if got := e.count(t, `SELECT count(*) FROM events WHERE kind = 'ack-suppressed' AND data->>'cap' = 'ack_mailbox'`); got != 3 {
		t.Errorf("%d ack-suppressed events for the mailbox cap, want 3", got)
	}
	if got := e.p.Stats().Capped["ack_mailbox"]; got != 3 {
		t.Errorf("casemail_caps_total{cap=ack_mailbox} = %d, want 3", got)
	}
}

// TestTrustAckFloodInOneTransaction: within one transaction of many mails
// (a batch) the mailbox's count is read from the database once and then
// kept with the transaction's own acknowledgements: those committed before
// count, and so does each the batch sends.
func TestTrustAckFloodInOneTransaction(t *testing.T) {
	e := newConvProc(t)
	e.p.Config.AckLimitPerMailbox = 5
	for i := range 2 {
		e.mailFrom(t, fmt.Sprintf("early%d@spoofed.example", i), "helpdesk@example.org", "Cheap watches", "", "Buy now.")
	}
	var raws []string
	for i := range 8 {
		raws = append(raws, mailText(fmt.Sprintf("victim%d@spoofed.example", i), "helpdesk@example.org", "Cheap watches",
			fmt.Sprintf("flood%d@spoofed.example", i), "", "Buy now."))
	}
	ds := batchOf(100, raws)
	if n, err := e.p.DeliverBatch(context.Background(), ds); err != nil || n != len(ds) {
		t.Fatalf("DeliverBatch = %d, %v", n, err)
	}
	if got := e.count(t, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); got != 5 {
		t.Errorf("%d acknowledgements, want the mailbox's cap of 5", got)
	}
	if got := e.count(t, `SELECT count(*) FROM events WHERE kind = 'ack-suppressed' AND data->>'cap' = 'ack_mailbox'`); got != 5 {
		t.Errorf("%d ack-suppressed events for the mailbox cap, want 5", got)
	}
}

// TestTrustFailedSenderAuthentication: where the organisation's receiving
// server (a trusted authserv-id) says the sender failed DMARC, the mail is
// never acknowledged, adds nobody, and commands nothing even with a valid
// reply address; it still lands where it belongs. An Authentication-Results
// field from an untrusted authserv-id changes nothing.
func TestTrustFailedSenderAuthentication(t *testing.T) {
	e := newConvProc(t)
	e.p.Senders = senderauth.New(senderauth.Options{AuthservIDs: []string{"mx.example.org"}})
	fail := func(domain string) string {
		return "Authentication-Results: mx.example.org; dmarc=fail (p=reject) header.from=" + domain + "\n"
	}
	r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", "Spørsmål om e-håndbok",
		fail("bryne.example.no")+"Cc: "+stranger+"\n", "Hvor finner jeg rutinen i e-håndbok?")
	if r.Outcome != OutcomeCase {
		t.Fatalf("forged requester mail: %v", r)
	}
	n := r.CaseNumber
	if got := len(e.sent(t, n, "ack", ola)); got != 0 {
		t.Error("a sender who failed authentication was acknowledged")
	}
	if _, ok := e.participants(t, n)[stranger]; ok {
		t.Error("a sender who failed authentication added a participant")
	}
	if got := e.p.Stats().Capped["ack_unauthenticated"]; got != 1 {
		t.Errorf("casemail_caps_total{cap=ack_unauthenticated} = %d, want 1", got)
	}
	// anna's own address, a valid reply address, but DMARC failed: refused.
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "#priority urgent\n\nSvar.", fail("example.org"))
	if c := e.caseOf(t, n); c.Priority == "urgent" {
		t.Error("a command from a sender who failed authentication was applied")
	}
	// She is told why in her language (Swedish), the domain as it is.
	errs := e.sent(t, n, "error", anna)
	if len(errs) != 1 || !strings.Contains(errs[0].Text, "avsändarens autentisering misslyckades: DMARC underkänd för example.org") {
		t.Fatalf("anna was not told why in Swedish: %v", errs)
	}
	if w := langtest.English(errs[0].Text); len(w) > 0 {
		t.Errorf("English %q in anna's refusal:\n%s", w, errs[0].Text)
	}
	// The same field from a server we do not trust is ignored.
	e.answer(t, notice, anna, "#priority high", "Authentication-Results: evil.example; dmarc=fail header.from=example.org\n")
	if c := e.caseOf(t, n); c.Priority != "high" {
		t.Errorf("an untrusted Authentication-Results field blocked a command: priority %s", c.Priority)
	}
	// The requester answers anna's reply, but DMARC failed: anna sees it,
	// unverified, and why, in Swedish.
	e.answer(t, notice, anna, "Hei Ola, rutinen ligger under Kvalitet.", "")
	replies := e.sent(t, n, "reply", ola)
	if len(replies) != 1 {
		t.Fatalf("%d replies to ola, want 1", len(replies))
	}
	e.answer(t, replies[0], "Ola Nordmann <"+ola+">", "Takk! Legg til min kollega.", fail("bryne.example.no"))
	follow := e.sent(t, n, "followup", anna)
	if len(follow) != 1 || !strings.Contains(follow[0].Text, "OVERIFIERAT") ||
		!strings.Contains(follow[0].Text, "avsändarens autentisering misslyckades: DMARC underkänd för bryne.example.no") {
		t.Fatalf("anna's notice of the unverified answer: %v", follow)
	}
	if w := langtest.English(follow[0].Text); len(w) > 0 {
		t.Errorf("English %q in anna's notice:\n%s", w, follow[0].Text)
	}
}

// TestTrustTokenOnAListIsSpent: a reply that went through a list showed
// its reply address to every member; it still threads, but the token
// commands nothing afterwards.
func TestTrustTokenOnAListIsSpent(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "Vi ser på det.", "List-Id: Staff <staff.example.org>\n")
	if e.events(t, n, "token-spent") != 1 {
		t.Fatal("a token sent to a list was not spent")
	}
	r := e.answer(t, notice, anna, "#priority urgent", "")
	if r.CaseNumber != n {
		t.Fatalf("the spent token no longer threads: %v", r)
	}
	if c := e.caseOf(t, n); c.Priority == "urgent" {
		t.Error("a token seen on a list applied a command")
	}
}
