package intake

import (
	"context"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// TestReportCreditsEachAgent: the report's per-agent figures follow the
// work, as casework records it. Case 1: anna answers the requester, hands
// the case to per with #assign, per resolves it: anna has the first
// response, per the handled case. Case 2: anna hands it over without a
// word to the requester, per's #resolve text is the first answer: both
// are per's.
func TestReportCreditsEachAgent(t *testing.T) {
	e := newConvProc(t)
	ctx := context.Background()
	start := e.now
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "Hei Ola, jeg ser på det.", "")
	e.answer(t, notice, anna, "#assign per\nPer, kan du ta denne?", "")
	e.answer(t, e.notice(t, n, per), per, "#resolve Rutinen ligger under Kvalitet.", "")

	r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", "Ny e-håndbok", "", "Hvor er den nye e-håndbok?")
	if r.Outcome != OutcomeCase {
		t.Fatalf("second case: %+v", r)
	}
	e.answer(t, e.notice(t, r.CaseNumber, anna), anna, "#assign per\nDin.", "")
	e.answer(t, e.notice(t, r.CaseNumber, per), per, "#resolve Den ligger under Kvalitet.", "")
	for _, m := range []int64{n, r.CaseNumber} {
		if c := e.caseOf(t, m); c.Status != store.StatusResolved || c.Assignee != "per" || c.FirstResponse == nil {
			t.Fatalf("case %d: %s, held by %q, first response %v", m, c.Status, c.Assignee, c.FirstResponse)
		}
	}

	rep, err := store.BuildReport(ctx, e.st.DB(), start.Add(-time.Hour), e.now.Add(time.Hour), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.AgentCount{}
	for _, a := range rep.ByAgent {
		got[a.Agent] = a
	}
	if a := got["anna"]; a.Handled != 0 || a.FirstResponses != 1 {
		t.Errorf("anna: %+v, want the first response of case 1 and nothing handled", a)
	}
	if a := got["per"]; a.Handled != 2 || a.FirstResponses != 1 {
		t.Errorf("per: %+v, want both cases handled and the first response of case 2", a)
	}
	if len(got) != 2 {
		t.Errorf("agents %v, want anna and per", rep.ByAgent)
	}
}
