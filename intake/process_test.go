package intake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
	"github.com/casemail/casemail/store/testdb"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const procDaemon = `database: {url: "postgres://unused"}
timezone: Europe/Stockholm
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap: {host: 127.0.0.1, port: 1143, security: none, username: helpdesk@example.org, password: x}
    defaults: {service: triage, language: sv}
    max_message_size: 64KB
    mine_address: mine@example.org
  - name: qm
    address: qm@example.org
    imap: {host: 127.0.0.1, port: 1143, security: none, username: qm@example.org, password: x}
    trusted_lists: [staff.example.org]
smtp: {host: 127.0.0.1, port: 1025, security: none, from: "Helpdesk <helpdesk@example.org>"}
secret_file: secret
ack_limit_per_hour: 3
`

const procRules = `people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  central_support: {everyone: [eva, per]}
services:
  - id: qm-handbook
    name: Qm+ e-handbook
    keywords: [e-håndbok]
    addresses: [qm@example.org]
    chain: [{tier: 1, role: superuser}, {tier: 2, role: central_support}]
  - id: passwords
    name: Passwords
    chain: [{tier: 2, role: central_support}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
rules:
  - name: passwords are central
    when: {subject: {matches: "(?i)password|lösenord"}}
    then: {service: passwords, stop: true}
  - name: spam
    when: {subject: {contains: "WIN A PRIZE"}}
    then: {drop: "spam"}
default: {service: triage}
`

type procEnv struct {
	p    *Processor
	st   *store.Store
	keys *notify.Keys
	uid  map[string]uint32
	now  time.Time
}

func newProc(t *testing.T) *procEnv {
	t.Helper()
	return newProcWith(t, procRules)
}

