package senderauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"
)

// Result is the outcome of a check.
type Result int

const (
	// None: nothing trustworthy says whether the sender is authentic.
	None Result = iota
	// Pass: a trusted source vouches for the From domain.
	Pass
	// Fail: a trusted source says the From domain did not send this mail.
	Fail
)

func (r Result) String() string {
	switch r {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "none"
}

// Verdict is what Check found out about one mail's sender.
type Verdict struct {
	Result Result
	// Domain is the From address's domain the verdict is about; "" when the
	// mail has no single readable From address.
	Domain string
	// Source says who vouched: "Authentication-Results from mx.example.org"
	// or "casemail's DKIM check"; "" for None without any source.
	Source string
	// Findings say why: no mail text, only domains, methods and result
	// names.
	Findings []Finding
}

// Finding is one fact behind a verdict, in parts: an English format and
// its arguments, which are data (domains, methods, result values,
// counts) or findings in turn. A mail words Format in its reader's
// language and keeps the data (casework hands it to notify); String is the
// English, for the log and the case's events.
type Finding struct {
	Format string
	Args   []any
}

// found is the finding of format and args.
func found(format string, args ...any) Finding { return Finding{Format: format, Args: args} }

func (f Finding) String() string {
	args := make([]any, len(f.Args))
	for i, a := range f.Args {
		if fs, ok := a.([]Finding); ok {
			a = joinFindings(fs)
		}
		args[i] = a
	}
	return fmt.Sprintf(f.Format, args...)
}

func joinFindings(fs []Finding) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return strings.Join(out, "; ")
}

// Reason is the verdict's findings in English, one after the other.
func (v Verdict) Reason() string { return joinFindings(v.Findings) }

func (v Verdict) String() string {
	if v.Source == "" {
		return v.Result.String() + ": " + v.Reason()
	}
	return v.Result.String() + " (" + v.Source + "): " + v.Reason()
}

// Level is what a policy asks of a mail beyond a valid reply token.
type Level int

const (
	// TokenOnly: a valid token is enough unless authentication failed
	// outright (today's behaviour, for servers that add nothing).
	TokenOnly Level = iota
	// Authenticated: a valid token and a Pass verdict.
	Authenticated
)

// ParseLevel reads a level as written in casemail.yaml: "token" or
// "authenticated".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "token", "":
		return TokenOnly, nil
	case "authenticated":
		return Authenticated, nil
	}
	return TokenOnly, fmt.Errorf("sender_auth level %q: want token or authenticated", s)
}

func (l Level) String() string {
	if l == Authenticated {
		return "authenticated"
	}
	return "token"
}

// Policy says what an agent's command and a participant's post need.
type Policy struct {
	Commands     Level
	Participants Level
}

// AllowCommand reports whether a command from a mail with this verdict
// may apply (its token checked by the caller), and if not, why: a
// finding whose argument is the verdict's findings.
func (p Policy) AllowCommand(v Verdict) (bool, Finding) {
	return allow(p.Commands, v)
}

// AllowParticipant reports whether a mail with this verdict may add
// participants and post as one (its proof checked by the caller), and if
// not, why.
func (p Policy) AllowParticipant(v Verdict) (bool, Finding) {
	return allow(p.Participants, v)
}

// Acknowledge reports whether a mail with this verdict may be
// acknowledged: never when its sender failed authentication (forged
// senders would otherwise turn casemail into a backscatter source).
func (v Verdict) Acknowledge() bool { return v.Result != Fail }

func allow(l Level, v Verdict) (bool, Finding) {
	switch {
	case v.Result == Fail:
		return false, found("the sender's authentication failed: %s", v.Findings)
	case l == Authenticated && v.Result != Pass:
		return false, found("this helpdesk requires mail whose sender is authenticated (an aligned DKIM or DMARC pass), and %s", v.Findings)
	}
	return true, Finding{}
}

