package config

import (
	"strings"
	"testing"
)

// TestNearestHoldersOf: a support manager set for a unit or a work area
// stands alone there; everyone's manager stands in where none is set.
func TestNearestHoldersOf(t *testing.T) {
	r, err := ParseRules("r.yaml", []byte(`people:
  - {id: eva, name: Eva, email: eva@example.org}
  - {id: sara, name: Sara, email: sara@example.se}
  - {id: ola, name: Ola, email: ola@example.no}
units:
  - {id: chalmers, name: Chalmers, work_area: university}
  - {id: bryne, name: Bryne, work_area: schools}
  - {id: sandnes, name: Sandnes, work_area: schools}
  - {id: other, name: Other}
roles:
  support_manager:
    everyone: [eva]
    by_unit: {chalmers: [sara]}
    by_work_area: {schools: [ola]}
    names: {sv: supportansvarig, nb: brukerstøtteleder}
services:
  - {id: triage, name: T, chain: [{tier: 2, role: support_manager}], names: {en: Triage}}
default: {service: triage}
`))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ps []*Person) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.ID)
		}
		return strings.Join(s, ",")
	}
	for unit, want := range map[string]string{"chalmers": "sara", "bryne": "ola", "sandnes": "ola", "other": "eva", "": "eva"} {
		if got := ids(r.NearestHoldersOf(RoleSupportManager, unit)); got != want {
			t.Errorf("support manager of %q: %s, want %s", unit, got, want)
		}
	}
	if got := ids(r.HoldersOf(RoleSupportManager, "chalmers")); got != "sara,eva" {
		t.Errorf("HoldersOf still adds everyone: %s", got)
	}
	if r.Role(RoleSupportManager).Names["nb"] != "brukerstøtteleder" || r.Service("triage").Names["en"] != "Triage" {
		t.Errorf("names not read")
	}
}

// TestNamesChecked: names: takes the mail languages only, none empty.
func TestNamesChecked(t *testing.T) {
	_, err := ParseRules("r.yaml", []byte(`people: [{id: eva, name: Eva, email: eva@example.org}]
roles:
  central: {everyone: [eva], names: {de: Zentrale, sv: ""}}
services:
  - {id: triage, name: T, chain: [{tier: 2, role: central}]}
default: {service: triage}
`))
	if err == nil || !strings.Contains(err.Error(), `names: language "de"`) || !strings.Contains(err.Error(), "names: sv is empty") {
		t.Errorf("bad names: %v", err)
	}
}
