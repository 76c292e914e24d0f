package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// corpusDir returns a source of the mail corpus the parser keeps in the
// repository; a missing one fails the test, never skips it.
func corpusDir(t *testing.T, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "intake", "mailparse", "testdata", "corpus", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("corpus %s missing from the repository: %v", dir, err)
	}
	return dir
}

// `rules explain` on each Nordic corpus mail, against the example rules on
// a Tuesday morning: where it goes, and a line for every rule considered.
func TestRulesExplainNordicCorpus(t *testing.T) {
	dir := corpusDir(t, "nordic")
	rules, err := config.LoadRules("../../deploy/examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ service, unit, rung, assignee, stopAt string }{
		// "Automatisk svar" is no out-of-office subject the rule knows: the
		// reply is routed (and, being automatic, never acknowledged).
		"nb-out-of-office.eml":                  {"triage (Central triage)", "(none)", "1 of 2: tier 2, role central_support", "lars (first)", ""},
		"nb-utf8-html-only.eml":                 {"qm-handbook (Qm+ e-handbook)", "bryne, work area schools", "1 of 4: tier 1, role superuser", "anna (only)", ""},
		"sv-latin1-qp.eml":                      {"passwords (Passwords and accounts)", "(none)", "1 of 1: tier 2, role central_support", "lars (first)", "password problems are central"},
		"sv-reply-outlook-quote.eml":            {"passwords (Passwords and accounts)", "(none)", "1 of 1: tier 2, role central_support", "lars (first)", "password problems are central"},
		"sv-win1252-alternative-attachment.eml": {"triage (Central triage)", "(none)", "1 of 2: tier 2, role central_support", "lars (first)", ""},
	}
	mails, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(mails) == 0 {
		t.Fatalf("no mails in %s: %v", dir, err)
	}
	ruleLine := regexp.MustCompile(`(?m)^  rule ("(?:[^"\\]|\\.)*"): (matched|no match|stop) — \S.*$`)
	for _, path := range mails {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("a corpus mail this test does not know: add its expected routing")
			}
			stdout, stderr, code := runCLI(t, "rules", "explain", "-config", exampleConfig, "-at", "2026-11-24 10:00", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, line := range []string{
				"arrived:  2026-11-24 10:00 CET (Tue)",
				"service:   " + w.service, "unit:      " + w.unit, "rung:      " + w.rung, "assignee:  " + w.assignee,
			} {
				if !strings.Contains(stdout, line+"\n") {
					t.Errorf("output lacks %q:\n%s", line, stdout)
				}
			}
			// Each rule considered has its line, in file order; a stop rule
			// ends them and counts the rest.
			var named []string
			for _, m := range ruleLine.FindAllStringSubmatch(stdout, -1) {
				n, err := strconv.Unquote(m[1])
				if err != nil {
					t.Fatal(err)
				}
				if m[2] != "stop" {
					named = append(named, n)
				}
			}
			var considered []string
			for _, r := range rules.Rules {
				considered = append(considered, r.Name)
				if r.Name == w.stopAt {
					break
				}
			}
			if strings.Join(named, "|") != strings.Join(considered, "|") {
				t.Errorf("rules named %q, want %q:\n%s", named, considered, stdout)
			}
			if w.stopAt != "" {
				stop := fmt.Sprintf("  rule %q: stop — stop: true; %d later rule(s) not considered\n", w.stopAt, len(rules.Rules)-len(considered))
				if !strings.Contains(stdout, stop) {
					t.Errorf("output lacks %q:\n%s", stop, stdout)
				}
			}
			for _, kind := range []string{"unit", "service", "rung", "assignee"} {
				if !regexp.MustCompile(`(?m)^  ` + kind + `\b[^:]*: \S+.*$`).MatchString(stdout) {
					t.Errorf("no %s step in:\n%s", kind, stdout)
				}
			}
			if strings.Contains(stdout, "did not match (") {
				t.Errorf("rules explain summarised instead of listing every rule:\n%s", stdout)
			}
		})
	}
}