// Options configure a Checker. The zero value trusts nothing and never
// passes.
type Options struct {
	// AuthservIDs are the authserv-ids of the organisation's own receiving
	// servers, compared case-insensitively. "" trusts a field that names no
	// authserv-id (Microsoft 365 writes its results so).
	AuthservIDs []string
	// VerifyDKIM has casemail verify DKIM signatures itself.
	VerifyDKIM bool
	// LookupTXT resolves DKIM keys; default: the system resolver with
	// LookupTimeout per query. Tests replace it.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// LookupTimeout bounds one DNS query of the default resolver; default 5s.
	LookupTimeout time.Duration
	// MaxSignatures bounds the DKIM signatures verified per mail; default 4.
	MaxSignatures int
	// Policy is what commands and participants need (see AllowCommand).
	Policy Policy
}

// Checker checks mail against Options. It is safe for concurrent use.
type Checker struct {
	o       Options
	trusted map[string]bool
}

// DefaultMaxSignatures is how many DKIM signatures a mail may make
// casemail verify: real mail carries one to three (author, ESP, list).
const DefaultMaxSignatures = 4

// New returns a Checker for o.
func New(o Options) *Checker {
	c := &Checker{o: o, trusted: map[string]bool{}}
	for _, id := range o.AuthservIDs {
		c.trusted[strings.ToLower(strings.TrimSpace(id))] = true
	}
	if c.o.MaxSignatures <= 0 {
		c.o.MaxSignatures = DefaultMaxSignatures
	}
	if c.o.LookupTimeout <= 0 {
		c.o.LookupTimeout = 5 * time.Second
	}
	if c.o.LookupTXT == nil {
		timeout := c.o.LookupTimeout
		c.o.LookupTXT = func(ctx context.Context, name string) ([]string, error) {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return net.DefaultResolver.LookupTXT(ctx, name)
		}
	}
	return c
}

// Policy returns the configured policy.
func (c *Checker) Policy() Policy { return c.o.Policy }

// AllowCommand is Policy().AllowCommand.
func (c *Checker) AllowCommand(v Verdict) (bool, Finding) { return c.o.Policy.AllowCommand(v) }

// AllowParticipant is Policy().AllowParticipant.
func (c *Checker) AllowParticipant(v Verdict) (bool, Finding) {
	return c.o.Policy.AllowParticipant(v)
}

// Check decides whether raw's sender is authentic. Its work is linear in
// the header's size plus, with VerifyDKIM, at most MaxSignatures body
// hashes and key lookups (only for signing domains aligned with From).
func (c *Checker) Check(ctx context.Context, raw []byte) Verdict {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return Verdict{Result: None, Findings: []Finding{found("its header could not be read")}}
	}
	domain, bad, why := fromDomain(h)
	if domain == "" {
		// DMARC has nothing to align with. Two From addresses are the
		// known trick to have one verified and another shown: a fail.
		if bad {
			return Verdict{Result: Fail, Findings: []Finding{why}}
		}
		return Verdict{Result: None, Findings: []Finding{why}}
	}
	ar := c.fromAuthResults(h, domain)
	if ar.Result == Pass || !c.o.VerifyDKIM {
		return ar
	}
	own := c.verifyDKIM(ctx, raw, domain)
	switch {
	case own.Result == Pass:
		// A valid aligned signature is proof whatever the server said.
		return own
	case ar.Result == Fail:
		return ar
	case own.Result == Fail:
		return own
	case ar.Source != "":
		return Verdict{Result: None, Domain: domain, Source: ar.Source + " and casemail's DKIM check",
			Findings: append(append([]Finding{}, ar.Findings...), own.Findings...)}
	}
	return own
}

