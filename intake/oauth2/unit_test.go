package oauth2

import (
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
)

func TestXOAUTH2ClientRoundTrip(t *testing.T) {
	c := NewXOAUTH2Client("helpdesk@example.org", "tok123")
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" || string(ir) != "user=helpdesk@example.org\x01auth=Bearer tok123\x01\x01" {
		t.Fatalf("Start = %q %q %v", mech, ir, err)
	}
	user, tok, err := oauth2test.ParseXOAUTH2(ir)
	if err != nil || user != "helpdesk@example.org" || tok != "tok123" {
		t.Errorf("parsed %q %q %v", user, tok, err)
	}
	// After a refusal the server sends a JSON challenge; the answer is empty.
	if resp, err := c.Next([]byte(`{"status":"401"}`)); err != nil || resp == nil || len(resp) != 0 {
		t.Errorf("Next = %q %v, want an empty response", resp, err)
	}
	for _, bad := range [][2]string{{"", "t"}, {"u", ""}, {"u\x01x", "t"}, {"u", "t t"}, {"u", "t\r\n"}} {
		if _, _, err := NewXOAUTH2Client(bad[0], bad[1]).Start(); err == nil {
			t.Errorf("Start(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestParseGrant(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	g, err := parseGrant([]byte(`{"access_token":"a","refresh_token":"r","token_type":"Bearer","expires_in":"3599","scope":"x y"}`), now)
	if err != nil || g.AccessToken != "a" || g.RefreshToken != "r" || !g.Expiry.Equal(now.Add(3599*time.Second)) ||
		strings.Join(g.Scopes, ",") != "x,y" {
		t.Errorf("grant = %+v, %v", g, err)
	}
	g, err = parseGrant([]byte(`{"access_token":"a","token_type":"bearer"}`), now)
	if err != nil || g.RefreshToken != "" || !g.Expiry.Equal(now.Add(defaultLifetime)) || g.Scopes != nil {
		t.Errorf("minimal grant = %+v, %v", g, err)
	}
	for _, body := range []string{`not json`, `{"token_type":"Bearer"}`, `{"access_token":"a","token_type":"mac"}`,
		`{"error":"invalid_grant"}`} {
		if _, err := parseGrant([]byte(body), now); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
}

func TestProviderErrorIsShortAndClassified(t *testing.T) {
	long := strings.Repeat("AADSTS70000 trace ", 50)
	e := providerError(400, "application/json; charset=utf-8", []byte(`{"error":"invalid_grant","error_description":"`+long+`"}`))
	if e.Code != "invalid_grant" || len(e.Description) > 310 || !e.Permanent() {
		t.Errorf("error = %q (%d bytes), permanent %v", e.Code, len(e.Description), e.Permanent())
	}
	e = providerError(400, "application/x-www-form-urlencoded", []byte("error=temporarily_unavailable&error_description=busy"))
	if e.Code != "temporarily_unavailable" || e.Description != "busy" || e.Permanent() {
		t.Errorf("form error = %+v", e)
	}
	if e := providerError(502, "text/html", []byte("<html>bad gateway</html>")); e.Error() != "the provider answered HTTP 502" {
		t.Errorf("html error = %q", e.Error())
	}
}

func TestSharedLogin(t *testing.T) {
	ms := func(scopes ...string) *config.OAuth2 {
		return &config.OAuth2{Provider: "microsoft", ClientID: "app", Tenant: "t", TokenURL: "u", DeviceAuthURL: "d", Scopes: scopes}
	}
	imap := config.IMAP{Username: "Helpdesk@example.org", OAuth2: ms("IMAP", "offline_access")}
	smtp := config.SMTP{Username: "helpdesk@example.org", OAuth2: ms("SMTP", "offline_access")}
	if scopes, ok := SharedLogin(imap, smtp); !ok || strings.Join(scopes, " ") != "IMAP offline_access SMTP" {
		t.Errorf("same user and app: %v %v", scopes, ok)
	}
	other := smtp
	other.Username = "noreply@example.org"
	if _, ok := SharedLogin(imap, other); ok {
		t.Error("shared across users")
	}
	other = smtp
	other.OAuth2 = ms("SMTP")
	other.OAuth2.ClientID = "app2"
	if _, ok := SharedLogin(imap, other); ok {
		t.Error("shared across apps")
	}
	custom := config.IMAP{Username: imap.Username, OAuth2: ms("IMAP")}
	custom.OAuth2.Provider = "custom"
	customSMTP := config.SMTP{Username: smtp.Username, OAuth2: ms("SMTP")}
	customSMTP.OAuth2.Provider = "custom"
	if _, ok := SharedLogin(custom, customSMTP); ok {
		t.Error("shared for a custom provider, whose rotation may revoke the other copy")
	}
	if _, ok := SharedLogin(imap, config.SMTP{Username: smtp.Username}); ok {
		t.Error("shared with an SMTP login without oauth2")
	}
}
