package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/casemail/casemail/config"
)

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

// `rules explain` shows S2's direct path and the contract that holds: a
// LIMS mail from chemistry goes straight to the supplier under
// chemistry's variant; the same from physics starts with central support
// under the base contract.
func TestRulesExplainSupplierContract(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ from, rung, contract string }{
		{"kemist@kemi.example.se", "2 of 2: tier external, supplier lims-vendor", "supplier lims-vendor: contract lims-kemi (services lims; units kemi): response 4h, resolution 5d on calendar office; reminders every 1d, at most 3; reference \\bLS-\\d+\\b; to support@labsys.example; users go straight to the supplier"},
		{"fysiker@fysik.example.se", "1 of 2: tier 2, role central_support", "supplier lims-vendor: contract lims-standard (base): response 8h"},
	} {
		path := filepath.Join(dir, "lims.eml")
		write(t, path, "From: "+tc.from+"\r\nTo: helpdesk@example.org\r\nSubject: LIMS visar fel prov\r\nMessage-ID: <l@x>\r\n\r\nHej\r\n")
		stdout, stderr, code := runCLI(t, "rules", "explain", "-config", exampleConfig, "-at", "2026-11-24 10:00", path)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"rung:      " + tc.rung, tc.contract} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.from, want, stdout)
			}
		}
	}
}
