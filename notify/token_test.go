package notify

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	keyA = []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	keyB = []byte("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
)

func mustKeys(t *testing.T, secrets ...[]byte) *Keys {
	t.Helper()
	k, err := NewKeys(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var tokenNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func TestTokenRoundTrip(t *testing.T) {
	k := mustKeys(t, keyA)
	exp := tokenNow.Add(90 * 24 * time.Hour)
	tok := k.Sign(1042, "Anna@Example.org", exp)
	got, err := k.Verify(tok, "anna@example.org", tokenNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Case != 1042 {
		t.Errorf("case = %d, want 1042", got.Case)
	}
	if !got.Expires.Equal(exp.Truncate(time.Minute)) {
		t.Errorf("expires = %v, want %v", got.Expires, exp.Truncate(time.Minute))
	}
	if got.KeyID != k.SigningKeyID() {
		t.Errorf("key id = %d, want %d", got.KeyID, k.SigningKeyID())
	}
	if strings.ToLower(tok) != tok {
		t.Errorf("token %q is not lower case", tok)
	}
}

func TestTokenWrongSender(t *testing.T) {
	k := mustKeys(t, keyA)
	tok := k.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	for _, sender := range []string{"per@example.org", "anna@example.com", "anna@example.org.evil", ""} {
		if _, err := k.Verify(tok, sender, tokenNow); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify from %q: err = %v, want ErrBadToken", sender, err)
		}
	}
}

func TestTokenTampered(t *testing.T) {
	k := mustKeys(t, keyA)
	tok := k.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	alphabet := "abcdefghijklmnopqrstuvwxyz234567"
	for i := range tok {
		for _, c := range []byte{alphabet[0], alphabet[31]} {
			if tok[i] == c {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if got, err := k.Verify(bad, "anna@example.org", tokenNow); err == nil {
				t.Fatalf("tampered token %q (position %d) verified: %+v", bad, i, got)
			}
		}
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], tok + "a", tok + "aaaaaaaa", "!!!!" + tok[4:]} {
		if _, err := k.Verify(bad, "anna@example.org", tokenNow); err == nil {
			t.Errorf("malformed token %q verified", bad)
		}
	}
	// Signed by a key we do not have, but with our key's id: still forged.
	other := mustKeys(t, keyB)
	forged := other.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	if _, err := k.Verify(forged, "anna@example.org", tokenNow); err == nil {
		t.Error("token from a foreign key verified")
	}
}

func TestTokenExpired(t *testing.T) {
	k := mustKeys(t, keyA)
	tok := k.Sign(77, "anna@example.org", tokenNow.Add(-time.Minute))
	got, err := k.Verify(tok, "anna@example.org", tokenNow)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	if got.Case != 77 {
		t.Errorf("expired token case = %d, want 77 (needed for the error reply)", got.Case)
	}
	// An expired token for another sender is not authentic: no case leaks.
	if got, err := k.Verify(tok, "per@example.org", tokenNow); !errors.Is(err, ErrBadToken) || got.Case != 0 {
		t.Errorf("expired token from wrong sender: %+v, %v; want ErrBadToken and no case", got, err)
	}
}

func TestTokenRotation(t *testing.T) {
	old := mustKeys(t, keyA)
	tok := old.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))

	rotated := mustKeys(t, keyB, keyA)
	got, err := rotated.Verify(tok, "anna@example.org", tokenNow)
	if err != nil || got.Case != 1042 {
		t.Fatalf("old token after rotation: %+v, %v", got, err)
	}
	newTok := rotated.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	if got, err := rotated.Verify(newTok, "anna@example.org", tokenNow); err != nil || got.KeyID != rotated.SigningKeyID() {
		t.Fatalf("new token: %+v, %v", got, err)
	}
	if rotated.SigningKeyID() == old.SigningKeyID() {
		t.Fatal("test keys share a key id; pick other test keys")
	}

	onlyNew := mustKeys(t, keyB)
	if _, err := onlyNew.Verify(tok, "anna@example.org", tokenNow); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old token with old key removed: err = %v, want ErrUnknownKey", err)
	}
}

func TestTokenLength(t *testing.T) {
	k := mustKeys(t, keyA)
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int64{0, 1, 1001, 999999, 1 << 40, math.MaxInt64} {
		tok := k.Sign(n, "a.very.long.name@some.subdomain.example.org", far)
		if len(tok) > 40 || len(tok) > MaxTokenChars {
			t.Errorf("case %d: token %q is %d chars, want ≤ 40", n, tok, len(tok))
		}
		local := "helpdesk+" + tok
		if len(local) > 64 {
			t.Errorf("case %d: local part %d chars", n, len(local))
		}
		got, err := k.Verify(tok, "a.very.long.name@some.subdomain.example.org", tokenNow)
		if err != nil || got.Case != n {
			t.Errorf("case %d: Verify = %+v, %v", n, got, err)
		}
	}
}

