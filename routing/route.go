package routing

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/casemail/casemail/config"
)

// Input is what routing needs of a mail. Addresses should be lower-cased
// (they are folded again, cheaply, to be safe).
type Input struct {
	From, FromName string
	To, Cc         []string
	// DeliveredTo holds Delivered-To and X-Original-To addresses.
	DeliveredTo   []string
	Subject, Body string
	// Header looks up a header's values; may be nil.
	Header        func(name string) []string
	HasAttachment bool
	// Received places the mail in time: business-hours conditions and
	// who is away are judged at it, in its own location (pass it in the
	// daemon's timezone). Zero: nobody is away and it is never business hours.
	Received time.Time
	// MailboxDefaultService is the receiving mailbox's default (may be "").
	MailboxDefaultService string
}

// Decision is where a mail goes and why.
type Decision struct {
	Service, ServiceName string
	Routine              string
	// Proposed is set when the mail matched a proposed service (named in
	// Original) and was routed as the default instead.
	Proposed bool
	// Original is the service the mail was classified as when it is routed
	// as the default service instead (proposed, or nobody on its chain).
	Original       string
	Unit, WorkArea string
	// Rung is the 1-based position on the service's chain (0: none);
	// Rungs is the chain's length.
	Rung, Rungs          int
	Tier, Role, Supplier string
	// Candidates hold the role for the unit or work area and are not away.
	Candidates []string
	Assignee   string
	// Strategy is how Assignee was chosen: round_robin, least_open, only
	// (one candidate), first (no Assigner), rule (a rule named them).
	Strategy string
	Priority string
	Tags     []string
	// Drop is set by a drop rule: the case is stored as dropped, not routed.
	Drop       bool
	DropReason string
	// Language is the unit's language, if any.
	Language string
	// Direct: the supplier's contract sends the case straight to them (S2);
	// Contract names it. Role is then the service's coordinator role, the
	// owner of record.
	Direct   bool
	Contract string
	// Trail is why: every rule considered, then how unit, service, rung
	// and assignee were found.
	Trail Trail
}

// Assigner picks one person among candidates for a pool; key identifies
// the pool (e.g. "role:central_support" or "role:superuser:unit:bryne") so
// round-robin positions and open counts are kept per pool. The store
// implements it in PostgreSQL; MemoryAssigner is for tests and tools.
type Assigner interface {
	Pick(ctx context.Context, key string, strategy string, candidates []string) (string, error)
}

// evalCtx is the folded view of one Input, built once per Route.
type evalCtx struct {
	in                *Input
	input             Input // in points here, so Route's argument does not escape
	from, fromDomain  string
	to, cc, delivered []string
	eqHits            []uint64
	subject           string
	subjectSame       bool
	subjectBigrams    bigramSet
	body              string
	bodySame          bool
	bodyReady         bool
	bodyBigrams       bigramSet
}

var ctxPool = sync.Pool{New: func() any { return new(evalCtx) }}

func (e *evalCtx) prepareBody() {
	if e.bodyReady {
		return
	}
	e.bodyReady = true
	e.body, e.bodySame = foldKeep(e.in.Body)
	e.bodyBigrams.reset()
	e.bodyBigrams.add(e.body)
}

