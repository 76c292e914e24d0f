package routing

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

// Roles in the file are listed zeta before alpha, so that file order and
// name order differ; per holds zeta twice (a unit and everyone).
const directoryRules = `people:
  - {id: per, name: Per Dahl, email: per@example.org, away: [{from: 2026-12-20, to: 2027-01-06}]}
  - {id: eva, name: Eva Holm, email: eva@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  zeta: {by_unit: {bryne: [per]}, everyone: [per]}
  alpha: {by_work_area: {schools: [eva, per]}, assign: least_open}
  unused: {everyone: [eva]}
suppliers:
  - {id: vendor, name: Vendor, email: support@vendor.example}
  - {id: idle, name: Idle, email: idle@vendor.example}
services:
  - id: qm
    name: Qm+
    chain: [{tier: 1, role: zeta}, {tier: 2, role: alpha}, {tier: external, supplier: vendor}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: zeta}]
default: {service: triage}
`

func TestNewDirectory(t *testing.T) {
	r, err := config.ParseRules("rules.yaml", []byte(directoryRules))
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02 15:04", s, stockholm)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	dir := NewDirectory(r, day("2026-12-20 00:00"))
	var roles []string
	for _, role := range dir.Roles {
		roles = append(roles, role.Role)
	}
	if !slices.Equal(roles, []string{"zeta", "alpha", "unused"}) {
		t.Errorf("roles %v, want file order zeta alpha unused", roles)
	}
	zeta, alpha, unused := dir.Roles[0], dir.Roles[1], dir.Roles[2]
	if zeta.Assign != "round_robin" || alpha.Assign != "least_open" {
		t.Errorf("assign zeta %q (the default), alpha %q", zeta.Assign, alpha.Assign)
	}
	if !slices.Equal(zeta.UsedBy, []string{"qm tier 1", "triage tier 2"}) || !slices.Equal(alpha.UsedBy, []string{"qm tier 2"}) ||
		unused.UsedBy == nil || len(unused.UsedBy) != 0 {
		t.Errorf("used by: zeta %q, alpha %q, unused %#v", zeta.UsedBy, alpha.UsedBy, unused.UsedBy)
	}
	wantZeta := []DirectoryHolder{
		{Scope: "unit", For: "bryne", Person: "per", Name: "Per Dahl", Email: "per@example.org", Away: true, AwayUntil: "2027-01-06"},
		{Scope: "everyone", Person: "per", Name: "Per Dahl", Email: "per@example.org", Away: true, AwayUntil: "2027-01-06"},
	}
	if !slices.Equal(zeta.Holders, wantZeta) {
		t.Errorf("zeta holders %+v", zeta.Holders)
	}
	if len(alpha.Holders) != 2 || alpha.Holders[0].Person != "eva" || alpha.Holders[0].Away ||
		alpha.Holders[1].Scope != "work_area" || alpha.Holders[1].For != "schools" || !alpha.Holders[1].Away {
		t.Errorf("alpha holders %+v", alpha.Holders)
	}
	// Per is listed once, with each role he holds once.
	if len(dir.Away) != 1 || dir.Away[0].Person != "per" || dir.Away[0].From != "2026-12-20" ||
		!slices.Equal(dir.Away[0].Roles, []string{"zeta", "alpha"}) {
		t.Errorf("away %+v", dir.Away)
	}
	if len(dir.Suppliers) != 2 || !slices.Equal(dir.Suppliers[0].Services, []string{"qm"}) || dir.Suppliers[1].Services == nil {
		t.Errorf("suppliers %+v", dir.Suppliers)
	}
	if len(dir.Units) != 1 || dir.Units[0].Members == nil || dir.Units[0].Domains[0] != "bryne.example.no" {
		t.Errorf("units %+v", dir.Units)
	}

	// The absence is inclusive at both ends, on the day in the rules'
	// sense: late on the last day is still away, the next morning is not.
	for _, tc := range []struct {
		at   string
		away bool
	}{
		{"2026-12-19 23:59", false},
		{"2026-12-20 00:00", true},
		{"2027-01-06 23:59", true},
		{"2027-01-07 00:00", false},
	} {
		d := NewDirectory(r, day(tc.at))
		if got := len(d.Away) == 1; got != tc.away || d.Roles[0].Holders[0].Away != tc.away {
			t.Errorf("%s: away %v, holder %+v; want away %v", tc.at, got, d.Roles[0].Holders[0], tc.away)
		}
	}

	// Nothing is nil: JSON shows [] for an empty list, never null.
	empty, err := config.ParseRules("rules.yaml", []byte(`people: [{id: eva, name: Eva, email: eva@example.org}]
roles: {support: {everyone: [eva]}, spare: {by_unit: {}}}
services: [{id: triage, name: Triage, chain: [{tier: 2, role: support}]}]
default: {service: triage}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(NewDirectory(empty, day("2026-12-20 12:00")))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"date":"2026-12-20","roles":[` +
		`{"role":"support","assign":"round_robin","used_by":["triage tier 2"],"holders":[{"scope":"everyone","person":"eva","name":"Eva","email":"eva@example.org","away":false}]},` +
		`{"role":"spare","assign":"round_robin","used_by":[],"holders":[]}],"away":[],"suppliers":[],"units":[]}`; string(b) != want {
		t.Errorf("empty directory %s, want %s", b, want)
	}
}