func TestReplyAddressCaseInsensitive(t *testing.T) {
	k := mustKeys(t, keyA)
	tok := k.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	addr := ReplyAddress("Helpdesk@Example.org", tok)
	if addr != "Helpdesk+"+tok+"@Example.org" {
		t.Fatalf("ReplyAddress = %q", addr)
	}
	// Mail systems may upper-case or lower-case all of it.
	for _, a := range []string{addr, strings.ToUpper(addr), strings.ToLower(addr), "<" + addr + ">"} {
		got, ok := TokenFromAddress(a, "helpdesk@example.org")
		if !ok {
			t.Fatalf("TokenFromAddress(%q) found nothing", a)
		}
		if _, err := k.Verify(got, "ANNA@example.ORG", tokenNow); err != nil {
			t.Errorf("token from %q: %v", a, err)
		}
	}
	for _, a := range []string{
		"helpdesk@example.org",
		"helpdesk+" + tok + "@example.com",
		"support+" + tok + "@example.org",
		"helpdesk+short@example.org",
		"helpdesk+" + tok + "!@example.org",
		"not an address",
	} {
		if got, ok := TokenFromAddress(a, "helpdesk@example.org"); ok {
			t.Errorf("TokenFromAddress(%q) = %q, want none", a, got)
		}
	}
}

func TestMessageIDToken(t *testing.T) {
	k := mustKeys(t, keyA)
	tok := k.Sign(1042, "anna@example.org", tokenNow.Add(time.Hour))
	id1 := NewMessageID(tok, "example.org")
	id2 := NewMessageID(tok, "example.org")
	if id1 == id2 {
		t.Fatal("two Message-IDs are equal")
	}
	if strings.ContainsAny(id1, "<> ") || !strings.HasSuffix(id1, "@example.org") {
		t.Fatalf("Message-ID %q", id1)
	}
	for _, id := range []string{id1, "<" + id1 + ">", strings.ToUpper(id1)} {
		got, ok := TokenFromMessageID(id)
		if !ok || got != tok {
			t.Errorf("TokenFromMessageID(%q) = %q, %v; want %q", id, got, ok, tok)
		}
	}
	plain := NewMessageID("", "example.org")
	if _, ok := TokenFromMessageID(plain); ok {
		t.Errorf("Message-ID without token %q yields a token", plain)
	}
	for _, id := range []string{"CAF=abc.def@mail.gmail.com", "1234.5678@example.org", "nodomain", ""} {
		if got, ok := TokenFromMessageID(id); ok {
			t.Errorf("TokenFromMessageID(%q) = %q, want none", id, got)
		}
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := write("rot", "# new key first\n  "+string(keyB)+"  \n\n# old\n"+string(keyA)+"\n")
	k, err := LoadKeys(p)
	if err != nil {
		t.Fatal(err)
	}
	old := mustKeys(t, keyA)
	if _, err := k.Verify(old.Sign(5, "a@b.c", tokenNow.Add(time.Hour)), "a@b.c", tokenNow); err != nil {
		t.Errorf("old key from file does not verify: %v", err)
	}
	if k.SigningKeyID() != mustKeys(t, keyB).SigningKeyID() {
		t.Error("the first line does not sign")
	}

	cases := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "does not exist"},
		{"empty", write("empty", "\n# only a comment\n   \n"), "no key"},
		{"short", write("short", string(keyA)+"\nshort\n"), "short:2: key is 5 bytes, need at least 32"},
	}
	for _, c := range cases {
		_, err := LoadKeys(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestGenerateSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := GenerateSecretFile(p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	k, err := LoadKeys(p)
	if err != nil {
		t.Fatalf("generated file does not load: %v", err)
	}
	tok := k.Sign(1, "x@y.z", tokenNow.Add(time.Hour))
	if _, err := k.Verify(tok, "x@y.z", tokenNow); err != nil {
		t.Fatal(err)
	}
	if err := GenerateSecretFile(p); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second GenerateSecretFile: err = %v, want fs.ErrExist", err)
	}
	// A second generated file holds a different key.
	p2 := filepath.Join(t.TempDir(), "secret")
	if err := GenerateSecretFile(p2); err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKeys(p2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Verify(tok, "x@y.z", tokenNow); err == nil {
		t.Error("two generated secret files verify each other's tokens")
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := NewKeys(keyA)
	f.Add(k.Sign(1042, "anna@example.org", tokenNow), "anna@example.org")
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x@y")
	f.Fuzz(func(t *testing.T, tok, sender string) {
		got, err := k.Verify(tok, sender, tokenNow)
		if err == nil && got.Case < 0 {
			t.Fatalf("negative case %d", got.Case)
		}
	})
}
