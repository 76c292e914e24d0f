package senderauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/casemail/casemail/config"
)

// keyring signs mail in the test and answers the DKIM key lookups: the
// published keys are what a DNS server would hold.
type keyring struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey // by domain (selector "s1")
	lookups []string
}

func newKeyring(t *testing.T, domains ...string) *keyring {
	t.Helper()
	k := &keyring{keys: map[string]ed25519.PrivateKey{}}
	for _, d := range domains {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.keys[d] = priv
	}
	return k
}

func (k *keyring) lookup(_ context.Context, name string) ([]string, error) {
	k.mu.Lock()
	k.lookups = append(k.lookups, name)
	k.mu.Unlock()
	sel, d, _ := strings.Cut(name, "._domainkey.")
	priv, ok := k.keys[d]
	if sel != "s1" || !ok {
		return nil, errors.New("no such record")
	}
	pub := priv.Public().(ed25519.PublicKey)
	return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
}

// sign returns mail signed by domain's key (signing domain d=domain).
func (k *keyring) sign(t *testing.T, domain string, mail string) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(mail), &dkim.SignOptions{
		Domain: domain, Selector: "s1", Signer: k.keys[domain],
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-Id"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func plainMail(from string) string {
	return "From: " + from + "\r\n" +
		"To: helpdesk@helpdesk.example\r\n" +
		"Subject: Re: [#42] printer\r\n" +
		"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
		"Message-Id: <m1@example.org>\r\n" +
		"\r\n" +
		"#close\r\nThanks, done.\r\n"
}

func check(t *testing.T, o Options, raw string) Verdict {
	t.Helper()
	return New(o).Check(context.Background(), []byte(raw))
}

func TestDKIMVerifiedByCasemail(t *testing.T) {
	keys := newKeyring(t, "example.org", "mail.example.org", "evil.example", "other.co.uk")
	o := Options{VerifyDKIM: true, LookupTXT: keys.lookup}

	cases := []struct {
		name   string
		raw    string
		want   Result
		reason string
	}{
		{"valid signature of the From domain", keys.sign(t, "example.org", plainMail("Anna <anna@example.org>")), Pass, "example.org (aligned with example.org) verified"},
		{"signature of a subdomain aligns", keys.sign(t, "mail.example.org", plainMail("anna@example.org")), Pass, "mail.example.org"},
		// The attack: a signed agent reply whose body was changed on the way
		// (a command slipped in) must not pass, and counts as a failure.
		{"altered body", strings.Replace(keys.sign(t, "example.org", plainMail("anna@example.org")), "Thanks, done.", "#assign mallory", 1), Fail, "did not verify"},
		{"altered From", strings.Replace(keys.sign(t, "example.org", plainMail("anna@example.org")), "From: anna@", "From: boss@", 1), Fail, "did not verify"},
		// A valid signature of the attacker's own domain proves nothing
		// about the From domain.
		{"valid signature of another domain", keys.sign(t, "evil.example", plainMail("anna@example.org")), None, "no DKIM signature aligned with example.org"},
		// Sharing a public suffix is not alignment.
		{"same public suffix only", keys.sign(t, "other.co.uk", plainMail("victim@victim.co.uk")), None, "no DKIM signature aligned"},
		{"no signature", plainMail("anna@example.org"), None, "no DKIM signature"},
		// Two From addresses: one could be verified, the other shown.
		{"two From fields", "From: a@example.org\r\n" + keys.sign(t, "example.org", plainMail("b@evil.example")), Fail, "2 From fields"},
		{"two addresses in From", keys.sign(t, "example.org", plainMail("a@example.org, b@evil.example")), Fail, "2 addresses"},
		{"no From", strings.Replace(plainMail("a@example.org"), "From: a@example.org\r\n", "", 1), None, "no From field"},
		{"unreadable From", plainMail("<<<"), None, "could not be read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := check(t, o, c.raw)
			if v.Result != c.want || !strings.Contains(v.Reason(), c.reason) {
				t.Fatalf("got %v, want %v with reason containing %q", v, c.want, c.reason)
			}
		})
	}
}

