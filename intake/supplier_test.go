package intake

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/store"
)

// supplierRules: a supplier with its own domain and reference pattern, a
// base contract, and a variant for Bryne skole under which users go
// straight to the supplier (S2), written to another address of theirs.
const supplierRules = `calendars:
  kontor:
    timezone: Europe/Oslo
    holidays: "no"
    hours: {mon-fri: "08:00-16:00"}
people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
  - {id: sandnes, name: Sandnes skole, work_area: schools, domains: [sandnes.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna], sandnes: [anna]}}
  coordinator: {by_work_area: {schools: [per]}}
  system_responsible: {everyone: [eva]}
suppliers:
  - id: qm-vendor
    name: Qm vendor
    email: support@vendor.example
    domains: [vendor.example]
    reference: '(?i)\bINC\d{6,}\b'
    contracts:
      - {id: qm-standard, calendar: kontor, response: 4h, resolution: 3d}
      - {id: qm-bryne, units: [bryne], services: [qm-handbook], direct: true, email: bryne@vendor.example, response: 2h}
services:
  - id: qm-handbook
    name: Qm+ e-handbook
    keywords: [e-håndbok]
    chain:
      - {tier: 1, role: superuser}
      - {tier: 2, role: coordinator}
      - {tier: 3, role: system_responsible}
      - {tier: external, supplier: qm-vendor}
    sla: {calendar: kontor, first_response: 4h, resolution: 3d, pause_for_supplier: true}
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: system_responsible}]
default: {service: triage}
`

// openSandnes opens a qm-handbook case from Sandnes (base contract: it
// starts with the superuser) and has anna forward it with #supplier.
func openSandnes(t *testing.T, e *procEnv) (int64, store.OutboxRow) {
	t.Helper()
	r := e.mailFrom(t, "Siri <siri@sandnes.example.no>", "helpdesk@example.org", "Feil i e-håndbok", "", "Siden laster ikke.")
	if r.Outcome != OutcomeCase {
		t.Fatalf("first mail: %v", r)
	}
	n := r.CaseNumber
	if c := e.caseOf(t, n); c.Assignee != "anna" || c.Supplier != "" {
		t.Fatalf("a Sandnes case starts with %q (supplier %q), want anna on rung 1", c.Assignee, c.Supplier)
	}
	e.answer(t, e.notice(t, n, anna), anna, "#supplier\nKan dere se på dette?", "")
	fw := e.sent(t, n, "forward", vendor)
	if len(fw) != 1 {
		t.Fatalf("forwards: %v", e.kinds(t, n))
	}
	return n, fw[0]
}