// The time a mail is routed at decides business-hours conditions.
func TestRulesExplainAt(t *testing.T) {
	dir := t.TempDir()
	mail := filepath.Join(dir, "urgent.eml")
	write(t, mail, "From: ola@bryne.example.no\r\nTo: helpdesk@example.org\r\nSubject: Akut: skjemaet er borte\r\nMessage-ID: <u1@bryne.example.no>\r\n\r\nHjelp.\r\n")
	day, _, _ := runCLI(t, "rules", "explain", "-config", exampleConfig, "-at", "2026-11-24 10:00", mail)
	night, _, _ := runCLI(t, "rules", "explain", "-config", exampleConfig, "-at", "2026-11-24T22:00:00+01:00", mail)
	if !strings.Contains(day, "priority:  normal\n") || !strings.Contains(day, `rule "urgent outside office hours": no match — received within business hours of office, which the rule excludes`) {
		t.Errorf("by day:\n%s", day)
	}
	if !strings.Contains(night, "priority:  urgent\n") || !strings.Contains(night, "tags:      after-hours\n") ||
		!strings.Contains(night, `rule "urgent outside office hours": matched`) {
		t.Errorf("by night:\n%s", night)
	}
	if _, stderr, code := runCLI(t, "rules", "explain", "-config", exampleConfig, "-at", "tuesday", mail); code == 0 || !strings.Contains(stderr, "-at") {
		t.Errorf("a bad -at: exit %d, %s", code, stderr)
	}
}

const replayRulesOld = `calendars:
  office:
    timezone: Europe/Stockholm
    holidays: se
    hours: {mon-fri: "08:00-16:30"}
people:
  - {id: anna, name: Anna Berg, email: anna@example.org}
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
  - {id: nils, name: Nils Berg, email: nils@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [anna]}}
  central_support: {everyone: [eva, per]}
  network_experts: {everyone: [nils]}
services:
  - id: passwords
    name: Passwords
    chain: [{tier: 2, role: central_support}]
  - id: network
    name: Network
    chain: [{tier: 2, role: central_support}, {tier: 3, role: network_experts}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
rules:
  - name: passwords are central
    when: {subject: {matches: "(?i)password|lösenord"}}
    then: {service: passwords, stop: true}
  - name: vpn after hours
    when: {subject: {contains: vpn}, not: {business_hours: office}}
    then: {priority: high}
default: {service: triage}
`

// replayRulesNew changes one rule (VPN mail after hours now goes to the
// network experts) and adds a drop rule for newsletters.
var replayRulesNew = strings.Replace(strings.Replace(replayRulesOld,
	"    then: {priority: high}\n",
	"    then: {priority: high, service: network, tier: 3}\n", 1),
	"default: {service: triage}\n",
	"  - name: newsletters are dropped\n    when: {from_domain: news.example.com}\n    then: {drop: newsletter}\ndefault: {service: triage}\n", 1)