// fromDomain returns the domain of the only From address, or "", whether
// the mail has more than one From address (bad), and why.
func fromDomain(h textproto.Header) (domain string, bad bool, why Finding) {
	fields := h.FieldsByKey("From")
	n := 0
	for fields.Next() {
		n++
	}
	switch {
	case n == 0:
		return "", false, found("the mail has no From field")
	case n > 1:
		return "", true, found("the mail has %d From fields, not one", n)
	}
	addrs, err := (&mail.Header{Header: message.Header{Header: h}}).AddressList("From")
	switch {
	case err != nil || len(addrs) == 0:
		return "", false, found("its From field could not be read")
	case len(addrs) > 1:
		return "", true, found("its From field has %d addresses, not one", len(addrs))
	}
	at := strings.LastIndexByte(addrs[0].Address, '@')
	if at < 0 {
		return "", false, found("its From address has no domain")
	}
	return normDomain(addrs[0].Address[at+1:]), false, Finding{}
}

func normDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// Aligned reports whether a and b are aligned in DMARC's relaxed mode:
// the same organisational domain by the public suffix list (a domain
// that is itself a public suffix aligns only with itself).
func Aligned(a, b string) bool {
	a, b = normDomain(a), normDomain(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && oa == ob
}

// fromAuthResults reads the topmost Authentication-Results field whose
// authserv-id is trusted, and only that one: see the package comment.
func (c *Checker) fromAuthResults(h textproto.Header, domain string) Verdict {
	if len(c.trusted) == 0 {
		return Verdict{Result: None, Domain: domain, Findings: []Finding{found("no Authentication-Results are trusted")}}
	}
	fields := h.FieldsByKey("Authentication-Results")
	for fields.Next() {
		id, results, err := parseAuthResults(fields.Value())
		if !c.trusted[strings.ToLower(id)] {
			continue
		}
		src := "Authentication-Results from " + id
		if id == "" {
			src = "Authentication-Results without authserv-id"
		}
		if err != nil {
			// The topmost trusted field decides; an unreadable one must not
			// hand the decision to a lower field the sender may have written.
			return Verdict{Result: None, Domain: domain, Source: src,
				Findings: []Finding{found("the receiving server's Authentication-Results could not be read")}}
		}
		v := judge(results, domain)
		v.Source = src
		return v
	}
	return Verdict{Result: None, Domain: domain, Findings: []Finding{found("the receiving server added no trusted Authentication-Results")}}
}

// judge turns one server's results into a verdict for the From domain.
func judge(results []authres.Result, domain string) Verdict {
	// The server's DMARC evaluation, when it made one for this From,
	// decides: it weighed the same DKIM and SPF results with the domain's
	// published policy.
	for _, r := range results {
		r, ok := r.(*authres.DMARCResult)
		if !ok || (r.From != "" && !strings.EqualFold(normDomain(r.From), domain)) {
			continue // a result about another From is not about this mail
		}
		switch r.Value {
		case authres.ResultPass:
			return Verdict{Result: Pass, Domain: domain, Findings: []Finding{found("DMARC passed for %s", domain)}}
		case authres.ResultFail:
			return Verdict{Result: Fail, Domain: domain, Findings: []Finding{found("DMARC failed for %s", domain)}}
		}
	}
	var fails, unaligned []Finding
	for _, r := range results {
		var method, d string
		var value authres.ResultValue
		var failed bool
		switch r := r.(type) {
		case *authres.DKIMResult:
			method, d, value = "DKIM", r.Domain, r.Value
			if d == "" {
				d = domainOf(r.Identifier) // Gmail names the signer by header.i only
			}
			failed = value == authres.ResultFail || value == authres.ResultPermError || value == authres.ResultPolicy
		case *authres.SPFResult:
			method, d, value = "SPF", domainOf(r.From), r.Value
			if d == "" {
				d = domainOf(r.Helo)
			}
			failed = value == authres.ResultFail || value == authres.ResultHardFail
		default:
			continue
		}
		d = normDomain(d)
		switch {
		case !Aligned(d, domain):
			if value == authres.ResultPass {
				unaligned = append(unaligned, found("%s passed for %s, not aligned with %s", method, d, domain))
			}
		case value == authres.ResultPass:
			return Verdict{Result: Pass, Domain: domain, Findings: []Finding{found("%s passed for %s (aligned with %s)", method, d, domain)}}
		case failed:
			fails = append(fails, found("%s failed for %s (%s)", method, d, string(value)))
		}
	}
	switch {
	case len(fails) > 0:
		return Verdict{Result: Fail, Domain: domain, Findings: append(fails, found("nothing aligned with %s passed", domain))}
	case len(unaligned) > 0:
		return Verdict{Result: None, Domain: domain, Findings: unaligned}
	}
	return Verdict{Result: None, Domain: domain, Findings: []Finding{found("no DMARC, DKIM or SPF result for %s", domain)}}
}

// domainOf is the part after the last '@', or s itself when it has none.
func domainOf(s string) string {
	s = strings.Trim(strings.TrimSpace(s), "<>")
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		s = s[at+1:]
	}
	return normDomain(s)
}

