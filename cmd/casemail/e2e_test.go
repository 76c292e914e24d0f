package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/intake/dovecottest"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/smtptest"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// world is one end-to-end set-up: real Dovecot, real PostgreSQL, a
// recording SMTP server, and casemail's config files in a temp dir.
type world struct {
	dir      string
	cfgPath  string
	dbURL    string
	dovecot  *dovecottest.Server
	smtp     *smtptest.Server
	store    *store.Store
	helpdesk string
}

const helpdeskPassword = "helpdesk-secret"

func newWorld(t *testing.T) *world {
	t.Helper()
	if err := dovecottest.Available(); err != nil {
		testneed.Missing(t, "dovecot is needed for the end-to-end tests: %v", err)
	}
	w := &world{dir: t.TempDir(), helpdesk: "helpdesk@example.org"}
	w.dovecot = dovecottest.Start(t, dovecottest.User{Name: w.helpdesk, Password: helpdeskPassword})
	w.smtp = smtptest.Start(t)
	w.dbURL = storetest.URL(t)
	imapHost, imapPort, _ := splitHostPort(w.dovecot.Addr())
	smtpHost, smtpPort, _ := splitHostPort(w.smtp.Addr())
	write(t, filepath.Join(w.dir, "secret"), "0123456789abcdef0123456789abcdef-e2e-test-key\n")
	write(t, filepath.Join(w.dir, "imap-password"), helpdeskPassword+"\n")
	write(t, filepath.Join(w.dir, "rules.yaml"), e2eRules)
	w.cfgPath = filepath.Join(w.dir, "casemail.yaml")
	write(t, w.cfgPath, fmt.Sprintf(`database:
  url: ${E2E_DATABASE_URL}
timezone: Europe/Stockholm
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: %s
    imap:
      host: %s
      port: %d
      security: none
      username: %s
      password_file: imap-password
      folder: INBOX
      idle: true
      poll_interval: 1s
    defaults: {service: triage, language: sv}
    mine_address: mine@example.org
smtp:
  host: %s
  port: %d
  security: none
  from: "Helpdesk <%s>"
secret_file: secret
language: sv
http:
  listen: 127.0.0.1:0
`, w.helpdesk, imapHost, imapPort, w.helpdesk, smtpHost, smtpPort, w.helpdesk))
	t.Setenv("E2E_DATABASE_URL", w.dbURL)
	st, err := store.Open(context.Background(), w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	w.store = st
	return w
}

const e2eRules = `people:
  - {id: anna, name: Anna Berg, email: anna@example.org, language: nb}
  - {id: per, name: Per Dahl, email: per@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, language: nb, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  coordinator: {by_work_area: {schools: [per]}}
  system_responsible: {everyone: [eva]}
  central_support: {everyone: [eva, per], assign: round_robin}
suppliers:
  - {id: qm-vendor, name: Qm+ vendor, email: support@vendor.example}
services:
  - id: qm-handbook
    name: Qm+ e-handbok
    keywords: [e-håndbok, ehandbok]
    routine: https://intranet.example.org/routines/qm
    chain:
      - {tier: 1, role: superuser}
      - {tier: 2, role: coordinator}
      - {tier: 3, role: system_responsible}
      - {tier: external, supplier: qm-vendor}
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
default: {service: triage}
`

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// daemonRun is a running daemon that the test can stop.
type daemonRun struct {
	d      *daemon
	cancel context.CancelFunc
	done   chan error
}

func (w *world) start(t *testing.T) *daemonRun {
	t.Helper()
	return w.startWith(t, slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startWith runs the daemon in-process, logging to h, stopped when the
// test ends.
func (w *world) startWith(t *testing.T, h slog.Handler) *daemonRun {
	t.Helper()
	cfg, err := config.LoadDaemon(w.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := newDaemon(ctx, cfg, w.store, slog.New(h))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &daemonRun{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// httpAddr waits for the daemon's HTTP listener and returns its address.
func (r *daemonRun) httpAddr(t *testing.T) string {
	t.Helper()
	select {
	case addr := <-r.d.listening:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not listen")
		return ""
	}
}

func (r *daemonRun) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("daemon stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("daemon did not stop within 30s of cancel")
	}
}

// synced waits until every watcher has finished a pass after since.
func (r *daemonRun) synced(t *testing.T, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		all := true
		for _, wa := range r.d.watchers {
			if !wa.State().LastSync.After(since) {
				all = false
			}
		}
		if all {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("watchers did not complete a pass within 30s")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func rawMail(from, to, subject, msgID, extraHeaders, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n%sMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
		from, to, subject, msgID, time.Now().Format(time.RFC1123Z), extraHeaders, body))
}

func countRows(t testing.TB, st *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// recorded parses recorded SMTP mail and indexes it by envelope recipient.
func byRecipient(t *testing.T, msgs []smtptest.Message) map[string]*mail.Message {
	t.Helper()
	out := map[string]*mail.Message{}
	for _, m := range msgs {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("casemail sent an unparsable mail: %v\n%s", err, m.Data)
		}
		for _, rcpt := range m.To {
			out[strings.ToLower(rcpt)] = pm
		}
	}
	return out
}

// decodeBody reads a sent mail's text with casemail's own parser, which
// undoes the transfer encoding and picks the text part.
func decodeBody(t *testing.T, m *mail.Message) string {
	t.Helper()
	return decodeMail(t, m).Text
}

// decodeMail parses a mail casemail sent as intake would read it.
func decodeMail(t *testing.T, m *mail.Message) *mailparse.Message {
	t.Helper()
	var buf bytes.Buffer
	for name, vals := range m.Header {
		for _, v := range vals {
			fmt.Fprintf(&buf, "%s: %s\r\n", name, v)
		}
	}
	buf.WriteString("\r\n")
	if _, err := io.Copy(&buf, m.Body); err != nil {
		t.Fatal(err)
	}
	pm, err := mailparse.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("parsing a mail casemail sent: %v", err)
	}
	return pm
}

// TestEndToEnd: a mail delivered to the helpdesk mailbox in real Dovecot
// becomes one routed case; the requester's acknowledgement and the
// assignee's notice go out over SMTP with the headers DESIGN.md fixes; a
// reply with the case tag lands on the same case; a restart ingests nothing
// twice.
func TestEndToEnd(t *testing.T) {
	w := newWorld(t)
	run := w.start(t)

	origID := "first-question@bryne.example.no"
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <ola@bryne.example.no>`, w.helpdesk,
		"Hjelp med e-håndbok", origID, "", "Jeg finner ikke rutinen for avvik i e-håndbok."))

	sentRaw := w.smtp.Wait(t, 2, 60*time.Second)
	if os.Getenv("E2E_DUMP") != "" {
		for _, m := range sentRaw {
			t.Logf("sent to %v:\n%s", m.To, m.Data)
		}
	}
	sent := byRecipient(t, sentRaw)
	if n := countRows(t, w.store, `SELECT count(*) FROM cases`); n != 1 {
		t.Fatalf("cases = %d, want 1", n)
	}
	c, err := store.CaseByNumber(context.Background(), w.store.DB(), mustCaseNumber(t, w.store))
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != "qm-handbook" || c.Unit != "bryne" || c.Tier != "1" || c.Role != "superuser" || c.Assignee != "anna" {
		t.Errorf("routing: service=%s unit=%s tier=%s role=%s assignee=%s; want qm-handbook bryne 1 superuser anna",
			c.Service, c.Unit, c.Tier, c.Role, c.Assignee)
	}
	tag := fmt.Sprintf("[#%d]", c.Number)

	ack := sent["ola@bryne.example.no"]
	if ack == nil {
		t.Fatalf("no acknowledgement to the requester; sent to %v", keys(sent))
	}
	if s := decodeHeader(ack.Header.Get("Subject")); !strings.Contains(s, tag) {
		t.Errorf("ack subject %q lacks %s", s, tag)
	}
	if got := ack.Header.Get("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("ack Auto-Submitted = %q, want auto-replied", got)
	}
	ackID := strings.Trim(ack.Header.Get("Message-ID"), "<>")
	if ackID == "" || ackID == origID {
		t.Errorf("ack Message-ID = %q, want one of its own", ackID)
	}
	if !strings.Contains(ack.Header.Get("References"), "<"+origID+">") {
		t.Errorf("ack References = %q, want the original <%s>", ack.Header.Get("References"), origID)
	}
	if !strings.Contains(ack.Header.Get("In-Reply-To"), "<"+origID+">") {
		t.Errorf("ack In-Reply-To = %q", ack.Header.Get("In-Reply-To"))
	}
	tok, ok := notify.TokenFromMessageID(ackID)
	if !ok {
		t.Errorf("ack Message-ID %q carries no token", ackID)
	} else if _, err := run.d.keys.Verify(tok, "ola@bryne.example.no", time.Now()); err != nil {
		t.Errorf("ack Message-ID token does not verify for the requester: %v", err)
	}
	if rt := ack.Header.Get("Reply-To"); !strings.Contains(rt, "helpdesk+") {
		t.Errorf("ack Reply-To = %q, want the per-recipient reply address", rt)
	}

	notice := sent["anna@example.org"]
	if notice == nil {
		t.Fatalf("no assignment notice to anna; sent to %v", keys(sent))
	}
	for name, vals := range notice.Header {
		for _, v := range vals {
			if strings.Contains(strings.ToLower(v), "ola@bryne.example.no") {
				t.Errorf("the notice to an agent carries the requester's address in header %s: %q", name, v)
			}
		}
	}
	if s := decodeHeader(notice.Header.Get("Subject")); !strings.Contains(s, tag) {
		t.Errorf("notice subject %q lacks %s", s, tag)
	}
	if got := notice.Header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("notice Auto-Submitted = %q, want auto-generated", got)
	}
	nb := decodeBody(t, notice)
	// In anna's language, the routing trail too: the role by its Norwegian
	// name, the rule's keyword as it is.
	for _, want := range []string{fmt.Sprint(c.Number), "ola@bryne.example.no", "superbruker", "bryne", "e-håndbok",
		`tjeneste qm-handbook: nøkkelord — nøkkelordet "e-håndbok" i emnet`} {
		if !strings.Contains(nb, want) {
			t.Errorf("notice body lacks %q:\n%s", want, nb)
		}
	}

	// The requester replies with the tag in the subject (no token): it
	// lands on the same case because they are already on it.
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(`"Ola Nordmann" <ola@bryne.example.no>`, w.helpdesk,
		"Re: "+tag+" Hjelp med e-håndbok", "second@bryne.example.no", "", "Det gjelder skjemaet for avvik."))
	waitFor(t, 30*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM messages WHERE direction = 'in'`) == 2
	})
	if n := countRows(t, w.store, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'in'`, c.ID); n != 2 {
		t.Errorf("messages on case %d = %d, want 2", c.Number, n)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases after the reply = %d, want 1", n)
	}

	// A restart must not ingest anything twice, nor send anything again.
	waitFor(t, 30*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM outbox WHERE status <> 'sent'`) == 0
	})
	sentBefore := len(w.smtp.Messages())
	run.stop(t)
	run2 := w.start(t)
	run2.synced(t, time.Now())
	if n := countRows(t, w.store, `SELECT count(*) FROM messages WHERE direction = 'in'`); n != 2 {
		t.Errorf("incoming messages after restart = %d, want 2", n)
	}
	if n := countRows(t, w.store, `SELECT count(*) FROM cases`); n != 1 {
		t.Errorf("cases after restart = %d, want 1", n)
	}
	if n := len(w.smtp.Messages()); n != sentBefore {
		t.Errorf("mails sent after restart = %d, want still %d", n, sentBefore)
	}
}

func mustCaseNumber(t *testing.T, st *store.Store) int64 {
	t.Helper()
	var n int64
	if err := st.DB().QueryRow(context.Background(), `SELECT number FROM cases ORDER BY id LIMIT 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func keys(m map[string]*mail.Message) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v", timeout)
}

func decodeHeader(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}
