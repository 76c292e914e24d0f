package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// supplierE2ERules is the county's chain with a supplier under contract.
// The contract counts on a calendar open around the clock and is short —
// the answer due 3 seconds after the forward, a reminder every 2 — so the
// daemon's own supplier check (every second) walks the whole clock on the
// wall clock in a few seconds, with the same code a 4h contract runs.
const supplierE2ERules = `calendars:
  always: {timezone: Europe/Stockholm, hours: {mon-sun: "00:00-24:00"}}
people:
  - {id: anna, name: Anna Berg, email: anna@example.org, language: nb}
  - {id: per, name: Per Dahl, email: per@example.org, language: nb}
  - {id: eva, name: Eva Holm, email: eva@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, language: nb, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  coordinator: {by_work_area: {schools: [per]}}
  system_responsible: {everyone: [eva]}
  central_support: {everyone: [eva]}
suppliers:
  - id: qm-vendor
    name: Qm+ vendor
    email: support@vendor.example
    domains: [vendor.example]
    reference: '(?i)\bINC\d{6,}\b'
    contracts:
      - {id: qm-county, calendar: always, response: 3s, resolution: 1d, reminders: {every: 2s, limit: 2}}
services:
  - id: qm-handbook
    name: Qm+ e-handbok
    keywords: [e-håndbok]
    chain:
      - {tier: 1, role: superuser}
      - {tier: 2, role: coordinator}
      - {tier: 3, role: system_responsible}
      - {tier: external, supplier: qm-vendor}
    sla: {calendar: always, first_response: 8h, resolution: 3d, pause_for_supplier: true}
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
default: {service: triage}
schedule:
  supplier_check: "@every 1s"
`

