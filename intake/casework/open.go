package casework

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// newCase routes a mail that threads to nothing and opens a case for it.
func (a *applier) newCase(ctx context.Context, hash []byte, linked *store.Case) (*store.Case, int64, error) {
	m := a.msg
	dec, err := routing.Route(ctx, a.rules, RoutingInput(m, a.mb.Defaults.Service, a.now.In(a.desk.location())), a.assigner)
	if err != nil {
		return nil, 0, fmt.Errorf("routing: %w", err)
	}
	status := store.StatusNew
	if dec.Assignee != "" || dec.Supplier != "" {
		status = store.StatusOpen
	}
	var dropReason string
	switch {
	case dec.Drop:
		dropReason = "dropped by rule: " + dec.DropReason
	case m.Auto == mailparse.AutoLoop:
		dropReason = "our own mail came back (" + m.AutoReason + ")"
	case m.Auto == mailparse.AutoList && !a.trustedList(m.ListID):
		dropReason = fmt.Sprintf("list mail from %q, which is not in trusted_lists", m.ListID)
	}
	if dropReason != "" {
		status = store.StatusDropped
	}
	var linkedID *int64
	if linked != nil {
		linkedID = &linked.ID
	}
	requester := m.From
	if requester.Addr == "" {
		requester = m.Sender
	}
	lang := a.desk.Mailer.RecipientLanguage(a.storedLanguage(requester.Addr), m.Language(), dec.Language, a.mb.Name)
	nc := store.NewCase{
		Status: status, Subject: m.Subject, Requester: requester.Addr, RequesterName: requester.Name,
		Mailbox: a.mb.Name, Language: lang, Priority: dec.Priority, Service: dec.Service, Unit: dec.Unit,
		WorkArea: dec.WorkArea, Tier: dec.Tier, Rung: dec.Rung, Role: dec.Role, Supplier: dec.Supplier,
		Assignee: dec.Assignee, Tags: dec.Tags, Automatic: m.Auto != mailparse.AutoNone, LinkedCaseID: linkedID,
		CreatedAt: a.now,
	}
	// SLA due times, kept on the case so the SLA check reads only due ones
	// (written with the row: an UPDATE after it would cost a row version).
	nc.FirstResponseDue, nc.ResolutionDue = slaDue(a.rules, dec.Service, dec.Priority, status, a.now)
	// The acknowledgement's allowance is settled with the insert, in its
	// round trip.
	// A sender whose authentication failed is never acknowledged: forged
	// senders would make the helpdesk a source of backscatter.
	ack := ackPending{wanted: dropReason == "" && m.Auto == mailparse.AutoNone && requester.Addr != "" && !a.isOurs(requester.Addr)}
	ack.unauthenticated = ack.wanted && !a.sender.Acknowledge()
	var c *store.Case
	if ack.wanted && !ack.unauthenticated {
		c, ack.AckAllowance, err = store.CreateCaseWithAck(ctx, a.tx, nc, store.AckLimits{
			PerSender: a.desk.Config.AckLimitPerHour, PerMailbox: a.desk.Config.AckLimitPerMailbox, Mailbox: a.mb.Name,
			Counts: a.acks}, a.now)
	} else {
		c, err = store.CreateCase(ctx, a.tx, nc)
	}
	if err != nil {
		return nil, 0, err
	}
	if requester.Addr != "" {
		if err := store.AddParticipant(ctx, a.w, c.ID, requester.Addr, requester.Name, store.PartyRequester, ""); err != nil {
			return nil, 0, err
		}
	}
	// The Cc's of a new mail are on its case, unless the sender's
	// authentication failed (or the policy asks for a pass).
	if ok, _ := a.desk.Senders.AllowParticipant(a.sender); ok {
		for _, cc := range m.Cc {
			if cc.Addr != requester.Addr && !a.isOurs(cc.Addr) {
				if err := store.AddParticipant(ctx, a.w, c.ID, cc.Addr, cc.Name, store.PartyCc, ""); err != nil {
					return nil, 0, err
				}
			}
		}
	}
	if p := a.rules.Person(dec.Assignee); p != nil {
		if err := store.AddParticipant(ctx, a.w, c.ID, p.Email, p.Name, store.PartyAgent, p.ID); err != nil {
			return nil, 0, err
		}
	}
	row, err := a.storeMessage(ctx, c.ID, store.PartyRequester, hash)
	if err != nil {
		return nil, 0, err
	}
	created := map[string]any{"mailbox": a.mb.Name, "uid": a.uid, "from": requester.Addr,
		"message_id": m.MessageID, "automatic": m.Auto.String()}
	if len(m.Problems) > 0 {
		created["problems"] = m.Problems
	}
	if linked != nil {
		created["linked_case"] = linked.Number
	}
	reason := "new mail"
	if linked != nil && a.linkWhy != "" {
		reason = a.linkWhy
	} else if linked != nil {
		reason = fmt.Sprintf("subject names case #%d, but %s is not on that case: opened a new case linked to it",
			linked.Number, requester.Addr)
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, requester.Addr, "created", reason, created); err != nil {
		return nil, 0, err
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "routed", routedReason(dec), decisionData(dec)); err != nil {
		return nil, 0, err
	}
	if dropReason != "" {
		err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "dropped", dropReason, nil)
		return c, row, err
	}
	if dec.Assignee != "" {
		if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "assigned",
			fmt.Sprintf("%s holds %s (%s)", dec.Assignee, dec.Role, dec.Strategy),
			map[string]any{"assignee": dec.Assignee, "role": dec.Role, "tier": dec.Tier, "strategy": dec.Strategy}); err != nil {
			return nil, 0, err
		}
	}
	if err := a.queueNewCaseMail(ctx, c, dec, ack); err != nil {
		return nil, 0, err
	}
	if s := a.rules.Supplier(c.Supplier); s != nil {
		// A case that starts at the supplier (S2) is forwarded at once and
		// their clock starts (supplier.go).
		if err := a.w.Send(ctx, a.tx); err != nil {
			return nil, 0, err
		}
		if c, err = a.desk.forward(ctx, a.tx, a.rules, c, s, forwardNote{}, a.now); err != nil {
			return nil, 0, err
		}
		a.queued = true
	}
	if err := a.awaitApproval(ctx, c); err != nil {
		return nil, 0, err
	}
	return c, row, nil
}

