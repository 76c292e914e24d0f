package routing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/casemail/casemail/config"
)

const replayOld = `people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: nils, name: Nils Berg, email: nils@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  central_support: {everyone: [eva]}
  network_experts: {everyone: [nils]}
services:
  - id: passwords
    name: Passwords
    chain: [{tier: 2, role: central_support}]
  - id: network
    name: Network
    chain: [{tier: 2, role: central_support}, {tier: 3, role: network_experts}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
rules:
  - name: passwords are central
    when: {subject: {matches: "(?i)password"}}
    then: {service: passwords, stop: true}
  - name: vpn
    when: {subject: {contains: vpn}}
    then: {priority: high}
default: {service: triage}
`

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
	old := parse(replayOld)
	mail := func(from, subject string) Input {
		return Input{From: from, To: []string{"helpdesk@example.org"}, Subject: subject, Received: tuesday}
	}
	for _, tc := range []struct {
		name  string
		rules string
		in    Input
		want  []Change
	}{
		{"the same rules change nothing", replayOld, mail("kari@example.se", "VPN is down"), nil},
		{"a rule that now sets a service and tier moves service, tier and role",
			strings.Replace(replayOld, "then: {priority: high}", "then: {priority: high, service: network, tier: 3}", 1),
			mail("kari@example.se", "VPN is down"),
			[]Change{
				{"service", "triage", "network", `rule "vpn"`},
				{"tier", "2", "3", `rule "vpn"`},
				{"role", "central_support", "network_experts", `rule "vpn"`},
			}},
		{"a rule that no longer matches is named",
			strings.Replace(replayOld, `"(?i)password"`, `"(?i)lösenord"`, 1),
			mail("kari@example.se", "password expired"),
			[]Change{{"service", "passwords", "triage", `rule "passwords are central" no longer applies`}}},
		{"a new drop rule: dropped, and no rung compared",
			strings.Replace(replayOld, "default:", "  - name: newsletters\n    when: {from_domain: news.example.com}\n    then: {drop: newsletter}\ndefault:", 1),
			mail("info@news.example.com", "Our March newsletter"),
			[]Change{{"dropped", "no", "yes (newsletter)", `rule "newsletters"`}}},
		{"a unit found by its domain, no rule: the trail says how",
			strings.Replace(replayOld, "domains: [bryne.example.no]", "domains: [bryne.example.no, skole.example.no]", 1),
			mail("ola@skole.example.no", "Skjemaet er borte"),
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
	dropRules := parse(strings.Replace(replayOld, "default:", "  - name: newsletters\n    when: {from_domain: news.example.com}\n    then: {drop: newsletter}\ndefault:", 1))
	news := mail("info@news.example.com", "Our March newsletter")
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
