package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Alerter is the alert policy: which operational trouble is worth a mail
// to the support manager, and under which key, so that each trouble is
// told once across all instances. The daemon hands its methods to the
// parts that notice the trouble (Sender.OnFailure, an OAuth2 manager's
// OnChange).
type Alerter struct {
	Mailer *Mailer
	Store  *store.Store
	Rules  func() *config.Rules
	Log    *slog.Logger
	// Wake, when set, asks the sender to send the queued alert now.
	Wake func()
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (a *Alerter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Alerter) wake() {
	if a.Wake != nil {
		a.Wake()
	}
}

// DeliveryFailed is Sender.OnFailure: it tells the support manager that a
// mail failed for good, naming the case it belonged to. A failed alert
// causes no other.
func (a *Alerter) DeliveryFailed(ctx context.Context, row store.OutboxRow, reason string) {
	if row.Kind == KindAlert {
		return // an alert that cannot be delivered must not cause another
	}
	var c *store.Case
	if row.CaseID != 0 {
		c, _ = store.CaseByID(ctx, a.Store.DB(), row.CaseID)
	}
	details := []string{"kind: " + row.Kind, "to: " + strings.Join(append(append([]string{}, row.To...), row.Cc...), ", "),
		"error: " + reason}
	if _, err := a.Mailer.Alert(ctx, a.Store, a.Rules(), fmt.Sprintf("delivery:%d", row.ID),
		AlertDelivery, details, c, a.now()); err != nil {
		a.Log.Error("could not alert the support manager of a failed mail", "outbox_id", row.ID, "error", err)
	}
	a.wake()
}

// SignIn is the health of one OAuth2 sign-in, as the alert policy needs it
// (the daemon copies it from intake/oauth2's State, which notify cannot
// import: oauth2's tests send through notify).
type SignIn struct {
	Purpose, Name string // store.OAuth2IMAP and the mailbox, or store.OAuth2SMTP and "smtp"
	OK, Stale     bool
	// LastError says why it fails (not OK); Warning why it is stale.
	LastError, Warning string
	// LastRefresh is the last good refresh: one outage, one alert.
	LastRefresh time.Time
}

// SignInChanged is called when a sign-in's health changes: it tells the
// support manager, once per outage across all instances, that a mailbox
// can no longer sign in (AlertOAuth2) or soon will not (AlertOAuth2Stale).
// A recovery is not mailed.
func (a *Alerter) SignInChanged(st SignIn) {
	if st.OK && !st.Stale {
		return
	}
	reason, key := AlertOAuth2, "oauth2:"
	details := []string{st.Purpose + " " + st.Name + ": " + st.LastError}
	if st.OK {
		reason, key = AlertOAuth2Stale, "oauth2-stale:"
		details = []string{st.Purpose + " " + st.Name + ": " + st.Warning}
	}
	// One alert per outage: the key names the last good refresh.
	key += st.Purpose + ":" + st.Name + ":" + st.LastRefresh.UTC().Format(time.RFC3339)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Mailer.Alert(ctx, a.Store, a.Rules(), key, reason, details, nil, a.now()); err != nil {
		a.Log.Error("could not alert the support manager of an OAuth2 problem", "for", st.Purpose, "name", st.Name, "error", err)
	}
	a.wake()
}
