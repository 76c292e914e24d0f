package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	keyA = "store test key A, 32 bytes long!"
	keyB = "store test key B, 32 bytes long!"
)

// rawTokens reads the token columns as PostgreSQL holds them.
func rawTokens(t *testing.T, st *Store, purpose, name string) (access, refresh string) {
	t.Helper()
	err := st.pool.QueryRow(context.Background(), `SELECT access_token, refresh_token FROM oauth2_tokens
		WHERE purpose = $1 AND name = $2`, purpose, name).Scan(&access, &refresh)
	if err != nil {
		t.Fatal(err)
	}
	return access, refresh
}

// Whoever reads the database (a backup, a replica, a stolen dump, a
// support engineer's SELECT) finds no OAuth2 token in it: only ciphertext,
// whichever way the row was written.
func TestOAuth2TokensSealedAtRest(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tok := sampleOAuth2Token(at)
	tok.AccessToken, tok.RefreshToken = "EwBoA8l6BAAU-secret-access", "M.C509_BAY.0.U.-secret-refresh"
	if _, err := st.SaveOAuth2Token(ctx, tok); err != nil {
		t.Fatal(err)
	}
	assertSealed := func(when string) {
		t.Helper()
		a, r := rawTokens(t, st, OAuth2IMAP, "helpdesk")
		for _, col := range []string{a, r} {
			if !strings.HasPrefix(col, sealPrefix) || strings.Contains(col, "secret") {
				t.Fatalf("%s: column holds %q", when, col)
			}
		}
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM oauth2_tokens t
			WHERE t::text LIKE '%secret-access%' OR t::text LIKE '%secret-refresh%'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d rows show a token (%v)", when, n, err)
		}
	}
	assertSealed("after login")
	got, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk")
	if err != nil || got.AccessToken != tok.AccessToken || got.RefreshToken != tok.RefreshToken {
		t.Fatalf("read back %v: %v", got, err)
	}
	if _, err := st.UpdateOAuth2Token(ctx, OAuth2IMAP, "helpdesk", func(cur *OAuth2Token) (*OAuth2Token, error) {
		n := *cur
		n.AccessToken, n.RefreshToken = "EwBoA8l6-secret-access-2", "M.C509-secret-refresh-2"
		return &n, nil
	}); err != nil {
		t.Fatal(err)
	}
	assertSealed("after a refresh")

	// Each value is bound to its row and column: swapping the columns (or
	// copying another mailbox's token in) opens nothing.
	a, r := rawTokens(t, st, OAuth2IMAP, "helpdesk")
	if _, err := st.pool.Exec(ctx, `UPDATE oauth2_tokens SET access_token = $1, refresh_token = $2`, r, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk"); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("swapped columns opened: %v", err)
	}

	// Without the key the store refuses rather than writing plain text.
	bare := &Store{pool: st.pool, log: st.log}
	if _, err := bare.SaveOAuth2Token(ctx, tok); !errors.Is(err, errNoSealer) {
		t.Fatalf("save without a key: %v", err)
	}
}

// A row from before encryption (plain text) is sealed on first read, and
// every such row by SealOAuth2Tokens at start.
func TestOAuth2PlainRowsSealed(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	for _, name := range []string{"helpdesk", "qm"} {
		if _, err := st.pool.Exec(ctx, `INSERT INTO oauth2_tokens (purpose, name, provider, client_id,
			access_token, refresh_token, expires_at, obtained_at, refreshed_at)
			VALUES ('imap', $1, 'google', 'app', 'ya29.plain-'||$1, '1//plain-refresh-'||$1, now(), now(), now())`, name); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk")
	if err != nil || got.AccessToken != "ya29.plain-helpdesk" || got.RefreshToken != "1//plain-refresh-helpdesk" {
		t.Fatalf("plain row read as %v, %v", got, err)
	}
	if a, r := rawTokens(t, st, OAuth2IMAP, "helpdesk"); strings.Contains(a+r, "plain") {
		t.Fatalf("plain row not sealed on read: %q %q", a, r)
	}
	if a, _ := rawTokens(t, st, OAuth2IMAP, "qm"); !strings.Contains(a, "plain") {
		t.Fatal("test set-up: the second row should still be plain")
	}
	n, err := st.SealOAuth2Tokens(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SealOAuth2Tokens = %d, %v; want 1 (the row not read yet)", n, err)
	}
	if a, r := rawTokens(t, st, OAuth2IMAP, "qm"); strings.Contains(a+r, "plain") {
		t.Fatalf("sweep left plain text: %q %q", a, r)
	}
	if n, err := st.SealOAuth2Tokens(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v; want nothing to do", n, err)
	}
	if got, err := st.OAuth2Token(ctx, OAuth2IMAP, "qm"); err != nil || got.AccessToken != "ya29.plain-qm" {
		t.Fatalf("swept row read as %v, %v", got, err)
	}
}

// Rotation: with a new key first in secret_file, tokens sealed by the old
// key still open and are sealed again with the new one; once the old key is
// removed they still open. A key that never sealed them opens nothing.
func TestOAuth2SealRotation(t *testing.T) {
	st := openTestStore(t) // sealing with keyA
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if _, err := st.SaveOAuth2Token(ctx, sampleOAuth2Token(at)); err != nil {
		t.Fatal(err)
	}
	before, _ := rawTokens(t, st, OAuth2IMAP, "helpdesk")

	st.SetSealer(testSealer(t, keyB, keyA))
	got, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk")
	if err != nil || got.AccessToken != "access-1" {
		t.Fatalf("old key's row under [B, A]: %v, %v", got, err)
	}
	after, _ := rawTokens(t, st, OAuth2IMAP, "helpdesk")
	if after == before || after[len(sealPrefix):len(sealPrefix)+2] == before[len(sealPrefix):len(sealPrefix)+2] {
		t.Fatalf("not sealed again with the new key: %.14s → %.14s", before, after)
	}

	st.SetSealer(testSealer(t, keyB))
	if got, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk"); err != nil || got.RefreshToken != "refresh-1" {
		t.Fatalf("after removing the old key: %v, %v", got, err)
	}
	st.SetSealer(testSealer(t, "a stranger's key, 32 bytes long!"))
	if _, err := st.OAuth2Token(ctx, OAuth2IMAP, "helpdesk"); !errors.Is(err, ErrUnsealable) ||
		!strings.Contains(err.Error(), "casemail oauth2 login") {
		t.Fatalf("foreign key: %v", err)
	}
	if _, err := st.SealOAuth2Tokens(ctx); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("sweep under a foreign key: %v", err)
	}
}

func TestSealerValues(t *testing.T) {
	sl := testSealer(t, keyA)
	v1, v2 := sl.Seal("tok", "here"), sl.Seal("tok", "here")
	if v1 == v2 {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	for _, bad := range []string{sealPrefix, sealPrefix + "zz:AAAA", sealPrefix + "00", v1[:len(v1)-2], v1 + "A"} {
		if _, _, err := sl.Open(bad, "here"); !errors.Is(err, ErrUnsealable) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	if _, _, err := sl.Open(v1, "elsewhere"); !errors.Is(err, ErrUnsealable) {
		t.Error("a value opened where it was not sealed for")
	}
	if p, stale, err := sl.Open(v1, "here"); err != nil || p != "tok" || stale {
		t.Errorf("Open = %q %v %v", p, stale, err)
	}
	if _, err := NewSealer([][]byte{[]byte("short")}); err == nil {
		t.Error("short key accepted")
	}
}
