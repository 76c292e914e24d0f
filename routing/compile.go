package routing

import (
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"weak"

	"github.com/casemail/casemail/config"
)

// program is a Rules compiled for fast evaluation; built once per loaded
// Rules (see compile) and shared by all goroutines.
type program struct {
	rules    []compiledRule
	keywords []serviceKeywords
	// Equality tests on addresses and domains are answered for all rules at
	// once: eqIndex maps a folded value to the leaves that accept it, and
	// Route marks the hits of one mail in a bitmap before the rules run.
	eqIndex  [fHeader]map[string][]int32
	eqLeaves int32
	// reasons holds every reason a trail can give, made once at compile
	// time; a trail records an index into it, not the text.
	reasons  []string
	reasonID map[string]int32
	// noMatchJSON is, per rule, its step for failing with its usual
	// reason, encoded for Trail.MarshalJSON; noMatchJSONLen their sum.
	noMatchJSON    [][]byte
	noMatchJSONLen int
}

type compiledRule struct {
	rule *config.Rule
	cond cond // nil: always matches
	// matchWhy is the reason given when the rule matches without a
	// condition; noWhy the one it most often fails with (its first part's),
	// which a trail does not record (see Trail).
	matchWhy, noWhy int32
}

// reason returns the id of a reason text, adding it if new.
func (p *program) reason(s string) int32 {
	if id, ok := p.reasonID[s]; ok {
		return id
	}
	id := int32(len(p.reasons))
	p.reasons = append(p.reasons, s)
	p.reasonID[s] = id
	return id
}

type serviceKeywords struct {
	service *config.Service
	words   []keyword
}

// keyword is a folded catalogue keyword matched as a whole word: where its
// first (last) rune is a word rune, the text before (after) must not be.
type keyword struct {
	literal
	orig                string
	wordLeft, wordRight bool
}

// programs holds the program of each Rules in use, keyed weakly: a Rules
// that a reload replaced, once collected, takes its program with it.
// latest answers the common case, the rules in force, without a lookup.
var (
	programs sync.Map // weak.Pointer[config.Rules] → *program
	latest   atomic.Pointer[compiled]
)

type compiled struct {
	rules *config.Rules
	prog  *program
}

// compile returns r's program, building it the first time.
func compile(r *config.Rules) *program {
	if c := latest.Load(); c != nil && c.rules == r {
		return c.prog
	}
	key := weak.Make(r)
	v, ok := programs.Load(key)
	if !ok {
		var loaded bool
		if v, loaded = programs.LoadOrStore(key, build(r)); !loaded {
			runtime.AddCleanup(r, func(k weak.Pointer[config.Rules]) { programs.Delete(k) }, key)
		}
	}
	p := v.(*program)
	latest.Store(&compiled{rules: r, prog: p})
	return p
}

func build(r *config.Rules) *program {
	p := &program{reasonID: map[string]int32{}}
	for _, rule := range r.Rules {
		cr := compiledRule{rule: rule, matchWhy: p.reason("always (no when)"), noWhy: -1}
		if rule.When != nil {
			cr.cond = p.compileCond(r, rule.When)
			cr.matchWhy = cr.cond.yesID()
			cr.noWhy = firstNo(cr.cond)
		}
		p.rules = append(p.rules, cr)
	}
	for _, s := range r.Services {
		sk := serviceKeywords{service: s}
		for _, w := range s.Keywords {
			f := fold(strings.TrimSpace(w))
			if f == "" {
				continue
			}
			first, _ := utf8.DecodeRuneInString(f)
			last, _ := utf8.DecodeLastRuneInString(f)
			sk.words = append(sk.words, keyword{literal: newLiteral(f), orig: w, wordLeft: isWordRune(first), wordRight: isWordRune(last)})
		}
		if len(sk.words) > 0 {
			p.keywords = append(p.keywords, sk)
		}
	}
	p.reasonID = nil // only needed while compiling
	for _, cr := range p.rules {
		js := appendStepJSON(nil, Step{Kind: "rule", Name: cr.rule.Name, Result: "no match", Why: p.reasonText(cr.noWhy)})
		p.noMatchJSON = append(p.noMatchJSON, js)
		p.noMatchJSONLen += len(js)
	}
	return p
}

