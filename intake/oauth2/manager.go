package oauth2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Defaults applied by NewManager to zero Options fields.
const (
	DefaultRefreshAhead  = 5 * time.Minute
	DefaultStaleAfter    = 24 * time.Hour
	DefaultCheckInterval = time.Minute
	DefaultRetryMin      = 10 * time.Second
	DefaultRetryMax      = 5 * time.Minute
	// permanentRetry is how often a grant the provider refused for good is
	// tried again anyway (a new login is picked up at once regardless).
	permanentRetry = 15 * time.Minute
	// minValidity is how long a token handed out by Token is good for at
	// least: enough for a login, which is all it is used for.
	minValidity = time.Minute
)

// Options tune a Manager; the zero value is fine.
type Options struct {
	Logger     *slog.Logger
	HTTPClient *http.Client // talks to the token endpoint (default: 30s timeout)
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// RefreshAhead: Run refreshes when the access token has less than this
	// left (default 5m).
	RefreshAhead time.Duration
	// StaleAfter: a token that expired longer than this ago without being
	// refreshed makes State stale (default 24h).
	StaleAfter time.Duration
	// CheckInterval is how often Run looks at the grant (default 1m).
	CheckInterval time.Duration
	// RetryMin and RetryMax bound the backoff between failed refreshes
	// (defaults 10s and 5m); Token callers meanwhile get the last error
	// without a request to the provider.
	RetryMin, RetryMax time.Duration
	// OnChange, when set, is called with the new State whenever OK,
	// LastError or Stale change (for metrics and for mailing the support
	// manager). It must not block for long or call back into the Manager's
	// refreshing methods.
	OnChange func(State)
}

// State is a Manager's health, for /readyz and metrics.
type State struct {
	Purpose string // store.OAuth2IMAP or store.OAuth2SMTP
	Name    string // mailbox name, or "smtp"
	// OK: a grant is stored, its last refresh did not fail, and it is not
	// stale.
	OK bool
	// LastRefresh is the last login or successful refresh (by any instance).
	LastRefresh time.Time
	// Expires is when the current access token expires.
	Expires time.Time
	// LastError explains the last failed refresh (or a missing grant), with
	// what to do; "" when the last attempt succeeded.
	LastError   string
	LastErrorAt time.Time
	// Stale: the access token expired more than StaleAfter ago and has not
	// been refreshed; Warning says so in words.
	Stale   bool
	Warning string
}

// Manager keeps one stored grant's access token fresh and hands it to
// IMAP and SMTP logins. It is safe for concurrent use; several Managers for
// the same account, in one process or many, share the grant through the
// database and refresh it once between them.
type Manager struct {
	st   *store.Store
	cfg  config.OAuth2
	acct Account
	o    Options
	log  *slog.Logger

	refreshMu sync.Mutex // one refresh attempt at a time in this process

	mu       sync.Mutex // guards what follows
	cur      *store.OAuth2Token
	lastErr  error     // the last failure, returned while backing off
	errAt    time.Time // when lastErr happened
	failures int       // consecutive failures
	failedV  int64     // the grant version that failed
	nextTry  time.Time // no new attempt before this after a failure
	noGrant  bool      // no grant is stored
	notified *State    // what OnChange last saw
}

// NewManager returns a Manager for acct, whose provider settings are cfg
// (the imap.oauth2 or smtp.oauth2 section). It does nothing until Token,
// SASL or Run is called.
func NewManager(st *store.Store, cfg config.OAuth2, acct Account, o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshAhead <= 0 {
		o.RefreshAhead = DefaultRefreshAhead
	}
	o.RefreshAhead = max(o.RefreshAhead, minValidity)
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	return &Manager{
		st: st, cfg: cfg, acct: acct, o: o,
		log: o.Logger.With("oauth2", acct.String()),
	}
}

// Account returns the account the Manager serves.
func (m *Manager) Account() Account { return m.acct }

