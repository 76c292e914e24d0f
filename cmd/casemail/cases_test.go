package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// TestCasesFilters: `casemail cases` selects by assignee, service, unit,
// status, requester and full text over subjects and messages; times show
// the configured zone and "due" names its deadline.
func TestCasesFilters(t *testing.T) {
	ctx := context.Background()
	st := cliStore(t)
	now := time.Now()
	due := now.Add(3 * time.Hour)
	mk := func(n store.NewCase, text string) *store.Case {
		t.Helper()
		n.Mailbox, n.CreatedAt = "helpdesk", now
		c, err := store.CreateCase(ctx, st.DB(), n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.AddMessage(ctx, st.DB(), store.NewMessage{CaseID: c.ID, Direction: "in", Kind: store.PartyRequester,
			Mailbox: "helpdesk", From: n.Requester, Subject: n.Subject, Text: text, NewText: text, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk(store.NewCase{Status: "open", Subject: "Skrivaren fungerar inte", Requester: "ola@bryne.example.no", RequesterName: "Ola Nordmann",
		Service: "printing", Unit: "bryne", Assignee: "anna", FirstResponseDue: &due}, "Det kommer bara tomma papper ur skrivaren.")
	b := mk(store.NewCase{Status: "resolved", Subject: "Lösenord", Requester: "kari@example.net", Service: "passwords",
		Assignee: "per"}, "Kontot er låst etter tre forsøk med feil passord.")
	numbers := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := runCLI(t, append([]string{"cases", "-config", exampleConfig, "-json"}, args...)...)
		if code != 0 {
			t.Fatalf("cases %v: exit %d: %s", args, code, stderr)
		}
		var out []struct{ Number int64 }
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, c := range out {
			ns = append(ns, itoa(int(c.Number)))
		}
		return strings.Join(ns, ",")
	}
	na, nb := itoa(int(a.Number)), itoa(int(b.Number))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, nb + "," + na},
		{[]string{"-assignee", "anna"}, na},
		{[]string{"-service", "passwords"}, nb},
		{[]string{"-unit", "bryne"}, na},
		{[]string{"-status", "resolved"}, nb},
		{[]string{"-open"}, na},
		{[]string{"-requester", "NORDMANN"}, na},
		{[]string{"-requester", "kari@"}, nb},
		{[]string{"-text", "tomma papper"}, na},              // words of a message
		{[]string{"-text", "skrivaren"}, na},                 // the subject
		{[]string{"-text", `"feil passord"`}, nb},            // a phrase
		{[]string{"-text", "kontot -skrivaren"}, nb},         // a word left out
		{[]string{"-text", "printer"}, ""},                   // nowhere
		{[]string{"-assignee", "anna", "-service", "x"}, ""}, // filters combine
	} {
		if got := numbers(tc.args...); got != tc.want {
			t.Errorf("cases %v = [%s], want [%s]", tc.args, got, tc.want)
		}
	}
	stdout, _, _ := runCLI(t, "cases", "-config", exampleConfig, "-assignee", "anna")
	if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST) \(first response\)`).MatchString(stdout) {
		t.Errorf("the due column lacks the zone or the deadline's name:\n%s", stdout)
	}
	if _, stderr, code := runCLI(t, "cases", "-config", exampleConfig, "-status", "solved"); code == 0 || !strings.Contains(stderr, "-status") {
		t.Errorf("a bad -status: exit %d, %q", code, stderr)
	}
}
