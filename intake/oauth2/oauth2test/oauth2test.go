// Package oauth2test runs a local OAuth2 provider for tests: an RFC 8628
// device authorization endpoint, an authorization endpoint for the browser
// flow (PKCE, loopback redirect), a token endpoint for the device-code,
// authorization-code and refresh grants (refresh tokens rotate: each refresh issues a new one and
// kills the old), and a check of access tokens for test IMAP and SMTP
// servers, with an XOAUTH2 SASL server to plug into them.
//
// It listens on 127.0.0.1 only, keeps everything in memory and never talks
// to a real provider.
package oauth2test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
)

// Options configure a Provider; the zero value is fine.
type Options struct {
	// ClientID the endpoints require (default "casemail-test").
	ClientID string
	// ClientSecret, when set, the token endpoint requires.
	ClientSecret string
	// AccessTTL is the lifetime of issued access tokens (default 1h).
	AccessTTL time.Duration
	// Now is the clock judging expiry (default time.Now).
	Now func() time.Time
	// AutoApprove, when set, signs this user in on a device code's second
	// poll, as an admin would in the browser meanwhile (the first poll
	// answers authorization_pending), and at once on the browser flow's
	// authorization page. When empty, that page declines.
	AutoApprove string
	// Interval is the poll interval in seconds the device endpoint asks
	// for (default 1).
	Interval int
}

// Counts are the requests the provider answered.
type Counts struct {
	DeviceAuth       int // device codes issued
	DevicePolls      int // device-code grant requests
	Refreshes        int // refresh grant requests, successful or not
	RefreshFailures  int // refresh grant requests refused
	AccessTokenTried int // CheckAccess calls
}

// Provider is a running local provider. Its methods are safe for
// concurrent use.
type Provider struct {
	// URL is the server's base URL; DeviceAuthURL, AuthURL (browser flow)
	// and TokenURL are its endpoints.
	URL, DeviceAuthURL, AuthURL, TokenURL string

	o   Options
	srv *httptest.Server

	mu      sync.Mutex
	devices map[string]*device   // by device code
	codes   map[string]*authCode // by authorization code
	access  map[string]*issued   // by access token
	refresh map[string]*issued   // by refresh token; only live ones
	counts  Counts
	// stall, when set, holds every refresh request until it is closed;
	// stalled counts the requests it holds.
	stall   chan struct{}
	stalled int
}

type device struct {
	userCode string
	scopes   []string
	user     string // "" until approved
	denied   bool
	polls    int
	expires  time.Time
}

type authCode struct {
	user, redirect, challenge string
	scopes                    []string
}

type issued struct {
	user    string
	scopes  []string
	expires time.Time // access tokens only
}

// Start starts a provider; it is closed when the test ends.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = "casemail-test"
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = 1
	}
	p := &Provider{o: o, devices: map[string]*device{}, codes: map[string]*authCode{}, access: map[string]*issued{}, refresh: map[string]*issued{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /devicecode", p.deviceAuth)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /authorize", p.authorize)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.URL = p.srv.URL
	p.DeviceAuthURL = p.srv.URL + "/devicecode"
	p.TokenURL = p.srv.URL + "/token"
	p.AuthURL = p.srv.URL + "/authorize"
	return p
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// client checks the client credentials of a request, in the form or in
// HTTP basic authentication.
func (p *Provider) client(r *http.Request) bool {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, pw, ok := r.BasicAuth(); ok {
		id, secret = u, pw
	}
	return id == p.o.ClientID && (p.o.ClientSecret == "" || secret == p.o.ClientSecret)
}

func (p *Provider) deviceAuth(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	// The device endpoint takes the client id only (RFC 8628 3.1).
	if r.PostForm.Get("client_id") != p.o.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_client", "unknown client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.DeviceAuth++
	d := &device{
		userCode: strings.ToUpper(random(2) + "-" + random(2)),
		scopes:   strings.Fields(r.PostForm.Get("scope")),
		expires:  p.o.Now().Add(10 * time.Minute),
	}
	code := random(16)
	p.devices[code] = d
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":      code,
		"user_code":        d.userCode,
		"verification_uri": p.URL + "/device",
		"expires_in":       600,
		"interval":         p.o.Interval,
		"message":          "To sign in, open " + p.URL + "/device and enter the code " + d.userCode,
	})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	if !p.client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		p.deviceGrant(w, r)
	case "authorization_code":
		p.codeGrant(w, r)
	case "refresh_token":
		p.mu.Lock()
		stall := p.stall
		if stall != nil {
			p.stalled++
		}
		p.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			p.mu.Lock()
			p.stalled--
			p.mu.Unlock()
			if r.Context().Err() != nil {
				return
			}
		}
		p.refreshGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

func (p *Provider) deviceGrant(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.DevicePolls++
	code := r.PostForm.Get("device_code")
	d := p.devices[code]
	switch {
	case d == nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
		return
	case p.o.Now().After(d.expires):
		delete(p.devices, code)
		oauthError(w, http.StatusBadRequest, "expired_token", "the device code expired")
		return
	case d.denied:
		delete(p.devices, code)
		oauthError(w, http.StatusBadRequest, "access_denied", "the user declined")
		return
	}
	d.polls++
	if d.user == "" && p.o.AutoApprove != "" && d.polls >= 2 {
		d.user = p.o.AutoApprove
	}
	if d.user == "" {
		oauthError(w, http.StatusBadRequest, "authorization_pending", "waiting for the user")
		return
	}
	delete(p.devices, code)
	p.issueLocked(w, d.user, d.scopes)
}