// Token returns an access token valid for at least a minute, refreshing
// the grant first when needed. Call it once per connection (IMAP login,
// SMTP batch): the token is not worth keeping longer.
func (m *Manager) Token(ctx context.Context) (string, error) {
	tok, err := m.ensure(ctx, minValidity, false)
	m.notify()
	if err != nil {
		// A refresh failed, but the token we have may still do for a login.
		if tok != nil && tok.Expiry.After(m.o.Now()) {
			return tok.AccessToken, nil
		}
		return "", err
	}
	return tok.AccessToken, nil
}

// SASL returns an XOAUTH2 client logging username in with a fresh token:
// for intake.WatcherConfig.Auth, through SASLFunc.
func (m *Manager) SASL(ctx context.Context, username string) (sasl.Client, error) {
	tok, err := m.Token(ctx)
	if err != nil {
		return nil, err
	}
	return NewXOAUTH2Client(username, tok), nil
}

// SASLFunc adapts SASL to intake.WatcherConfig.Auth.
func (m *Manager) SASLFunc(username string) func(ctx context.Context) (sasl.Client, error) {
	return func(ctx context.Context) (sasl.Client, error) { return m.SASL(ctx, username) }
}

// Run looks at the grant every CheckInterval until ctx ends, refreshing it
// when less than RefreshAhead is left and keeping State current (also
// with what other instances did). It returns nil when ctx ends, and an
// error only for a configuration that cannot work.
func (m *Manager) Run(ctx context.Context) error {
	if err := checkConfig(m.cfg); err != nil {
		return fmt.Errorf("oauth2 for %s: %w", m.acct, err)
	}
	t := time.NewTicker(m.o.CheckInterval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check is one look of Run: it reads the grant from the database,
// refreshes it when less than RefreshAhead is left (unless backing off
// after a failure), and updates State. Failures are logged and kept in
// State; the error is returned as well.
func (m *Manager) Check(ctx context.Context) error {
	_, err := m.ensure(ctx, m.o.RefreshAhead, true)
	m.notify()
	return err
}

// State returns the Manager's health as of now.
func (m *Manager) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stateLocked()
}

func (m *Manager) stateLocked() State {
	s := State{Purpose: m.acct.Purpose, Name: m.acct.Name}
	if m.cur != nil && !m.noGrant {
		s.LastRefresh, s.Expires = m.cur.RefreshedAt, m.cur.Expiry
		// Another instance's failure on this very grant counts too.
		if m.cur.LastError != "" && !m.cur.LastErrorAt.Before(m.cur.RefreshedAt) {
			s.LastError, s.LastErrorAt = m.cur.LastError, m.cur.LastErrorAt
		}
	}
	if m.lastErr != nil && !m.errAt.Before(s.LastErrorAt) {
		s.LastError, s.LastErrorAt = m.lastErr.Error(), m.errAt
	}
	now := m.o.Now()
	if m.cur != nil && !m.noGrant && now.Sub(m.cur.Expiry) > m.o.StaleAfter {
		s.Stale = true
		s.Warning = fmt.Sprintf("the OAuth2 token for %s has not been refreshed since %s and expired %s ago",
			m.acct, m.cur.RefreshedAt.UTC().Format(time.RFC3339), now.Sub(m.cur.Expiry).Round(time.Minute))
	}
	s.OK = m.cur != nil && !m.noGrant && s.LastError == "" && !s.Stale
	return s
}

// notify calls OnChange when the state's health changed since last time.
func (m *Manager) notify() {
	m.mu.Lock()
	s := m.stateLocked()
	prev := m.notified
	changed := prev == nil || prev.OK != s.OK || prev.LastError != s.LastError || prev.Stale != s.Stale
	if changed {
		m.notified = &s
	}
	m.mu.Unlock()
	if !changed {
		return
	}
	if s.Stale && (prev == nil || !prev.Stale) {
		m.log.Warn("oauth2 token is stale", "warning", s.Warning)
	}
	if m.o.OnChange != nil {
		m.o.OnChange(s)
	}
}

// errNoGrant is the error while no grant is stored.
func (m *Manager) errNoGrant() error {
	return fmt.Errorf("no OAuth2 token is stored for %s: run `%s`", m.acct, m.acct.LoginCommand())
}

// ensure returns a grant whose access token is good for more than need,
// refreshing it when it is not. With reload it always reads the database
// first; otherwise a cached grant that is good enough is returned at once.
// On a failure it returns the grant it has (maybe still usable) and the
// error.
func (m *Manager) ensure(ctx context.Context, need time.Duration, reload bool) (*store.OAuth2Token, error) {
	if !reload {
		m.mu.Lock()
		cur := m.cur
		m.mu.Unlock()
		if cur != nil && cur.Expiry.Sub(m.o.Now()) > need {
			return cur, nil
		}
	}
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()

	row, err := m.st.OAuth2Token(ctx, m.acct.Purpose, m.acct.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, m.missing()
	}
	if err != nil {
		// The database is down: keep what we have; /readyz shows the
		// database's state on its own.
		m.mu.Lock()
		cur := m.cur
		m.mu.Unlock()
		return cur, fmt.Errorf("oauth2 for %s: %w", m.acct, err)
	}
	m.adopt(row)
	if row.Provider != m.cfg.Provider || row.ClientID != m.cfg.ClientID {
		err := fmt.Errorf("the stored OAuth2 token for %s was issued to client %s of provider %s, but casemail.yaml names client %s of %s: run `%s`",
			m.acct, row.ClientID, row.Provider, m.cfg.ClientID, m.cfg.Provider, m.acct.LoginCommand())
		m.failed(ctx, row, err, true)
		return row, err
	}
	now := m.o.Now()
	if row.Expiry.Sub(now) > need {
		return row, nil
	}
	m.mu.Lock()
	backingOff := m.lastErr != nil && m.failedV == row.Version && now.Before(m.nextTry)
	lastErr := m.lastErr
	m.mu.Unlock()
	if backingOff {
		return row, lastErr
	}

	// Once the provider may have rotated the refresh token, the new one
	// must be committed: the refresh runs to its end (bounded) even when
	// the caller gives up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout+15*time.Second)
	defer cancel()
	refreshed := false
	next, err := m.st.UpdateOAuth2Token(rctx, m.acct.Purpose, m.acct.Name, func(cur *store.OAuth2Token) (*store.OAuth2Token, error) {
		now := m.o.Now()
		if cur.Expiry.Sub(now) > need {
			return nil, nil // another instance refreshed while we waited for the lock
		}
		if err := ctx.Err(); err != nil {
			return nil, err // nothing spent yet: give up as asked
		}
		g, err := refreshGrant(rctx, m.o.HTTPClient, m.cfg, cur.RefreshToken, now)
		if err != nil {
			return nil, &refreshError{err: err}
		}
		refreshed = true
		n := *cur
		n.AccessToken, n.TokenType, n.Expiry, n.RefreshedAt = g.AccessToken, g.TokenType, g.Expiry, now
		if g.RefreshToken != "" {
			n.RefreshToken = g.RefreshToken // rotated: the old one may be dead already
		}
		if g.Scopes != nil {
			n.Scopes = g.Scopes
		}
		return &n, nil
	})
	var re *refreshError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, m.missing() // deleted meanwhile
	case errors.As(err, &re):
		err := m.explain(re.err)
		var pe *ProviderError
		m.failed(ctx, row, err, errors.As(re.err, &pe) && pe.Permanent())
		return row, err
	case err != nil && ctx.Err() != nil:
		return row, ctx.Err()
	case err != nil:
		// The provider may have rotated the refresh token and the commit
		// failed; nothing can be done about that here but to try again.
		m.log.Warn("oauth2: saving the refreshed token", "err", err)
		return row, fmt.Errorf("oauth2 for %s: %w", m.acct, err)
	}
	m.adopt(next)
	m.mu.Lock()
	recovered := m.lastErr != nil
	m.lastErr, m.failures, m.nextTry = nil, 0, time.Time{}
	m.mu.Unlock()
	if refreshed {
		m.log.Info("oauth2 token refreshed", "expires", next.Expiry, "rotated", next.RefreshToken != row.RefreshToken, "version", next.Version)
	}
	if recovered {
		m.log.Info("oauth2 refresh works again")
	}
	return next, nil
}

