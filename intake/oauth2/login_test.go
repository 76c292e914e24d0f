package oauth2

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
	"github.com/casemail/casemail/store"
)

const gmailScope = "https://mail.google.com/"

func googleWorld(t *testing.T, approve string) (*world, config.OAuth2) {
	t.Helper()
	w := &world{clock: newClock(), logs: &syncBuffer{}}
	w.p = oauth2test.Start(t, oauth2test.Options{ClientSecret: "app-secret", Now: w.clock.Now, AutoApprove: approve})
	w.st = openStore(t)
	cfg := config.OAuth2{Provider: "google", ClientID: "casemail-test", ClientSecret: "app-secret",
		TokenURL: w.p.TokenURL, DeviceAuthURL: w.p.DeviceAuthURL, Scopes: []string{gmailScope}}
	return w, cfg
}

// TestGoogleBrowserLogin: Google refuses the mail scope in its device
// flow, so its login is the browser flow: the browser comes back to the
// loopback listener with a code, exchanged with the PKCE verifier.
func TestGoogleBrowserLogin(t *testing.T) {
	w, cfg := googleWorld(t, testUser)
	ctx := context.Background()
	page := make(chan string, 1)
	tok, err := Login(ctx, w.st, cfg, IMAP("helpdesk"), func(p Prompt) error {
		if !strings.HasPrefix(p.AuthURL, w.p.AuthURL+"?") || !strings.HasPrefix(p.RedirectURI, "http://127.0.0.1:") ||
			!strings.Contains(p.AuthURL, "code_challenge=") || !strings.Contains(p.AuthURL, "access_type=offline") ||
			!strings.Contains(p.AuthURL, "login_hint=") {
			t.Errorf("prompt = %+v", p)
		}
		go func() { // the admin's browser
			resp, err := http.Get(p.AuthURL)
			if err != nil {
				page <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page <- string(b)
		}()
		return nil
	}, LoginOptions{AuthURL: w.p.AuthURL, Now: w.clock.Now, Username: testUser})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if got := <-page; !strings.Contains(got, "signed in") {
		t.Errorf("the browser ended on %q", got)
	}
	if tok.Provider != "google" || strings.Join(tok.Scopes, " ") != gmailScope || !w.p.LiveRefreshToken(tok.RefreshToken) {
		t.Errorf("stored %v scopes %v", tok, tok.Scopes)
	}
	if c := w.p.Counts(); c.DeviceAuth != 0 {
		t.Errorf("google login used the device flow (%d codes)", c.DeviceAuth)
	}

	// Google's refresh (no scope sent) works through the manager.
	m := NewManager(w.st, cfg, IMAP("helpdesk"), Options{Now: w.clock.Now})
	w.clock.Add(time.Hour)
	at, err := m.Token(ctx)
	if err != nil || at == tok.AccessToken || w.p.CheckAccess(testUser, at, gmailScope) != nil {
		t.Errorf("token after a google refresh: %v", err)
	}
}

// TestGoogleBrowserLoginPasted: the browser runs elsewhere and cannot
// reach our loopback port; the admin pastes the address it ended on.
func TestGoogleBrowserLoginPasted(t *testing.T) {
	w, cfg := googleWorld(t, testUser)
	pr, pw := io.Pipe()
	defer pw.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, err := Login(context.Background(), w.st, cfg, IMAP("helpdesk"), func(p Prompt) error {
		go func() {
			resp, err := noFollow.Get(p.AuthURL)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			resp.Body.Close()
			io.WriteString(pw, "\n  "+resp.Header.Get("Location")+"  \n")
		}()
		return nil
	}, LoginOptions{AuthURL: w.p.AuthURL, Now: w.clock.Now, Paste: pr})
	if err != nil {
		t.Fatalf("login with a pasted address: %v", err)
	}
	if _, err := w.st.OAuth2Token(context.Background(), store.OAuth2IMAP, "helpdesk"); err != nil {
		t.Error(err)
	}
}

func TestGoogleBrowserLoginDeclinedOrForged(t *testing.T) {
	w, cfg := googleWorld(t, "") // the page declines
	_, err := Login(context.Background(), w.st, cfg, IMAP("helpdesk"), func(p Prompt) error {
		go http.Get(p.AuthURL)
		return nil
	}, LoginOptions{AuthURL: w.p.AuthURL, Now: w.clock.Now})
	if err == nil || !strings.Contains(err.Error(), "declined") {
		t.Errorf("declined: %v", err)
	}

	// An answer with another state (a forged or stale redirect) is refused.
	_, err = Login(context.Background(), w.st, cfg, IMAP("helpdesk"), func(p Prompt) error {
		go http.Get(p.RedirectURI + "?state=forged&code=stolen")
		return nil
	}, LoginOptions{AuthURL: w.p.AuthURL, Now: w.clock.Now})
	if err == nil || !strings.Contains(err.Error(), "state mismatch") {
		t.Errorf("forged redirect: %v", err)
	}
}
