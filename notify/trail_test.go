package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/routing"
)

// trailRules route with several rules, a rung nobody holds for the unit,
// a role held by two and one held by someone away, custom role and
// service names, and a drop rule.
const trailRules = `people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org, away: [{from: 2026-01-01, to: 2027-01-01}]}
units:
  - {id: bryne, name: Bryne skole, work_area: skoler, domains: [bryne.example.no]}
  - {id: sandnes, name: Sandnes skole, work_area: skoler, domains: [sandnes.example.no]}
roles:
  lokal: {by_unit: {bryne: [eva]}, names: {sv: lokal support, nb: lokal brukerstøtte}}
  superuser: {by_unit: {sandnes: [anna]}}
  sentral: {everyone: [per]}
  koordinator: {by_work_area: {skoler: [anna, per]}, names: {sv: samordnare för skolor, nb: koordinator for skoler}}
suppliers:
  - id: labbsys
    name: LabbSys
    email: support@labbsys.example
    contracts:
      - {id: labb-bryne, services: [labb], units: [bryne], direct: true}
services:
  - id: utskrift
    name: Utskrift
    names: {nb: Utskrift og skrivere}
    keywords: [skrivar]
    chain: [{tier: 1, role: lokal}, {tier: 1, role: superuser}, {tier: 2, role: koordinator}]
  - id: labb
    name: Labbsystem
    keywords: [labb]
    coordinator: koordinator
    chain: [{tier: 2, role: sentral}, {tier: external, supplier: labbsys}]
  - id: sentralt
    name: Sentralt
    chain: [{tier: 2, role: sentral}]
rules:
  - name: skrivare
    when: {subject: {contains: skrivar}}
    then: {service: utskrift, tags: [utskrift]}
  - name: brådskande
    when: {subject: {contains: akut}}
    then: {priority: urgent}
  - name: reklam
    when: {subject: {contains: VINN}}
    then: {drop: reklam och nyhetsbrev}
default: {service: sentralt}
`

// TestRoutedTrailIsNordic routes real mails — rules that match, rungs
// skipped (nobody holds one for the unit; its holder is away), two
// holders named by their names, an assignee, a contract that sends the
// case straight to the supplier, with its scope, a dropped mail — and renders each decision's
// assignment notice in Swedish and Norwegian: every fixed word of the
// trail is theirs, and no English word is left. (Put an English label
// back in a template or a wording and this fails.)
func TestRoutedTrailIsNordic(t *testing.T) {
	rules, err := config.ParseRules("rules.yaml", []byte(trailRules))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	kinds := map[string]bool{}
	for _, tc := range []struct {
		subject string
		want    map[string][]string // lang → texts the notice must hold
	}{
		{"Skrivaren är akut trasig", map[string][]string{
			"sv": {"Varför:", `regel "skrivare": träffade — subject contains skrivar`, `regel "brådskande": träffade`,
				"Steg:         3 av 3 (samordnare för skolor, nivå 2)", "Rollinnehavare: Anna Berg, Per Dahl",
				"Handläggare:  Anna Berg (först i listan)", "Prioritet:    akut",
				"steg 1 av 3 (lokal support, nivå 1): hoppades över — Eva Holm är lokal support för enheten bryne (verksamhetsområde skoler) men är borta",
				"steg 2 av 3 (superanvändare, nivå 1): hoppades över — ingen är superanvändare för enheten bryne",
				"steg 3 av 3 (samordnare för skolor, nivå 2): start — rollinnehavare: Anna Berg, Per Dahl",
				"tjänst utskrift: satt av regel — regel \"skrivare\"",
				"handläggare Anna Berg: först i listan — bland Anna Berg, Per Dahl"},
			"nb": {"Hvorfor:", "Tjeneste:       Utskrift og skrivere (utskrift)", `regel "skrivare": traff`,
				"Trinn:          3 av 3 (koordinator for skoler, nivå 2)", "enhet bryne: domene — avsenderdomenet bryne.example.no hører til enheten"},
		}},
		{"Labb svarar inte", map[string][]string{
			"sv": {"steg 2 av 2 (extern leverantör, LabbSys): direkt — avtal labb-bryne (tjänster labb; enheter bryne) med labbsys: " +
				"användarna går direkt till leverantören; ägs av samordnare för skolor"},
			"nb": {"trinn 2 av 2 (ekstern leverandør, LabbSys): direkte — avtale labb-bryne (tjenester labb; enheter bryne) med labbsys: " +
				"brukerne går direkte til leverandøren; eies av koordinator for skoler"},
		}},
		{"VINN en resa", map[string][]string{
			"sv": {"Avvisat:      reklam och nyhetsbrev", `avvisning reklam och nyhetsbrev: avvisat — regel "reklam" avvisade brevet: sparat, inte dirigerat`},
			"nb": {"Avvist:         reklam och nyhetsbrev", `regel "reklam" avviste e-posten: lagret, ikke rutet`},
		}},
	} {
		d, err := routing.Route(context.Background(), rules, routing.Input{From: "ola@bryne.example.no", Subject: tc.subject,
			Received: at}, nil)
		if err != nil {
			t.Fatal(err)
		}
		view := casework.RouteView(rules, d)
		for _, s := range view.Steps {
			kinds[s.Kind] = true
		}
		data := notify.Data{Case: notify.CaseView{Number: 1042, Subject: tc.subject, Route: view}}
		for _, lang := range []string{"sv", "nb"} {
			_, text, _, err := tm.Render(notify.KindAssignment, lang, data)
			if err != nil {
				t.Fatal(err)
			}
			// A rule's condition is shown as routing states it from
			// rules.yaml ("subject contains none of [vinn]"): data.
			checked := text
			for _, s := range view.Steps {
				if s.Cond != "" {
					checked = strings.ReplaceAll(checked, " — "+s.Cond+"\n", "\n")
				}
			}
			if w := langtest.English(checked); len(w) > 0 {
				t.Errorf("%s notice of %q: English %q in:\n%s", lang, tc.subject, w, text)
			}
			for _, want := range tc.want[lang] {
				if !strings.Contains(text, want) {
					t.Errorf("%s notice of %q lacks %q:\n%s", lang, tc.subject, want, text)
				}
			}
		}
	}
	for _, k := range []string{"rule", "unit", "service", "rung", "assignee", "drop"} {
		if !kinds[k] {
			t.Errorf("no %s step was rendered", k)
		}
	}
}
