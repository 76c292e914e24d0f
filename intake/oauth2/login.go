package oauth2

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// GoogleAuthURL is Google's authorization endpoint, for the browser flow.
const GoogleAuthURL = "https://accounts.google.com/o/oauth2/v2/auth"

// Prompt is what the admin must do to finish a login. In the device-code
// flow: open VerificationURI and enter UserCode before Expires. In the
// browser flow (AuthURL set): open AuthURL and sign in; the browser then
// goes to RedirectURI on this machine.
type Prompt struct {
	VerificationURI string
	// VerificationURIComplete, when the provider gives one, already holds
	// the code.
	VerificationURIComplete string
	UserCode                string
	Expires                 time.Time

	AuthURL     string
	RedirectURI string
}

// LoginOptions tune Login; the zero value is fine.
type LoginOptions struct {
	// HTTPClient talks to the provider (default: 30s timeout).
	HTTPClient *http.Client
	// Now is the clock expiries are computed with (default time.Now).
	Now func() time.Time
	// Username is recorded with the grant, for `casemail oauth2 status`,
	// and passed to the provider as the login hint in the browser flow.
	Username string
	// Scopes to ask for; default cfg.Scopes.
	Scopes []string
	// Also stores the same grant for these accounts too, e.g. the SMTP
	// login when it is the same user of the same app (see SharedLogin).
	Also []Account
	// AuthURL is the authorization endpoint of the browser flow (default
	// GoogleAuthURL for google); tests point it elsewhere.
	AuthURL string
	// Paste, in the browser flow, is read for the address the browser
	// ended on (http://127.0.0.1:PORT/?code=…), for when the browser runs
	// on another machine and cannot reach ours.
	Paste io.Reader
	// Timeout bounds the wait for the browser flow (default 10 minutes);
	// the device flow ends when its code expires.
	Timeout time.Duration
}

// Login obtains a grant for acct interactively and stores it in the
// database, replacing any earlier one. It calls show with what the admin
// must do, then waits until the admin has signed in or declined, the code
// expired, or ctx ends.
//
// Microsoft and custom providers use the device-code flow (RFC 8628).
// Google does not allow the mail scope in its device flow, so for google
// Login uses the browser flow for installed apps instead: authorization
// code with PKCE and a loopback redirect to a port Login listens on.
//
// A grant without a refresh token is refused: casemail could use it for an
// hour only.
func Login(ctx context.Context, st *store.Store, cfg config.OAuth2, acct Account, show func(Prompt) error, o LoginOptions) (*store.OAuth2Token, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient
	}
	if len(o.Scopes) == 0 {
		o.Scopes = cfg.Scopes
	}
	if o.AuthURL == "" && cfg.Provider == "google" {
		o.AuthURL = GoogleAuthURL
	}
	xc, err := xconfig(cfg, o.Scopes)
	if err != nil {
		return nil, fmt.Errorf("oauth2 login for %s: %w", acct, err)
	}
	ctx = context.WithValue(ctx, xoauth2.HTTPClient, o.HTTPClient)
	var tok *xoauth2.Token
	switch {
	case cfg.Provider == "google" || (cfg.DeviceAuthURL == "" && o.AuthURL != ""):
		tok, err = browserFlow(ctx, xc, show, o)
	case cfg.DeviceAuthURL != "":
		tok, err = deviceFlow(ctx, xc, show)
	default:
		err = fmt.Errorf("provider %s has no device_auth_url", cfg.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth2 login for %s: %w", acct, err)
	}
	return saveLogin(ctx, st, cfg, acct, tok, o)
}

// deviceFlow runs RFC 8628: show the code, poll until the admin is done.
func deviceFlow(ctx context.Context, xc *xoauth2.Config, show func(Prompt) error) (*xoauth2.Token, error) {
	da, err := xc.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking %s for a device code: %w", xc.Endpoint.DeviceAuthURL, fromRetrieveError(err))
	}
	if da.UserCode == "" || da.VerificationURI == "" || da.DeviceCode == "" {
		return nil, errors.New("the device endpoint gave no code or verification URL")
	}
	if err := show(Prompt{VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		UserCode: da.UserCode, Expires: da.Expiry}); err != nil {
		return nil, err
	}
	tok, err := xc.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, deviceError(err)
	}
	return tok, nil
}