// Signing with a key the domain never published (the attacker's own key
// under the victim's d=) fails.
func TestDKIMWrongKey(t *testing.T) {
	published := newKeyring(t, "example.org")
	attacker := newKeyring(t, "example.org")
	raw := attacker.sign(t, "example.org", plainMail("anna@example.org"))
	v := check(t, Options{VerifyDKIM: true, LookupTXT: published.lookup}, raw)
	if v.Result != Fail {
		t.Fatalf("got %v, want fail", v)
	}
}

// A mail with many signatures makes casemail verify at most MaxSignatures,
// and look up keys only for domains aligned with From: signatures of other
// domains cost no DNS query.
func TestDKIMBoundedWork(t *testing.T) {
	keys := newKeyring(t, "example.org", "evil.example")
	raw := plainMail("anna@example.org")
	for i := 0; i < 30; i++ {
		raw = keys.sign(t, "evil.example", raw)
	}
	v := check(t, Options{VerifyDKIM: true, LookupTXT: keys.lookup, MaxSignatures: 3}, raw)
	if v.Result != None {
		t.Fatalf("got %v, want none", v)
	}
	if len(keys.lookups) != 0 {
		t.Fatalf("looked up %v for signatures not aligned with From", keys.lookups)
	}
	// The aligned signature on top is among the first verified.
	keys.lookups = nil
	raw = keys.sign(t, "example.org", raw)
	v = check(t, Options{VerifyDKIM: true, LookupTXT: keys.lookup, MaxSignatures: 3}, raw)
	if v.Result != Pass || len(keys.lookups) != 1 {
		t.Fatalf("got %v after %d lookups, want pass after 1", v, len(keys.lookups))
	}
}

func withAR(mail string, fields ...string) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString("Authentication-Results: " + f + "\r\n")
	}
	return b.String() + mail
}

