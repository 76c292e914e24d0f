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

// seedReport opens three cases in the last days: one answered after two
// hours and moved from tier 1 to 2 with its first response met, one
// breached, one dropped; and one case from two months ago that must not
// count.
func seedReport(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	url := storetest.URL(t)
	t.Setenv("CASEMAIL_DATABASE_URL", url)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
