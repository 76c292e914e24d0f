package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/token"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/store"
)

// historyText renders case c's #history mail in lang.
func (e *schedEnv) historyText(c *store.Case, lang string, now time.Time) string {
	e.t.Helper()
	c, err := store.CaseByID(context.Background(), e.st.DB(), c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	h, _, err := e.desk.history(context.Background(), e.st.DB(), e.rules, c, historyFull)
	if err != nil {
		e.t.Fatal(err)
	}
	view := e.m.CaseView(e.rules, c, now)
	view.History = h.Entries
	_, text, _, err := e.m.Templates.Render(notify.KindHistory, lang, notify.Data{Case: view})
	if err != nil {
		e.t.Fatal(err)
	}
	return text
}

// TestClockEventsAreNordic: the events the clock records — SLA warnings,
// met and breached targets, escalations by breach and at the top of the
// chain, a #wait that ends, the supplier's reminders and the owner told
// they are late — show in #history in Swedish and Norwegian, without an
// English word.
func TestClockEventsAreNordic(t *testing.T) {
	e := newSupplierEnv(t)
	breached := e.openCase(e.at(2026, 3, 6, 15, 0), "normal")
	for _, at := range []time.Time{e.at(2026, 3, 6, 15, 1), e.at(2026, 3, 9, 9, 42), e.at(2026, 3, 9, 10, 30),
		e.at(2026, 3, 9, 14, 30), e.at(2026, 3, 10, 10, 0), e.at(2026, 3, 10, 14, 0)} {
		e.run(notify.JobSLACheck, at)
	}
	waited := e.openCase(e.at(2026, 3, 16, 9, 0), "normal")
	e.run(notify.JobSLACheck, e.at(2026, 3, 16, 9, 1))
	if err := store.SetWaiting(context.Background(), e.st.DB(), waited.ID, e.at(2026, 3, 17, 10, 0), e.at(2026, 3, 16, 10, 0)); err != nil {
		t.Fatal(err)
	}
	e.run(notify.JobSLACheck, e.at(2026, 3, 17, 10, 1))
	e.run(notify.JobSLACheck, e.at(2026, 3, 17, 10, 30)) // answered? no: nothing more yet
	late := e.forwardAt(e.caseOn(e.at(2026, 3, 23, 8, 0), "qm-handbook", "bryne", "normal", 2, "per"), e.at(2026, 3, 23, 9, 0))
	for _, at := range []time.Time{e.at(2026, 3, 23, 14, 0), e.at(2026, 3, 24, 14, 0), e.at(2026, 3, 25, 14, 0)} {
		e.run(notify.JobSupplierCheck, at)
	}
	want := map[string][]string{
		"sv": {"SLA överskridet: första svar (senast 2026-03-09 10:30)", "handläggaren varnades: första svar senast 2026-03-09 10:30",
			"SLA-fristen passerad: superanvändare, nivå 1, Anna Berg → samordnare, nivå 2, Per Dahl",
			"#wait tog slut", "påminnelse 2 av 2 till Qm+ vendor",
			"qm-vendor har inte svarat efter 2 påminnelser, svaret skulle ha kommit senast 2026-03-23 13:00: ägaren får veta",
			"skickat till Qm+ vendor enligt avtal qm-standard, svar senast 2026-03-23 13:00"},
		"nb": {"SLA brutt: første svar (innen 2026-03-09 10:30)", "påminnelse 1 av 2 til Qm+ vendor", "#wait er over"},
	}
	for _, lang := range []string{"sv", "nb"} {
		var all string
		for _, c := range []*store.Case{breached, waited, late} {
			text := e.historyText(c, lang, e.at(2026, 3, 26, 9, 0))
			if w := langtest.English(text); len(w) > 0 {
				t.Errorf("%s: English %q in the #history of #%d:\n%s", lang, w, c.Number, text)
			}
			all += text
		}
		for _, s := range want[lang] {
			if !strings.Contains(all, s) {
				t.Errorf("%s: no %q in:\n%s", lang, s, all)
			}
		}
	}
}

// TestEveryEventIsWorded: every kind of event casework and the store
// record (read from their source) has a line in #history worded in
// Swedish and Norwegian, without an English word: the kinds the case
// tests do not reach are rendered here from events as their code stores
// them.
func TestEveryEventIsWorded(t *testing.T) {
	kinds := recordedEventKinds(t)
	e := newSchedEnv(t)
	at := e.at(2026, 3, 9, 10, 0)
	due := e.at(2026, 3, 9, 14, 0)
	ev := func(kind, actor, reason string, data map[string]any) store.Event {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		return store.Event{At: at, Actor: actor, Kind: kind, Reason: reason, Data: b}
	}
	samples := []store.Event{
		ev("created", "ola@example.no", "new mail", map[string]any{"from": "ola@example.no"}),
		ev("created", "ola@example.no", fmt.Sprintf("%s wrote to case #%d, which is closed: opened a new case linked to it",
			"ola@example.no", 1001), map[string]any{"linked_case": 1001}),
		ev("created", "ola@example.no", fmt.Sprintf("%s wrote to case #%d, resolved more than %s ago: opened a new case linked to it",
			"ola@example.no", 1001, "14d"), map[string]any{"linked_case": 1001}),
		ev("created", "ola@example.no", fmt.Sprintf("subject names case #%d, but %s is not on that case: opened a new case linked to it",
			1001, "ola@example.no"), map[string]any{"linked_case": 1001}),
		ev("routed", "", "service qm-handbook, unit bryne, tier 1, role superuser", map[string]any{"service": "qm-handbook",
			"unit": "bryne", "tier": "1", "role": "superuser"}),
		ev("dropped", "", "reklam", nil),
		ev("assigned", "", "anna holds superuser (only)", map[string]any{"assignee": "anna", "role": "superuser", "strategy": "only"}),
		ev("ack-suppressed", "", fmt.Sprintf("%s already got %d acknowledgements this hour", "ola@example.no", 5), map[string]any{"cap": "ack_sender"}),
		ev("ack-suppressed", "", fmt.Sprintf("mailbox %s already sent %d acknowledgements this hour", "helpdesk", 200), map[string]any{"cap": "ack_mailbox"}),
		ev("ack-suppressed", "", "the sender's authentication failed: DMARC failed for example.no", map[string]any{"cap": "ack_unauthenticated"}),
		ev("message", "ola@example.no", "follow-up threaded by subject tag, case #1002 merged into #1001",
			map[string]any{"threaded_by": "subject tag, case #1002 merged into #1001", "proven": false}),
		ev("message", "ola@example.no", "follow-up threaded by reply token", map[string]any{"threaded_by": "reply token",
			"proven": true, "unverified": "the sender's authentication failed: DMARC failed for example.no"}),
		ev("status", "anna", "#close", map[string]any{"from": "open", "to": "closed"}),
		ev("status", "", "waiting on the supplier qm-vendor: the SLA pauses", map[string]any{"from": "open", "to": "waiting"}),
		ev("status", "", "the supplier answered: the SLA resumes", map[string]any{"from": "waiting", "to": "open"}),
		ev("command", "anna", "#priority high", nil),
		ev("command-refused", "anna", "#frobnicate: unknown command (did you mean #priority?); #resolve: the case is already resolved",
			map[string]any{"errors": []string{"#frobnicate: unknown command (did you mean #priority?)", "#resolve: the case is already resolved"}}),
		ev("command-refused", "anna", "the reply token has expired", map[string]any{"expired": true}),
		ev("approval", "", "service licences needs the approval of a system_responsible: the case waits",
			map[string]any{"state": "pending", "role": "system_responsible"}),
		ev("approval", "eva", "approved", map[string]any{"state": "approved", "reason": ""}),
		ev("approval", "eva", "rejected Inte i budget", map[string]any{"state": "rejected", "reason": "Inte i budget"}),
		ev("service", "anna", "service qm-handbook → triage", map[string]any{"from": "qm-handbook", "to": "triage"}),
		ev("priority", "anna", "normal → urgent", map[string]any{"from": "normal", "to": "urgent"}),
		ev("participant", "anna", "anna added kari@example.no with #cc", map[string]any{"address": "kari@example.no"}),
		ev("consult", "anna", "anna consults eva", map[string]any{"consultant": "eva"}),
		ev("merge", "anna", "merged into #1001", map[string]any{"into": 1001}),
		ev("merge", "anna", "case #1002 merged into this one", map[string]any{"merged": 1002}),
		ev("token-spent", "ola@example.no", "a reply address was shown to others (sent to the list staff.example.org): it carries no command from now on", nil),
		ev("token-spent", "ola@example.no", "a reply address was shown to others (sent to kari@example.no too): it carries no command from now on", nil),
		ev("unseen", "ola@example.no", "follow-up on a case nobody owns: nobody told", nil),
		ev("unseen", "support@vendor.example", "supplier answer on a case nobody owns: nobody told", nil),
		ev("bounce", "mailer-daemon@example.no", "a mail to the owner bounced: not told again by mail", map[string]any{"recipient": "anna@example.org"}),
		ev("bounce", "mailer-daemon@example.no", "a mail to kari@example.no bounced: the owner is told", map[string]any{"recipient": "kari@example.no"}),
		ev("relay-capped", "", "kari@example.no already got 20 mails about this case this hour: this reply was not sent",
			map[string]any{"to": "kari@example.no", "kind": "reply", "limit": 20}),
		ev("language", "ola@example.no", "the requester wrote in nb: answered in nb from now on", map[string]any{"from": "sv", "to": "nb"}),
		ev("supplier", "per", "forwarded to qm-vendor", map[string]any{"supplier": "qm-vendor"}),
		ev("supplier-ref", "per", "the supplier's reference: INC0012345", map[string]any{"reference": "INC0012345"}),
		ev("supplier-answer", "support@vendor.example", "qm-vendor answered after 5h0m0s, past the contract's response time",
			map[string]any{"supplier": "qm-vendor", "after_seconds": 18000, "over_contract": true}),
		ev("supplier-reminder", "", "reminder 1 of 2 to qm-vendor", map[string]any{"supplier": "qm-vendor", "n": 1, "limit": 2}),
		ev("supplier-late", "", "qm-vendor has not answered after 2 reminders: the owner is told", map[string]any{"supplier": "qm-vendor"}),
		ev("sla-paused", "", "waited 2h0m0s of business time: SLA due times moved on by as much", nil),
		ev("sla-warning", "", "resolution due 2026-03-09 14:00", map[string]any{"target": "resolution", "due": due}),
		ev("sla", "", "resolution met", map[string]any{"target": "resolution", "outcome": "met", "due": due}),
		ev("transfer", "anna", "assigned: …", map[string]any{"kind": "assign", "from_tier": "1", "from_role": "superuser",
			"from_assignee": "anna", "to_tier": "2", "to_role": "central_support", "to_assignee": "", "reason": "Ta den, Lars"}),
		ev("transfer", "", "SLA breached: …", map[string]any{"kind": "breach", "from_tier": "2", "from_role": "coordinator",
			"from_assignee": "per", "to_tier": "external", "supplier": "qm-vendor", "reason": "SLA breached: no first response by …"}),
		ev("escalation", "anna", "at the top of its chain and no support_manager is defined: nobody else to tell (Hjelp!)",
			map[string]any{"kind": "escalate", "top": true, "tier": "3", "told": []string{}, "reason": "Hjelp!"}),
		ev("erasure", "casemail", "the requester's personal data was erased on request (GDPR)", nil),
		ev("erasure", "casemail", "a participant's personal data was erased on request (GDPR)", nil),
	}
	shown := map[string]bool{"mail-queued": true, "reply": true} // shown by their message's line
	for _, s := range samples {
		shown[s.Kind] = true
		entry, ok := eventEntry(e.rules, e.loc, s)
		if !ok {
			t.Errorf("%s (%s) is not shown", s.Kind, s.Reason)
			continue
		}
		view := notify.CaseView{Number: 1001, Subject: "Skrivaren", History: []notify.HistoryEntry{entry}}
		for _, lang := range []string{"sv", "nb"} {
			_, text, _, err := e.m.Templates.Render(notify.KindHistory, lang, notify.Data{Case: view})
			if err != nil {
				t.Fatal(err)
			}
			line := text[strings.Index(text, "] "):]
			line = line[:strings.Index(line, "\n\n")]
			if w := langtest.English(line); len(w) > 0 {
				t.Errorf("%s: %s event %q: English %q in %q", lang, s.Kind, s.Reason, w, line)
			}
		}
	}
	for k := range kinds {
		if !shown[k] {
			t.Errorf("events of kind %q are recorded but not tried here", k)
		}
	}
}

// recordedEventKinds reads casework's and store's source for the kinds of
// the events they record (store.AddEvent's and conversation.event's kind).
func recordedEventKinds(t *testing.T) map[string]bool {
	kinds := map[string]bool{}
	inspectSource(t, []string{".", "../../store", "../../notify"}, func(_ *token.FileSet, n ast.Node) {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return
		}
		at := map[string]int{"AddEvent": 5, "event": 1}[calleeName(call)]
		if at == 0 || len(call.Args) <= at {
			return
		}
		if lit, ok := call.Args[at].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			k, _ := strconv.Unquote(lit.Value)
			kinds[k] = true
		}
	})
	if !kinds["transfer"] || !kinds["erasure"] || !kinds["mail-queued"] || len(kinds) < 25 {
		t.Fatalf("the source scan found only %v: it is broken", kinds)
	}
	return kinds
}