// markEqualities sets the bits of every address or domain equality leaf
// this mail satisfies.
func (e *evalCtx) markEqualities(p *program) {
	n := int(p.eqLeaves+63) / 64
	if cap(e.eqHits) < n {
		e.eqHits = make([]uint64, n)
	}
	e.eqHits = e.eqHits[:n]
	clear(e.eqHits)
	if p.eqLeaves == 0 {
		return
	}
	mark := func(f field, v string) {
		for _, id := range p.eqIndex[f][v] {
			e.eqHits[id>>6] |= 1 << (id & 63)
		}
	}
	if e.from != "" {
		mark(fFrom, e.from)
	}
	for d := e.fromDomain; d != ""; {
		mark(fFromDomain, d)
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	for _, a := range e.to {
		mark(fTo, a)
		mark(fRecipient, a)
	}
	for _, a := range e.cc {
		mark(fCc, a)
		mark(fRecipient, a)
	}
	for _, a := range e.delivered {
		mark(fRecipient, a)
	}
}

func foldAll(dst, addrs []string) []string {
	dst = dst[:0]
	for _, a := range addrs {
		dst = append(dst, fold(strings.TrimSpace(a)))
	}
	return dst
}

// Prepare compiles r for routing now rather than on the first Route, so a
// reload pays the cost up front. It is optional.
func Prepare(r *config.Rules) { compile(r) }

// Route decides service, unit, rung, candidates and assignee for a mail
// under r, with the trail of every rule considered (`casemail rules
// explain`). a may be nil: the first candidate is then taken. Route does no
// I/O except through a.
func Route(ctx context.Context, r *config.Rules, in Input, a Assigner) (Decision, error) {
	p := compile(r)
	e := ctxPool.Get().(*evalCtx)
	defer func() { e.input, e.in = Input{}, nil; ctxPool.Put(e) }()
	e.input = in
	e.in = &e.input
	e.from = fold(strings.TrimSpace(in.From))
	e.fromDomain = ""
	if i := strings.LastIndexByte(e.from, '@'); i >= 0 {
		e.fromDomain = strings.TrimSuffix(e.from[i+1:], ".")
	}
	e.to, e.cc, e.delivered = foldAll(e.to, in.To), foldAll(e.cc, in.Cc), foldAll(e.delivered, in.DeliveredTo)
	e.subject, e.subjectSame = foldKeep(in.Subject)
	e.subjectBigrams.reset()
	e.subjectBigrams.add(e.subject)
	e.bodyReady = false
	e.markEqualities(p)

	var d Decision
	d.Trail = Trail{prog: p, considered: int32(len(p.rules)), steps: make([]Step, 0, 6)}
	var set struct {
		service, unit, tier, assignee, priority                 string
		serviceRule, unitRule, tierRule, assigneeRule, dropRule string
	}
	for i := range p.rules {
		cr := &p.rules[i]
		ok, why := true, cr.matchWhy
		if cr.cond != nil {
			ok, why = cr.cond.eval(e)
		}
		if !ok {
			// Only a reason other than the rule's usual one is recorded.
			if why != cr.noWhy {
				d.Trail.marks = append(d.Trail.marks, mark{rule: int32(i), why: why})
			}
			continue
		}
		d.Trail.marks = append(d.Trail.marks, mark{rule: int32(i), why: why, matched: true})
		t := &cr.rule.Then
		if t.Service != "" {
			set.service, set.serviceRule = t.Service, cr.rule.Name
		}
		if t.Unit != "" {
			set.unit, set.unitRule = t.Unit, cr.rule.Name
		}
		if t.Tier != "" {
			set.tier, set.tierRule = t.Tier, cr.rule.Name
		}
		if t.Priority != "" {
			set.priority = t.Priority
		}
		if t.Assignee != "" {
			set.assignee, set.assigneeRule = t.Assignee, cr.rule.Name
		}
		for _, tag := range t.Tags {
			if !contains(d.Tags, tag) {
				d.Tags = append(d.Tags, tag)
			}
		}
		if t.Drop != "" {
			d.Drop, d.DropReason, set.dropRule = true, t.Drop, cr.rule.Name
		}
		if t.Stop {
			d.Trail.considered, d.Trail.stopped = int32(i+1), true
			break
		}
	}
	d.Priority = set.priority
	if d.Priority == "" {
		d.Priority = "normal"
	}

	// Unit: a rule, else membership, else the sender's domain.
	var unit *config.Unit
	switch {
	case set.unit != "":
		unit = r.Unit(set.unit)
		d.Trail.Add(Step{Kind: "unit", Name: unit.ID, Result: "set by rule", Rule: set.unitRule}.worded("rule %q", set.unitRule))
	case e.from != "" && r.UnitByMember(e.from) != nil:
		unit = r.UnitByMember(e.from)
		d.Trail.Add(Step{Kind: "unit", Name: unit.ID, Result: "member"}.worded("%s is listed in the unit's members", e.from))
	case e.fromDomain != "" && r.UnitByDomain(e.fromDomain) != nil:
		unit = r.UnitByDomain(e.fromDomain)
		d.Trail.Add(Step{Kind: "unit", Name: unit.ID, Result: "domain"}.worded("sender domain %s belongs to the unit", e.fromDomain))
	case e.from == "":
		d.Trail.Add(Step{Kind: "unit", Result: "none"}.worded("no rule names a unit, and the mail has no sender address"))
	default:
		d.Trail.Add(Step{Kind: "unit", Result: "none"}.worded("no rule, membership or domain names a unit for %s", e.from))
	}
	if unit != nil {
		d.Unit, d.WorkArea, d.Language = unit.ID, unit.WorkArea, unit.Language
	}

	svc := pickService(r, p, e, e.in, set.service, set.serviceRule, &d)
	if svc.Proposed() {
		def := r.DefaultService()
		d.Proposed, d.Original = true, svc.ID
		d.Trail.Add(Step{Kind: "service", Name: def.ID, Result: "proposed"}.
			worded("service %s is proposed, not yet in the catalogue: routed as %s", svc.ID, def.ID))
		svc = def
	}
	setService(&d, svc)

	if d.Drop {
		d.Trail.Add(Step{Kind: "drop", Name: d.DropReason, Result: "dropped", Rule: set.dropRule}.
			worded("rule %q dropped the mail: stored, not routed", set.dropRule))
		return d, nil
	}

	// Starting rung: the rule's tier if any, else the lowest with a holder.
	at := in.Received
	start := 1
	if set.tier != "" {
		found := false
		for i, rung := range svc.Chain {
			if rung.Tier == set.tier {
				start, found = i+1, true
				break
			}
		}
		if found {
			d.Trail.Add(Step{Kind: "rung", Name: "tier " + set.tier, At: &Place{Tier: set.tier}, Result: "set by rule",
				Rule: set.tierRule}.worded("rule %q starts the case on tier %s", set.tierRule, set.tier))
		} else {
			d.Trail.Add(Step{Kind: "rung", Name: "tier " + set.tier, At: &Place{Tier: set.tier}, Result: "no such tier"}.
				worded("rule %q asks for tier %s but %s has no rung of that tier", set.tierRule, set.tier, svc.ID))
		}
	}
	if !placeFrom(r, &d, start, at) {
		def := r.DefaultService()
		if d.Unit == "" {
			d.Trail.Add(Step{Kind: "service", Name: def.ID, Result: "no holder"}.
				worded("nobody holds a rung of %s for a mail without unit; routed as the default, %s", svc.ID, def.ID))
		} else {
			d.Trail.Add(Step{Kind: "service", Name: def.ID, Result: "no holder"}.
				worded("nobody holds a rung of %s for %s; routed as the default, %s", svc.ID, d.Unit, def.ID))
		}
		if svc != def {
			if d.Original == "" {
				d.Original = svc.ID
			}
			setService(&d, def)
			if !placeFrom(r, &d, 1, at) {
				Rung(r, &d, 1, at)
				d.Trail.Add(d.rungStep("unassigned").worded("everyone who could take it is away; the case waits unassigned on the first rung"))
			}
		} else {
			Rung(r, &d, 1, at)
			d.Trail.Add(d.rungStep("unassigned").worded("everyone who could take it is away; the case waits unassigned on the first rung"))
		}
	}

	if set.tier == "" && !d.Proposed {
		direct(r, &d, at)
	}
	if d.Supplier != "" && d.Role == "" {
		// A case that starts at the supplier (a chain of one supplier rung,
		// a rule's tier external) has the coordinator as owner of record.
		ownerOfRecord(r, &d, at)
		d.Trail.Add(d.rungStep("owner of record").worded("the case starts at the supplier %s; owned by the %s", d.Supplier, RoleID(d.Role)))
	}

	if set.assignee != "" {
		// A named person: put the case on the rung where they serve, if any.
		for i := range r.Service(d.Service).Chain {
			var probe Decision
			probe.Service, probe.Unit = d.Service, d.Unit
			if Rung(r, &probe, i+1, time.Time{}) && contains(probe.Candidates, set.assignee) {
				if i+1 != d.Rung {
					Rung(r, &d, i+1, at)
					d.Trail.Add(d.rungStep("moved").worded("%s serves on this rung", PersonID(set.assignee)))
				}
				break
			}
		}
		d.Assignee, d.Strategy = set.assignee, "rule"
		s := Step{Kind: "assignee", Name: set.assignee, Result: "rule", Rule: set.assigneeRule}
		if p := r.Person(set.assignee); p != nil && p.AwayAt(at) {
			s = s.worded("named by rule %q (note: away now)", set.assigneeRule)
		} else {
			s = s.worded("named by rule %q", set.assigneeRule)
		}
		d.Trail.Add(s)
		return d, nil
	}
	if err := Assign(ctx, r, &d, a); err != nil {
		return d, err
	}
	return d, nil
}

// direct moves d to its service's external rung when the supplier's
// contract for the case says users go straight to the supplier (S2): a
// service's contract, or a unit's or work area's variant of it. The owner
// of record is the service's coordinator role, whose holders are the
// candidates.
func direct(r *config.Rules, d *Decision, at time.Time) {
	svc := r.Service(d.Service)
	for i, rung := range svc.Chain {
		if rung.Supplier == "" {
			continue
		}
		ct := r.Contract(rung.Supplier, svc.ID, d.Unit)
		if ct == nil || !ct.Direct {
			continue
		}
		Rung(r, d, i+1, at)
		d.Direct, d.Contract = true, ct.ID
		ownerOfRecord(r, d, at)
		d.Trail.Add(d.rungStep("direct").worded("contract %s (%s) of %s: users go straight to the supplier; owned by the %s",
			ct.ID, Scope{ct}, rung.Supplier, RoleID(d.Role)))
		return
	}
}

// ownerOfRecord makes the service's coordinator role the owner of a case
// on a supplier's rung: its holders for the case's unit, not away, are the
// candidates.
func ownerOfRecord(r *config.Rules, d *Decision, at time.Time) {
	d.Role = r.CoordinatorRole(r.Service(d.Service))
	d.Candidates = nil
	if role := r.Role(d.Role); role != nil {
		for _, id := range role.Holders(r.Unit(d.Unit)) {
			if p := r.Person(id); p != nil && !p.AwayAt(at) {
				d.Candidates = append(d.Candidates, id)
			}
		}
	}
}

func setService(d *Decision, s *config.Service) {
	d.Service, d.ServiceName, d.Routine, d.Rungs = s.ID, s.Name, s.Routine, len(s.Chain)
}

// pickService: a rule, else an alias, else keywords, else the mailbox
// default, else `default`.
func pickService(r *config.Rules, p *program, e *evalCtx, in *Input, ruled, rule string, d *Decision) *config.Service {
	if ruled != "" {
		d.Trail.Add(Step{Kind: "service", Name: ruled, Result: "set by rule", Rule: rule}.worded("rule %q", rule))
		return r.Service(ruled)
	}
	for _, list := range [][]string{e.to, e.cc, e.delivered} {
		for _, addr := range list {
			if s := r.ServiceByAddress(addr); s != nil {
				d.Trail.Add(Step{Kind: "service", Name: s.ID, Result: "alias"}.worded("sent to %s", addr))
				return s
			}
		}
	}
	for pass := 0; pass < 2; pass++ {
		text, where, bigrams := e.subject, "keyword %q in the subject", (*bigramSet)(nil)
		if pass == 1 {
			e.prepareBody()
			text, where, bigrams = e.body, "keyword %q in the body", &e.bodyBigrams
		}
		if text == "" {
			continue
		}
		if bigrams == nil {
			bigrams = &e.subjectBigrams
		}
		for i := range p.keywords {
			sk := &p.keywords[i]
			for j := range sk.words {
				if sk.words[j].find(text, bigrams) {
					d.Trail.Add(Step{Kind: "service", Name: sk.service.ID, Result: "keyword"}.worded(where, sk.words[j].orig))
					return sk.service
				}
			}
		}
	}
	if id := in.MailboxDefaultService; id != "" {
		if s := r.Service(id); s != nil {
			d.Trail.Add(Step{Kind: "service", Name: s.ID, Result: "mailbox default"}.worded("no rule, alias or keyword; the mailbox's default"))
			return s
		}
		d.Trail.Add(Step{Kind: "service", Name: id, Result: "unknown"}.worded("the mailbox's default service %s is not in the catalogue", id))
	}
	def := r.DefaultService()
	d.Trail.Add(Step{Kind: "service", Name: def.ID, Result: "default"}.worded("no rule, alias or keyword matched"))
	return def
}

// holders returns the candidates for a rung and whether the rung can take
// the case (a supplier rung always can).
func holders(r *config.Rules, rung *config.Rung, unit *config.Unit, at time.Time) ([]string, bool) {
	if rung.Supplier != "" {
		return nil, true
	}
	role := r.Role(rung.Role)
	if role == nil {
		return nil, false
	}
	all := role.Holders(unit)
	var out []string
	for _, id := range all {
		if p := r.Person(id); p != nil && !p.AwayAt(at) {
			out = append(out, id)
		}
	}
	return out, len(out) > 0
}

// placeFrom puts d on the first rung at or above start that can take it,
// recording each rung skipped. It reports false when none can.
func placeFrom(r *config.Rules, d *Decision, start int, at time.Time) bool {
	svc := r.Service(d.Service)
	unit := r.Unit(d.Unit)
	for i := start - 1; i < len(svc.Chain); i++ {
		rung := svc.Chain[i]
		if _, ok := holders(r, rung, unit, at); ok {
			Rung(r, d, i+1, at)
			if d.Supplier != "" {
				d.Trail.Add(d.rungStep("start").worded("the supplier %s takes it", d.Supplier))
			} else {
				d.Trail.Add(d.rungStep("start").worded("held by %s", People(d.Candidates)))
			}
			return true
		}
		var all []string
		if role := r.Role(rung.Role); role != nil {
			all = role.Holders(unit)
		}
		d.Trail.Add(skipped(Place{N: i + 1, Of: len(svc.Chain), Tier: rung.Tier, Role: rung.Role, Supplier: rung.Supplier}, unit, all))
	}
	return false
}

// Rung places d on rung n (1-based) of its service's chain: it sets Rung,
// Rungs, Tier, Role, Supplier and Candidates (holders for d.Unit and its work
// area, less people away at at) and clears Assignee and Strategy. It
// reports false, changing nothing, when the chain has no rung n.
// Escalation uses it with NextRung and Assign.
func Rung(r *config.Rules, d *Decision, n int, at time.Time) bool {
	svc := r.Service(d.Service)
	if svc == nil || n < 1 || n > len(svc.Chain) {
		return false
	}
	rung := svc.Chain[n-1]
	unit := r.Unit(d.Unit)
	if unit != nil && d.WorkArea == "" {
		d.WorkArea = unit.WorkArea
	}
	d.Rung, d.Rungs = n, len(svc.Chain)
	d.Tier, d.Role, d.Supplier = rung.Tier, rung.Role, rung.Supplier
	d.Candidates, _ = holders(r, rung, unit, at)
	d.Assignee, d.Strategy = "", ""
	return true
}

// NextRung moves d to the next rung above its current one that can take
// the case (someone not away holds it, or a supplier). It reports false,
// changing nothing, at the top of the chain.
func NextRung(r *config.Rules, d *Decision, at time.Time) bool {
	svc := r.Service(d.Service)
	if svc == nil {
		return false
	}
	unit := r.Unit(d.Unit)
	for i := d.Rung; i < len(svc.Chain); i++ {
		if _, ok := holders(r, svc.Chain[i], unit, at); ok {
			return Rung(r, d, i+1, at)
		}
	}
	return false
}

// PoolKey names the pool d's candidates come from, for the Assigner: the
// role, and the unit or work area when the holders depend on it.
func PoolKey(r *config.Rules, d *Decision) string {
	role := r.Role(d.Role)
	if role == nil {
		return "supplier:" + d.Supplier
	}
	unit := r.Unit(d.Unit)
	if unit != nil {
		for _, s := range role.ByUnit {
			if s.Key == unit.ID {
				return "role:" + role.Name + ":unit:" + unit.ID
			}
		}
		for _, s := range role.ByWorkArea {
			if s.Key == unit.WorkArea {
				return "role:" + role.Name + ":area:" + unit.WorkArea
			}
		}
	}
	return "role:" + role.Name
}

// Assign picks d.Assignee among d.Candidates with the role's strategy
// through a (nil: the first candidate, strategy "first"). No candidates (a
// supplier rung, or everyone away) leaves the case unassigned.
func Assign(ctx context.Context, r *config.Rules, d *Decision, a Assigner) error {
	switch {
	case len(d.Candidates) == 0:
		s := Step{Kind: "assignee", Result: "none"}
		if d.Supplier != "" {
			s = s.worded("the rung is the supplier %s; no internal assignee", d.Supplier)
		} else {
			s = s.worded("nobody on this rung is available; the case waits unassigned")
		}
		d.Trail.Add(s)
		return nil
	case len(d.Candidates) == 1:
		d.Assignee, d.Strategy = d.Candidates[0], "only"
	case a == nil:
		d.Assignee, d.Strategy = d.Candidates[0], "first"
	default:
		strategy := "round_robin"
		if role := r.Role(d.Role); role != nil && role.Assign != "" {
			strategy = role.Assign
		}
		key := PoolKey(r, d)
		who, err := a.Pick(ctx, key, strategy, d.Candidates)
		if err != nil {
			return fmt.Errorf("assigning from pool %s: %w", key, err)
		}
		if !contains(d.Candidates, who) {
			return fmt.Errorf("assigning from pool %s: assigner picked %q, not a candidate", key, who)
		}
		d.Assignee, d.Strategy = who, strategy
	}
	d.Trail.Add(Step{Kind: "assignee", Name: d.Assignee, Result: d.Strategy}.worded("among %s", People(d.Candidates)))
	return nil
}

func (d *Decision) rungName() string {
	return rungLabel(d.Rung, d.Rungs, d.Tier, d.Role, d.Supplier)
}

// rungStep is a step about d's rung with result.
func (d *Decision) rungStep(result string) Step {
	return Step{Kind: "rung", Name: d.rungName(), Result: result,
		At: &Place{N: d.Rung, Of: d.Rungs, Tier: d.Tier, Role: d.Role, Supplier: d.Supplier}}
}

// skipped is the step of a rung that cannot take the case: nobody holds
// its role for unit, or everyone who does (holders) is away.
func skipped(at Place, unit *config.Unit, holders []string) Step {
	s := Step{Kind: "rung", Name: rungLabel(at.N, at.Of, at.Tier, at.Role, at.Supplier), Result: "skipped", At: &at}
	role := RoleID(at.Role)
	switch {
	case unit == nil && len(holders) == 0:
		return s.worded("nobody holds %s for a mail without unit", role)
	case unit == nil && len(holders) == 1:
		return s.worded("%s holds %s for a mail without unit but is away", PersonID(holders[0]), role)
	case unit == nil:
		return s.worded("%s hold %s for a mail without unit but are away", People(holders), role)
	case unit.WorkArea == "" && len(holders) == 0:
		return s.worded("nobody holds %s for unit %s", role, unit.ID)
	case unit.WorkArea == "" && len(holders) == 1:
		return s.worded("%s holds %s for unit %s but is away", PersonID(holders[0]), role, unit.ID)
	case unit.WorkArea == "":
		return s.worded("%s hold %s for unit %s but are away", People(holders), role, unit.ID)
	case len(holders) == 0:
		return s.worded("nobody holds %s for unit %s (work area %s)", role, unit.ID, unit.WorkArea)
	case len(holders) == 1:
		return s.worded("%s holds %s for unit %s (work area %s) but is away", PersonID(holders[0]), role, unit.ID, unit.WorkArea)
	}
	return s.worded("%s hold %s for unit %s (work area %s) but are away", People(holders), role, unit.ID, unit.WorkArea)
}

// rungLabel names a rung for a trail step: "2 of 4 (tier 2, role coordinator)".
func rungLabel(n, of int, tier, role, supplier string) string {
	if supplier != "" {
		return fmt.Sprintf("%d of %d (tier %s, supplier %s)", n, of, tier, supplier)
	}
	return fmt.Sprintf("%d of %d (tier %s, role %s)", n, of, tier, role)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
