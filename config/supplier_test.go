package config

import (
	"strings"
	"testing"
	"time"
)

const supplierHead = `calendars:
  office: {timezone: Europe/Stockholm, holidays: se, hours: {mon-fri: "08:00-16:30"}}
people:
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
  - {id: klinikk, name: Klinikk, work_area: dental, domains: [klinikk.example.no]}
roles:
  support: {everyone: [eva]}
  coordinator: {by_work_area: {schools: [per]}}
`

const supplierTail = `services:
  - id: qm
    name: Qm
    chain: [{tier: 2, role: support}, {tier: external, supplier: v}]
  - {id: triage, name: Central triage, chain: [{tier: 2, role: support}]}
default: {service: triage}
`

// TestSupplierContractErrors: contracts are checked strictly, each error
// at its line and column.
func TestSupplierContractErrors(t *testing.T) {
	tests := []struct {
		name, suppliers string
		want            []string
	}{
		{"bad pattern", `suppliers:
  - {id: v, name: V, email: s@v.example, reference: "INC(\\d+"}
`, []string{`r.yaml:13:53: reference "INC(\\d+" is not a valid RE2 pattern: error parsing regexp: missing closing ): ` + "`INC(\\d+`"}},
		{"backreference is not RE2", `suppliers:
  - {id: v, name: V, email: s@v.example, reference: '(INC)\1'}
`, []string{`r.yaml:13:53: reference "(INC)\\1" is not a valid RE2 pattern: error parsing regexp: invalid escape sequence: ` + "`\\1`"}},
		{"pattern matching nothing", `suppliers:
  - {id: v, name: V, email: s@v.example, reference: 'x*'}
`, []string{`r.yaml:13:53: reference "x*" matches the empty text: it would find a reference in every mail`}},
		{"unknown refs and no calendar", `suppliers:
  - id: v
    name: V
    email: s@v.example
    contracts:
      - {id: base, response: 4h}
      - {id: local, units: [brine], services: [triage], work_areas: [school], calendar: ofice}
`, []string{
			`r.yaml:17:9: contract "base" has response or resolution times but no calendar to count them on`,
			`r.yaml:18:29: unknown unit "brine" (did you mean "bryne"?)`,
			`r.yaml:18:48: service "triage" has no rung for supplier "v" on its chain`,
			`r.yaml:18:70: unknown work area "school": no unit has work_area school (did you mean "schools"?)`,
			`r.yaml:18:89: unknown calendar "ofice" (did you mean "office"?)`,
		}},
		{"two bases, bad reminders, unit's domain", `suppliers:
  - id: v
    name: V
    email: s@v.example
    domains: [bryne.example.no]
    contracts:
      - {id: a, calendar: office, response: 4h, reminders: {every: 0s, limit: 30}}
      - {id: b}
`, []string{
			`r.yaml:16:15: domain "bryne.example.no" belongs to unit "bryne": a supplier's domain must be the supplier's own`,
			`r.yaml:18:68: every must be more than zero`,
			`r.yaml:18:79: limit 30: want 0 to 20 reminders`,
			`r.yaml:19:9: supplier "v" has two contracts without services, units or work_areas ("a" and "b"): give the variant a scope`,
		}},
		{"unknown key", `suppliers:
  - id: v
    name: V
    email: s@v.example
    contracts: [{id: a, respons: 4h}]
`, []string{`r.yaml:16:25: unknown key "respons" (did you mean "response"?); allowed: id, services, units, work_areas, calendar, response, resolution, email, reference, reminders, direct`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("r.yaml", []byte(supplierHead+tt.suppliers+supplierTail))
			assertErrors(t, err, tt.want)
		})
	}
}

// TestSupplierContracts: the most specific contract holds, a variant
// takes what it leaves out from the base, and the supplier is known by
// its addresses and domain only.
func TestSupplierContracts(t *testing.T) {
	r, err := ParseRules("r.yaml", []byte(supplierHead+`suppliers:
  - id: v
    name: V
    email: s@v.example
    domains: [v.example]
    reference: '(?i)\bINC\d{6,}\b'
    contracts:
      - {id: base, calendar: office, response: 4h, resolution: 3d, reminders: {every: 4h, limit: 3}}
      - {id: schools, work_areas: [schools], response: 2h}
      - {id: bryne-qm, units: [bryne], services: [qm], direct: true, email: bryne@v.example, reference: 'BR-\d+'}
      - {id: dental-qm, services: [qm], work_areas: [dental], resolution: 1d}
`+supplierTail))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service, unit, want string
		response            string
		direct              bool
	}{
		{"qm", "bryne", "bryne-qm", "4h", true},
		{"qm", "klinikk", "dental-qm", "4h", false},
		{"triage", "bryne", "schools", "2h", false},
		{"triage", "", "base", "4h", false},
	} {
		c := r.Contract("v", tc.service, tc.unit)
		if c.ID != tc.want || c.Response.String() != tc.response || c.Direct != tc.direct || c.cal == nil {
			t.Errorf("%s/%s: contract %s response %s direct %v, want %s %s %v", tc.service, tc.unit, c.ID, c.Response,
				c.Direct, tc.want, tc.response, tc.direct)
		}
	}
	bq := r.Contract("v", "qm", "bryne")
	if bq.Email != "bryne@v.example" || bq.ReminderPolicy().Limit != 3 || bq.Resolution.String() != "3d" {
		t.Errorf("the variant did not take the base's rest: %+v", bq)
	}
	if got := bq.FindReference("Re: [#12] BR-77", ""); got != "BR-77" {
		t.Errorf("variant's pattern found %q", got)
	}
	if got := r.Contract("v", "qm", "klinikk").FindReference("no ref here", "see inc0012345 please"); got != "inc0012345" {
		t.Errorf("base pattern in the body found %q", got)
	}
	// The body is scanned only up to its bound.
	long := strings.Repeat("x", MaxReferenceScan) + " INC0012345"
	if got := r.Supplier("v").FindReference("", long); got != "" {
		t.Errorf("a reference past MaxReferenceScan was found: %q", got)
	}
	for addr, want := range map[string]bool{"s@v.example": true, "bryne@v.example": true, "noc@mail.v.example": true,
		"s@v.example.evil": false, "s@xv.example": false, "x@example.org": false} {
		if got := r.SupplierBySender(addr) != nil; got != want {
			t.Errorf("SupplierBySender(%s) = %v, want %v", addr, got, want)
		}
	}
	c := r.Contract("v", "triage", "")
	from := time.Date(2026, 3, 6, 15, 0, 0, 0, c.cal.loc())
	if got := c.Add(from, c.Response); !got.Equal(time.Date(2026, 3, 9, 10, 30, 0, 0, c.cal.loc())) {
		t.Errorf("4h from Friday 15:00 = %s, want Monday 10:30", got)
	}
}