// TestSupplierEndToEnd walks the county's chain on real Dovecot,
// PostgreSQL and SMTP: the school's superuser gets the case and escalates
// it to the coordinator, who sends it to the supplier with #supplier; the
// silent supplier gets a first and a second reminder, then the
// coordinator is told the supplier is late; the supplier answers with
// their reference; a later mail from their ticket system carrying only
// that reference threads to the case; the coordinator resolves it; and
// `casemail report` shows the supplier's figures.
func TestSupplierEndToEnd(t *testing.T) {
	w := newWorld(t)
	write(t, filepath.Join(w.dir, "rules.yaml"), supplierE2ERules)
	run := w.start(t)
	const (
		ola     = "ola@bryne.example.no"
		anna    = "anna@example.org"
		per     = "per@example.org"
		vendor  = "support@vendor.example"
		tickets = "tickets@vendor.example"
	)
	ctx := context.Background()

	// 1. The school's superuser gets the case.
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <`+ola+`>`, w.helpdesk,
		"Feil i e-håndbok", "sup-first@bryne.example.no", "", "E-håndboka viser feil versjon av rutinen."))
	w.waitMail(t, ola, 1)
	annaNotice := w.waitMail(t, anna, 1)
	n := mustCaseNumber(t, w.store)
	tag := fmt.Sprintf("[#%d]", n)
	caseNow := func() *store.Case {
		t.Helper()
		c, err := store.CaseByNumber(ctx, w.store.DB(), n)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// 2. She escalates it to the coordinator.
	w.answer(t, annaNotice, anna, "#escalate Dette må koordinator se på.", true)
	perNotice := w.waitMail(t, per, 1)
	if c := caseNow(); c.Assignee != "per" || c.Role != "coordinator" {
		t.Fatalf("after #escalate the case is %s's (%s), want per's", c.Assignee, c.Role)
	}

	// 3. The coordinator sends it to the supplier.
	w.answer(t, perNotice, per, "#supplier\nKan dere se på dette? Feil versjon etter siste oppdatering.", true)
	forward := w.waitMail(t, vendor, 1)
	if s := decodeHeader(forward.Header.Get("Subject")); !strings.HasPrefix(s, tag) {
		t.Errorf("the forward's subject %q does not carry our case tag %s", s, tag)
	}
	if body := decodeBody(t, forward); !strings.Contains(body, "siste oppdatering") || strings.Contains(body, ola) {
		t.Errorf("the forward lacks the note, or names the requester:\n%s", body)
	}

	// 4. The supplier stays silent: reminder 1, reminder 2, then the
	// coordinator is told.
	for i := 2; i <= 3; i++ {
		rem := w.waitMail(t, vendor, i)
		s := decodeHeader(rem.Header.Get("Subject"))
		if !strings.HasPrefix(s, tag) || !strings.Contains(s, "påminnelse") && !strings.Contains(s, "reminder") {
			t.Errorf("reminder %d: subject %q", i-1, s)
		}
		if body := decodeBody(t, rem); !strings.Contains(body, fmt.Sprintf("%d", i-1)) {
			t.Errorf("reminder %d does not count itself:\n%s", i-1, body)
		}
	}
	late := w.waitMail(t, per, 2)
	if body := decodeBody(t, late); !strings.Contains(body, "Qm+ vendor") || !strings.Contains(body, "2") {
		t.Errorf("the coordinator's late notice:\n%s", body)
	}
	if got := len(w.mailsTo(t, vendor)); got != 3 {
		t.Errorf("the supplier got %d mails, want the forward and 2 reminders", got)
	}
	if c := caseNow(); c.Status != store.StatusWaiting {
		t.Errorf("waiting on the supplier: status %s, want waiting (the service pauses its SLA)", c.Status)
	}
	var list bytes.Buffer
	if err := cmdCases(ctx, []string{"-config", w.cfgPath, "-open"}, &list, &list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), "waiting (on qm-vendor)") {
		t.Errorf("`casemail cases` does not show the case waiting on the supplier:\n%s", list.String())
	}
	m := scrape(t, run.httpAddr(t))
	if m[`casemail_supplier_waiting_cases{supplier="qm-vendor"}`] != 1 || m[`casemail_supplier_reminders{supplier="qm-vendor"}`] != 2 {
		t.Errorf("metrics: waiting %v, reminders %v; want 1 and 2", m[`casemail_supplier_waiting_cases{supplier="qm-vendor"}`],
			m[`casemail_supplier_reminders{supplier="qm-vendor"}`])
	}

	// 5. The supplier answers with their reference.
	w.answer(t, forward, "Qm Support <"+vendor+">", "Beklager sent svar. Vår referanse er INC0012345; vi ser på det.", true)
	answer := w.waitMail(t, per, 3)
	if body := decodeBody(t, answer); !strings.Contains(body, "INC0012345") || !strings.Contains(body, "Beklager") {
		t.Errorf("the coordinator's notice of the answer:\n%s", body)
	}
	waitFor(t, 30*time.Second, func() bool { return caseNow().Status == store.StatusOpen })

	// 6. Later their ticket system writes with only the reference.
	e2eSeq++
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("Qm Tickets <"+tickets+">", w.helpdesk, "INC0012345: løst i 4.2.1",
		"inc-solved@vendor.example", "", "Feilen er rettet i versjon 4.2.1."))
	solved := w.waitMail(t, per, 4)
	if body := decodeBody(t, solved); !strings.Contains(body, "4.2.1") {
		t.Errorf("the reference-only mail did not reach the coordinator:\n%s", body)
	}
	if got := countRows(t, w.store, `SELECT count(*) FROM cases`); got != 1 {
		t.Errorf("%d cases: the supplier's reference-only mail opened a case of its own", got)
	}

	// While open with the supplier, the report lists the case with their
	// reference, in every format.
	var out, errOut bytes.Buffer
	for _, format := range []string{"table", "csv", "json"} {
		out.Reset()
		if err := cmdReport(ctx, []string{"-config", w.cfgPath, "-since", "1d", "-format", format}, &out, &errOut); err != nil {
			t.Fatalf("report: %v %s", err, errOut.String())
		}
		want := map[string]string{"table": fmt.Sprintf("qm-vendor  #%d  INC0012345", n),
			"csv":  fmt.Sprintf("open_with_supplier,#%d,reference,INC0012345", n),
			"json": fmt.Sprintf(`"case": %d,`, n)}[format]
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "INC0012345") {
			t.Errorf("the %s report does not list case %d with their reference (%q):\n%s", format, n, want, out.String())
		}
	}

	// 7. The coordinator resolves the case.
	w.answer(t, perNotice, per, "#resolve Rettet av leverandøren i versjon 4.2.1.", true)
	resolved := w.waitMail(t, ola, 2)
	if body := decodeBody(t, resolved); !strings.Contains(body, "4.2.1") {
		t.Errorf("the requester's resolved mail:\n%s", body)
	}
	if got := len(w.mailsTo(t, ola)); got != 2 {
		t.Errorf("the requester got %d mails, want the acknowledgement and the resolution", got)
	}

	// 8. The report shows the supplier's figures, in JSON and as a table.
	out.Reset()
	if err := cmdReport(ctx, []string{"-config", w.cfgPath, "-since", "1d", "-format", "json"}, &out, &errOut); err != nil {
		t.Fatalf("report: %v %s", err, errOut.String())
	}
	var rep struct {
		Suppliers []struct {
			Supplier          string `json:"supplier"`
			Forwarded         int    `json:"forwarded"`
			Answered          int    `json:"answered"`
			MedianFirstAnswer *int64 `json:"median_first_answer_seconds"`
			OverContract      int    `json:"over_contract"`
			StillOpen         int    `json:"still_open"`
			Reminders         int    `json:"reminders"`
		} `json:"suppliers"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if len(rep.Suppliers) != 1 {
		t.Fatalf("report suppliers: %s", out.String())
	}
	s := rep.Suppliers[0]
	if s.Supplier != "qm-vendor" || s.Forwarded != 1 || s.Answered != 1 || s.OverContract != 1 || s.StillOpen != 0 ||
		s.Reminders != 2 || s.MedianFirstAnswer == nil || *s.MedianFirstAnswer < 3 {
		t.Errorf("the supplier's figures: %+v (median %v), want 1 forwarded, 1 answered after more than 3s, 1 over contract, "+
			"none open, 2 reminders", s, s.MedianFirstAnswer)
	}
	out.Reset()
	if err := cmdReport(ctx, []string{"-config", w.cfgPath, "-since", "1d"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "SUPPLIER") || !strings.Contains(out.String(), "qm-vendor") {
		t.Errorf("the table report lacks the supplier section:\n%s", out.String())
	}
	out.Reset()
	if err := cmdCase(ctx, []string{"-config", w.cfgPath, fmt.Sprint(n)}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"supplier qm-vendor (their reference INC0012345): answered", "supplier-reminder",
		"supplier-late", "supplier-answer", "threaded by supplier reference INC0012345"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("`casemail case %d` lacks %q:\n%s", n, want, out.String())
		}
	}
}
