package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// oauth2Config writes a casemail.yaml whose mailbox "helpdesk" and smtp
// section log in with OAuth2 at the local provider p; smtpBlock is the
// smtp section's oauth2 block.
func oauth2Config(t *testing.T, p *oauth2test.Provider, smtpOAuth2 string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("oauth2-test-secret-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "client-secret"), []byte("app-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `database:
  url: ` + storetest.URL(t) + `
secret_file: secret
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap:
      host: 127.0.0.1
      security: none
      username: helpdesk@example.org
      oauth2:
        provider: microsoft
        tenant: example
        client_id: casemail-test
        client_secret_file: client-secret
        token_url: ` + p.TokenURL + `
        device_auth_url: ` + p.DeviceAuthURL + `
  - name: plain
    address: plain@example.org
    imap: {host: 127.0.0.1, security: none, username: plain@example.org, password: x}
smtp:
  host: 127.0.0.1
  security: none
  from: "Helpdesk <helpdesk@example.org>"
` + smtpOAuth2
	path := filepath.Join(dir, "casemail.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOAuth2(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cmdOAuth2(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestOAuth2LoginSharedWithSMTP(t *testing.T) {
	p := oauth2test.Start(t, oauth2test.Options{ClientSecret: "app-secret", AutoApprove: "helpdesk@example.org"})
	cfg := oauth2Config(t, p, `  username: helpdesk@example.org
  oauth2:
    provider: microsoft
    tenant: example
    client_id: casemail-test
    client_secret_file: client-secret
    token_url: `+p.TokenURL+`
    device_auth_url: `+p.DeviceAuthURL+`
`)
	// Before any login, status says what to do and fails.
	out, _, err := runOAuth2(t, "status", "-config", cfg)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "missing") || !strings.Contains(out, "casemail oauth2 login helpdesk") {
		t.Errorf("status before login: %v\n%s", err, out)
	}

	out, stderr, err := runOAuth2(t, "login", "helpdesk", "-config", cfg)
	if err != nil {
		t.Fatalf("login: %v\n%s%s", err, out, stderr)
	}
	for _, want := range []string{p.URL + "/device", "enter the code", "sign in as helpdesk@example.org", "Signed in", "serves SMTP too"} {
		if !strings.Contains(out, want) {
			t.Errorf("login output lacks %q:\n%s", want, out)
		}
	}

	st, err := store.Open(context.Background(), dbURL(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The tokens are sealed with the key from the config's secret_file: the
	// raw columns hold no token, and the key opens them.
	var rawAccess, rawRefresh string
	if err := st.DB().QueryRow(context.Background(), `SELECT access_token, refresh_token FROM oauth2_tokens
		WHERE purpose = 'imap' AND name = 'helpdesk'`).Scan(&rawAccess, &rawRefresh); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rawAccess, "cmseal1:") || !strings.HasPrefix(rawRefresh, "cmseal1:") {
		t.Errorf("tokens stored unsealed: %.20q %.20q", rawAccess, rawRefresh)
	}
	dcfg, err := config.LoadDaemon(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSealer(context.Background(), dcfg, st); err != nil {
		t.Fatal(err)
	}
	imapTok, err := st.OAuth2Token(context.Background(), store.OAuth2IMAP, "helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	smtpTok, err := st.OAuth2Token(context.Background(), store.OAuth2SMTP, "smtp")
	if err != nil {
		t.Fatal(err)
	}
	// One sign-in asked for both scopes; each login has the grant.
	scopes := strings.Join(imapTok.Scopes, " ")
	for _, s := range []string{"IMAP.AccessAsUser.All", "SMTP.Send", "offline_access"} {
		if !strings.Contains(scopes, s) {
			t.Errorf("granted scopes %q lack %s", scopes, s)
		}
	}
	if p.Counts().DeviceAuth != 1 || smtpTok.RefreshToken != imapTok.RefreshToken || imapTok.Username != "helpdesk@example.org" {
		t.Errorf("%d device codes; smtp shares the grant: %v", p.Counts().DeviceAuth, smtpTok.RefreshToken == imapTok.RefreshToken)
	}
	for _, s := range []string{out, stderr} {
		if strings.Contains(s, imapTok.AccessToken) || strings.Contains(s, imapTok.RefreshToken) || strings.Contains(s, "app-secret") {
			t.Errorf("the output shows a secret:\n%s", s)
		}
	}

	out, _, err = runOAuth2(t, "status", "-config", cfg)
	if err != nil || strings.Count(out, " ok ") != 2 {
		t.Errorf("status after login: %v\n%s", err, out)
	}
}

func TestOAuth2LoginSMTPSeparately(t *testing.T) {
	p := oauth2test.Start(t, oauth2test.Options{ClientSecret: "app-secret", AutoApprove: "helpdesk@example.org"})
	// Another user sends: its own sign-in.
	cfg := oauth2Config(t, p, `  username: noreply@example.org
  oauth2:
    provider: microsoft
    tenant: example
    client_id: casemail-test
    client_secret_file: client-secret
    token_url: `+p.TokenURL+`
    device_auth_url: `+p.DeviceAuthURL+`
`)
	out, _, err := runOAuth2(t, "login", "-config", cfg, "helpdesk")
	if err != nil || !strings.Contains(out, "casemail oauth2 login -smtp") {
		t.Fatalf("login: %v\n%s", err, out)
	}
	out, _, err = runOAuth2(t, "login", "-smtp", "-config", cfg)
	if err != nil || !strings.Contains(out, "smtp (noreply@example.org)") {
		t.Fatalf("login -smtp: %v\n%s", err, out)
	}
	if p.Counts().DeviceAuth != 2 {
		t.Errorf("%d device codes, want 2", p.Counts().DeviceAuth)
	}
	out, _, err = runOAuth2(t, "status", "-config", cfg)
	if err != nil || strings.Count(out, " ok ") != 2 {
		t.Errorf("status: %v\n%s", err, out)
	}
}

func TestOAuth2LoginErrors(t *testing.T) {
	p := oauth2test.Start(t, oauth2test.Options{ClientSecret: "app-secret"})
	cfg := oauth2Config(t, p, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login", "nosuch"}, `no mailbox "nosuch"`},
		{[]string{"login", "plain"}, "mailbox plain does not use OAuth2"},
		{[]string{"login", "-smtp"}, "smtp does not use OAuth2"},
		{[]string{"login"}, "usage"},
		{[]string{"login", "-smtp", "helpdesk"}, "usage"},
		{[]string{"frob"}, "unknown oauth2 command"},
	} {
		_, _, err := runOAuth2(t, append(tc.args, "-config", cfg)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if p.Counts().DeviceAuth != 0 {
		t.Error("a refused command asked the provider")
	}
}

// dbURL reads the database url back from a config file.
func dbURL(t *testing.T, cfgPath string) string {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if u, ok := strings.CutPrefix(strings.TrimSpace(line), "url: "); ok {
			return u
		}
	}
	t.Fatal("no database url in config")
	return ""
}
