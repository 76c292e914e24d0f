package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// cliStore is a fresh migrated database that the CLI under test finds
// through CASEMAIL_DATABASE_URL, open for the test to seed.
func cliStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	url := storetest.URL(t)
	t.Setenv("CASEMAIL_DATABASE_URL", url)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// seedReport opens three cases in the last days: one answered after two
// hours and moved from tier 1 to 2 with its first response met, one
// breached, one dropped; and one case from two months ago that must not
// count.
func seedReport(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	st := cliStore(t)
	now := time.Now()
	mk := func(n store.NewCase) *store.Case {
		n.Requester, n.Mailbox = "ola@bryne.example.no", "helpdesk"
		c, err := store.CreateCase(ctx, st.DB(), n)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk(store.NewCase{Status: "open", Service: "qm-handbook", Unit: "bryne", Tier: "2", Rung: 2, Assignee: "per", CreatedAt: now.Add(-50 * time.Hour)})
	b := mk(store.NewCase{Status: "open", Service: "passwords", Unit: "", Tier: "2", Rung: 1, Assignee: "maria", CreatedAt: now.Add(-30 * time.Hour)})
	mk(store.NewCase{Status: "dropped", Service: "triage", CreatedAt: now.Add(-20 * time.Hour)})
	old := mk(store.NewCase{Status: "open", Service: "triage", Tier: "2", Rung: 1, CreatedAt: now.AddDate(0, -2, 0)})
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.DB().Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE cases SET first_response_at = created_at + interval '2 hours' WHERE id = $1`, a.ID)
	exec(`UPDATE cases SET first_response_at = created_at + interval '6 hours' WHERE id = $1`, b.ID)
	events := []struct {
		id   int64
		at   time.Time
		kind string
		data map[string]any
	}{
		{a.ID, now.Add(-49 * time.Hour), "transfer", map[string]any{"from_tier": "1", "to_tier": "2", "moved": true}},
		{a.ID, now.Add(-48 * time.Hour), "sla", map[string]any{"target": "first_response", "outcome": "met"}},
		{b.ID, now.Add(-20 * time.Hour), "sla", map[string]any{"target": "first_response", "outcome": "breached"}},
		{b.ID, now.Add(-20 * time.Hour), "transfer", map[string]any{"from_tier": "2", "to_tier": "2", "moved": false}}, // #assign on the same rung
		{old.ID, now.AddDate(0, -2, 0), "transfer", map[string]any{"from_tier": "1", "to_tier": "2", "moved": true}},
	}
	for _, e := range events {
		if err := store.AddEvent(ctx, st.DB(), e.id, e.at, "", e.kind, "", e.data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportFormats(t *testing.T) {
	seedReport(t)
	stdout, stderr, code := runCLI(t, "report", "-config", exampleConfig, "-since", "7d")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^New cases: +2$`),
		regexp.MustCompile(`(?m)^Open now: +3$`),
		regexp.MustCompile(`(?m)^Dropped by rules: +1$`),
		regexp.MustCompile(`(?m)^Transfers between tiers: +1$`),
		regexp.MustCompile(`(?m)^SLA met / breached: +1 / 1$`),
		regexp.MustCompile(`(?m)^Median first response: +4h \(2 answered\)$`),
		regexp.MustCompile(`(?m)^bryne +1 +0 +1$`),
		regexp.MustCompile(`(?m)^passwords +1 +0 +1$`),
		regexp.MustCompile(`(?m)^1 +2 +1$`),
		regexp.MustCompile(`(?m)^first_response +1 +1$`),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("table lacks %s:\n%s", want, stdout)
		}
	}

	stdout, stderr, code = runCLI(t, "report", "-format", "json", "-config", exampleConfig)
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, stderr)
	}
	var j struct {
		Opened, Open, Transfers int
		SLAMet                  int               `json:"sla_met"`
		SLABreached             int               `json:"sla_breached"`
		Median                  *int64            `json:"median_first_response_seconds"`
		ByService               []store.CaseCount `json:"by_service"`
	}
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	if j.Opened != 2 || j.Open != 3 || j.Transfers != 1 || j.SLAMet != 1 || j.SLABreached != 1 || j.Median == nil || *j.Median != 4*3600 {
		t.Errorf("json: %+v\n%s", j, stdout)
	}

	stdout, stderr, code = runCLI(t, "report", "-config", exampleConfig, "-format", "csv", "-since", "90d")
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows[1:] {
		got[r[0]+"/"+r[1]+"/"+r[2]] = r[3]
	}
	// Over 90 days the old case and its transfer count too.
	for k, want := range map[string]string{"total//opened": "3", "total//transfers": "2", "transfer/1->2/count": "2",
		"sla/first_response/breached": "1", "service/triage/open": "1"} {
		if got[k] != want {
			t.Errorf("csv %s = %q, want %q\n%s", k, got[k], want, stdout)
		}
	}
}

