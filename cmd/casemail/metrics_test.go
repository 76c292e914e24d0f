package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/notify"
)

// startJSONLogged runs the world's daemon with a JSON log at debug level
// (the most it ever says) kept in buf.
func (w *world) startJSONLogged(t *testing.T, buf *syncBuffer) *daemonRun {
	t.Helper()
	return w.startWith(t, slog.NewJSONHandler(io.MultiWriter(buf, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// scrape fetches /metrics and returns each sample by its series, e.g.
// `casemail_cases{status="open",tier="2"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMetricsAndLogs runs a scripted session — a new case, a reply to it,
// an automatic mail, a mail that cannot be parsed, an outgoing mail the
// server refuses for good, a bad and a good rules reload, the retention
// job — then scrapes /metrics and finds the counts that session produced.
// The daemon logs as JSON at debug level throughout, and the log never
// holds the IMAP or SMTP password, a reply token, or a mail's text, while
// every ingested mail is logged with its mailbox and case number.
func TestMetricsAndLogs(t *testing.T) {
	w := newWorld(t)
	const (
		smtpPassword = "smtp-pw-5RQ8-never-logged"
		kariText     = "the blue projector in room B12 flickers every ten minutes"
		replyText    = "it also smells of burnt dust since this morning"
		alertText    = "filesystem /var on srv-backup-7 is 97 percent full"
		garbage      = "this is not a mail at all, just a stray line of text"
	)
	cfgText := strings.Replace(readFile(t, w.cfgPath), `  from: "Helpdesk <`,
		"  username: helpdesk@example.org\n  password: ${SMTP_PASSWORD}\n  from: \"Helpdesk <", 1)
	write(t, w.cfgPath, cfgText)
	t.Setenv("SMTP_PASSWORD", smtpPassword)

	var logs syncBuffer
	w.smtp.FailNext(1, 550) // the first mail casemail sends is refused for good
	run := w.startJSONLogged(t, &logs)
	d := run.d
	addr := run.httpAddr(t)

	kari := `"Kari Nordmann" <kari@school.example.com>`
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(kari, w.helpdesk, "Projector broken", "p1@school.example.com", "", kariText))
	var number int64
	waitFor(t, 30*time.Second, func() bool {
		err := w.store.DB().QueryRow(context.Background(), `SELECT number FROM cases WHERE requester = 'kari@school.example.com'`).Scan(&number)
		return err == nil
	})
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(kari, w.helpdesk, fmt.Sprintf("Re: [#%d] Projector broken", number),
		"p2@school.example.com", "", replyText))
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("monitor@alerts.example.net", w.helpdesk, "Disk almost full",
		"alert-1@alerts.example.net", "Auto-Submitted: auto-generated\r\n", alertText))
	w.dovecot.Append(t, w.helpdesk, "INBOX", []byte(garbage+"\r\n"))
	waitFor(t, 60*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM ingested WHERE outcome <> 'pending'`) == 4 &&
			countRows(t, w.store, `SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')`) == 0
	})

	// A bad rules file is refused (the last good rules stay), then fixed.
	rulesPath := filepath.Join(w.dir, "rules.yaml")
	write(t, rulesPath, e2eRules+"bogus_key: 1\n")
	d.reloadRules("test")
	if e, _ := d.rulesErr.Load().(string); e == "" {
		t.Fatal("a bad rules file was accepted")
	}
	write(t, rulesPath, e2eRules)
	d.reloadRules("test")

	if _, err := d.scheduler.RunJob(context.Background(), notify.JobRetention, time.Now()); err != nil {
		t.Fatal(err)
	}

	m := scrape(t, addr)
	cases := map[string]int{}
	rows, err := w.store.DB().Query(context.Background(), `SELECT status, tier, count(*) FROM cases GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var st, tier string
		var n int
		if err := rows.Scan(&st, &tier, &n); err != nil {
			t.Fatal(err)
		}
		cases[fmt.Sprintf(`casemail_cases{status=%q,tier=%q}`, st, tier)] = n
	}
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	want := map[string]float64{
		`casemail_mails_ingested_total{mailbox="helpdesk",outcome="case"}`:        2,
		`casemail_mails_ingested_total{mailbox="helpdesk",outcome="message"}`:     1,
		`casemail_mails_ingested_total{mailbox="helpdesk",outcome="quarantined"}`: 1,
		`casemail_mails_ingested_total{mailbox="helpdesk",outcome="duplicate"}`:   0,
		`casemail_mails_automatic_total{kind="generated",mailbox="helpdesk"}`:     1,
		`casemail_cases_automatic{status="open"}`:                                 1,
		`casemail_quarantine_unresolved`:                                          1,
		`casemail_outbox_mails{status="failed"}`:                                  1,
		`casemail_outbox_mails{status="pending"}`:                                 0,
		`casemail_outbox_oldest_unsent_seconds`:                                   0,
		`casemail_imap_connected{mailbox="helpdesk"}`:                             1,
		`casemail_mailbox_watched{mailbox="helpdesk"}`:                            1,
		`casemail_mailbox_takeovers_total`:                                        0,
		`casemail_imap_delivered_total{mailbox="helpdesk"}`:                       4,
		`casemail_rules_ok`:                     1,
		`casemail_database_up`:                  1,
		`casemail_job_failing{job="retention"}`: 0,
		`casemail_build_info{version="dev"}`:    1,
		`casemail_erasures`:                     0,
	}
	for k, n := range cases {
		want[k] = float64(n)
	}
	if cases[`casemail_cases{status="open",tier="2"}`] != 2 {
		t.Errorf("the session should have made two open tier-2 cases: %v", cases)
	}
	for series, v := range want {
		got, ok := m[series]
		if !ok {
			t.Errorf("/metrics lacks %s", series)
		} else if got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	for series, min := range map[string]float64{
		`casemail_rules_reloads_total{result="error"}`:                  1,
		`casemail_rules_reloads_total{result="ok"}`:                     1,
		`casemail_job_last_success_timestamp_seconds{job="retention"}`:  float64(time.Now().Add(-time.Hour).Unix()),
		`casemail_imap_last_sync_timestamp_seconds{mailbox="helpdesk"}`: float64(time.Now().Add(-time.Hour).Unix()),
		`go_goroutines`: 1,
	} {
		if m[series] < min {
			t.Errorf("%s = %v, want at least %v", series, m[series], min)
		}
	}

	// The log: what was ingested, with mailbox and case number; never a
	// secret, a token or a mail's text.
	sent := w.smtp.Messages()
	var tokens []string
	for _, s := range sent {
		if s.Username != "helpdesk@example.org" {
			t.Errorf("mail to %v sent without the SMTP login (username %q)", s.To, s.Username)
		}
		pm, err := mail.ReadMessage(strings.NewReader(string(s.Data)))
		if err != nil {
			t.Fatal(err)
		}
		if tok, ok := notify.TokenFromMessageID(strings.Trim(pm.Header.Get("Message-ID"), "<>")); ok {
			tokens = append(tokens, tok)
		}
		if rt, err := mail.ParseAddress(pm.Header.Get("Reply-To")); err == nil {
			if tok, ok := notify.TokenFromAddress(rt.Address, w.helpdesk); ok {
				tokens = append(tokens, tok)
			}
		}
	}
	// Also the tokens of mail that was never delivered (the refused one).
	orows, err := w.store.DB().Query(context.Background(), `SELECT message_id, reply_to FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for orows.Next() {
		var id, replyTo string
		if err := orows.Scan(&id, &replyTo); err != nil {
			t.Fatal(err)
		}
		if tok, ok := notify.TokenFromMessageID(id); ok {
			tokens = append(tokens, tok)
		}
		if rt, err := mail.ParseAddress(replyTo); err == nil {
			if tok, ok := notify.TokenFromAddress(rt.Address, w.helpdesk); ok {
				tokens = append(tokens, tok)
			}
		}
	}
	if len(tokens) == 0 {
		t.Fatal("no reply tokens in the mail sent: the check below would prove nothing")
	}
	run.stop(t)
	text := logs.String()
	forbidden := map[string]string{
		"the IMAP password": helpdeskPassword, "the SMTP password": smtpPassword,
		"the requester's text": kariText, "the reply's text": replyText, "the alert's text": alertText,
		"the unparsable mail": garbage,
	}
	for i, tok := range tokens {
		forbidden[fmt.Sprintf("reply token %d", i+1)] = tok
	}
	for what, s := range forbidden {
		if strings.Contains(text, s) {
			t.Errorf("the log contains %s (%q)", what, s)
		}
	}
	var ingested []map[string]any
	for _, line := range strings.Split(text, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "mail ingested" {
			ingested = append(ingested, rec)
		}
	}
	if len(ingested) != 4 {
		t.Fatalf("%d `mail ingested` log records, want 4", len(ingested))
	}
	withCase := 0
	for _, rec := range ingested {
		if rec["mailbox"] != "helpdesk" {
			t.Errorf("log record without mailbox: %v", rec)
		}
		if c, _ := rec["case"].(float64); int64(c) == number {
			withCase++
		}
	}
	if withCase != 2 {
		t.Errorf("%d log records name case %d, want 2 (the mail and the reply)", withCase, number)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