// RoutingInput is what routing sees of a parsed mail.
func RoutingInput(m *mailparse.Message, defaultService string, received time.Time) routing.Input {
	return routing.Input{
		From: m.From.Addr, FromName: m.From.Name, To: addrs(m.To), Cc: addrs(m.Cc), DeliveredTo: m.DeliveredTo,
		Subject: m.Subject, Body: m.Text, HasAttachment: len(m.Attachments) > 0, Received: received,
		MailboxDefaultService: defaultService, Header: m.Header.Values,
	}
}

func (a *applier) trustedList(id string) bool {
	for _, l := range a.mb.TrustedLists {
		if strings.EqualFold(strings.Trim(l, "<>"), strings.Trim(id, "<>")) {
			return true
		}
	}
	return false
}

func routedReason(d routing.Decision) string {
	s := "service " + d.Service
	if d.Unit != "" {
		s += ", unit " + d.Unit
	}
	s += ", tier " + d.Tier
	if d.Role != "" {
		s += ", role " + d.Role
	}
	if d.Supplier != "" {
		s += ", supplier " + d.Supplier
	}
	return s
}

func decisionData(d routing.Decision) map[string]any {
	return map[string]any{
		"service": d.Service, "unit": d.Unit, "work_area": d.WorkArea, "tier": d.Tier, "rung": d.Rung,
		"role": d.Role, "supplier": d.Supplier, "candidates": d.Candidates, "assignee": d.Assignee,
		"strategy": d.Strategy, "priority": d.Priority, "tags": d.Tags, "trail": d.Trail,
		"direct": d.Direct, "contract": d.Contract,
	}
}

