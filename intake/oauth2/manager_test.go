package oauth2

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
	"github.com/casemail/casemail/store/testdb"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fakeClock is the time of the provider and the managers; tests move it to
// expire tokens without waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at now, in whole microseconds as PostgreSQL keeps time.
func newClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Microsecond)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type world struct {
	clock *fakeClock
	p     *oauth2test.Provider
	st    *store.Store
	logs  *syncBuffer
	log   *slog.Logger
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{clock: newClock(), logs: &syncBuffer{}}
	w.p = oauth2test.Start(t, oauth2test.Options{ClientSecret: "app-secret", Now: w.clock.Now})
	w.st = openStore(t)
	w.log = slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return w
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, _ := testdb.Open(t)
	return st
}

// cfg is a Microsoft-style provider section pointing at the local
// provider.
func (w *world) cfg(scope string) config.OAuth2 {
	return config.OAuth2{
		Provider: "microsoft", ClientID: "casemail-test", ClientSecret: "app-secret", Tenant: "example",
		TokenURL: w.p.TokenURL, DeviceAuthURL: w.p.DeviceAuthURL,
		Scopes: []string{scope, "offline_access"},
	}
}

// login runs the device-code flow, the test approving the code as the
// admin would in the browser.
func (w *world) login(t *testing.T, acct Account, scope string) *store.OAuth2Token {
	t.Helper()
	var shown Prompt
	tok, err := Login(context.Background(), w.st, w.cfg(scope), acct, func(p Prompt) error {
		shown = p
		return w.p.Approve(p.UserCode, testUser)
	}, LoginOptions{Now: w.clock.Now, Username: testUser})
	if err != nil {
		t.Fatalf("login for %s: %v", acct, err)
	}
	if shown.UserCode == "" || !strings.HasPrefix(shown.VerificationURI, w.p.URL) {
		t.Fatalf("prompt = %+v", shown)
	}
	return tok
}

func (w *world) manager(acct Account, scope string, onChange func(State)) *Manager {
	return NewManager(w.st, w.cfg(scope), acct, Options{Logger: w.log, Now: w.clock.Now, OnChange: onChange})
}

