package casework

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// TransferKind says why a case moves.
type TransferKind string

// Transfer kinds.
const (
	TransferEscalate TransferKind = "escalate" // #escalate: the next rung that can take it
	TransferBreach   TransferKind = "breach"   // an SLA target passed: the next rung
	TransferTier     TransferKind = "tier"     // #tier: a named rung
	TransferAssign   TransferKind = "assign"   // #assign: a person (on their rung when they hold one)
)

// Transfer is one move of a case.
type Transfer struct {
	Kind TransferKind
	// Rung is the 1-based target rung for TransferTier; 0 means the next
	// rung. routing.RungOfTier maps a tier ("2") to its rung.
	Rung int
	// Person is the person id for TransferAssign.
	Person string
	// Reason is shown to the people told; Actor is who moved the case (a
	// person id; "" for casemail itself).
	Reason, Actor string
	// Comment is the hand-over's internal comment (the reply's text under
	// the command): for whoever receives the case, never the requester.
	Comment string

	// reasonIn, when set, words the reason in a recipient's language
	// (the SLA check's breach notices).
	reasonIn func(lang string) string
}

func (t *Transfer) reason(lang string) string {
	if t.reasonIn != nil {
		return t.reasonIn(lang)
	}
	return t.Reason
}

// escalation reports whether the move is an escalation (notices to the
// support manager too).
func (t *Transfer) escalation() bool { return t.Kind == TransferEscalate || t.Kind == TransferBreach }

