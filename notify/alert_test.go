package notify

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAlertOncePerKey: the support manager gets one alert per key, however
// many instances (here: calls) notice the trouble, in their language.
func TestAlertOncePerKey(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	now := e.at(2026, 11, 23, 10, 0)
	c := e.openCase(now, "normal")
	for i := 0; i < 3; i++ {
		queued, err := e.m.Alert(ctx, e.st, e.rules, "delivery:42", AlertDelivery,
			[]string{"to: ola@bryne.example.no", "error: 550 mailbox unknown"}, c, now)
		if err != nil {
			t.Fatal(err)
		}
		if queued != (i == 0) {
			t.Errorf("call %d: queued = %v", i, queued)
		}
	}
	rows, err := e.st.Pool.Query(ctx, `SELECT to_addrs, subject, text_body FROM outbox WHERE kind = 'alert'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var to []string
		var subject, text string
		if err := rows.Scan(&to, &subject, &text); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.Contains(strings.Join(to, ","), "eva@example.org") {
			t.Errorf("alert to %v, want the support manager eva", to)
		}
		if !strings.Contains(text, "550 mailbox unknown") || !strings.Contains(text, "#"+itoa(c.Number)) {
			t.Errorf("alert text lacks the error or the case:\n%s", text)
		}
		if !strings.Contains(subject, "[casemail]") {
			t.Errorf("alert subject %q", subject)
		}
	}
	if n != 1 {
		t.Errorf("alert mails = %d, want 1", n)
	}
	// Another key is another alert.
	if queued, err := e.m.Alert(ctx, e.st, e.rules, "oauth2:imap:helpdesk:x", AlertOAuth2,
		[]string{"imap helpdesk: refresh failed"}, nil, now.Add(time.Hour)); err != nil || !queued {
		t.Errorf("a second key: queued %v, %v", queued, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRetargetSLAKeepsPauseCredit: #priority high moves the due time to the
// high target, keeping the hour already credited for a pause.
func TestRetargetSLAKeepsPauseCredit(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	created := e.at(2026, 11, 23, 9, 0) // Monday
	c := e.openCase(created, "normal")
	if got, want := *c.FirstResponseD, e.at(2026, 11, 23, 13, 0); !got.Equal(want) {
		t.Fatalf("normal first response due %v, want %v", got, want)
	}
	credited := e.at(2026, 11, 23, 14, 0) // an hour of #wait given back
	c.FirstResponseD = &credited
	c.Priority = "high"
	if err := RetargetSLA(ctx, e.st.Pool, e.rules, c, "normal"); err != nil {
		t.Fatal(err)
	}
	if got, want := *c.FirstResponseD, e.at(2026, 11, 23, 11, 0); !got.Equal(want) {
		t.Errorf("high first response due %v, want %v (1h target + 1h credit)", got.In(e.loc), want)
	}
	var stored time.Time
	if err := e.st.Pool.QueryRow(ctx, `SELECT first_response_due FROM cases WHERE id = $1`, c.ID).Scan(&stored); err != nil || !stored.Equal(*c.FirstResponseD) {
		t.Errorf("stored due %v (%v), want %v", stored, err, *c.FirstResponseD)
	}
}