func (w *world) row(t *testing.T, acct Account) *store.OAuth2Token {
	t.Helper()
	r, err := w.st.OAuth2Token(context.Background(), acct.Purpose, acct.Name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// assertNoSecrets fails when a token or the client secret shows in s.
func assertNoSecrets(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range append(secrets, "app-secret") {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("%s contains a secret (%.6s…)", what, sec)
		}
	}
}

func testMail(subject string) string {
	return "From: Anna <anna@example.org>\r\nTo: " + testUser + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\nHello.\r\n"
}

func queueMail(t *testing.T, st *store.Store, id string) {
	t.Helper()
	_, err := store.EnqueueMail(context.Background(), st.DB(), store.OutMail{
		Kind: "ack", MessageID: id + "@casemail.example.org", From: "Helpdesk <" + testUser + ">",
		To: []string{"anna@example.org"}, Subject: "[#1001] test " + id, Text: "Hello.\n",
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestXOAUTH2EndToEnd logs in with the device flow, reads mail over IMAP
// and sends over SMTP with XOAUTH2, lets the access tokens expire, and
// checks that the next logins refresh (saving the rotated refresh
// tokens), and that a revoked grant shows in State at once and, a day
// later, as stale.
func TestXOAUTH2EndToEnd(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The admin's two logins: the mailbox's IMAP and the SMTP section.
	imapRow := w.login(t, IMAP("helpdesk"), imapScope)
	smtpRow := w.login(t, SMTP(), smtpScope)
	if imapRow.Version != 1 || imapRow.Provider != "microsoft" || imapRow.Username != testUser ||
		!strings.Contains(strings.Join(imapRow.Scopes, " "), imapScope) || imapRow.RefreshToken == "" ||
		!w.p.LiveRefreshToken(imapRow.RefreshToken) {
		t.Fatalf("stored grant after login: %v scopes=%v", imapRow, imapRow.Scopes)
	}
	if got := imapRow.Expiry.Sub(w.clock.Now()); got < 59*time.Minute || got > time.Hour {
		t.Errorf("expiry %v from now, want 1h", got)
	}
	secrets := []string{imapRow.AccessToken, imapRow.RefreshToken, smtpRow.AccessToken, smtpRow.RefreshToken}

	var changes []State
	var changesMu sync.Mutex
	imapMgr := w.manager(IMAP("helpdesk"), imapScope, func(s State) {
		changesMu.Lock()
		changes = append(changes, s)
		changesMu.Unlock()
	})
	smtpMgr := w.manager(SMTP(), smtpScope, nil)

	// IMAP: the watcher logs in with XOAUTH2 and fetches a mail.
	imapSrv := startIMAP(t, w.p)
	h := newMemHandler()
	watcher := intake.NewWatcher(intake.WatcherConfig{
		Name: "helpdesk", Host: "127.0.0.1", Port: imapSrv.port, Security: "none",
		Username: testUser, Auth: imapMgr.SASLFunc(testUser),
		IDLE: true, PollInterval: 100 * time.Millisecond,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		CommandTimeout: 10 * time.Second, Logger: w.log,
	}, h)
	imapSrv.append(t, testMail("first mail"))
	done := make(chan struct{})
	go func() { defer close(done); watcher.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if got := h.wait(t, 1); !strings.Contains(string(got[0].Raw), "Subject: first mail") {
		t.Fatalf("delivered %q", got[0].Raw)
	}
	if acc, _ := imapSrv.auth.snapshot(); len(acc) == 0 || acc[len(acc)-1] != imapRow.AccessToken {
		t.Fatalf("IMAP logins accepted %d tokens, want the login's", len(acc))
	}

	// SMTP: a batch connects with XOAUTH2 and sends.
	smtpSrv := startSMTP(t, w.p)
	sender := notify.NewSender(w.st, notify.SMTPConfig{Host: "127.0.0.1", Port: smtpSrv.port, Security: "none",
		Username: testUser, TokenSource: smtpMgr.Token, Timeout: 10 * time.Second, LoopID: "test"}, w.log)
	queueMail(t, w.st, "one")
	if n, err := sender.SendOnce(ctx); err != nil || n != 1 || smtpSrv.count() != 1 {
		t.Fatalf("first send: handled %d, err %v, server has %d", n, err, smtpSrv.count())
	}
	if w.p.Counts().Refreshes != 0 {
		t.Fatalf("refreshed %d times with fresh tokens", w.p.Counts().Refreshes)
	}

	// An hour on, both access tokens have expired.
	w.clock.Add(61 * time.Minute)
	if err := w.p.CheckAccess(testUser, imapRow.AccessToken, imapScope); err == nil {
		t.Fatal("the provider still accepts the expired access token")
	}

	// The next IMAP login refreshes first and succeeds.
	imapSrv.killConns()
	imapSrv.append(t, testMail("second mail"))
	h.wait(t, 2)
	imapNow := w.row(t, IMAP("helpdesk"))
	if imapNow.Version != 2 || imapNow.AccessToken == imapRow.AccessToken {
		t.Fatalf("after expiry the IMAP grant is version %d (want 2, refreshed)", imapNow.Version)
	}
	if imapNow.RefreshToken == imapRow.RefreshToken || !w.p.LiveRefreshToken(imapNow.RefreshToken) ||
		w.p.LiveRefreshToken(imapRow.RefreshToken) {
		t.Error("the rotated refresh token was not saved (or the old one is still live)")
	}
	if acc, _ := imapSrv.auth.snapshot(); acc[len(acc)-1] != imapNow.AccessToken {
		t.Error("the IMAP login after expiry did not use the refreshed token")
	}
	if s := imapMgr.State(); !s.OK || !s.Expires.Equal(imapNow.Expiry) || !s.LastRefresh.Equal(w.clock.Now()) {
		t.Errorf("IMAP state after refresh = %+v", s)
	}

	// The next SMTP batch refreshes too and sends.
	queueMail(t, w.st, "two")
	if n, err := sender.SendOnce(ctx); err != nil || n != 1 || smtpSrv.count() != 2 {
		t.Fatalf("send after expiry: handled %d, err %v, server has %d", n, err, smtpSrv.count())
	}
	smtpNow := w.row(t, SMTP())
	if smtpNow.Version != 2 || smtpNow.RefreshToken == smtpRow.RefreshToken || !w.p.LiveRefreshToken(smtpNow.RefreshToken) {
		t.Errorf("SMTP grant after expiry: version %d, rotated refresh token saved: %v",
			smtpNow.Version, smtpNow.RefreshToken != smtpRow.RefreshToken)
	}
	if acc, _ := smtpSrv.auth.snapshot(); len(acc) != 2 || acc[1] != smtpNow.AccessToken {
		t.Errorf("SMTP accepted %d logins, want 2, the second with the refreshed token", len(acc))
	}
	if c := w.p.Counts(); c.Refreshes != 2 || c.RefreshFailures != 0 {
		t.Errorf("provider counts %+v, want 2 refreshes without failure", c)
	}
	secrets = append(secrets, imapNow.AccessToken, imapNow.RefreshToken, smtpNow.AccessToken, smtpNow.RefreshToken)

	// Run refreshes ahead of expiry: with 4 minutes left, one check
	// refreshes; a second check right after does not.
	w.clock.Add(56 * time.Minute)
	if err := imapMgr.Check(ctx); err != nil {
		t.Fatalf("check ahead of expiry: %v", err)
	}
	if err := imapMgr.Check(ctx); err != nil {
		t.Fatal(err)
	}
	ahead := w.row(t, IMAP("helpdesk"))
	if ahead.Version != 3 || w.p.Counts().Refreshes != 3 {
		t.Errorf("ahead of expiry: version %d, %d refreshes; want 3 and 3", ahead.Version, w.p.Counts().Refreshes)
	}
	secrets = append(secrets, ahead.AccessToken, ahead.RefreshToken)

	// The grant is revoked (password change, admin): the refresh fails
	// and State says so at once, with what to do.
	w.p.RevokeAll()
	w.clock.Add(58 * time.Minute)
	err := imapMgr.Check(ctx)
	if err == nil {
		t.Fatal("check with a revoked refresh token succeeded")
	}
	s := imapMgr.State()
	if s.OK || !strings.Contains(s.LastError, "invalid_grant") || !strings.Contains(s.LastError, "expired or was revoked") ||
		!strings.Contains(s.LastError, "casemail oauth2 login helpdesk") || !s.LastErrorAt.Equal(w.clock.Now()) {
		t.Errorf("state after revocation = %+v", s)
	}
	if r := w.row(t, IMAP("helpdesk")); r.LastError != s.LastError || r.Version != 3 || r.RefreshToken != ahead.RefreshToken {
		t.Errorf("stored grant after the failure: error %q, version %d", r.LastError, r.Version)
	}
	// While backing off, logins get the error without asking the provider
	// again; the old token is still good for two minutes, so a login now
	// still works.
	before := w.p.Counts().Refreshes
	if tok, err := imapMgr.Token(ctx); err != nil || tok != ahead.AccessToken {
		t.Errorf("Token while the old access token is still valid: err %v", err)
	}
	w.clock.Add(3 * time.Minute)
	if _, err := imapMgr.Token(ctx); err == nil || !strings.Contains(err.Error(), "casemail oauth2 login helpdesk") {
		t.Errorf("Token after expiry with a revoked grant: %v", err)
	}
	if w.p.Counts().Refreshes != before {
		t.Errorf("backing off, the manager still asked the provider %d times", w.p.Counts().Refreshes-before)
	}
	changesMu.Lock()
	last := changes[len(changes)-1]
	changesMu.Unlock()
	if last.OK || last.LastError == "" {
		t.Errorf("OnChange last saw %+v, want the failure", last)
	}

	// A day later nobody has logged in again: stale.
	w.clock.Add(25 * time.Hour)
	imapMgr.Check(ctx)
	if s := imapMgr.State(); !s.Stale || s.OK || !strings.Contains(s.Warning, "has not been refreshed since") {
		t.Errorf("state a day after the failure = %+v", s)
	}

	// The admin logs in again; the manager picks the new grant up.
	again := w.login(t, IMAP("helpdesk"), imapScope)
	if err := imapMgr.Check(ctx); err != nil {
		t.Fatalf("check after a new login: %v", err)
	}
	if s := imapMgr.State(); !s.OK || s.Stale || s.LastError != "" || !s.Expires.Equal(again.Expiry) {
		t.Errorf("state after a new login = %+v", s)
	}
	changesMu.Lock()
	if last := changes[len(changes)-1]; !last.OK {
		t.Errorf("OnChange last saw %+v, want OK", last)
	}
	changesMu.Unlock()
	secrets = append(secrets, again.AccessToken, again.RefreshToken)

	logs := w.logs.String()
	if !strings.Contains(logs, "oauth2 token refreshed") || !strings.Contains(logs, "oauth2 refresh failed") {
		t.Errorf("logs lack the refresh and the failure:\n%s", logs)
	}
	assertNoSecrets(t, "the log", logs, secrets...)
	assertNoSecrets(t, "the state", fmt.Sprintf("%+v", imapMgr.State()), secrets...)
	assertNoSecrets(t, "the error", err.Error(), secrets...)
}

// TestTwoManagersRefreshOnce: two instances (own pools, one database)
// whose token is due refresh at the same moment; the row lock makes one of
// them spend the rotating refresh token and the other use its result.
func TestTwoManagersRefreshOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first := w.login(t, IMAP("helpdesk"), imapScope)
	st2, err := store.Open(ctx, w.st.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	testdb.Seal(t, st2)
	a := w.manager(IMAP("helpdesk"), imapScope, nil)
	b := NewManager(st2, w.cfg(imapScope), IMAP("helpdesk"), Options{Logger: w.log, Now: w.clock.Now})

	w.clock.Add(58 * time.Minute) // 2 minutes left: both want to refresh
	release := w.p.Stall()
	var wg sync.WaitGroup
	var errs [2]error
	for i, m := range []*Manager{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Check(ctx) }()
	}
	// Released once the race is on: one manager's refresh held at the
	// provider, the other waiting for the grant's row lock.
	deadline := time.Now().Add(30 * time.Second)
	for w.p.Stalled() != 1 || lockWaits(t, w.st) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no race: %d refreshes at the provider, %d waiting for a lock", w.p.Stalled(), lockWaits(t, w.st))
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("manager %d: %v", i, err)
		}
	}
	if c := w.p.Counts(); c.Refreshes != 1 || c.RefreshFailures != 0 {
		t.Errorf("provider counts %+v, want exactly one refresh", c)
	}
	row := w.row(t, IMAP("helpdesk"))
	if row.Version != 2 || !w.p.LiveRefreshToken(row.RefreshToken) || row.RefreshToken == first.RefreshToken {
		t.Errorf("grant version %d, rotated refresh token saved: %v", row.Version, row.RefreshToken != first.RefreshToken)
	}
	ta, errA := a.Token(ctx)
	tb, errB := b.Token(ctx)
	if errA != nil || errB != nil || ta != row.AccessToken || tb != row.AccessToken {
		t.Errorf("tokens after the shared refresh: %v %v, same as stored: %v %v", errA, errB, ta == row.AccessToken, tb == row.AccessToken)
	}
	if !a.State().OK || !b.State().OK {
		t.Errorf("states %+v %+v", a.State(), b.State())
	}
}

// lockWaits counts the sessions on st's database waiting for a lock.
func lockWaits(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFailureSharedAcrossInstances: an instance that did not itself fail
// shows another's failed refresh of the same grant.
func TestFailureSharedAcrossInstances(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.login(t, IMAP("helpdesk"), imapScope)
	a := w.manager(IMAP("helpdesk"), imapScope, nil)
	b := w.manager(IMAP("helpdesk"), imapScope, nil)
	w.p.RevokeAll()
	w.clock.Add(58 * time.Minute)
	if err := a.Check(ctx); err == nil {
		t.Fatal("refresh with a revoked token succeeded")
	}
	// b is backing off nothing; its check would try itself, so read its
	// state through a check with the grant not yet due for it.
	b.o.RefreshAhead = time.Minute
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if s := b.State(); s.OK || !strings.Contains(s.LastError, "invalid_grant") {
		t.Errorf("the other instance's state = %+v", s)
	}
}

func TestNoGrant(t *testing.T) {
	w := newWorld(t)
	m := w.manager(IMAP("helpdesk"), imapScope, nil)
	_, err := m.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "run `casemail oauth2 login helpdesk`") {
		t.Errorf("Token without a grant: %v", err)
	}
	if s := m.State(); s.OK || !strings.Contains(s.LastError, "no OAuth2 token is stored for mailbox helpdesk") {
		t.Errorf("state = %+v", s)
	}
	sm := w.manager(SMTP(), smtpScope, nil)
	sm.Check(context.Background())
	if s := sm.State(); !strings.Contains(s.LastError, "casemail oauth2 login -smtp") {
		t.Errorf("SMTP state = %+v", s)
	}
}

func TestLoginDeclined(t *testing.T) {
	w := newWorld(t)
	_, err := Login(context.Background(), w.st, w.cfg(imapScope), IMAP("helpdesk"), func(p Prompt) error {
		return w.p.Deny(p.UserCode)
	}, LoginOptions{Now: w.clock.Now})
	if err == nil || !strings.Contains(err.Error(), "declined") {
		t.Fatalf("declined login: %v", err)
	}
	if _, err := w.st.OAuth2Token(context.Background(), store.OAuth2IMAP, "helpdesk"); err != store.ErrNotFound {
		t.Errorf("a declined login stored something: %v", err)
	}
}

func TestLoginWrongSecret(t *testing.T) {
	w := newWorld(t)
	cfg := w.cfg(imapScope)
	cfg.ClientSecret = "not-the-secret"
	_, err := Login(context.Background(), w.st, cfg, IMAP("helpdesk"), func(p Prompt) error {
		return w.p.Approve(p.UserCode, testUser)
	}, LoginOptions{Now: w.clock.Now})
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("login with a wrong secret: %v", err)
	}
	assertNoSecrets(t, "the error", err.Error(), "not-the-secret")
}

// TestTransientFailureBacksOff: a token endpoint that is down is asked
// again only after the backoff, however often logins want a token.
func TestTransientFailureBacksOff(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.login(t, IMAP("helpdesk"), imapScope)
	var hits atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(rw, "upstream unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg := w.cfg(imapScope)
	cfg.TokenURL = down.URL
	m := NewManager(w.st, cfg, IMAP("helpdesk"), Options{Logger: w.log, Now: w.clock.Now})
	w.clock.Add(2 * time.Hour)
	for range 5 {
		if _, err := m.Token(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
			t.Fatalf("Token with the endpoint down: %v", err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("endpoint asked %d times within the backoff, want 1", hits.Load())
	}
	w.clock.Add(DefaultRetryMin + time.Second)
	m.Token(ctx)
	if hits.Load() != 2 {
		t.Errorf("endpoint asked %d times after the backoff, want 2", hits.Load())
	}
	if s := m.State(); s.OK || !strings.Contains(s.LastError, "HTTP 503") {
		t.Errorf("state = %+v", s)
	}
}

func TestClientChangedNeedsLogin(t *testing.T) {
	w := newWorld(t)
	w.login(t, IMAP("helpdesk"), imapScope)
	cfg := w.cfg(imapScope)
	cfg.ClientID = "another-app"
	m := NewManager(w.st, cfg, IMAP("helpdesk"), Options{Logger: w.log, Now: w.clock.Now})
	m.Check(context.Background())
	if s := m.State(); s.OK || !strings.Contains(s.LastError, "another-app") || !strings.Contains(s.LastError, "casemail oauth2 login helpdesk") {
		t.Errorf("state = %+v", s)
	}
}

// TestRunRefreshesAhead: left running, the manager refreshes before the
// token expires, without anyone asking for a token.
func TestRunRefreshesAhead(t *testing.T) {
	w := newWorld(t)
	first := w.login(t, IMAP("helpdesk"), imapScope)
	m := NewManager(w.st, w.cfg(imapScope), IMAP("helpdesk"), Options{Logger: w.log, Now: w.clock.Now, CheckInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	w.clock.Add(50 * time.Minute) // 10 minutes left: not yet
	time.Sleep(100 * time.Millisecond)
	if c := w.p.Counts(); c.Refreshes != 0 {
		t.Fatalf("refreshed with 10 minutes left (%d)", c.Refreshes)
	}
	w.clock.Add(6 * time.Minute) // 4 minutes left
	deadline := time.Now().Add(10 * time.Second)
	for w.row(t, IMAP("helpdesk")).Version == first.Version {
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh ahead of expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	if s := m.State(); !s.OK || !s.Expires.After(w.clock.Now().Add(55*time.Minute)) {
		t.Errorf("state = %+v", s)
	}
	if w.p.Counts().Refreshes != 1 {
		t.Errorf("%d refreshes, want 1", w.p.Counts().Refreshes)
	}
}
