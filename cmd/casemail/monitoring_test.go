package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
	"github.com/casemail/casemail/notify"
)

const monitoringDir = "../../deploy/monitoring"

// TestAlertRules runs promtool on deploy/monitoring: the rules load, and
// alerts_test.yaml's cases (each alert fires on its trouble and not on a
// healthy set-up) pass.
func TestAlertRules(t *testing.T) {
	promtool := testneed.Tool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = monitoringDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestMonitoringMetricsExist runs a scripted session — a mail ingested,
// each scheduled job run, an OAuth2 mailbox without a sign-in — and
// checks that every metric the alert rules and the dashboard name is in
// /metrics, and that every job and mailbox has its series.
func TestMonitoringMetricsExist(t *testing.T) {
	w := newWorld(t)
	p := oauth2test.Start(t, oauth2test.Options{})
	w.edit(t, "\nsmtp:\n", `
  - name: m365
    address: m365@example.org
    imap:
      host: 127.0.0.1
      port: 1
      security: none
      username: m365@example.org
      oauth2: {provider: microsoft, tenant: example, client_id: casemail-test, token_url: "`+p.TokenURL+`", device_auth_url: "`+p.DeviceAuthURL+`"}
smtp:
`)
	run := w.start(t)
	addr := run.httpAddr(t)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("kari@school.example.com", w.helpdesk, "Projector", "<m1@school.example.com>", "", "broken"))
	waitFor(t, 30*time.Second, func() bool { return countRows(t, w.store, `SELECT count(*) FROM cases`) == 1 })
	jobs := []string{notify.JobSLACheck, notify.JobReminders, notify.JobDigest, notify.JobRetention}
	for _, j := range jobs {
		// The slot after the one the start recorded: due on every job.
		if _, err := run.d.scheduler.RunJob(context.Background(), j, time.Now().Add(8*24*time.Hour)); err != nil {
			t.Fatalf("job %s: %v", j, err)
		}
	}

	series := scrape(t, addr)
	names := map[string]bool{}
	for s := range series {
		names[strings.SplitN(s, "{", 2)[0]] = true
	}
	named := map[string][]string{} // metric → files naming it
	re := regexp.MustCompile(`\b(?:casemail|process|go)_[a-z0-9_]+`)
	for _, f := range []string{"alerts.yaml", "dashboard.json"} {
		b, err := os.ReadFile(filepath.Join(monitoringDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllString(string(b), -1) {
			named[m] = append(named[m], f)
		}
	}
	if len(named) < 20 {
		t.Fatalf("only %d metrics named in the rules and the dashboard", len(named))
	}
	var missing []string
	for m, files := range named {
		if !names[m] {
			missing = append(missing, m+" ("+strings.Join(dedupe(files), ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("named in deploy/monitoring but not in /metrics:\n  %s", strings.Join(missing, "\n  "))
	}

	for _, j := range jobs {
		for _, s := range []string{
			`casemail_job_last_success_timestamp_seconds{job="` + j + `"}`,
			`casemail_job_failing{job="` + j + `"}`,
			`casemail_job_failures_total{job="` + j + `"}`,
			`casemail_job_runs_total{job="` + j + `"}`,
			`casemail_job_duration_seconds_count{job="` + j + `"}`,
		} {
			if _, ok := series[s]; !ok {
				t.Errorf("no series %s", s)
			}
		}
		if n := series[`casemail_job_runs_total{job="`+j+`"}`]; n < 1 {
			t.Errorf("job %s: %v runs counted, want at least the one run here", j, n)
		}
		if n := series[`casemail_job_duration_seconds_count{job="`+j+`"}`]; n < 1 {
			t.Errorf("job %s: %v durations observed", j, n)
		}
		if last := series[`casemail_job_last_success_timestamp_seconds{job="`+j+`"}`]; last <= 0 {
			t.Errorf("job %s: last success %v", j, last)
		}
	}
	for _, mb := range []string{"helpdesk", "m365"} {
		for _, s := range []string{"casemail_imap_last_sync_timestamp_seconds", "casemail_imap_idling", "casemail_imap_backlog", "casemail_imap_connected"} {
			if _, ok := series[s+`{mailbox="`+mb+`"}`]; !ok {
				t.Errorf("no series %s for mailbox %s", s, mb)
			}
		}
	}
	if series[`casemail_imap_last_sync_timestamp_seconds{mailbox="helpdesk"}`] <= 0 {
		t.Error("helpdesk was fetched, but its last fetch is 0")
	}
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