func TestAuthenticationResults(t *testing.T) {
	o := Options{AuthservIDs: []string{"mx.helpdesk.example", ""}}
	mail := plainMail("Anna <anna@example.org>")
	received := "Received: from mail.example.org by mx.helpdesk.example; Tue, 01 Dec 2026 10:00:01 +0000\r\n"
	cases := []struct {
		name   string
		raw    string
		want   Result
		reason string
	}{
		{"trusted dmarc pass", withAR(mail, "mx.helpdesk.example; dmarc=pass (p=reject) header.from=example.org"), Pass, "DMARC passed"},
		{"trusted dmarc fail", withAR(mail, "mx.helpdesk.example; dmarc=fail header.from=example.org"), Fail, "DMARC failed for example.org"},
		{"trusted aligned dkim pass, OpenDKIM comment with ';'", withAR(mail, "mx.helpdesk.example;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.b=\"AbC;d\""), Pass, "DKIM passed for example.org (aligned with example.org)"},
		{"Gmail style header.i only", withAR(mail, "mx.helpdesk.example; dkim=pass header.i=@example.org header.s=s1; spf=pass (domain of x designates 1.2.3.4) smtp.mailfrom=x@bounce.example.net"), Pass, "DKIM"},
		{"trusted aligned spf pass", withAR(mail, "mx.helpdesk.example 1; spf=pass smtp.mailfrom=anna@example.org"), Pass, "SPF passed"},
		{"trusted dkim fail", withAR(mail, "mx.helpdesk.example; dkim=fail (bad signature) header.d=example.org"), Fail, "DKIM failed for example.org (fail)"},
		{"trusted unaligned dkim pass", withAR(mail, "mx.helpdesk.example; dkim=pass header.d=evil.example"), None, "not aligned"},
		{"trusted but temporary error", withAR(mail, "mx.helpdesk.example; dkim=temperror header.d=example.org"), None, "no DMARC, DKIM or SPF result"},
		{"Microsoft 365, no authserv-id", withAR(mail, "spf=pass (sender IP is 192.0.2.1)\r\n smtp.mailfrom=example.org; dkim=pass (signature was verified)\r\n header.d=example.org;dmarc=pass action=none header.from=example.org;compauth=pass\r\n reason=100"), Pass, "DMARC passed"},
		// The attacks: a header the sender wrote.
		{"untrusted authserv-id", withAR(mail, "mx.evil.example; dmarc=pass header.from=example.org"), None, "no trusted Authentication-Results"},
		{"forged trusted id below the server's own",
			withAR(received+withAR(mail, "mx.helpdesk.example; dmarc=pass header.from=example.org"),
				"mx.helpdesk.example; dkim=none; spf=none smtp.mailfrom=example.org"), None, "no DMARC, DKIM or SPF result"},
		{"forged pass below the server's fail",
			withAR(received+withAR(mail, "mx.helpdesk.example; dkim=pass header.d=example.org"),
				"mx.helpdesk.example; dmarc=fail header.from=example.org"), Fail, "DMARC failed"},
		{"untrusted field above the trusted one is skipped",
			withAR(mail, "filter.other.example; dmarc=pass header.from=example.org", "mx.helpdesk.example; dmarc=fail header.from=example.org"), Fail, "DMARC failed"},
		{"unreadable topmost trusted field does not fall back to a lower one",
			withAR(received+withAR(mail, "mx.helpdesk.example; dmarc=pass header.from=example.org"), "mx.helpdesk.example 2; dmarc=none"), None, "could not be read"},
		{"dmarc result about another From is ignored", withAR(mail, "mx.helpdesk.example; dmarc=pass header.from=evil.example"), None, "no DMARC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := check(t, o, c.raw)
			if v.Result != c.want || !strings.Contains(v.Reason(), c.reason) {
				t.Fatalf("got %v, want %v with reason containing %q", v, c.want, c.reason)
			}
		})
	}
	// Nothing trusted configured: even a perfect-looking field proves nothing.
	v := check(t, Options{}, withAR(mail, "mx.helpdesk.example; dmarc=pass header.from=example.org"))
	if v.Result != None {
		t.Fatalf("no trusted ids: got %v", v)
	}
	// Microsoft's unnamed field is trusted only when "" is configured.
	v = check(t, Options{AuthservIDs: []string{"mx.helpdesk.example"}}, withAR(mail, "spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"))
	if v.Result != None {
		t.Fatalf("unnamed field trusted without \"\": %v", v)
	}
}

// The server's verdict and casemail's own check together: a verified
// aligned signature passes even where the server's field says nothing; a
// server fail stands when casemail's own check finds no aligned signature.
func TestServerAndOwnCheck(t *testing.T) {
	keys := newKeyring(t, "example.org")
	o := Options{AuthservIDs: []string{"mx.helpdesk.example"}, VerifyDKIM: true, LookupTXT: keys.lookup}
	signed := keys.sign(t, "example.org", plainMail("anna@example.org"))
	if v := check(t, o, withAR(signed, "mx.helpdesk.example; dkim=none")); v.Result != Pass || v.Source != "casemail's DKIM check" {
		t.Fatalf("signed: %v", v)
	}
	unsigned := plainMail("anna@example.org")
	if v := check(t, o, withAR(unsigned, "mx.helpdesk.example; dmarc=fail header.from=example.org")); v.Result != Fail {
		t.Fatalf("server fail: %v", v)
	}
	v := check(t, o, withAR(unsigned, "mx.helpdesk.example; dkim=none"))
	if v.Result != None || !strings.Contains(v.Source, "and casemail's DKIM check") {
		t.Fatalf("neither: %v", v)
	}
}

