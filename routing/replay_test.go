package routing

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

// stored routes a mail under rules and reads its decision back as the
// "routed" event stores it (intake writes the Decision's fields and trail
// as JSON), so Replay is tested against what a case really carries.
func stored(t *testing.T, rules *config.Rules, in Input) Routed {
	t.Helper()
	dec, err := Route(context.Background(), rules, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]any{"service": dec.Service, "unit": dec.Unit, "work_area": dec.WorkArea,
		"tier": dec.Tier, "role": dec.Role, "assignee": dec.Assignee, "trail": dec.Trail})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRouted(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReplay(t *testing.T) {
	parse := func(y string) *config.Rules {
		t.Helper()
		r, err := config.ParseRules("rules.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	data, err := os.ReadFile("testdata/replay-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	replayOld := string(data)
	old := parse(replayOld)
	night := tuesday.Add(10 * time.Hour) // 20:00, after office hours
	mail := func(from, subject string, at time.Time) Input {
		return Input{From: from, To: []string{"helpdesk@example.org"}, Subject: subject, Received: at}
	}
	moveVPN := strings.Replace(replayOld, "then: {priority: high}", "then: {priority: high, service: network, tier: 3}", 1)
	dropNews := strings.Replace(replayOld, "default:", "  - name: newsletters\n    when: {from_domain: news.example.com}\n    then: {drop: newsletter}\ndefault:", 1)
	for _, tc := range []struct {
		name  string
		rules string
		in    Input
		want  []Change
	}{
		{"the same rules change nothing", replayOld, mail("kari@example.se", "VPN is down", night), nil},
		{"a rule that now sets a service and tier moves service, tier and role",
			moveVPN, mail("kari@example.se", "VPN is down", night),
			[]Change{
				{"service", "triage", "network", `rule "vpn after hours"`},
				{"tier", "2", "3", `rule "vpn after hours"`},
				{"role", "central_support", "network_experts", `rule "vpn after hours"`},
			}},
		{"the same rule by day does not match: nothing changes", moveVPN, mail("kari@example.se", "VPN is down", tuesday), nil},
		{"a rule that no longer matches is named",
			strings.Replace(replayOld, `"(?i)password|lösenord"`, `"(?i)lösenord"`, 1),
			mail("kari@example.se", "VPN password expired", night),
			[]Change{{"service", "passwords", "triage", `rule "passwords are central" no longer applies`}}},
		{"a new drop rule: dropped, and no rung compared",
			dropNews, mail("info@news.example.com", "Our March newsletter", tuesday),
			[]Change{{"dropped", "no", "yes (newsletter)", `rule "newsletters"`}}},
		{"a unit found by its domain, no rule: the trail says how",
			strings.Replace(replayOld, "domains: [bryne.example.no]", "domains: [bryne.example.no, skole.example.no]", 1),
			mail("ola@skole.example.no", "Skjemaet er borte", tuesday),
			[]Change{{"unit", "", "bryne", "unit domain: sender domain skole.example.no belongs to the unit"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := Route(context.Background(), parse(tc.rules), tc.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := Replay(stored(t, old, tc.in), dec); !slices.Equal(got, tc.want) {
				t.Errorf("Replay =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}

	// Dropped is read from the stored trail, both ways.
	dropRules := parse(dropNews)
	news := mail("info@news.example.com", "Our March newsletter", tuesday)
	was := stored(t, dropRules, news)
	if !was.Dropped {
		t.Fatalf("stored drop not read back: %+v", was)
	}
	dec, err := Route(context.Background(), old, news, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Replay(was, dec); len(got) == 0 || got[0] != (Change{"dropped", "yes", "no", `rule "newsletters" no longer applies`}) {
		t.Errorf("undropped: %q", got)
	}

	if _, err := ParseRouted([]byte(`{"service": 3}`)); err == nil {
		t.Error("ParseRouted accepted a number for a service")
	}
}
