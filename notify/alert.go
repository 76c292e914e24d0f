package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Alert reasons; the alert template words each in the recipient's language.
const (
	AlertDelivery    = "delivery"     // a mail failed for good
	AlertOAuth2      = "oauth2"       // an OAuth2 refresh failed
	AlertOAuth2Stale = "oauth2-stale" // an OAuth2 token has not refreshed for too long
)

// Alert mails the support manager(s) once per key, across all instances:
// reason is one of the Alert* codes, details are lines shown as they are
// (never secrets), c the case concerned or nil. It reports whether a mail
// was queued; with no support manager in the rules it queues none.
func (m *Mailer) Alert(ctx context.Context, st *store.Store, rules *config.Rules, key, reason string, details []string, c *store.Case, now time.Time) (bool, error) {
	unit := ""
	if c != nil {
		unit = c.Unit
	}
	managers := rules.HoldersOf(config.RoleSupportManager, unit)
	if len(managers) == 0 {
		return false, nil
	}
	queued := false
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		fresh, err := store.ClaimAlert(ctx, tx, key)
		if err != nil || !fresh {
			return err
		}
		for _, p := range managers {
			data := Data{Reason: reason, Errors: details}
			if c != nil {
				data.Case = CaseView{Number: c.Number, Subject: c.Subject}
			}
			to := Recipient{Name: p.Name, Address: p.Email, Language: m.RecipientLanguage(p.Language, "", "", "")}
			if _, err := m.queuePlain(ctx, tx, KindAlert, to, data, "", ""); err != nil {
				return fmt.Errorf("queueing alert: %w", err)
			}
		}
		queued = true
		return nil
	})
	return queued, err
}