func TestPolicy(t *testing.T) {
	pass := Verdict{Result: Pass, Domain: "example.org", Findings: []Finding{found("DMARC passed for %s", "example.org")}}
	none := Verdict{Result: None, Domain: "example.org", Findings: []Finding{found("no DMARC, DKIM or SPF result for %s", "example.org")}}
	fail := Verdict{Result: Fail, Domain: "example.org", Findings: []Finding{found("DMARC failed for %s", "example.org")}}
	for _, c := range []struct {
		level Level
		v     Verdict
		ok    bool
		why   string
	}{
		{TokenOnly, pass, true, ""},
		{TokenOnly, none, true, ""},
		{TokenOnly, fail, false, "authentication failed: DMARC failed"},
		{Authenticated, pass, true, ""},
		{Authenticated, none, false, "requires mail whose sender is authenticated"},
		{Authenticated, fail, false, "authentication failed"},
	} {
		p := Policy{Commands: c.level, Participants: c.level}
		for what, f := range map[string]func(Verdict) (bool, Finding){"command": p.AllowCommand, "participant": p.AllowParticipant} {
			ok, why := f(c.v)
			if ok != c.ok || !strings.Contains(why.String(), c.why) || (ok && why.Format != "") {
				t.Errorf("%s %v %v: got %v %q", what, c.level, c.v.Result, ok, why)
			}
		}
	}
	if fail.Acknowledge() || !none.Acknowledge() || !pass.Acknowledge() {
		t.Error("Acknowledge: only a failed sender goes unacknowledged")
	}
	// The two halves are independent.
	p := Policy{Commands: Authenticated, Participants: TokenOnly}
	if ok, _ := p.AllowCommand(none); ok {
		t.Error("command allowed without authentication")
	}
	if ok, _ := p.AllowParticipant(none); !ok {
		t.Error("participant refused under token")
	}
	for s, want := range map[string]Level{"token": TokenOnly, "authenticated": Authenticated} {
		if l, err := ParseLevel(s); err != nil || l != want || l.String() != s {
			t.Errorf("ParseLevel(%q) = %v, %v", s, l, err)
		}
	}
	if _, err := ParseLevel("dkim"); err == nil {
		t.Error("ParseLevel accepted dkim")
	}
}

