package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func sampleOAuth2Token(at time.Time) OAuth2Token {
	return OAuth2Token{
		Purpose: OAuth2IMAP, Name: "helpdesk", Provider: "microsoft", ClientID: "app", Username: "helpdesk@example.org",
		AccessToken: "access-1", RefreshToken: "refresh-1", Expiry: at.Add(time.Hour),
		Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}, ObtainedAt: at, RefreshedAt: at,
	}
}

func TestOAuth2TokenLifecycle(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	if _, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before login: %v, want ErrNotFound", err)
	}
	saved, err := st.SaveOAuth2Token(ctx, sampleOAuth2Token(at))
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 || saved.TokenType != "Bearer" || saved.RefreshToken != "refresh-1" ||
		!saved.Expiry.Equal(at.Add(time.Hour)) || len(saved.Scopes) != 2 || saved.LastError != "" {
		t.Fatalf("saved %v scopes=%v", saved, saved.Scopes)
	}

	// A refresh that finds nothing to do changes nothing.
	same, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(cur *OAuth2Token) (*OAuth2Token, error) {
		return nil, nil
	})
	if err != nil || same.Version != 1 {
		t.Fatalf("no-op update: version %v, %v", same.Version, err)
	}
	// A failed refresh is recorded for the version it failed on only.
	if ok, err := st.RecordOAuth2Error(ctx, OAuth2IMAP, "helpdesk", 1, "invalid_grant: revoked", at.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("recording the error: %v %v", ok, err)
	}
	// An error of fn leaves the row alone.
	boom := errors.New("provider down")
	if _, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(*OAuth2Token) (*OAuth2Token, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing update returned %v", err)
	}
	got, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk")
	if err != nil || got.Version != 1 || got.LastError != "invalid_grant: revoked" || !got.LastErrorAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("after the failures: %v error %q at %v (%v)", got, got.LastError, got.LastErrorAt, err)
	}

	// A successful refresh replaces the tokens, grows the version, clears
	// the error.
	next, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(cur *OAuth2Token) (*OAuth2Token, error) {
		n := *cur
		n.AccessToken, n.RefreshToken, n.Expiry, n.RefreshedAt = "access-2", "refresh-2", at.Add(2*time.Hour), at.Add(time.Hour)
		n.Name = "ignored" // the key cannot be changed this way
		return &n, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next.Version != 2 || next.Name != "helpdesk" || next.AccessToken != "access-2" || next.RefreshToken != "refresh-2" ||
		next.LastError != "" || !next.LastErrorAt.IsZero() || !next.RefreshedAt.Equal(at.Add(time.Hour)) || !next.ObtainedAt.Equal(at) {
		t.Fatalf("after refresh: %v %+v", next, next)
	}
	// An error for the old version no longer lands.
	if ok, err := st.RecordOAuth2Error(ctx, OAuth2IMAP, "helpdesk", 1, "late", at); ok || err != nil {
		t.Errorf("a stale error was recorded: %v %v", ok, err)
	}
	// A refresh may not lose the refresh token.
	if _, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(cur *OAuth2Token) (*OAuth2Token, error) {
		n := *cur
		n.RefreshToken = ""
		return &n, nil
	}); err == nil {
		t.Error("an update without a refresh token was accepted")
	}

	// A new login replaces the grant and grows the version.
	again := sampleOAuth2Token(at.Add(3 * time.Hour))
	again.AccessToken, again.RefreshToken = "access-3", "refresh-3"
	st.RecordOAuth2Error(ctx, OAuth2IMAP, "helpdesk", 2, "x", at)
	relogged, err := st.SaveOAuth2Token(ctx, again)
	if err != nil || relogged.Version != 3 || relogged.RefreshToken != "refresh-3" || relogged.LastError != "" {
		t.Fatalf("second login: %v %+v", err, relogged)
	}

	// IMAP and SMTP grants are separate, also for a mailbox named smtp.
	smtpTok := sampleOAuth2Token(at)
	smtpTok.Purpose, smtpTok.Name = OAuth2SMTP, "smtp"
	if _, err := st.SaveOAuth2Token(ctx, smtpTok); err != nil {
		t.Fatal(err)
	}
	imapSMTP := sampleOAuth2Token(at)
	imapSMTP.Name = "smtp"
	if _, err := st.SaveOAuth2Token(ctx, imapSMTP); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.OAuth2Token(ctx, OAuth2SMTP, "smtp"); s == nil || s.Version != 1 {
		t.Errorf("smtp grant: %v", s)
	}

	if ok, err := st.DeleteOAuth2Token(ctx, OAuth2IMAP, "helpdesk"); !ok || err != nil {
		t.Errorf("delete: %v %v", ok, err)
	}
	if _, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(*OAuth2Token) (*OAuth2Token, error) {
		t.Error("fn called without a grant")
		return nil, nil
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update after delete: %v", err)
	}
}

func TestOAuth2TokenRejectsIncomplete(t *testing.T) {
	st := openTestStore(t)
	at := time.Now()
	for name, mutate := range map[string]func(*OAuth2Token){
		"purpose": func(t *OAuth2Token) { t.Purpose = "pop3" },
		"name":    func(t *OAuth2Token) { t.Name = "" },
		"access":  func(t *OAuth2Token) { t.AccessToken = "" },
		"expiry":  func(t *OAuth2Token) { t.Expiry = time.Time{} },
	} {
		tok := sampleOAuth2Token(at)
		mutate(&tok)
		if _, err := st.SaveOAuth2Token(context.Background(), tok); err == nil {
			t.Errorf("%s: saved an incomplete grant", name)
		}
	}
}

func TestOAuth2TokenPrintsNoSecrets(t *testing.T) {
	tok := sampleOAuth2Token(time.Now())
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("grant", "tok", tok, "ptr", &tok)
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok), logged.String()} {
		if strings.Contains(s, "access-1") || strings.Contains(s, "refresh-1") {
			t.Errorf("printed a token: %s", s)
		}
		if !strings.Contains(s, "helpdesk") {
			t.Errorf("printed too little: %s", s)
		}
	}
}
