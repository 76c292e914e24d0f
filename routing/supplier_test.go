package routing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

const directRules = `calendars:
  office: {timezone: Europe/Stockholm, hours: {mon-fri: "08:00-16:00"}}
people:
  - {id: anna, name: Anna, email: anna@example.org}
  - {id: per, name: Per, email: per@example.org}
  - {id: eva, name: Eva, email: eva@example.org}
units:
  - {id: bryne, name: Bryne, work_area: schools, domains: [bryne.example.no]}
  - {id: kemi, name: Kemi, work_area: university, domains: [kemi.example.se]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  coordinator: {by_work_area: {schools: [per]}}
  lab_owners: {everyone: [eva]}
  support: {everyone: [eva]}
suppliers:
  - id: printers
    name: Print leasing
    email: service@print.example
  - id: labsys
    name: LabSys
    email: support@labsys.example
    contracts:
      - {id: base, calendar: office, response: 8h}
      - {id: lims-direct, services: [lims], direct: true}
services:
  - id: print-lease
    name: Leased printers
    keywords: [printer]
    chain: [{tier: external, supplier: printers}]
  - id: lims
    name: LIMS
    keywords: [lims]
    coordinator: lab_owners
    chain: [{tier: 2, role: support}, {tier: external, supplier: labsys}]
  - id: triage
    name: Triage
    chain: [{tier: 2, role: support}]
default: {service: triage}
`

// TestStraightToTheSupplier (S2): a service whose chain is the supplier
// alone, and a service whose contract says users go straight to the
// supplier, start on the external rung, owned by the service's
// coordinator role (its own, else coordinator); the trail says why.
func TestStraightToTheSupplier(t *testing.T) {
	r, err := config.ParseRules("rules.yaml", []byte(directRules))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, subject, supplier, role, assignee, why string
		direct                                       bool
	}{
		{"ola@bryne.example.no", "printer jams", "printers", "coordinator", "per", "owner of record", false},
		{"kari@kemi.example.se", "lims is down", "labsys", "lab_owners", "eva", "contract lims-direct (services lims) of labsys: users go straight to the supplier", true},
	} {
		d, err := Route(context.Background(), r, Input{From: tc.from, Subject: tc.subject, Received: at}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Tier != "external" || d.Supplier != tc.supplier || d.Role != tc.role || d.Assignee != tc.assignee || d.Direct != tc.direct {
			t.Errorf("%s: tier %s supplier %s role %s assignee %s direct %v", tc.subject, d.Tier, d.Supplier, d.Role, d.Assignee, d.Direct)
		}
		if !strings.Contains(d.Explain(), tc.why) {
			t.Errorf("%s: the trail does not say why:\n%s", tc.subject, d.Explain())
		}
	}
}
