package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// replayRulesOld are the rules the cases were routed under; routing's
// Replay test uses the same file.
var replayRulesOld = func() string {
	b, err := os.ReadFile("../../routing/testdata/replay-rules.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

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