// newProcWith is a Processor on a fresh database with these rules.
func newProcWith(t *testing.T, rulesYAML string) *procEnv {
	t.Helper()
	cfg, err := config.ParseDaemon("casemail.yaml", []byte(procDaemon), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseRules("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := testdb.Open(t)
	keys, err := notify.NewKeys([]byte("0123456789abcdef0123456789abcdef-process-test"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	e := &procEnv{st: st, keys: keys, uid: map[string]uint32{}, now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	e.p = &Processor{Store: st, Config: cfg, Rules: func() *config.Rules { return rules }, Keys: keys,
		Templates: tmpl, Now: func() time.Time { return e.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return e
}

// deliver hands one raw mail to the processor as the next UID of mailbox.
func (e *procEnv) deliver(t *testing.T, mailbox string, raw string) Result {
	t.Helper()
	e.uid[mailbox]++
	return e.deliverUID(t, mailbox, e.uid[mailbox], raw)
}

func (e *procEnv) deliverUID(t *testing.T, mailbox string, uid uint32, raw string) Result {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	res, err := e.p.Process(context.Background(), Delivery{Mailbox: mailbox, UIDValidity: 7, UID: uid,
		Raw: []byte(raw), Size: int64(len(raw))})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *procEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.st.DB().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *procEnv) caseOf(t *testing.T, number int64) *store.Case {
	t.Helper()
	c, err := store.CaseByNumber(context.Background(), e.st.DB(), number)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// outbox lists the queued mails of a case as kind→recipient.
func (e *procEnv) outbox(t *testing.T, number int64) map[string][]string {
	t.Helper()
	rows, err := store.CaseOutbox(context.Background(), e.st.DB(), e.caseOf(t, number).ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		for _, to := range r.To {
			a, err := mail.ParseAddress(to)
			if err != nil {
				t.Fatalf("outbox row %d: To %q: %v", r.ID, to, err)
			}
			out[r.Kind] = append(out[r.Kind], a.Address)
		}
	}
	return out
}

func mailText(from, to, subject, msgID, extra, body string) string {
	return fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s>\nDate: Mon, 23 Nov 2026 09:00:00 +0100\n%sContent-Type: text/plain; charset=utf-8\n\n%s\n",
		from, to, subject, msgID, extra, body)
}

func TestProcessNewCaseRoutedAndAcknowledged(t *testing.T) {
	e := newProc(t)
	res := e.deliver(t, "helpdesk", mailText("Ola <ola@bryne.example.no>", "helpdesk@example.org",
		"Spørsmål om e-håndbok", "a1@bryne.example.no", "Cc: Kari <kari@bryne.example.no>\n", "Hvor er rutinen?"))
	if res.Outcome != OutcomeCase {
		t.Fatalf("outcome %s, want case", res.Outcome)
	}
	c := e.caseOf(t, res.CaseNumber)
	if c.Service != "qm-handbook" || c.Unit != "bryne" || c.Assignee != "anna" || c.Status != "open" {
		t.Errorf("case = service %s unit %s assignee %s status %s", c.Service, c.Unit, c.Assignee, c.Status)
	}
	ob := e.outbox(t, res.CaseNumber)
	if fmt.Sprint(ob["ack"]) != "[ola@bryne.example.no]" || fmt.Sprint(ob["assignment"]) != "[anna@example.org]" {
		t.Errorf("outbox = %v, want ack to ola and assignment to anna", ob)
	}
	ps, err := store.Participants(context.Background(), e.st.DB(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]store.Party{}
	for _, p := range ps {
		kinds[p.Address] = p.Kind
	}
	if kinds["ola@bryne.example.no"] != "requester" || kinds["kari@bryne.example.no"] != "cc" || kinds["anna@example.org"] != "agent" {
		t.Errorf("participants = %v", kinds)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND kind IN ('created', 'routed', 'assigned')`, c.ID); n != 3 {
		t.Errorf("created/routed/assigned events = %d, want 3", n)
	}
	var cursor int64
	if err := e.st.DB().QueryRow(context.Background(), `SELECT last_uid FROM imap_cursors WHERE mailbox = 'helpdesk'`).Scan(&cursor); err != nil || cursor != 1 {
		t.Errorf("cursor = %d (%v), want 1", cursor, err)
	}
}

func TestProcessSameUIDTwiceIsSkipped(t *testing.T) {
	e := newProc(t)
	raw := mailText("ola@bryne.example.no", "helpdesk@example.org", "Hei", "x1@b", "", "text")
	if r := e.deliverUID(t, "helpdesk", 5, raw); r.Outcome != OutcomeCase {
		t.Fatalf("first: %s", r.Outcome)
	}
	if r := e.deliverUID(t, "helpdesk", 5, raw); r.Outcome != OutcomeSkipped {
		t.Fatalf("second delivery of the same UID: %s, want skipped", r.Outcome)
	}
	if n := e.count(t, `SELECT count(*) FROM messages`); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
}

func TestProcessSameMailInTwoMailboxesIsOneCase(t *testing.T) {
	e := newProc(t)
	raw := mailText("ola@bryne.example.no", "helpdesk@example.org, qm@example.org", "Begge", "both@b", "", "same body")
	r1 := e.deliver(t, "helpdesk", "Delivered-To: helpdesk@example.org\n"+raw)
	r2 := e.deliver(t, "qm", "Delivered-To: qm@example.org\n"+raw)
	if r1.Outcome != OutcomeCase || r2.Outcome != OutcomeDuplicate || r1.CaseNumber != r2.CaseNumber {
		t.Fatalf("outcomes %v / %v, want one case and a duplicate of it", r1, r2)
	}
	// Two different mails sharing a Message-ID stay two.
	r3 := e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "Begge", "both@b", "", "another body"))
	if r3.Outcome == OutcomeDuplicate {
		t.Fatalf("a different mail with the same Message-ID was taken as a duplicate")
	}
	if n := e.count(t, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 2 {
		t.Errorf("incoming messages = %d, want 2", n)
	}
}

func TestProcessThreading(t *testing.T) {
	e := newProc(t)
	first := e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "Skrivaren", "t1@b", "", "trasig"))
	c := e.caseOf(t, first.CaseNumber)
	tag := fmt.Sprintf("[#%d]", c.Number)

	// References to the requester's own first mail.
	r := e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "Re: Skrivaren", "t2@b",
		"In-Reply-To: <t1@b>\nReferences: <t1@b>\n", "mer info"))
	if r.Outcome != OutcomeMessage || r.CaseNumber != c.Number {
		t.Errorf("reply by References: %v", r)
	}
	// The reply token in the address, from the person it was made for.
	tok := e.keys.Sign(c.Number, "ola@bryne.example.no", e.now.Add(time.Hour))
	r = e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", notify.ReplyAddress("helpdesk@example.org", tok),
		"ny tråd", "t3@b", "", "via token"))
	if r.Outcome != OutcomeMessage || r.CaseNumber != c.Number {
		t.Errorf("reply by token: %v", r)
	}
	// The tag from someone on the case threads; from a stranger it opens a
	// new case linked to the tagged one.
	r = e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "SV: "+tag+" Skrivaren", "t4@b", "", "tag"))
	if r.Outcome != OutcomeMessage || r.CaseNumber != c.Number {
		t.Errorf("tag from the requester: %v", r)
	}
	r = e.deliver(t, "helpdesk", mailText("mallory@evil.example", "helpdesk@example.org", "Re: "+tag+" Skrivaren", "t5@e", "", "#close"))
	if r.Outcome != OutcomeCase || r.CaseNumber == c.Number {
		t.Fatalf("tag from a stranger: %v, want a new case", r)
	}
	nc := e.caseOf(t, r.CaseNumber)
	if nc.LinkedCaseID == nil || *nc.LinkedCaseID != c.ID {
		t.Errorf("the stranger's case is not linked to #%d", c.Number)
	}
	// A token made for someone else does not thread (nor prove anything).
	stolen := e.keys.Sign(c.Number, "ola@bryne.example.no", e.now.Add(time.Hour))
	r = e.deliver(t, "helpdesk", mailText("mallory@evil.example", notify.ReplyAddress("helpdesk@example.org", stolen),
		"hijack", "t6@e", "", "x"))
	if r.Outcome != OutcomeCase || r.CaseNumber == c.Number {
		t.Errorf("a token for another sender threaded: %v", r)
	}
	if n := e.count(t, `SELECT count(*) FROM messages WHERE case_id = $1`, c.ID); n != 4 {
		t.Errorf("messages on the case = %d, want 4", n)
	}
}

func TestProcessAutomaticMailIsNeverAcknowledged(t *testing.T) {
	e := newProc(t)
	r := e.deliver(t, "helpdesk", mailText("monitor@example.org", "helpdesk@example.org", "Disk full on srv1", "m1@x",
		"Auto-Submitted: auto-generated\n", "disk / is 99% full"))
	if r.Outcome != OutcomeCase {
		t.Fatalf("outcome %v", r)
	}
	c := e.caseOf(t, r.CaseNumber)
	if !c.Automatic || c.Status == "dropped" {
		t.Errorf("monitoring alert: automatic=%v status=%s, want an automatic live case", c.Automatic, c.Status)
	}
	ob := e.outbox(t, r.CaseNumber)
	if len(ob["ack"]) != 0 {
		t.Errorf("automatic mail was acknowledged: %v", ob)
	}
	// Our own mail coming back (our deployment's identity in the loop
	// header) is dropped, not routed to anyone.
	r = e.deliver(t, "helpdesk", mailText("helpdesk@example.org", "helpdesk@example.org", "loop", "m2@x",
		"Auto-Submitted: auto-replied\nX-Casemail-Loop: "+e.p.Keys.LoopID()+"\n", "x"))
	if c := e.caseOf(t, r.CaseNumber); c.Status != "dropped" {
		t.Errorf("our own mail: status %s, want dropped", c.Status)
	}
	// Another casemail deployment's mail is automatic mail: a live case,
	// never acknowledged (two helpdesks must not answer each other).
	otherKeys, err := notify.NewKeys([]byte("another-deployment-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r = e.deliver(t, "helpdesk", mailText("helpdesk@partner.example", "helpdesk@example.org", "[#7] Your printer", "m3@x",
		"Auto-Submitted: auto-replied\nX-Casemail-Loop: "+otherKeys.LoopID()+"\n", "We received your mail."))
	if c := e.caseOf(t, r.CaseNumber); r.Outcome != OutcomeCase || c.Status == "dropped" || !c.Automatic {
		t.Errorf("another deployment's mail: outcome %v status %s automatic %v, want a live automatic case", r.Outcome, c.Status, c.Automatic)
	}
	if ob := e.outbox(t, r.CaseNumber); len(ob["ack"]) != 0 {
		t.Errorf("another deployment's mail was acknowledged: %v", ob)
	}
	// List mail from an untrusted list is kept but dropped; from a trusted
	// list (of that mailbox) it opens a live case.
	r = e.deliver(t, "helpdesk", mailText("news@lists.example", "helpdesk@example.org", "Newsletter", "l1@x",
		"List-Id: <news.lists.example>\n", "x"))
	if c := e.caseOf(t, r.CaseNumber); c.Status != "dropped" {
		t.Errorf("untrusted list mail: status %s, want dropped", c.Status)
	}
	r = e.deliver(t, "qm", mailText("staff@example.org", "qm@example.org", "Staff question", "l2@x",
		"List-Id: Staff <staff.example.org>\n", "x"))
	if c := e.caseOf(t, r.CaseNumber); c.Status == "dropped" {
		t.Errorf("trusted list mail was dropped")
	}
}

func TestProcessDropRule(t *testing.T) {
	e := newProc(t)
	r := e.deliver(t, "helpdesk", mailText("spam@spam.example", "helpdesk@example.org", "WIN A PRIZE now", "s1@x", "", "x"))
	c := e.caseOf(t, r.CaseNumber)
	if c.Status != "dropped" {
		t.Fatalf("status %s, want dropped", c.Status)
	}
	if ob := e.outbox(t, r.CaseNumber); len(ob) != 0 {
		t.Errorf("a dropped case queued mail: %v", ob)
	}
}

func TestProcessAckLimitPerSender(t *testing.T) {
	e := newProc(t)
	acks := 0
	for i := 0; i < 5; i++ {
		r := e.deliver(t, "helpdesk", mailText("loopy@example.net", "helpdesk@example.org", fmt.Sprintf("q%d", i),
			fmt.Sprintf("q%d@x", i), "", "x"))
		acks += len(e.outbox(t, r.CaseNumber)["ack"])
	}
	if acks != 3 {
		t.Errorf("acknowledgements = %d, want ack_limit_per_hour = 3", acks)
	}
	e.now = e.now.Add(61 * time.Minute)
	r := e.deliver(t, "helpdesk", mailText("loopy@example.net", "helpdesk@example.org", "later", "later@x", "", "x"))
	if n := len(e.outbox(t, r.CaseNumber)["ack"]); n != 1 {
		t.Errorf("an hour later: %d acks, want 1", n)
	}
}

func TestProcessQuarantineAndRetry(t *testing.T) {
	e := newProc(t)
	r := e.deliver(t, "helpdesk", "\x00\x01\x02 this is not a mail at all")
	if r.Outcome != OutcomeQuarantined || r.Quarantine == 0 {
		t.Fatalf("garbage: %v, want quarantined", r)
	}
	// The mailbox moves on: the next mail is ingested.
	if r2 := e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "ok", "ok@b", "", "x")); r2.Outcome != OutcomeCase {
		t.Fatalf("mail after the quarantined one: %v", r2)
	}
	q, err := e.st.GetQuarantine(context.Background(), r.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q.Reason, "unparsable") || len(q.Raw) == 0 {
		t.Errorf("quarantine record: reason %q, %d raw bytes", q.Reason, len(q.Raw))
	}
	res, err := e.p.Retry(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeQuarantined {
		t.Errorf("retry of garbage: %v, want still quarantined", res)
	}
}

func TestProcessOversizedMail(t *testing.T) {
	e := newProc(t)
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB > 64KB
	raw := "From: ola@bryne.example.no\nTo: helpdesk@example.org\nSubject: big\nMessage-ID: <big@b>\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nsee attached\n" +
		"--XX\nContent-Type: application/octet-stream; name=\"data.bin\"\nContent-Disposition: attachment; filename=\"data.bin\"\n\n" +
		big + "\n--XX--\n"
	r := e.deliver(t, "helpdesk", raw)
	if r.Outcome != OutcomeCase {
		t.Fatalf("oversized: %v", r)
	}
	c := e.caseOf(t, r.CaseNumber)
	if n := e.count(t, `SELECT count(*) FROM events WHERE case_id = $1 AND data::text LIKE '%over this mailbox''s limit%'`, c.ID); n != 1 {
		t.Errorf("no event notes the size limit")
	}
	if n := e.count(t, `SELECT count(*) FROM blobs`); n != 0 {
		t.Errorf("an attachment of an oversized mail was kept (%d blobs)", n)
	}
	// The requester is told, in the acknowledgement, what was not kept.
	var text string
	if err := e.st.DB().QueryRow(context.Background(), `SELECT text_body FROM outbox WHERE case_id = $1 AND kind = 'ack'`,
		c.ID).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "64KB") || !strings.Contains(text, "bilagorna") {
		t.Errorf("the acknowledgement does not tell the requester about the size limit:\n%s", text)
	}
}

// dsn is a delivery status notification for a mail we sent with msgID.
func dsn(msgID, rcpt string) string {
	return "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: helpdesk@example.org\n" +
		"Subject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn-" + rcpt + "@mx.example.net>\n" +
		"Auto-Submitted: auto-replied\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n" +
		"Content-Type: text/plain\n\nThis is the mail system. Your message could not be delivered to " + rcpt + ".\n" +
		"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n" +
		"Final-Recipient: rfc822; " + rcpt + "\nAction: failed\nStatus: 5.1.1\n" +
		"--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <" + msgID + ">\nTo: " + rcpt + "\nSubject: x\n--B--\n"
}

// TestProcessBounceShownToOwner: a bounce of the acknowledgement is shown
// to the case's assignee; a bounce of the assignee's own notice is only
// recorded (telling them would bounce again).
func TestProcessBounceShownToOwner(t *testing.T) {
	e := newProc(t)
	r := e.deliver(t, "helpdesk", mailText("Ola <ola@bryne.example.no>", "helpdesk@example.org",
		"Spørsmål om e-håndbok", "b1@bryne.example.no", "", "Hvor er rutinen?"))
	c := e.caseOf(t, r.CaseNumber)
	rows, err := store.CaseOutbox(context.Background(), e.st.DB(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, row := range rows {
		ids[row.Kind] = row.MessageID
	}
	b := e.deliver(t, "helpdesk", dsn(ids["ack"], "ola@bryne.example.no"))
	if b.Outcome != OutcomeMessage || b.CaseNumber != c.Number {
		t.Fatalf("bounce of the ack: %+v, want a message on case %d", b, c.Number)
	}
	if got := e.outbox(t, c.Number)["bounce_notice"]; fmt.Sprint(got) != "[anna@example.org]" {
		t.Errorf("bounce notices = %v, want one to the assignee anna", got)
	}
	e.deliver(t, "helpdesk", dsn(ids["assignment"], "anna@example.org"))
	if got := e.outbox(t, c.Number)["bounce_notice"]; len(got) != 1 {
		t.Errorf("a bounce of anna's own notice was mailed to anna: %v", got)
	}
	if ack := e.outbox(t, c.Number)["ack"]; len(ack) != 1 {
		t.Errorf("a bounce was acknowledged: %v", ack)
	}
}

// TestProcessNewCaseGetsSLADueTimes: a new case carries its service's due
// times from the moment it is stored, counted in business time.
func TestProcessNewCaseGetsSLADueTimes(t *testing.T) {
	e := newProc(t)
	data, err := os.ReadFile("../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseRules("rules.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	e.p.Rules = func() *config.Rules { return rules }
	loc, _ := time.LoadLocation("Europe/Stockholm")
	e.now = time.Date(2026, 11, 20, 15, 0, 0, 0, loc) // a Friday, 15:00
	r := e.deliver(t, "helpdesk", mailText("ola@bryne.example.no", "helpdesk@example.org", "e-håndbok", "sla1@b", "", "x"))
	c := e.caseOf(t, r.CaseNumber)
	want := time.Date(2026, 11, 23, 10, 30, 0, 0, loc) // 4 business hours: Monday 10:30
	if c.FirstResponseD == nil || !c.FirstResponseD.Equal(want) {
		t.Errorf("first response due %v, want %v", c.FirstResponseD, want)
	}
	if c.ResolutionDue == nil || !c.ResolutionDue.Equal(time.Date(2026, 11, 25, 15, 0, 0, 0, loc)) {
		t.Errorf("resolution due %v, want Wednesday 15:00 (3 business days)", c.ResolutionDue)
	}
}
