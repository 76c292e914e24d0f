package notify

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/testdb"
)

// TestAlertOncePerKey: the support manager gets one alert per key, however
// many instances (here: calls) notice the trouble, in their language.
func TestAlertOncePerKey(t *testing.T) {
	e := newAlertEnv(t)
	ctx := context.Background()
	now := e.at(2026, 11, 23, 10, 0)
	c := e.openCase(now)
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
	rows, err := e.st.DB().Query(ctx, `SELECT to_addrs, subject, text_body FROM outbox WHERE kind = 'alert'`)
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

type alertEnv struct {
	t     *testing.T
	st    *store.Store
	rules *config.Rules
	m     *Mailer
}

// newAlertEnv is a database, DESIGN.md's rules (eva is the support
// manager) and a Mailer.
func newAlertEnv(t *testing.T) *alertEnv {
	t.Helper()
	st, _ := testdb.Open(t)
	data, err := os.ReadFile("../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &alertEnv{t: t, st: st}
	if e.rules, err = config.ParseRules("rules.yaml", data); err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Daemon{Language: "sv", TokenTTL: config.Duration(90 * 24 * time.Hour)}
	cfg.SMTP.From = "Helpdesk <helpdesk@example.org>"
	cfg.Mailboxes = []config.Mailbox{{Name: "helpdesk", Address: "helpdesk@example.org"}}
	e.m = &Mailer{Config: cfg, Keys: keys, Templates: tm}
	return e
}

func (e *alertEnv) at(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

// openCase opens a case from Bryne skole (whose support manager is eva).
func (e *alertEnv) openCase(created time.Time) *store.Case {
	e.t.Helper()
	c, err := store.CreateCase(context.Background(), e.st.DB(), store.NewCase{Status: "open",
		Subject: "Handboken visar fel version", Requester: "ola@bryne.example.no", Mailbox: "helpdesk",
		Service: "qm-handbook", Unit: "bryne", CreatedAt: created})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