// ackPending says whether a new case's requester is to be acknowledged
// (a person, not one of our addresses, the case not dropped), whether
// their authentication failed, and what the hourly caps allowed.
type ackPending struct {
	wanted, unauthenticated bool
	store.AckAllowance
}

// queueNewCaseMail queues the acknowledgement to the requester and the
// assignment notice to the assignee, in the transaction that opened the case.
func (a *applier) queueNewCaseMail(ctx context.Context, c *store.Case, dec routing.Decision, ack ackPending) error {
	view := a.caseView(c, dec)
	switch {
	case !ack.wanted:
	case ack.Allowed:
		// A case that starts at the supplier's rung tells the requester
		// the supplier handles it.
		data := notify.Data{Case: view, Direct: c.Supplier != ""}
		if a.oversize {
			data.Oversize = a.mb.MaxMessageSize.String()
		}
		if err := a.queue(ctx, c, notify.KindAck, notify.Recipient{Name: c.RequesterName, Address: c.Requester, Language: c.Language},
			data, nil, "auto-replied", true); err != nil {
			return err
		}
	default:
		cap, why := "ack_sender", fmt.Sprintf("%s already got %d acknowledgements this hour", c.Requester, a.desk.Config.AckLimitPerHour)
		switch {
		case ack.unauthenticated:
			cap, why = "ack_unauthenticated", "the sender's authentication failed: "+a.sender.Reason()
		case ack.Capped == "mailbox":
			cap, why = "ack_mailbox", fmt.Sprintf("mailbox %s already sent %d acknowledgements this hour", a.mb.Name, a.desk.Config.AckLimitPerMailbox)
		}
		a.capped = append(a.capped, cap)
		if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "ack-suppressed", why, map[string]any{"cap": cap}); err != nil {
			return err
		}
	}
	if p := a.rules.Person(dec.Assignee); p != nil && p.Email != "" {
		// The first notice carries the attachments, as every hand-over does.
		atts, views := a.passOn()
		view.Message.Attachments = views
		lang := a.desk.Mailer.RecipientLanguage(p.Language, "", dec.Language, a.mb.Name)
		if err := a.queue(ctx, c, notify.KindAssignment, notify.Recipient{Name: p.Name, Address: p.Email, Language: lang},
			notify.Data{Case: view}, atts, "auto-generated", false); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) caseView(c *store.Case, dec routing.Decision) notify.CaseView {
	m := a.msg
	v := a.view(c)
	v.ServiceName, v.Role, v.Routine, v.Route = dec.ServiceName, dec.Role, dec.Routine, RouteView(a.rules, dec)
	v.Message = notify.MessageView{From: m.From.Addr, FromName: m.From.Name, Text: m.Text}
	for _, at := range m.Attachments {
		v.Message.Attachments = append(v.Message.Attachments, notify.AttachmentView{Name: at.Filename, Type: at.ContentType, Size: at.Size})
	}
	return v
}