// find reports whether k occurs as a whole word in folded text.
func (k *keyword) find(text string, b *bigramSet) bool {
	if b != nil && !k.mayOccur(b) {
		return false
	}
	for off := 0; off < len(text); {
		i := strings.Index(text[off:], k.s)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(k.s)
		ok := true
		if k.wordLeft && i > 0 {
			r, _ := utf8.DecodeLastRuneInString(text[:i])
			ok = !isWordRune(r)
		}
		if ok && k.wordRight && end < len(text) {
			r, _ := utf8.DecodeRuneInString(text[end:])
			ok = !isWordRune(r)
		}
		if ok {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		off = i + size
	}
	return false
}

// firstNo is the reason a condition most often fails with: that of its
// first part.
func firstNo(c cond) int32 {
	switch c := c.(type) {
	case *leaf:
		return c.no
	case *boolLeaf:
		return c.no
	case *andCond:
		return firstNo(c.parts[0])
	case *anyCond:
		return c.no
	case *notCond:
		return c.no
	}
	return -1
}

// cond is a compiled condition. eval returns whether it holds and the id
// of a reason made at compile time, so evaluating a rule allocates
// nothing; yesID is the reason it gives when it holds.
type cond interface {
	eval(e *evalCtx) (bool, int32)
	yesID() int32
}

type field int

const (
	fFrom field = iota
	fFromDomain
	fTo
	fCc
	fRecipient
	fSubject
	fBody
	fHeader
)

var fieldNames = [...]string{"from", "from_domain", "to", "cc", "recipient", "subject", "body", "header"}

// matcher is a compiled config.Matcher on folded values.
type matcher struct {
	op     string
	one    string              // equals with a single value
	set    map[string]struct{} // equals/in with several values
	lits   []literal           // contains
	need   [][]literal         // the regex prefilter: one of each set must occur
	re     *regexp.Regexp
	prefix string // folded literal every match of re starts with, or ""
	domain bool   // equals/in also match parent domains
}

func compileMatcher(m *config.Matcher, domain bool) *matcher {
	c := &matcher{op: m.Op, re: m.Re, domain: domain}
	switch m.Op {
	case config.OpEquals, config.OpIn:
		if len(m.Values) == 1 {
			c.one = fold(m.Values[0])
		} else {
			c.set = make(map[string]struct{}, len(m.Values))
			for _, v := range m.Values {
				c.set[fold(v)] = struct{}{}
			}
		}
	case config.OpContains:
		for _, v := range m.Values {
			c.lits = append(c.lits, newLiteral(fold(v)))
		}
	case config.OpMatches:
		c.prefix = literalPrefix(m.Source)
		for _, set := range requiredLiterals(m.Source) {
			var lits []literal
			for _, s := range set {
				lits = append(lits, newLiteral(s))
			}
			c.need = append(c.need, lits)
		}
	}
	return c
}

func (m *matcher) equal(v string) bool {
	if m.set == nil {
		return v == m.one
	}
	_, ok := m.set[v]
	return ok
}

// match tests one value: orig as written, folded its fold; b, when not
// nil, holds folded's bigrams; same tells that folded kept orig's offsets.
func (m *matcher) match(orig, folded string, b *bigramSet, same bool) bool {
	switch m.op {
	case config.OpEquals, config.OpIn:
		if m.equal(folded) {
			return true
		}
		if m.domain {
			for d := folded; ; {
				_, rest, ok := strings.Cut(d, ".")
				if !ok || rest == "" {
					return false
				}
				if m.equal(rest) {
					return true
				}
				d = rest
			}
		}
		return false
	case config.OpContains:
		return containsAny(folded, m.lits, b)
	case config.OpMatches:
		// All sets through the byte-pair test first, then substring searches.
		if b != nil {
			for _, lits := range m.need {
				if !anyMayOccur(lits, b) {
					return false
				}
			}
		}
		for _, lits := range m.need {
			if !containsAny(folded, lits, b) {
				return false
			}
		}
		if m.prefix != "" && same {
			// Every match starts with the prefix: search from its first
			// occurrence, not from the start of a long body.
			i := strings.Index(folded, m.prefix)
			if i < 0 {
				return false
			}
			orig = orig[i:]
		}
		return m.re.MatchString(orig)
	}
	return false
}

type leaf struct {
	field  field
	header string
	m      *matcher
	eqID   int32 // >= 0: answered by evalCtx.eqHits
	yes    int32
	no     int32
}

func (l *leaf) yesID() int32 { return l.yes }

func (l *leaf) eval(e *evalCtx) (bool, int32) {
	if l.test(e) {
		return true, l.yes
	}
	return false, l.no
}

func (l *leaf) test(e *evalCtx) bool {
	if l.eqID >= 0 {
		return e.eqHits[l.eqID>>6]&(1<<(l.eqID&63)) != 0
	}
	switch l.field {
	case fFrom:
		return l.m.match(e.from, e.from, nil, false)
	case fFromDomain:
		return e.fromDomain != "" && l.m.match(e.fromDomain, e.fromDomain, nil, false)
	case fTo:
		return l.any(e.to)
	case fCc:
		return l.any(e.cc)
	case fRecipient:
		return l.any(e.to) || l.any(e.cc) || l.any(e.delivered)
	case fSubject:
		return l.m.match(e.in.Subject, e.subject, &e.subjectBigrams, e.subjectSame)
	case fBody:
		e.prepareBody()
		return l.m.match(e.in.Body, e.body, &e.bodyBigrams, e.bodySame)
	case fHeader:
		if e.in.Header == nil {
			return false
		}
		for _, v := range e.in.Header(l.header) {
			if l.m.match(v, fold(v), nil, false) {
				return true
			}
		}
	}
	return false
}

func (l *leaf) any(addrs []string) bool {
	for _, a := range addrs {
		if l.m.match(a, a, nil, false) {
			return true
		}
	}
	return false
}

type boolLeaf struct {
	test    func(e *evalCtx) bool
	yes, no int32
}

func (b *boolLeaf) yesID() int32 { return b.yes }

func (b *boolLeaf) eval(e *evalCtx) (bool, int32) {
	if b.test(e) {
		return true, b.yes
	}
	return false, b.no
}

type andCond struct {
	parts []cond
	yes   int32
}

func (a *andCond) yesID() int32 { return a.yes }

func (a *andCond) eval(e *evalCtx) (bool, int32) {
	for _, p := range a.parts {
		if ok, why := p.eval(e); !ok {
			return false, why
		}
	}
	return true, a.yes
}

type anyCond struct {
	parts   []cond
	yes, no int32
}

func (a *anyCond) yesID() int32 { return a.yes }

func (a *anyCond) eval(e *evalCtx) (bool, int32) {
	for _, p := range a.parts {
		if ok, why := p.eval(e); ok {
			return true, why
		}
	}
	return false, a.no
}

type notCond struct {
	inner   cond
	yes, no int32
}

func (n *notCond) yesID() int32 { return n.yes }

func (n *notCond) eval(e *evalCtx) (bool, int32) {
	if ok, _ := n.inner.eval(e); ok {
		return false, n.no
	}
	return true, n.yes
}

func describeMatcher(m *config.Matcher, negate bool) string {
	vals := m.Values
	list := func() string {
		if len(vals) > 5 {
			return "[" + strings.Join(vals[:5], ", ") + ", …]"
		}
		return "[" + strings.Join(vals, ", ") + "]"
	}
	switch m.Op {
	case config.OpMatches:
		if negate {
			return "does not match " + m.Source
		}
		return "matches " + m.Source
	case config.OpContains:
		if negate {
			return "contains none of " + list()
		}
		if len(vals) == 1 {
			return "contains " + vals[0]
		}
		return "contains one of " + list()
	default:
		if len(vals) == 1 {
			if negate {
				return "is not " + vals[0]
			}
			return "is " + vals[0]
		}
		if negate {
			return "is not in " + list()
		}
		return "is in " + list()
	}
}

func (p *program) compileCond(r *config.Rules, c *config.Cond) cond {
	var parts []cond
	add := func(f field, m *config.Matcher) {
		if m == nil {
			return
		}
		name := fieldNames[f]
		l := &leaf{field: f, m: compileMatcher(m, f == fFromDomain), eqID: -1,
			yes: p.reason(name + " " + describeMatcher(m, false)), no: p.reason(name + " " + describeMatcher(m, true))}
		if f <= fRecipient && (m.Op == config.OpEquals || m.Op == config.OpIn) {
			l.eqID = p.eqLeaves
			p.eqLeaves++
			if p.eqIndex[f] == nil {
				p.eqIndex[f] = map[string][]int32{}
			}
			for _, v := range m.Values {
				v = fold(v)
				if ids := p.eqIndex[f][v]; len(ids) == 0 || ids[len(ids)-1] != l.eqID {
					p.eqIndex[f][v] = append(ids, l.eqID)
				}
			}
		}
		parts = append(parts, l)
	}
	add(fFrom, c.From)
	add(fFromDomain, c.FromDomain)
	add(fTo, c.To)
	add(fCc, c.Cc)
	add(fRecipient, c.Recipient)
	add(fSubject, c.Subject)
	add(fBody, c.Body)
	for _, h := range c.Header {
		parts = append(parts, &leaf{field: fHeader, header: h.Name, m: compileMatcher(h.Match, false), eqID: -1,
			yes: p.reason("header " + h.Name + " " + describeMatcher(h.Match, false)),
			no:  p.reason("header " + h.Name + " " + describeMatcher(h.Match, true))})
	}
	if c.HasAttachment != nil {
		want := *c.HasAttachment
		yes, no := "has an attachment", "has no attachment"
		if !want {
			yes, no = no, yes
		}
		parts = append(parts, &boolLeaf{test: func(e *evalCtx) bool { return e.in.HasAttachment == want }, yes: p.reason(yes), no: p.reason(no)})
	}
	if c.BusinessHours != "" {
		cal := r.Calendar(c.BusinessHours)
		parts = append(parts, &boolLeaf{
			test: func(e *evalCtx) bool { return !e.in.Received.IsZero() && cal.Open(e.in.Received) },
			yes:  p.reason("received within business hours of " + cal.Name),
			no:   p.reason("received outside business hours of " + cal.Name),
		})
	}
	if len(c.All) > 0 {
		var subs []cond
		for _, s := range c.All {
			subs = append(subs, p.compileCond(r, s))
		}
		parts = append(parts, p.newAnd(subs))
	}
	if len(c.Any) > 0 {
		a := &anyCond{}
		var descs []string
		for _, s := range c.Any {
			sc := p.compileCond(r, s)
			a.parts = append(a.parts, sc)
			descs = append(descs, p.reasons[sc.yesID()])
		}
		yes := "(" + strings.Join(descs, ") or (") + ")"
		a.yes, a.no = p.reason(yes), p.reason("none of "+yes)
		parts = append(parts, a)
	}
	if c.Not != nil {
		inner := p.compileCond(r, c.Not)
		desc := p.reasons[inner.yesID()]
		parts = append(parts, &notCond{inner: inner, yes: p.reason("not (" + desc + ")"), no: p.reason(desc + ", which the rule excludes")})
	}
	return p.newAnd(parts)
}

func (p *program) newAnd(parts []cond) cond {
	switch len(parts) {
	case 0:
		always := p.reason("always (empty condition)")
		return &boolLeaf{test: func(*evalCtx) bool { return true }, yes: always, no: always}
	case 1:
		return parts[0]
	}
	descs := make([]string, len(parts))
	for i, c := range parts {
		descs[i] = p.reasons[c.yesID()]
	}
	return &andCond{parts: parts, yes: p.reason(strings.Join(descs, " and "))}
}