// Transfer moves a case to another rung of its service's chain, or to a
// person, records a "transfer" event (counted by reports as a move between
// tiers when the rung changes) and queues the notices: an assignment
// notice to the new assignee (or a supplier forward when the rung is
// external, carrying the supplier's own token), an "escalation" notice to
// the previous assignee and, for escalations and breaches, to the support
// manager (holders of role support_manager, if defined). At the top of the
// chain an escalation goes to the support manager only, and the case stays
// where it is. Everything is written through q, the caller's transaction;
// the case as it now is comes back.
func (desk *Desk) Transfer(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, t Transfer, now time.Time) (*store.Case, error) {
	svc := rules.Service(c.Service)
	if svc == nil {
		return nil, fmt.Errorf("transferring case %d: its service %q is not in the rules", c.Number, c.Service)
	}
	d := routing.Decision{Service: c.Service, ServiceName: svc.Name, Routine: svc.Routine, Unit: c.Unit,
		WorkArea: c.WorkArea, Rung: c.Rung, Rungs: len(svc.Chain), Tier: c.Tier, Role: c.Role,
		Supplier: c.Supplier, Assignee: c.Assignee, Priority: c.Priority}
	switch t.Kind {
	case TransferEscalate, TransferBreach:
		if !routing.NextRung(rules, &d, now) {
			return c, desk.topOfChain(ctx, q, rules, c, t, now)
		}
	case TransferTier:
		n := t.Rung
		if n == 0 {
			if !routing.NextRung(rules, &d, now) {
				return nil, fmt.Errorf("case %d is on the last rung of %s's chain", c.Number, svc.ID)
			}
		} else if !routing.Rung(rules, &d, n, now) {
			return nil, fmt.Errorf("service %s has no rung %d (its chain has %d)", svc.ID, n, len(svc.Chain))
		}
	case TransferAssign:
		p := rules.Person(t.Person)
		if p == nil {
			return nil, fmt.Errorf("no person %q in the rules", t.Person)
		}
		if n := personRung(rules, svc, c.Unit, p.ID); n > 0 && n != c.Rung {
			routing.Rung(rules, &d, n, now)
		}
		d.Assignee, d.Strategy = p.ID, "named"
	default:
		return nil, fmt.Errorf("transferring case %d: unknown kind %q", c.Number, t.Kind)
	}
	if t.Kind != TransferAssign {
		if err := routing.Assign(ctx, rules, &d, store.Assigner{Q: q}); err != nil {
			return nil, fmt.Errorf("transferring case %d: %w", c.Number, err)
		}
	}

	status := c.Status
	if status == store.StatusNew || status == store.StatusOpen {
		status = store.StatusNew
		if d.Assignee != "" || d.Supplier != "" {
			status = store.StatusOpen
		}
	}
	nc, err := store.MoveCase(ctx, q, c.ID, store.CaseMove{Tier: d.Tier, Rung: d.Rung, Role: d.Role,
		Supplier: d.Supplier, Assignee: d.Assignee, Status: status}, now)
	if err != nil {
		return nil, err
	}
	newHolder := rules.Person(d.Assignee)
	if newHolder != nil && d.Assignee != c.Assignee {
		if err := store.AddParticipant(ctx, q, c.ID, newHolder.Email, newHolder.Name, store.PartyAgent, newHolder.ID); err != nil {
			return nil, err
		}
	}
	sup := rules.Supplier(d.Supplier)
	supplierNew := sup != nil && (d.Supplier != c.Supplier || d.Rung != c.Rung)

	moved := d.Rung != c.Rung
	trail := transferTrail(rules, svc, c, &d, t)
	if err := store.AddEvent(ctx, q, c.ID, now, t.Actor, "transfer", trail, map[string]any{
		"kind": string(t.Kind), "from_rung": c.Rung, "to_rung": d.Rung, "from_tier": c.Tier, "to_tier": d.Tier,
		"from_role": c.Role, "to_role": d.Role, "from_assignee": c.Assignee, "to_assignee": d.Assignee,
		"from_supplier": c.Supplier, "supplier": d.Supplier, "moved": moved, "tier_changed": c.Tier != d.Tier, "reason": t.Reason,
	}); err != nil {
		return nil, err
	}

	// Notices. Each person gets one mail however many reasons they have,
	// and whoever moved the case none: they know.
	told := map[string]bool{}
	if p := rules.Person(t.Actor); p != nil {
		told[strings.ToLower(p.Email)] = true
	}
	opening, err := store.OpeningMessage(ctx, q, c.ID)
	if err != nil && err != store.ErrNotFound {
		return nil, err
	}
	actor := notify.ActorName(rules, t.Actor)
	move := &notify.MoveView{Kind: string(t.Kind), From: rungView(rules, c.Tier, c.Role, c.Supplier, c.Assignee),
		To: rungView(rules, d.Tier, d.Role, d.Supplier, d.Assignee)}
	if newHolder != nil && d.Assignee != c.Assignee && !told[strings.ToLower(newHolder.Email)] {
		rcp := desk.Mailer.PersonRecipient(rules, nc, newHolder)
		view := desk.noticeView(rules, nc, opening, now)
		// The taker gets the case so far, and the requester's attachments.
		hist, atts, err := desk.history(ctx, q, rules, nc, historyNotice)
		if err != nil {
			return nil, err
		}
		view.History, view.HistoryLeft = hist.Entries, hist.Left
		escalated := t.escalation() || (t.Kind == TransferTier && d.Rung > c.Rung)
		cm := notify.CaseMail{Case: nc, Kind: notify.KindAssignment, To: rcp, Data: notify.Data{Case: view, Actor: actor,
			Reason: t.reason(rcp.Language), Escalated: escalated, Comment: t.Comment, Transfer: string(t.Kind), Move: move},
			Attachments: append(openingAttachments(opening), atts...)}
		if _, err := desk.Mailer.Queue(ctx, q, cm, now); err != nil {
			return nil, err
		}
		told[strings.ToLower(newHolder.Email)] = true
	}
	if supplierNew {
		// The forward and the supplier's clock (supplier.go).
		lang := notify.Language(sup.Language, desk.Mailer.CaseLanguage(nc))
		if nc, err = desk.forward(ctx, q, rules, nc, sup, forwardNote{Text: t.reason(lang), Comment: t.Comment, Actor: t.Actor,
			Why: "moved on the chain"}, now); err != nil {
			return nil, err
		}
		told[strings.ToLower(sup.Email)] = true
	}
	var others []*config.Person
	if prev := rules.Person(c.Assignee); prev != nil && c.Assignee != d.Assignee {
		others = append(others, prev)
	}
	if t.escalation() {
		others = append(others, rules.NearestHoldersOf(config.RoleSupportManager, c.Unit)...)
	}
	for _, p := range others {
		if err := desk.escalationNotice(ctx, q, rules, nc, p, t, actor, move, opening, told, now); err != nil {
			return nil, err
		}
	}
	return nc, nil
}

// topOfChain tells the support manager that a case asked to climb past
// the last rung; the case stays.
func (desk *Desk) topOfChain(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, t Transfer, now time.Time) error {
	managers := rules.NearestHoldersOf(config.RoleSupportManager, c.Unit)
	why := "at the top of its chain: the support manager is told, the case stays"
	if len(managers) == 0 {
		why = "at the top of its chain and no support_manager is defined: nobody else to tell"
	}
	if t.Reason != "" {
		why += " (" + t.Reason + ")"
	}
	ids := make([]string, 0, len(managers))
	for _, p := range managers {
		ids = append(ids, p.ID)
	}
	if err := store.AddEvent(ctx, q, c.ID, now, t.Actor, "escalation", why, map[string]any{
		"kind": string(t.Kind), "top": true, "rung": c.Rung, "tier": c.Tier, "told": ids, "reason": t.Reason,
	}); err != nil {
		return err
	}
	opening, err := store.OpeningMessage(ctx, q, c.ID)
	if err != nil && err != store.ErrNotFound {
		return err
	}
	actor := notify.ActorName(rules, t.Actor)
	told := map[string]bool{}
	if p := rules.Person(t.Actor); p != nil {
		told[strings.ToLower(p.Email)] = true
	}
	move := &notify.MoveView{Kind: "top", From: rungView(rules, c.Tier, c.Role, c.Supplier, c.Assignee)}
	for _, p := range managers {
		if err := desk.escalationNotice(ctx, q, rules, c, p, t, actor, move, opening, told, now); err != nil {
			return err
		}
	}
	return nil
}