// RouteView is a routing decision as the assignment notice words it, in
// the recipient's language: routing's steps in parts (their reasons'
// English formats with their data, places on the chain, roles with
// rules.yaml's names), the fixed words left to notify. A rule's condition
// stays as routing states it.
func RouteView(rules *config.Rules, d routing.Decision) *notify.RouteView {
	v := &notify.RouteView{Service: d.Service, ServiceName: d.ServiceName, Original: d.Original, Proposed: d.Proposed,
		Unit: d.Unit, WorkArea: d.WorkArea, Dropped: d.Drop, DropReason: d.DropReason, Holders: personNames(rules, d.Candidates),
		Assignee: notify.ActorName(rules, d.Assignee), Strategy: d.Strategy, Priority: d.Priority, Tags: d.Tags}
	if svc := rules.Service(d.Service); svc != nil {
		v.ServiceNames = svc.Names
	}
	if !d.Drop && d.Rung > 0 {
		v.Rung = placeView(rules, routing.Place{N: d.Rung, Of: d.Rungs, Tier: d.Tier, Role: d.Role, Supplier: d.Supplier})
	}
	steps, unlisted := d.Trail.Shown(false)
	v.Unlisted = unlisted
	v.Steps = make([]notify.TrailStep, 0, len(steps))
	for _, s := range steps {
		ts := notify.TrailStep{Kind: s.Kind, Name: s.Name, Result: s.Result}
		if s.At != nil {
			ts.At, ts.Name = placeView(rules, *s.At), ""
		}
		if s.Kind == "assignee" {
			ts.Name = notify.ActorName(rules, s.Name)
		}
		if s.Format == "" {
			ts.Cond = s.Why // a rule's condition
		} else {
			args := make([]any, len(s.Args))
			for i, a := range s.Args {
				switch v := a.(type) {
				case routing.RoleID:
					a = roleRef(rules, string(v))
				case routing.PersonID:
					a = notify.ActorName(rules, string(v))
				case routing.People:
					a = strings.Join(personNames(rules, v), ", ")
				case routing.Scope:
					a = scopePhrase(v.Contract)
				}
				args[i] = a
			}
			ts.Why = notify.Phrase{Format: s.Format, Args: args}
		}
		v.Steps = append(v.Steps, ts)
	}
	return v
}

// placeView names a place on a chain: its role by rules.yaml's names, a
// supplier by its name.
func placeView(rules *config.Rules, p routing.Place) *notify.RungView {
	v := &notify.RungView{N: p.N, Of: p.Of, Tier: p.Tier}
	if s := rules.Supplier(p.Supplier); s != nil {
		v.Holder = s.Name
	} else if p.Supplier != "" {
		v.Holder = p.Supplier
	} else {
		v.Role = p.Role
		v.RoleNames = roleRef(rules, p.Role).Names
	}
	return v
}

// personNames names people of rules.yaml as mails do (notify.ActorName).
func personNames(rules *config.Rules, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = notify.ActorName(rules, id)
	}
	return out
}

// scopePhrase is a contract's scope as a mail words it: its parts, or
// "base".
func scopePhrase(ct *config.Contract) notify.Phrases {
	parts := ct.ScopeParts()
	if len(parts) == 0 {
		base := notify.Phrase{Format: "base"}
		return notify.Phrases{base}
	}
	out := make(notify.Phrases, len(parts))
	for i, p := range parts {
		out[i] = notify.Phrase{Format: p.Format, Args: []any{p.IDs}}
	}
	return out
}

func roleRef(rules *config.Rules, id string) notify.RoleRef {
	r := notify.RoleRef{ID: id}
	if role := rules.Role(id); role != nil {
		r.Names = role.Names
	}
	return r
}

// queue renders one mail about c to one person and queues it. The
// requester's mails continue the thread of their own mail; an agent's
// notice references only the case's own mail.
func (a *applier) queue(ctx context.Context, c *store.Case, kind string, to notify.Recipient, data notify.Data,
	atts []store.OutAttachment, autoSubmitted string, threadOriginal bool) error {
	cm := notify.CaseMail{Case: c, Kind: kind, To: to, Data: data, Mailbox: a.mb,
		AutoSubmitted: autoSubmitted, Attachments: atts}
	if threadOriginal && a.msg.MessageID != "" {
		cm.InReplyTo = a.msg.MessageID
		cm.References = append(append([]string{}, a.msg.References...), a.msg.MessageID)
	}
	if _, err := a.desk.Mailer.Queue(ctx, a.w, cm, a.now); err != nil {
		return err
	}
	a.queued = true
	return nil
}

// storedLanguage is the language rules.yaml stores for an address (a
// requester who is also one of the people), else "".
func (a *applier) storedLanguage(addr string) string {
	if p := a.rules.PersonByEmail(addr); p != nil {
		return p.Language
	}
	return ""
}
