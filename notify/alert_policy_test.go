package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// alertMails lists the alerts in the outbox as "subject\ntext", oldest first.
func alertMails(t *testing.T, e *alertEnv) []string {
	t.Helper()
	rows, err := e.st.DB().Query(context.Background(), `SELECT subject, text_body FROM outbox WHERE kind = 'alert' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var subject, text string
		if err := rows.Scan(&subject, &text); err != nil {
			t.Fatal(err)
		}
		out = append(out, subject+"\n"+text)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A mail that failed for good is told to the support manager once, however
// many instances see it fail, with the case it belonged to; a failed alert
// is never told, so alerts cannot loop.
func TestAlerterDeliveryFailed(t *testing.T) {
	e := newAlertEnv(t)
	ctx := context.Background()
	now := e.at(2026, 11, 23, 10, 0)
	c := e.openCase(now)
	wakes := 0
	a := &Alerter{Mailer: e.m, Store: e.st, Rules: func() *config.Rules { return e.rules }, Log: testLogger(t),
		Wake: func() { wakes++ }, Now: func() time.Time { return now }}

	a.DeliveryFailed(ctx, store.OutboxRow{ID: 7, OutMail: store.OutMail{Kind: KindAlert, To: []string{"eva@example.org"}}}, "550 no such user")
	if got := alertMails(t, e); len(got) != 0 {
		t.Fatalf("a failed alert caused alerts: %q", got)
	}

	failed := store.OutboxRow{ID: 42, OutMail: store.OutMail{Kind: KindAck, CaseID: c.ID,
		To: []string{"ola@bryne.example.no"}, Cc: []string{"kari@bryne.example.no"}}}
	for range 3 {
		a.DeliveryFailed(ctx, failed, "550 mailbox unknown")
	}
	got := alertMails(t, e)
	if len(got) != 1 {
		t.Fatalf("%d alerts for one failed mail, want 1: %q", len(got), got)
	}
	for _, want := range []string{"kind: ack", "to: ola@bryne.example.no, kari@bryne.example.no", "error: 550 mailbox unknown", "#" + itoa(c.Number)} {
		if !strings.Contains(got[0], want) {
			t.Errorf("alert lacks %q:\n%s", want, got[0])
		}
	}
	if wakes == 0 {
		t.Error("the sender was not woken for the alert")
	}
	// Another failed mail is another alert.
	a.DeliveryFailed(ctx, store.OutboxRow{ID: 43, OutMail: store.OutMail{Kind: KindReply, To: []string{"x@example.org"}}}, "552 too big")
	if got := alertMails(t, e); len(got) != 2 || !strings.Contains(got[1], "552 too big") {
		t.Errorf("second failed mail: %q", got)
	}
}

// An OAuth2 outage is told once per outage: a failing sign-in, then the
// same outage seen again (by this or another instance) is silent, a stale
// token is its own alert, a healthy state none, and a new outage after a
// good refresh a new alert.
func TestAlerterSignInChanged(t *testing.T) {
	e := newAlertEnv(t)
	a := &Alerter{Mailer: e.m, Store: e.st, Rules: func() *config.Rules { return e.rules }, Log: testLogger(t)}
	good := e.at(2026, 11, 23, 8, 0)
	failing := SignIn{Purpose: store.OAuth2IMAP, Name: "helpdesk", LastRefresh: good,
		LastError: "refresh failed: invalid_grant; run casemail oauth2 login helpdesk"}

	a.SignInChanged(SignIn{Purpose: store.OAuth2IMAP, Name: "helpdesk", OK: true, LastRefresh: good})
	if got := alertMails(t, e); len(got) != 0 {
		t.Fatalf("a healthy state caused alerts: %q", got)
	}
	a.SignInChanged(failing)
	a.SignInChanged(failing)
	got := alertMails(t, e)
	if len(got) != 1 || !strings.Contains(got[0], "helpdesk: refresh failed: invalid_grant") {
		t.Fatalf("one outage: %q", got)
	}
	stale := SignIn{Purpose: store.OAuth2SMTP, Name: "smtp", OK: true, Stale: true, LastRefresh: good,
		Warning: "the access token expired 2h ago and has not been refreshed"}
	a.SignInChanged(stale)
	a.SignInChanged(stale)
	if got = alertMails(t, e); len(got) != 2 || !strings.Contains(got[1], "smtp: the access token expired 2h ago") {
		t.Fatalf("stale token: %q", got)
	}
	failing.LastRefresh = good.Add(3 * time.Hour)
	a.SignInChanged(failing)
	if got = alertMails(t, e); len(got) != 3 {
		t.Errorf("a new outage after a good refresh: %d alerts, want 3", len(got))
	}
}