func (e *procEnv) forward(t *testing.T, n int64) *store.SupplierForward {
	t.Helper()
	f, err := store.LatestForward(context.Background(), e.st.DB(), e.caseOf(t, n).ID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSupplierReferenceThreads: the supplier's answer carries their
// reference, which is stored, shown to the owner, and from then on threads
// their mail that carries only it — from their own domain, never from
// anyone else who quotes it.
func TestSupplierReferenceThreads(t *testing.T) {
	e := newProcWith(t, supplierRules)
	n, fw := openSandnes(t, e)
	if !strings.HasPrefix(fw.Subject, fmt.Sprintf("[#%d] ", n)) {
		t.Errorf("the forward's subject %q does not carry our case tag", fw.Subject)
	}
	if c := e.caseOf(t, n); c.Status != store.StatusWaiting {
		t.Errorf("forwarded: status %s, want waiting (the service pauses its SLA for the supplier)", c.Status)
	}
	if f := e.forward(t, n); !f.Waiting() || f.ResponseDue == nil || f.Contract != "qm-standard" {
		t.Fatalf("the forward: %+v", f)
	}

	// Their first answer stops their clock; it has no reference yet.
	e.answer(t, fw, "Qm Support <"+vendor+">", "Vi har registrert saken.", "")
	f := e.forward(t, n)
	if f.AnsweredAt == nil || f.Reference != "" {
		t.Errorf("after a plain answer: answered %v, reference %q", f.AnsweredAt, f.Reference)
	}
	// Their next mail carries their reference (their system adds it).
	e.mailFrom(t, "Qm Support <"+vendor+">", fw.ReplyTo, "Re: "+fw.Subject+" [INC0012345]", "", "Saken har fått nummer INC0012345.")
	f = e.forward(t, n)
	if f.AnsweredAt == nil || f.NextCheckAt != nil {
		t.Errorf("the supplier's answer did not stop their clock: %+v", f)
	}
	if f.Reference != "INC0012345" {
		t.Errorf("reference %q, want INC0012345", f.Reference)
	}
	if c := e.caseOf(t, n); c.Status != store.StatusOpen {
		t.Errorf("after the supplier's answer: status %s, want open (the SLA resumes)", c.Status)
	}
	ans := e.sent(t, n, "supplier_answer", anna)
	if len(ans) == 0 || !strings.Contains(ans[len(ans)-1].Text, "INC0012345") {
		t.Errorf("the owner's notice does not show the supplier's reference")
	}

	// Later, their system writes anew: only their reference, no tag, no
	// References, from another address of their domain.
	r := e.mailFrom(t, "Qm Ticketing <tickets@vendor.example>", "helpdesk@example.org", "INC0012345: løst i versjon 4.2", "",
		"Saken er løst.")
	if r.Outcome != OutcomeMessage || r.CaseNumber != n {
		t.Fatalf("the supplier's mail with their reference only: %v, want a message on case %d", r, n)
	}
	if k := e.messageKind(t, n); k != "supplier" {
		t.Errorf("stored as %s, want supplier", k)
	}
	// From the supplier's own (authenticated) address it is theirs: anna's
	// notice does not call it unverified.
	ans = e.sent(t, n, "supplier_answer", anna)
	if last := ans[len(ans)-1].Text; !strings.Contains(last, "Saken er løst.") || strings.Contains(last, "OVERIFIERAT") {
		t.Errorf("anna's notice of the supplier's mail:\n%s", last)
	}

	// The attack: a stranger who learnt the reference writes with it. It
	// must open a case of its own, never land on the supplier's case.
	before := e.count(t, `SELECT count(*) FROM messages WHERE case_id = $1`, e.caseOf(t, n).ID)
	r = e.mailFrom(t, "Mallory <mallory@vendor-example.attacker>", "helpdesk@example.org", "INC0012345: løst i versjon 4.2", "",
		"Saken er løst. Send passordet til meg.")
	if r.Outcome != OutcomeCase || r.CaseNumber == n {
		t.Errorf("a stranger's mail with the supplier's reference: %v, want a new case", r)
	}
	r = e.mailFrom(t, "Mallory <support@vendor.example.attacker>", "helpdesk@example.org", "Re: INC0012345", "", "hei")
	if r.Outcome != OutcomeCase || r.CaseNumber == n {
		t.Errorf("a look-alike domain with the supplier's reference: %v, want a new case", r)
	}
	if after := e.count(t, `SELECT count(*) FROM messages WHERE case_id = $1`, e.caseOf(t, n).ID); after != before {
		t.Errorf("the supplier's case gained %d messages from strangers", after-before)
	}
}

// TestSupplierRefCommand: #supplier-ref records the reference by hand (a
// supplier who answers by phone); their mail with it then threads, and a
// wrong reference corrected no longer does.
func TestSupplierRefCommand(t *testing.T) {
	e := newProcWith(t, supplierRules)
	n, _ := openSandnes(t, e)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "#supplier-ref INC0099999", "")
	if f := e.forward(t, n); f.Reference != "INC0099999" {
		t.Fatalf("reference %q after #supplier-ref", f.Reference)
	}
	e.answer(t, notice, anna, "#supplier-ref INC0011111", "")
	if f := e.forward(t, n); f.Reference != "INC0011111" {
		t.Fatalf("reference %q after the correction", f.Reference)
	}
	if r := e.mailFrom(t, vendor, "helpdesk@example.org", "Status INC0011111", "", "Vi ser på det."); r.CaseNumber != n {
		t.Errorf("the corrected reference does not thread: %v", r)
	}
	if r := e.mailFrom(t, vendor, "helpdesk@example.org", "Status INC0099999", "", "Feil nummer."); r.CaseNumber == n {
		t.Errorf("the replaced reference still threads to the case")
	}
	// #supplier-ref on a case never forwarded is refused.
	r := e.mailFrom(t, "Ola <ola@bryne.example.no>", "helpdesk@example.org", "Spørsmål", "", "Hei")
	e.answer(t, e.notice(t, r.CaseNumber, eva), eva, "#supplier-ref INC0022222", "")
	if got := e.sent(t, r.CaseNumber, "error", eva); len(got) != 1 || !strings.Contains(got[0].Text, "aldrig skickats till en leverantör") { // eva reads Swedish
		t.Errorf("#supplier-ref on a case never forwarded: %v", e.kinds(t, r.CaseNumber))
	}
}

// TestSupplierDirectUnitVariant (S2): Bryne's variant of the contract sends
// qm-handbook cases straight to the supplier, at the variant's address:
// the case starts on the external rung, its owner of record is the
// coordinator, the requester is told the supplier handles it, and the
// supplier's clock runs. Sandnes, under the base contract, starts with
// its superuser.
func TestSupplierDirectUnitVariant(t *testing.T) {
	e := newProcWith(t, supplierRules)
	r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", "Feil i e-håndbok", "", "Siden laster ikke.")
	if r.Outcome != OutcomeCase {
		t.Fatalf("mail: %v", r)
	}
	n := r.CaseNumber
	c := e.caseOf(t, n)
	if c.Tier != "external" || c.Supplier != "qm-vendor" || c.Role != "coordinator" || c.Assignee != "per" {
		t.Fatalf("a Bryne qm-handbook case: tier %q supplier %q role %q assignee %q; want external, qm-vendor, coordinator, per",
			c.Tier, c.Supplier, c.Role, c.Assignee)
	}
	if got := e.sent(t, n, "forward", "bryne@vendor.example"); len(got) != 1 {
		t.Errorf("the variant's address got %d forwards (%v)", len(got), e.kinds(t, n))
	}
	if got := e.sent(t, n, "assignment", per); len(got) != 1 {
		t.Errorf("the coordinator got %d assignment notices", len(got))
	}
	ack := e.sent(t, n, "ack", ola)
	if len(ack) != 1 || !strings.Contains(ack[0].Text, "Qm vendor") {
		t.Errorf("the acknowledgement does not say the supplier handles it: %v", ack)
	}
	f := e.forward(t, n)
	if f.Contract != "qm-bryne" || f.ResponseDue == nil || f.ResponseDue.Sub(f.ForwardedAt) > 2*24*60*60*1e9 {
		t.Errorf("the forward: contract %q, due %v", f.Contract, f.ResponseDue)
	}
	var ev int
	if err := e.st.DB().QueryRow(context.Background(), `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'routed'
		AND data->>'trail' LIKE '%straight to the supplier%'`, c.ID).Scan(&ev); err != nil {
		t.Fatal(err)
	}
	if ev != 1 {
		t.Errorf("the routed event does not say why the case went straight to the supplier")
	}
	// Sandnes: the base contract is not direct.
	r = e.mailFrom(t, "Siri <siri@sandnes.example.no>", "helpdesk@example.org", "Feil i e-håndbok", "", "Siden laster ikke.")
	if c := e.caseOf(t, r.CaseNumber); c.Supplier != "" || c.Assignee != "anna" {
		t.Errorf("a Sandnes case went to %q/%q, want anna on rung 1", c.Supplier, c.Assignee)
	}
}

// TestSupplierForgedAnswerChangesNothing: a mail in the supplier's name
// whose sender authentication failed (the receiving server's trusted
// Authentication-Results say DMARC failed) reaches the owner as unverified
// but neither stops the supplier's clock nor plants a reference that
// would later thread the forger's mail to the case.
func TestSupplierForgedAnswerChangesNothing(t *testing.T) {
	e := newProcWith(t, supplierRules)
	e.p.Senders = senderauth.New(senderauth.Options{AuthservIDs: []string{"mx.example.org"}})
	n, fw := openSandnes(t, e)
	e.mailFrom(t, "Qm Support <"+vendor+">", fw.ReplyTo, "Re: "+fw.Subject+" INC0066666",
		"Authentication-Results: mx.example.org; dmarc=fail header.from=vendor.example\n", "Løst, lukk saken.")
	f := e.forward(t, n)
	if f.AnsweredAt != nil || f.Reference != "" || !f.Waiting() {
		t.Errorf("a forged answer changed the supplier's clock: answered %v, reference %q", f.AnsweredAt, f.Reference)
	}
	if c := e.caseOf(t, n); c.Status != store.StatusWaiting {
		t.Errorf("a forged answer ended the wait: status %s", c.Status)
	}
	// The owner sees it, marked unverified, with why, in Swedish.
	if got := e.sent(t, n, "supplier_answer", anna); len(got) != 1 {
		t.Errorf("the owner was not shown the unverified mail (%v)", e.kinds(t, n))
	} else if !strings.Contains(got[0].Text, "OVERIFIERAT: brevets avsändare kunde inte verifieras (avsändarens autentisering "+
		"misslyckades: DMARC underkänd för vendor.example)") {
		t.Errorf("the owner's notice does not mark the forged answer:\n%s", got[0].Text)
	} else if w := langtest.English(got[0].Text); len(w) > 0 {
		t.Errorf("English %q in the owner's notice:\n%s", w, got[0].Text)
	}
	r := e.mailFrom(t, "Qm Support <"+vendor+">", "helpdesk@example.org", "INC0066666", "", "hei")
	if r.CaseNumber == n {
		t.Errorf("the forged reference threads to the case")
	}
}

// TestSupplierTicketSystemReceipt: the supplier's ticket system answers
// the forward automatically with their reference. casemail keeps the
// reference (their later mail with it threads) but a receipt is no answer:
// the clock keeps running and the owner is not bothered.
func TestSupplierTicketSystemReceipt(t *testing.T) {
	e := newProcWith(t, supplierRules)
	n, fw := openSandnes(t, e)
	e.answer(t, fw, "Qm Ticketing <tickets@vendor.example>", "We have registered your request as INC0054321.",
		"Auto-Submitted: auto-replied\n")
	f := e.forward(t, n)
	if f.Reference != "INC0054321" {
		t.Errorf("the receipt's reference was not kept: %q", f.Reference)
	}
	if f.AnsweredAt != nil || !f.Waiting() {
		t.Errorf("an automatic receipt stopped the supplier's clock")
	}
	if got := e.sent(t, n, "supplier_answer", anna); len(got) != 0 {
		t.Errorf("the owner was told of an automatic receipt")
	}
	if r := e.mailFrom(t, "Qm Support <"+vendor+">", "helpdesk@example.org", "Update INC0054321", "", "Fixed."); r.CaseNumber != n {
		t.Errorf("their mail with the receipt's reference does not thread: %v", r)
	}
	if f := e.forward(t, n); f.AnsweredAt == nil {
		t.Errorf("their real answer did not stop the clock")
	}
}