func TestReportBadFlags(t *testing.T) {
	for _, args := range [][]string{{"report", "-format", "xml"}, {"report", "-since", "soon"}, {"report", "extra"}} {
		if _, stderr, code := runCLI(t, args...); code == 0 {
			t.Errorf("%v: exit 0", args)
		} else if stderr == "" {
			t.Errorf("%v: no message", args)
		}
	}
}

// TestReportReopenedAndAgents: a case resolved and then reopened is not
// resolved, and its "met" resolution does not count; one reopened and
// resolved again counts once, by its last outcome. Each agent gets their
// handled cases, median first response and SLA outcomes; tiers count at
// arrival and at resolution. The period is given as days with -from/-to.
func TestReportReopenedAndAgents(t *testing.T) {
	ctx := context.Background()
	st := cliStore(t)
	now := time.Now()
	ago := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	mk := func(n store.NewCase) *store.Case {
		n.Requester, n.Mailbox, n.Service = "ola@bryne.example.no", "helpdesk", "qm-handbook"
		c, err := store.CreateCase(ctx, st.DB(), n)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.DB().Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	event := func(c *store.Case, at time.Time, kind string, data map[string]any) {
		t.Helper()
		if err := store.AddEvent(ctx, st.DB(), c.ID, at, "", kind, "", data); err != nil {
			t.Fatal(err)
		}
	}
	// actorEvent is an event as casework records an agent's act.
	actorEvent := func(c *store.Case, at time.Time, actor, kind string, data map[string]any) {
		t.Helper()
		if err := store.AddEvent(ctx, st.DB(), c.ID, at, actor, kind, "", data); err != nil {
			t.Fatal(err)
		}
	}
	// per: arrived on tier 1, moved to 2, answered after 2h, resolved, met.
	a := mk(store.NewCase{Status: "open", Tier: "2", Rung: 2, Assignee: "per", CreatedAt: ago(50)})
	exec(`UPDATE cases SET first_response_at = created_at + interval '2 hours', status = 'resolved', resolved_at = $2 WHERE id = $1`, a.ID, ago(40))
	event(a, ago(49), "transfer", map[string]any{"from_tier": "1", "to_tier": "2", "moved": true})
	event(a, ago(40), "sla", map[string]any{"target": "resolution", "outcome": "met"})
	// per: answered after 4h, resolved (met), then reopened by the requester.
	b := mk(store.NewCase{Status: "open", Tier: "2", Rung: 2, Assignee: "per", CreatedAt: ago(30)})
	exec(`UPDATE cases SET first_response_at = created_at + interval '4 hours', status = 'open', resolved_at = $2 WHERE id = $1`, b.ID, ago(20))
	event(b, ago(20), "sla", map[string]any{"target": "resolution", "outcome": "met"})
	// maria: answered after 1h, first response breached, open.
	c := mk(store.NewCase{Status: "open", Tier: "2", Rung: 2, Assignee: "maria", CreatedAt: ago(10)})
	exec(`UPDATE cases SET first_response_at = created_at + interval '1 hour' WHERE id = $1`, c.ID)
	event(c, ago(8), "sla", map[string]any{"target": "first_response", "outcome": "breached"})
	// eva: resolved (met), reopened, resolved again late (breached).
	d := mk(store.NewCase{Status: "open", Tier: "2", Rung: 2, Assignee: "eva", CreatedAt: ago(60)})
	exec(`UPDATE cases SET status = 'resolved', resolved_at = $2 WHERE id = $1`, d.ID, ago(5))
	event(d, ago(50), "sla", map[string]any{"target": "resolution", "outcome": "met"})
	event(d, ago(5), "sla", map[string]any{"target": "resolution", "outcome": "breached"})

	// Handed over: ines held it when its first response breached and the
	// breach moved it to jon, who answered after 3h and resolved it (met).
	h := mk(store.NewCase{Status: "open", Tier: "2", Rung: 2, Assignee: "jon", CreatedAt: ago(12)})
	exec(`UPDATE cases SET first_response_at = $2, status = 'resolved', resolved_at = $3 WHERE id = $1`, h.ID, ago(9), ago(8))
	actorEvent(h, ago(12), "", "assigned", map[string]any{"assignee": "ines"})
	event(h, ago(11), "sla", map[string]any{"target": "first_response", "outcome": "breached"})
	event(h, ago(11), "transfer", map[string]any{"kind": "breach", "from_assignee": "ines", "to_assignee": "jon",
		"from_tier": "1", "to_tier": "2"})
	actorEvent(h, ago(9), "jon", "reply", nil)
	actorEvent(h, ago(8), "jon", "status", map[string]any{"from": "open", "to": "resolved"})
	event(h, ago(8), "sla", map[string]any{"target": "resolution", "outcome": "met"})

	from := now.AddDate(0, 0, -5).Format(time.DateOnly)
	stdout, stderr, code := runCLI(t, "report", "-config", exampleConfig, "-from", from, "-to", now.Format(time.DateOnly), "-format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Resolved, Open int
		SLA            []store.SLACount
		ByAgent        []store.AgentCount `json:"by_agent"`
		TierFlow       []store.TierFlow   `json:"tier_flow"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if r.Resolved != 3 || r.Open != 2 {
		t.Errorf("resolved %d, open %d; want 3 and 2 (the reopened case is open, not resolved)", r.Resolved, r.Open)
	}
	sla := map[string]store.SLACount{}
	for _, s := range r.SLA {
		sla[s.Target] = s
	}
	if got := sla["resolution"]; got.Met != 2 || got.Breached != 1 {
		t.Errorf("resolution SLA %+v, want met 2 (not the reopened case's), breached 1 (the last outcome only)", got)
	}
	agents := map[string]store.AgentCount{}
	for _, a := range r.ByAgent {
		a.MedianFirstResponse = nil
		agents[a.Agent] = a
	}
	secs := func(h int64) *int64 { s := h * 3600; return &s }
	for id, want := range map[string]store.AgentCount{
		"per":   {Agent: "per", Handled: 1, FirstResponses: 2, MedianFirstResponseSeconds: secs(3), SLAMet: 1},
		"maria": {Agent: "maria", FirstResponses: 1, MedianFirstResponseSeconds: secs(1), SLABreached: 1},
		"eva":   {Agent: "eva", Handled: 1, SLABreached: 1},
		"ines":  {Agent: "ines", SLABreached: 1},
		"jon":   {Agent: "jon", Handled: 1, FirstResponses: 1, MedianFirstResponseSeconds: secs(3), SLAMet: 1},
	} {
		got := agents[id]
		if got.Handled != want.Handled || got.FirstResponses != want.FirstResponses || got.SLAMet != want.SLAMet ||
			got.SLABreached != want.SLABreached || (want.MedianFirstResponseSeconds == nil) != (got.MedianFirstResponseSeconds == nil) ||
			(want.MedianFirstResponseSeconds != nil && *got.MedianFirstResponseSeconds != *want.MedianFirstResponseSeconds) {
			t.Errorf("agent %s: %+v, want %+v", id, got, want)
		}
	}
	flow := map[string]store.TierFlow{}
	for _, f := range r.TierFlow {
		flow[f.Tier] = f
	}
	if flow["1"].Arrived != 2 || flow["1"].Resolved != 0 || flow["2"].Arrived != 3 || flow["2"].Resolved != 3 {
		t.Errorf("tier flow %+v: want tier 1 arrived 2; tier 2 arrived 3, resolved 3 (a and h on the tier they moved to)", r.TierFlow)
	}

	stdout, _, code = runCLI(t, "report", "-config", exampleConfig, "-from", from)
	if code != 0 || !regexp.MustCompile(`(?m)^per +1 +3h \(2\) +1 +0$`).MatchString(stdout) ||
		!strings.Contains(stdout, "(handled: the agent who held the case when it was resolved; first response: the agent who sent it;") ||
		!regexp.MustCompile(`(?m)^Period: +\S+ 00:00 \S+ – `).MatchString(stdout) {
		t.Errorf("table lacks per's line or the period's zone:\n%s", stdout)
	}
	for _, args := range [][]string{{"-from", "yesterday"}, {"-to", from}, {"-from", "2030-01-02", "-to", "2030-01-01"}} {
		if _, stderr, code := runCLI(t, append([]string{"report", "-config", exampleConfig}, args...)...); code == 0 || stderr == "" {
			t.Errorf("report %v: exit %d, %q", args, code, stderr)
		}
	}
}