// missing records that no grant is stored.
func (m *Manager) missing() error {
	err := m.errNoGrant()
	m.mu.Lock()
	if !m.noGrant {
		m.log.Error("oauth2: no token stored", "err", err)
	}
	m.noGrant, m.cur, m.lastErr, m.errAt, m.failedV = true, nil, err, m.o.Now(), 0
	m.mu.Unlock()
	return err
}

// refreshError marks an error of the provider exchange, as opposed to the
// database's, inside UpdateOAuth2Token.
type refreshError struct{ err error }

func (e *refreshError) Error() string { return e.err.Error() }

// explain words a failed refresh for an admin.
func (m *Manager) explain(err error) error {
	var pe *ProviderError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "invalid_grant":
			return fmt.Errorf("refreshing the OAuth2 token for %s failed: the provider refused the refresh token (%v); it has expired or was revoked: run `%s`",
				m.acct, pe, m.acct.LoginCommand())
		case "invalid_client", "unauthorized_client":
			return fmt.Errorf("refreshing the OAuth2 token for %s failed: the provider refused the client (%v); check client_id and client_secret in casemail.yaml and the app registration",
				m.acct, pe)
		}
	}
	return fmt.Errorf("refreshing the OAuth2 token for %s failed: %w", m.acct, err)
}