func TestAligned(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"example.org", "EXAMPLE.org.", true},
		{"mail.example.org", "example.org", true},
		{"a.example.org", "b.example.org", true},
		{"example.org", "example.com", false},
		{"victim.co.uk", "evil.co.uk", false},
		{"co.uk", "co.uk", true},
		{"co.uk", "evil.co.uk", false},
		{"", "example.org", false},
	} {
		if got := Aligned(c.a, c.b); got != c.want {
			t.Errorf("Aligned(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestStripComments(t *testing.T) {
	got := stripComments("mx; dkim=pass (a (nested; x) \\) c)\r\n\theader.d=\"ex;ample.org\"")
	if want := "mx; dkim=pass     header.d=ex ample.org"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// Check's time grows linearly with the header: a header of many fields
// (hostile or not) is read once. Compare ns/op across the sizes.
func BenchmarkCheckHeader(b *testing.B) {
	o := New(Options{AuthservIDs: []string{"mx.helpdesk.example"}})
	for _, n := range []int{10 << 10, 100 << 10, 1 << 20, 10 << 20} {
		var h strings.Builder
		for h.Len() < n {
			fmt.Fprintf(&h, "Authentication-Results: mx.evil.example; dkim=pass (%s) header.d=example.org\r\n", strings.Repeat("(", 40))
			h.WriteString("Received: from x (" + strings.Repeat("y ", 30) + ")\r\n")
		}
		raw := []byte(h.String() + plainMail("anna@example.org"))
		b.Run(fmt.Sprintf("%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				o.Check(context.Background(), raw)
			}
		})
	}
}

// casemail.yaml's section, loaded, gives a Checker that applies it.
func TestFromConfig(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	cfg, err := config.ParseDaemon("c.yaml", []byte(`database: {url: x}
mailboxes:
  - name: helpdesk
    address: helpdesk@helpdesk.example
    imap: {host: 127.0.0.1, security: none, username: u, password: p}
smtp: {host: 127.0.0.1, security: none, from: helpdesk@helpdesk.example}
secret_file: secret
sender_auth:
  commands: authenticated
  authserv_ids: [mx.helpdesk.example]
`), env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromConfig(cfg.SenderAuth, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Policy(); p.Commands != Authenticated || p.Participants != TokenOnly {
		t.Fatalf("policy %+v", p)
	}
	mail := plainMail("anna@example.org")
	v := c.Check(context.Background(), []byte(withAR(mail, "mx.helpdesk.example; dmarc=pass header.from=example.org")))
	if ok, why := c.AllowCommand(v); !ok {
		t.Fatalf("authenticated command refused: %s", why)
	}
	// The same mail without the server's word: a command is refused, with
	// a reason the agent can read; a participant's post (token) is not.
	v = c.Check(context.Background(), []byte(withAR(mail, "mx.evil.example; dmarc=pass header.from=example.org")))
	if ok, why := c.AllowCommand(v); ok || !strings.Contains(why.String(), "receiving server added no trusted Authentication-Results") {
		t.Fatalf("unauthenticated command: %v %q", ok, why)
	}
	if ok, _ := c.AllowParticipant(v); !ok {
		t.Fatal("participant refused under token")
	}
	if _, err := FromConfig(config.SenderAuth{Commands: "maybe"}, nil); err == nil {
		t.Fatal("bad level accepted")
	}
}

// casemail's own DKIM check hashes the body once per verified signature:
// time grows linearly with the mail. Compare ns/op (or MB/s) across sizes.
func BenchmarkCheckDKIM(b *testing.B) {
	keys := &keyring{keys: map[string]ed25519.PrivateKey{}}
	_, keys.keys["example.org"], _ = ed25519.GenerateKey(rand.Reader)
	c := New(Options{VerifyDKIM: true, LookupTXT: keys.lookup})
	line := strings.Repeat("> quoted text of a long thread, ", 2) + "\r\n"
	for _, n := range []int{10 << 10, 100 << 10, 1 << 20, 10 << 20} {
		var out bytes.Buffer
		body := strings.Repeat(line, n/len(line))
		err := dkim.Sign(&out, strings.NewReader(strings.Replace(plainMail("anna@example.org"), "#close\r\nThanks, done.\r\n", body, 1)),
			&dkim.SignOptions{Domain: "example.org", Selector: "s1", Signer: keys.keys["example.org"]})
		if err != nil {
			b.Fatal(err)
		}
		raw := out.Bytes()
		b.Run(fmt.Sprintf("%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for i := 0; i < b.N; i++ {
				if v := c.Check(context.Background(), raw); v.Result != Pass {
					b.Fatal(v)
				}
			}
		})
	}
}

// Any header: no panic, and a verdict with a reason.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(withAR(plainMail("a@example.org"), "mx.helpdesk.example; dkim=pass (x; y) header.d=example.org")))
	f.Add([]byte(withAR(plainMail("a@example.org"), "spf=pass smtp.mailfrom=example.org;dmarc=fail header.from=example.org")))
	f.Add([]byte("Authentication-Results: mx.helpdesk.example; ((((\r\nFrom: a@b\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; d=example.org; s=s1; h=from; bh=; b=\r\nFrom: a@example.org\r\n\r\nx"))
	keys := &keyring{keys: map[string]ed25519.PrivateKey{}}
	c := New(Options{AuthservIDs: []string{"mx.helpdesk.example", ""}, VerifyDKIM: true, LookupTXT: keys.lookup})
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := c.Check(context.Background(), raw)
		if v.Reason() == "" || v.Result < None || v.Result > Fail {
			t.Fatalf("verdict %+v", v)
		}
	})
}