// parseAuthResults parses one field's value with go-msgauth's authres,
// after unfolding it and removing RFC 5322 comments (which authres does not
// handle: OpenDKIM writes "dkim=pass (2048-bit key; unprotected)", whose
// ';' would split a result) and quotes around values. A field that names no
// authserv-id (Microsoft 365) gets "".
func parseAuthResults(v string) (string, []authres.Result, error) {
	v = stripComments(v)
	if first, _, _ := strings.Cut(v, ";"); strings.Contains(first, "=") {
		v = ";" + v
	}
	id, results, err := authres.Parse(v)
	return strings.TrimSpace(id), results, err
}

// stripComments removes (nested) comments and the double quotes of quoted
// strings, and turns folding into spaces, in one pass.
func stripComments(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && (depth > 0 || quoted) && i+1 < len(s):
			i++
			if depth == 0 {
				b.WriteByte(s[i])
			}
		case quoted:
			if ch == '"' {
				quoted = false
			} else if ch == ';' {
				b.WriteByte(' ') // a ';' in a quoted value must not split results
			} else {
				b.WriteByte(ch)
			}
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case ch == '"':
			quoted = true
		case ch == '\r' || ch == '\n' || ch == '\t':
			b.WriteByte(' ')
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// errUnaligned stops a key lookup for a signature that could not make the
// mail pass anyway.
var errUnaligned = errors.New("signing domain not aligned with From")

// verifyDKIM verifies up to MaxSignatures signatures, looking up keys only
// for signing domains aligned with From.
func (c *Checker) verifyDKIM(ctx context.Context, raw []byte, domain string) Verdict {
	const src = "casemail's DKIM check"
	lookup := func(name string) ([]string, error) {
		// name is selector._domainkey.DOMAIN.
		_, d, ok := strings.Cut(name, "._domainkey.")
		if !ok || !Aligned(d, domain) {
			return nil, errUnaligned
		}
		return c.o.LookupTXT(ctx, name)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        lookup,
		MaxVerifications: c.o.MaxSignatures,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return Verdict{Result: None, Domain: domain, Source: src, Findings: []Finding{found("its DKIM signatures could not be read")}}
	}
	var fails, temps []Finding
	for _, v := range vs {
		d := normDomain(v.Domain)
		if !Aligned(d, domain) {
			continue
		}
		switch {
		case v.Err == nil:
			return Verdict{Result: Pass, Domain: domain, Source: src,
				Findings: []Finding{found("a DKIM signature of %s (aligned with %s) verified", d, domain)}}
		case dkim.IsTempFail(v.Err):
			temps = append(temps, found("the DKIM key of %s could not be fetched", d))
		default:
			fails = append(fails, found("the DKIM signature of %s did not verify", d))
		}
	}
	switch {
	case len(fails) > 0:
		return Verdict{Result: Fail, Domain: domain, Source: src, Findings: append(fails, found("nothing aligned with %s passed", domain))}
	case len(temps) > 0:
		return Verdict{Result: None, Domain: domain, Source: src, Findings: temps}
	case len(vs) > 0:
		return Verdict{Result: None, Domain: domain, Source: src, Findings: []Finding{found("no DKIM signature aligned with %s", domain)}}
	}
	return Verdict{Result: None, Domain: domain, Source: src, Findings: []Finding{found("the mail has no DKIM signature")}}
}