// adopt caches a grant read from the database. A grant of another version
// than the one that failed (a new login, or another instance's refresh)
// ends the local failure.
func (m *Manager) adopt(row *store.OAuth2Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.noGrant {
		m.log.Info("oauth2: token found")
	}
	m.cur, m.noGrant = row, false
	if m.lastErr != nil && row.Version != m.failedV {
		m.lastErr, m.failures, m.nextTry = nil, 0, time.Time{}
	}
}

// failed records a failed refresh: in State at once, in the log, and on
// the grant for the other instances and `casemail oauth2 status`.
func (m *Manager) failed(ctx context.Context, row *store.OAuth2Token, err error, permanent bool) {
	now := m.o.Now()
	m.mu.Lock()
	repeat := m.lastErr != nil && m.lastErr.Error() == err.Error()
	m.lastErr, m.errAt, m.failedV = err, now, row.Version
	m.failures++
	attempts := m.failures
	wait := permanentRetry
	if !permanent {
		wait = m.o.RetryMin
		for i := 1; i < m.failures && wait < m.o.RetryMax; i++ {
			wait *= 2
		}
		wait = min(wait, m.o.RetryMax)
	}
	m.nextTry = now.Add(wait)
	m.mu.Unlock()
	switch {
	case repeat && permanent:
		m.log.Debug("oauth2 refresh still failing", "err", err, "attempts", attempts, "retry_in", wait)
	case repeat:
		m.log.Warn("oauth2 refresh still failing", "err", err, "attempts", attempts, "retry_in", wait)
	default:
		m.log.Error("oauth2 refresh failed", "err", err, "expires", row.Expiry, "retry_in", wait)
	}
	if _, rerr := m.st.RecordOAuth2Error(context.WithoutCancel(ctx), m.acct.Purpose, m.acct.Name, row.Version, err.Error(), now); rerr != nil {
		m.log.Warn("oauth2: recording the failure", "err", rerr)
	}
}