func (desk *Desk) escalationNotice(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, p *config.Person,
	t Transfer, actor string, move *notify.MoveView, opening *store.ThreadMessage, told map[string]bool, now time.Time) error {
	addr := strings.ToLower(p.Email)
	if addr == "" || told[addr] {
		return nil
	}
	told[addr] = true
	rcp := desk.Mailer.PersonRecipient(rules, c, p)
	view := desk.noticeView(rules, c, opening, now)
	_, err := desk.Mailer.Queue(ctx, q, notify.CaseMail{Case: c, Kind: notify.KindEscalation, To: rcp,
		Data: notify.Data{Case: view, Actor: actor, Reason: t.reason(rcp.Language), Comment: t.Comment,
			Transfer: string(t.Kind), Move: move}}, now)
	return err
}

// personRung returns the lowest rung of svc's chain whose role person
// holds for the unit, 0 for none.
func personRung(rules *config.Rules, svc *config.Service, unitID, person string) int {
	unit := rules.Unit(unitID)
	for i, r := range svc.Chain {
		if role := rules.Role(r.Role); role != nil && slices.Contains(role.Holders(unit), person) {
			return i + 1
		}
	}
	return 0
}

// transferTrail says in one line where a case went and why, for the
// event (notices word the move themselves, from notify.MoveView).
func transferTrail(rules *config.Rules, svc *config.Service, c *store.Case, d *routing.Decision, t Transfer) string {
	var b strings.Builder
	switch t.Kind {
	case TransferBreach:
		b.WriteString("SLA breached: ")
	case TransferEscalate:
		b.WriteString("escalated: ")
	case TransferTier:
		b.WriteString("moved: ")
	case TransferAssign:
		b.WriteString("assigned: ")
	}
	fmt.Fprintf(&b, "%s → %s", rungText(c.Rung, c.Tier, c.Role, c.Supplier, c.Assignee),
		rungText(d.Rung, d.Tier, d.Role, d.Supplier, d.Assignee))
	if d.Assignee == "" && d.Supplier == "" {
		b.WriteString(" (nobody available on that rung: unassigned)")
	}
	if t.Reason != "" && t.Kind != TransferBreach { // a breach's reason repeats the first words
		b.WriteString("; reason: " + t.Reason)
	}
	return b.String()
}

func rungText(rung int, tier, role, supplier, assignee string) string {
	s := fmt.Sprintf("rung %d (tier %s", rung, orNone(tier))
	switch {
	case supplier != "":
		s += ", supplier " + supplier
	case role != "":
		s += ", " + role
	}
	if assignee != "" {
		s += ", " + assignee
	}
	return s + ")"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// openingAttachments passes on the kept attachments of the requester's
// first mail.
func openingAttachments(m *store.ThreadMessage) []store.OutAttachment {
	if m == nil {
		return nil
	}
	var out []store.OutAttachment
	for _, a := range m.Attachments {
		if a.SHA256 != nil && !a.Inline {
			out = append(out, store.OutAttachment{SHA256: a.SHA256, Filename: a.Filename, ContentType: a.ContentType})
		}
	}
	return out
}

// noticeView is a case as a notice shows it: with the requester's first
// mail.
func (desk *Desk) noticeView(rules *config.Rules, c *store.Case, opening *store.ThreadMessage, now time.Time) notify.CaseView {
	v := desk.Mailer.CaseView(rules, c, now)
	v.Message = notify.OpeningView(opening)
	return v
}

// rungView names a place on a chain for the notices, which word it in the
// recipient's language (the event keeps transferTrail's English line).
func rungView(rules *config.Rules, tier, role, supplier, assignee string) notify.RungView {
	v := notify.RungView{Tier: tier, Role: role}
	if r := rules.Role(role); r != nil {
		v.RoleNames = r.Names
	}
	if p := rules.Person(assignee); p != nil {
		v.Holder = p.Name
	} else if s := rules.Supplier(supplier); s != nil {
		v.Holder = s.Name
	}
	return v
}