// browserFlow runs the authorization-code flow with PKCE for installed
// apps: the admin signs in in a browser, which is sent back to a loopback
// address Login listens on, or whose final address the admin pastes.
func browserFlow(ctx context.Context, xc *xoauth2.Config, show func(Prompt) error, o LoginOptions) (*xoauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the browser's redirect: %w", err)
	}
	defer ln.Close()
	xc.RedirectURL = "http://" + ln.Addr().String() + "/"
	xc.Endpoint.AuthURL = o.AuthURL
	verifier := xoauth2.GenerateVerifier()
	stateBytes := make([]byte, 16)
	if _, err := rand.Read(stateBytes); err != nil {
		return nil, err
	}
	state := hex.EncodeToString(stateBytes)
	opts := []xoauth2.AuthCodeOption{xoauth2.AccessTypeOffline, xoauth2.ApprovalForce, xoauth2.S256ChallengeOption(verifier)}
	if o.Username != "" {
		opts = append(opts, xoauth2.SetAuthURLParam("login_hint", o.Username))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	type result struct {
		code string
		err  error
	}
	results := make(chan result, 2)
	// redirect reads the code from the browser's final address.
	redirect := func(q url.Values) (string, error) {
		if q.Get("state") != state {
			return "", errors.New("the answer does not belong to this login (state mismatch)")
		}
		if e := q.Get("error"); e != "" {
			pe := &ProviderError{Code: shorten(e, 64), Description: shorten(q.Get("error_description"), 300)}
			if e == "access_denied" {
				return "", fmt.Errorf("the sign-in was declined (%w)", pe)
			}
			return "", fmt.Errorf("the provider refused: %w", pe)
		}
		if q.Get("code") == "" {
			return "", errors.New("the answer holds no authorization code")
		}
		return q.Get("code"), nil
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || (r.URL.Query().Get("state") == "" && r.URL.Query().Get("code") == "") {
			http.NotFound(w, r)
			return
		}
		code, err := redirect(r.URL.Query())
		if err != nil {
			http.Error(w, "casemail: "+err.Error(), http.StatusBadRequest)
		} else {
			fmt.Fprintln(w, "casemail: signed in. You may close this window.")
		}
		select { // a reload of the page must not block
		case results <- result{code, err}:
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	if o.Paste != nil {
		go func() {
			sc := bufio.NewScanner(o.Paste)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				u, err := url.Parse(line)
				if line == "" || err != nil || u.RawQuery == "" {
					continue
				}
				code, err := redirect(u.Query())
				results <- result{code, err}
				return
			}
		}()
	}
	if err := show(Prompt{AuthURL: xc.AuthCodeURL(state, opts...), RedirectURI: xc.RedirectURL}); err != nil {
		return nil, err
	}
	var code string
	select {
	case r := <-results:
		if r.err != nil {
			return nil, r.err
		}
		code = r.code
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errors.New("no sign-in arrived in time; run the command again")
		}
		return nil, ctx.Err()
	}
	tok, err := xc.Exchange(ctx, code, xoauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the authorization code: %w", fromRetrieveError(err))
	}
	return tok, nil
}

// saveLogin checks a freshly obtained token and stores it for acct and
// o.Also.
func saveLogin(ctx context.Context, st *store.Store, cfg config.OAuth2, acct Account, tok *xoauth2.Token, o LoginOptions) (*store.OAuth2Token, error) {
	at := o.Now()
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("oauth2 login for %s: the provider issued no access token", acct)
	}
	if tok.RefreshToken == "" {
		hint := ""
		if cfg.Provider == "microsoft" {
			hint = " (add offline_access to the scopes)"
		}
		return nil, fmt.Errorf("oauth2 login for %s: the provider issued no refresh token%s; casemail needs one to keep logging in", acct, hint)
	}
	if tt := tok.Type(); !strings.EqualFold(tt, "bearer") {
		return nil, fmt.Errorf("oauth2 login for %s: the provider issued a %q token; XOAUTH2 needs a bearer token", acct, shorten(tt, 32))
	}
	life := defaultLifetime
	if tok.ExpiresIn > 0 {
		life = time.Duration(tok.ExpiresIn) * time.Second
	}
	granted := o.Scopes
	if s, ok := tok.Extra("scope").(string); ok && strings.TrimSpace(s) != "" {
		granted = strings.Fields(s)
	}
	row := store.OAuth2Token{
		Provider: cfg.Provider, ClientID: cfg.ClientID, Username: o.Username,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer",
		Expiry: at.Add(life), Scopes: granted, ObtainedAt: at, RefreshedAt: at,
	}
	var first *store.OAuth2Token
	for _, a := range append([]Account{acct}, o.Also...) {
		row.Purpose, row.Name = a.Purpose, a.Name
		saved, err := st.SaveOAuth2Token(ctx, row)
		if err != nil {
			return nil, fmt.Errorf("oauth2 login for %s: %w", a, err)
		}
		if first == nil {
			first = saved
		}
	}
	return first, nil
}

// deviceError explains how a device-code poll ended without a token.
func deviceError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("the code expired before the sign-in was completed; run the command again")
	}
	err = fromRetrieveError(err)
	var pe *ProviderError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "access_denied", "authorization_declined":
			return fmt.Errorf("the sign-in was declined (%w)", pe)
		case "expired_token":
			return fmt.Errorf("the code expired before the sign-in was completed; run the command again (%w)", pe)
		}
		return fmt.Errorf("the token endpoint refused: %w", pe)
	}
	return err
}

// SharedLogin reports whether the smtp section's login is the same user of
// the same app as a mailbox's IMAP login, so that one device-code sign-in
// can serve both, and returns the scopes to ask for (both lists). Only for
// Microsoft and Google, whose refresh tokens stay usable when one copy is
// rotated; a custom provider may revoke the other copy.
func SharedLogin(imap config.IMAP, smtp config.SMTP) (scopes []string, ok bool) {
	a, b := imap.OAuth2, smtp.OAuth2
	if a == nil || b == nil || a.Provider != b.Provider || a.ClientID != b.ClientID ||
		a.Tenant != b.Tenant || a.TokenURL != b.TokenURL || a.DeviceAuthURL != b.DeviceAuthURL ||
		!strings.EqualFold(imap.Username, smtp.Username) {
		return nil, false
	}
	if a.Provider != "microsoft" && a.Provider != "google" {
		return nil, false
	}
	seen := map[string]bool{}
	for _, s := range append(append([]string{}, a.Scopes...), b.Scopes...) {
		if !seen[s] {
			seen[s] = true
			scopes = append(scopes, s)
		}
	}
	return scopes, true
}