// `rules replay` lists exactly the cases a changed rule moves, routed as
// of their arrival time, with the rule responsible.
func TestRulesReplay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := storetest.URL(t)
	t.Setenv("REPLAY_DATABASE_URL", dbURL)
	write(t, filepath.Join(dir, "secret"), "0123456789abcdef0123456789abcdef-replay-test\n")
	write(t, filepath.Join(dir, "rules.yaml"), replayRulesOld)
	cfgPath := filepath.Join(dir, "casemail.yaml")
	write(t, cfgPath, `database: {url: "${REPLAY_DATABASE_URL}"}
timezone: Europe/Stockholm
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap: {host: 127.0.0.1, port: 1143, security: none, username: helpdesk@example.org, password: x}
    defaults: {service: triage, language: sv}
smtp: {host: 127.0.0.1, port: 1025, security: none, from: "Helpdesk <helpdesk@example.org>"}
secret_file: secret
`)
	cfg, err := config.LoadDaemon(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.LoadRules(cfg.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := notify.LoadKeys(cfg.SecretFile)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	p := &intake.Processor{Store: st, Config: cfg, Rules: func() *config.Rules { return rules }, Keys: keys,
		Templates: tmpl, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	sthlm := cfg.Location
	tuesday := func(h int) time.Time { return time.Date(2026, 3, 10, h, 0, 0, 0, sthlm) }
	mails := []struct {
		key, from, subject string
		at                 time.Time
	}{
		{"vpn-day", "ola@bryne.example.no", "VPN virker ikke", tuesday(10)},
		{"vpn-night", "ola@bryne.example.no", "VPN virker ikke", tuesday(20)},
		{"vpn-saturday", "kari@example.se", "vpn down", time.Date(2026, 3, 14, 11, 0, 0, 0, sthlm)},
		{"vpn-password", "kari@example.se", "VPN password expired", tuesday(20)},
		{"plain-night", "ola@bryne.example.no", "Skjemaet er borte", tuesday(21)},
		{"newsletter", "info@news.example.com", "Our March newsletter", tuesday(11)},
		{"escalated", "kari@example.se", "Printer jam", tuesday(12)},
	}
	number := map[string]int64{}
	for i, m := range mails {
		now = m.at
		raw := fmt.Sprintf("From: %s\r\nTo: helpdesk@example.org\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\nDate: %s\r\n\r\nHello.\r\n",
			m.from, m.subject, m.key, m.at.Format(time.RFC1123Z))
		res, err := p.Process(ctx, intake.Delivery{Mailbox: "helpdesk", UIDValidity: 1, UID: uint32(i + 1), Raw: []byte(raw), Size: int64(len(raw))})
		if err != nil || res.Outcome != intake.OutcomeCase {
			t.Fatalf("%s: %+v, %v", m.key, res, err)
		}
		number[m.key] = res.CaseNumber
	}
	// Escalation since then changes the case's rung, not its original decision.
	if _, err := st.DB().Exec(ctx, `UPDATE cases SET tier = '3', rung = 2, role = 'network_experts' WHERE number = $1`, number["escalated"]); err != nil {
		t.Fatal(err)
	}

	// The rules in force change nothing.
	same := filepath.Join(dir, "same.yaml")
	write(t, same, replayRulesOld)
	stdout, stderr, code := runCLI(t, "rules", "replay", "-config", cfgPath, "-since", "36500d", same)
	if code != 0 || !strings.HasSuffix(stdout, "0 of 7 cases would be routed differently\n") {
		t.Fatalf("replay under the same rules: exit %d\n%s%s", code, stdout, stderr)
	}

	changed := filepath.Join(dir, "new.yaml")
	write(t, changed, replayRulesNew)
	stdout, stderr, code = runCLI(t, "rules", "replay", changed, "-since", "36500d", "-config", cfgPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		if strings.HasPrefix(line, "#") {
			got = append(got, strings.Join(strings.Fields(line), " "))
		}
	}
	vpn := `rule "vpn after hours"`
	var want []string
	for _, key := range []string{"vpn-night", "vpn-saturday"} {
		at := "2026-03-10 20:00"
		if key == "vpn-saturday" {
			at = "2026-03-14 11:00"
		}
		want = append(want,
			fmt.Sprintf("#%d %s service triage network %s", number[key], at, vpn),
			fmt.Sprintf("#%d %s tier 2 3 %s", number[key], at, vpn),
			fmt.Sprintf("#%d %s role central_support network_experts %s", number[key], at, vpn))
	}
	want = append(want, fmt.Sprintf(`#%d 2026-03-10 11:00 dropped no yes (newsletter) rule "newsletters are dropped"`, number["newsletter"]))
	if !sameSet(got, want) {
		t.Errorf("replay rows:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stdout)
	}
	if !strings.HasSuffix(stdout, "3 of 7 cases would be routed differently\n") {
		t.Errorf("summary:\n%s", stdout)
	}

	// A rule that no longer applies is named as the one responsible.
	removed := filepath.Join(dir, "removed.yaml")
	write(t, removed, strings.Replace(replayRulesOld, `"(?i)password|lösenord"`, `"(?i)lösenord"`, 1))
	stdout, _, _ = runCLI(t, "rules", "replay", "-config", cfgPath, "-since", "36500d", removed)
	wantRow := fmt.Sprintf(`#%d 2026-03-10 20:00 service passwords triage rule "passwords are central" no longer applies`, number["vpn-password"])
	if !strings.Contains(strings.Join(strings.Fields(stdout), " "), wantRow) || !strings.HasSuffix(stdout, "1 of 7 cases would be routed differently\n") {
		t.Errorf("replay after narrowing a rule lacks %q:\n%s", wantRow, stdout)
	}

	// A broken file is refused with its position.
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, strings.Replace(replayRulesNew, "service: network, tier: 3", "service: netwrk, tier: 3", 1))
	_, stderr, code = runCLI(t, "rules", "replay", "-config", cfgPath, bad)
	if code != 1 || !regexp.MustCompile(`bad\.yaml:\d+:\d+: .*netwrk`).MatchString(stderr) {
		t.Errorf("broken file: exit %d, stderr %q", code, stderr)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