// authorize is the browser flow's sign-in page: the user AutoApprove (or,
// with login_hint, that user) signs in at once, and the browser is sent to
// redirect_uri with a code, or with error=access_denied when AutoApprove
// is empty.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme != "http" || !strings.HasPrefix(redirect.Host, "127.0.0.1:") {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("client_id") != p.o.ClientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	if p.o.AutoApprove == "" {
		back.Set("error", "access_denied")
	} else {
		code := "code-" + random(16)
		p.mu.Lock()
		p.codes[code] = &authCode{user: p.o.AutoApprove, redirect: redirect.String(),
			challenge: q.Get("code_challenge"), scopes: strings.Fields(q.Get("scope"))}
		p.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *Provider) codeGrant(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	code := r.PostForm.Get("code")
	c := p.codes[code]
	delete(p.codes, code)
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case c == nil:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
	case r.PostForm.Get("redirect_uri") != c.redirect:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match")
	default:
		p.issueLocked(w, c.user, c.scopes)
	}
}

// issueLocked answers with a new access and refresh token.
func (p *Provider) issueLocked(w http.ResponseWriter, user string, scopes []string) {
	at, rt := "at-"+random(16), "rt-"+random(16)
	p.access[at] = &issued{user: user, scopes: scopes, expires: p.o.Now().Add(p.o.AccessTTL)}
	p.refresh[rt] = &issued{user: user, scopes: scopes}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  at,
		"refresh_token": rt,
		"token_type":    "Bearer",
		"expires_in":    int(p.o.AccessTTL / time.Second),
		"scope":         strings.Join(scopes, " "),
	})
}

func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Refreshes++
	rt := r.PostForm.Get("refresh_token")
	g := p.refresh[rt]
	if g == nil {
		p.counts.RefreshFailures++
		oauthError(w, http.StatusBadRequest, "invalid_grant",
			"AADSTS700082: The refresh token has expired due to inactivity or was revoked.")
		return
	}
	scopes := g.scopes
	if s := strings.Fields(r.PostForm.Get("scope")); len(s) > 0 {
		for _, x := range s {
			if !slices.Contains(g.scopes, x) {
				p.counts.RefreshFailures++
				oauthError(w, http.StatusBadRequest, "invalid_scope", "scope "+x+" was not granted")
				return
			}
		}
		scopes = s
	}
	delete(p.refresh, rt) // rotation: the old refresh token dies
	p.issueLocked(w, g.user, scopes)
}

// Approve signs user in for the device code shown as userCode, as the
// admin does in the browser.
func (p *Provider) Approve(userCode, user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.user = user
			return nil
		}
	}
	return fmt.Errorf("oauth2test: no pending device code %q", userCode)
}

// Deny declines the device code shown as userCode.
func (p *Provider) Deny(userCode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.denied = true
			return nil
		}
	}
	return fmt.Errorf("oauth2test: no pending device code %q", userCode)
}

// RevokeAll kills every refresh token issued so far, as a password change
// or an admin's revocation does; access tokens stay valid until they
// expire.
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.refresh)
}

// Stall holds every refresh request until the returned function is
// called, so that a test can have several clients refresh at once.
func (p *Provider) Stall() (release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	p.stall = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.stall = nil
			p.mu.Unlock()
			close(ch)
		})
	}
}

// Stalled is how many refresh requests Stall holds now.
func (p *Provider) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// LiveRefreshToken reports whether rt is a refresh token the provider
// would still accept.
func (p *Provider) LiveRefreshToken(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refresh[rt] != nil
}

// Counts returns the requests answered so far.
func (p *Provider) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// ErrBadToken is CheckAccess's error for a token it does not accept.
var ErrBadToken = errors.New("oauth2test: invalid or expired access token")

// CheckAccess reports whether token is a live access token issued for
// user with scope (scope "" is not checked), as a mail server asks its
// identity provider.
func (p *Provider) CheckAccess(user, token, scope string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.AccessTokenTried++
	g := p.access[token]
	if g == nil || !strings.EqualFold(g.user, user) || !p.o.Now().Before(g.expires) {
		return ErrBadToken
	}
	if scope != "" && !slices.Contains(g.scopes, scope) {
		return fmt.Errorf("oauth2test: the token lacks scope %s", scope)
	}
	return nil
}

// ParseXOAUTH2 splits an XOAUTH2 initial response into user and token.
func ParseXOAUTH2(ir []byte) (user, token string, err error) {
	s, ok := strings.CutSuffix(string(ir), "\x01\x01")
	if !ok {
		return "", "", errors.New("xoauth2: malformed response")
	}
	for _, f := range strings.Split(s, "\x01") {
		switch {
		case strings.HasPrefix(f, "user="):
			user = f[len("user="):]
		case strings.HasPrefix(f, "auth=Bearer "):
			token = f[len("auth=Bearer "):]
		}
	}
	if user == "" || token == "" {
		return "", "", errors.New("xoauth2: malformed response")
	}
	return user, token, nil
}

// NewXOAUTH2Server returns a SASL server for XOAUTH2 that accepts a login
// when check(user, token) returns nil. A refused login gets the JSON
// challenge real servers send, and fails after the client's empty
// response, as the mechanism prescribes.
func NewXOAUTH2Server(check func(user, token string) error) sasl.Server {
	return &xoauth2Server{check: check}
}

type xoauth2Server struct {
	check  func(user, token string) error
	failed error
	step   int
}

func (s *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	s.step++
	switch {
	case s.failed != nil:
		return nil, false, s.failed
	case resp == nil && s.step == 1:
		return []byte{}, false, nil // no initial response: ask for it
	}
	user, token, err := ParseXOAUTH2(resp)
	if err != nil {
		return nil, false, err
	}
	if err := s.check(user, token); err != nil {
		s.failed = err
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	return nil, true, nil
}
