package casework

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// conversation is one proven agent reply being applied to its case.
type conversation struct {
	a     *applier
	c     *store.Case // as the commands leave it
	state store.CaseState
	actor *config.Person
	body  string // the reply after its command lines
	row   int64  // the stored message
	// consultant: the sender was consulted; their answer is internal
	// unless a command says otherwise (#resolve).
	consultant bool

	e  store.Execer // writes: the intake batch, or the commands' savepoint
	tx pgx.Tx       // reads and transfers, in the same transaction

	internal bool // the body goes to nobody on the requester's side
	public   bool // the reply goes to the requester side (goesPublic)
	// comment is a hand-over's internal comment: the text above the
	// public marker, for whoever receives the case (see splitHandOver).
	comment  string
	handOver bool
	resolve  *Command // #resolve: the body goes out as the resolution
	merged   bool     // #merge: the requester was told in the merge notice
	// bodySent: the body went to a consultant or the supplier as their
	// question; the owner, who wrote it, needs no copy.
	bodySent bool
}

// check validates commands against the case and the rules before anything
// is changed, so that a reply with one bad command changes nothing. It
// returns what is wrong with them, or an error when checking failed (the
// database), which fails the delivery so that it is tried again.
func (cv *conversation) check(ctx context.Context, cmds []Command) ([]commandError, error) {
	var errs []commandError
	for _, cmd := range cmds {
		if err := cv.checkOne(ctx, cmd); err != nil {
			var ce commandError
			if !errors.As(err, &ce) {
				return nil, fmt.Errorf("checking %s on case %d: %w", cmd.Line, cv.c.Number, err)
			}
			errs = append(errs, ce)
		}
	}
	return errs, nil
}

func (cv *conversation) checkOne(ctx context.Context, cmd Command) error {
	a, c := cv.a, cv.c
	svc := a.rules.Service(c.Service)
	switch cmd.Name {
	case "resolve":
		switch c.Status {
		case store.StatusResolved, store.StatusClosed:
			return cmdErr(cmd, "the case is already %s", c.Status)
		case store.StatusDropped:
			return cmdErr(cmd, "the case was dropped; #reopen it first")
		}
	case "close":
		if c.Status == store.StatusClosed {
			return cmdErr(cmd, "the case is already closed")
		}
	case "reopen":
		switch {
		case c.Status == store.StatusWaiting && cv.state.Approval == store.ApprovalPending:
			return cmdErr(cmd, "the case waits for approval (#approve or #reject)")
		case c.Status != store.StatusResolved && c.Status != store.StatusClosed && c.Status != store.StatusDropped && c.Status != store.StatusWaiting:
			return cmdErr(cmd, "the case is %s; only a resolved, closed, dropped or waiting case can be reopened", c.Status)
		}
	case "escalate":
		// At the top of the chain the transfer tells the support manager
		// and the case stays: not an error.
		if svc == nil {
			return cmdErr(cmd, "the case's service %q is no longer in rules.yaml; use #service first", c.Service)
		}
	case "tier":
		if svc == nil {
			return cmdErr(cmd, "the case's service %q is no longer in rules.yaml; use #service first", c.Service)
		}
		n, _ := routing.RungOfTier(svc, cmd.Arg)
		switch {
		case n == 0:
			return cmdErr(cmd, "%s has no tier %q (its levels: %s)", svc.Name, cmd.Arg, chainTiers(svc))
		case n == c.Rung:
			return cmdErr(cmd, "the case is already on tier %s", c.Tier)
		}
	case "assign":
		p := findPerson(a.rules, cmd.Arg)
		switch {
		case p == nil:
			return cmdErr(cmd, "nobody called %q in rules.yaml", cmd.Arg)
		case p.ID == c.Assignee:
			return cmdErr(cmd, "the case is already %s's", p.Name)
		}
	case "service":
		ns := a.rules.Service(strings.TrimSpace(cmd.Arg))
		switch {
		case ns == nil:
			return cmdErr(cmd, "no service %q in the catalogue", cmd.Arg)
		case ns.ID == c.Service:
			return cmdErr(cmd, "the case is already in %s", ns.ID)
		case ns.Proposed():
			return cmdErr(cmd, "service %s is proposed, not yet in use", ns.ID)
		case ns.Approval != "" && cv.state.Approval == "":
			// Its cases wait for approval from the start; a case moved into
			// it would skip the gate.
			return cmdErr(cmd, "%s needs the approval of a %s; the requester must open a new case for it", ns.ID, ns.Approval)
		}
		d := routing.Decision{Service: ns.ID, Unit: c.Unit, WorkArea: c.WorkArea}
		if !routing.NextRung(a.rules, &d, a.now.In(a.desk.location())) {
			return cmdErr(cmd, "nobody available holds a role on the chain of %s", ns.ID)
		}
	case "priority":
		if !priorities[strings.ToLower(cmd.Arg)] {
			return cmdErr(cmd, "priority is low, normal, high or urgent")
		}
	case "consult":
		p := findPerson(a.rules, cmd.Arg)
		switch {
		case p == nil:
			return cmdErr(cmd, "nobody called %q in rules.yaml", cmd.Arg)
		case p.ID == cv.actor.ID:
			return cmdErr(cmd, "you cannot consult yourself")
		case p.ID == c.Assignee:
			return cmdErr(cmd, "%s already has the case", p.Name)
		}
	case "supplier":
		id := cv.supplierID()
		if id == "" {
			return cmdErr(cmd, "service %s has no supplier on its chain", c.Service)
		}
		if a.rules.Supplier(id) == nil {
			return cmdErr(cmd, "supplier %q is not in rules.yaml", id)
		}
	case "supplier-ref":
		return cv.checkSupplierRef(ctx, cmd)
	case "wait":
		if _, err := parseWait(cmd.Arg); err != nil {
			return cmdErr(cmd, "%v", err)
		}
	case "merge":
		n, err := parseCaseNumber(cmd.Arg)
		if err != nil {
			return cmdErr(cmd, "%v", err)
		}
		if n == c.Number {
			return cmdErr(cmd, "a case cannot be merged into itself")
		}
		target, err := store.CaseByNumber(ctx, cv.a.tx, n)
		if errors.Is(err, store.ErrNotFound) {
			return cmdErr(cmd, "there is no case #%d", n)
		}
		if err != nil {
			return err
		}
		ts, err := store.ConversationState(ctx, cv.a.tx, target.ID)
		if err != nil {
			return err
		}
		switch {
		case ts.MergedInto != nil:
			return cmdErr(cmd, "case #%d was itself merged into another case; merge into that one", n)
		case target.Status == store.StatusClosed || target.Status == store.StatusDropped:
			return cmdErr(cmd, "case #%d is %s", n, target.Status)
		}
		// A merge brings this case's requester side into the other case:
		// only someone who holds both (or the support manager) may.
		kind, err := store.ParticipantKind(ctx, cv.a.tx, target.ID, cv.actor.Email)
		if err != nil {
			return err
		}
		if holds, err := a.holds(ctx, target, cv.actor, kind); err != nil {
			return err
		} else if !holds {
			return cmdErr(cmd, "you do not hold case #%d: only someone who holds both cases, or the support manager, may merge them", n)
		}
	case "cc":
		addr, err := mail.ParseAddress(cmd.Arg)
		if err != nil {
			return cmdErr(cmd, "not an address: %v", err)
		}
		if a.isOurs(addr.Address) {
			return cmdErr(cmd, "%s is the helpdesk itself", addr.Address)
		}
	case "approve", "reject":
		if cv.state.Approval != store.ApprovalPending {
			return cmdErr(cmd, "the case does not wait for approval")
		}
		if svc == nil || svc.Approval == "" {
			return cmdErr(cmd, "the case's service no longer needs approval")
		}
		if !slices.ContainsFunc(a.approvers(c, svc, false), func(p *config.Person) bool { return p.ID == cv.actor.ID }) {
			return cmdErr(cmd, "only a holder of %s for this case may approve or reject it", svc.Approval)
		}
	}
	return nil
}

// splitHandOver applies the hand-over rule to the reply's text. With a
// hand-over command (#escalate, #assign, #tier, #consult, #supplier) the
// text is an internal comment for whoever receives the case; only what
// stands under a "#public" line (or everything, when #public is one of
// the command lines) goes to the requester. Without one, a "#public" line
// changes nothing: the line itself is dropped.
func (cv *conversation) splitHandOver(cmds []Command) {
	above, below, found := splitPublic(cv.body)
	if hasCommand(cmds, "public") {
		above, below, found = "", cv.body, true
	}
	cv.handOver = slices.ContainsFunc(cmds, func(c Command) bool { return slices.Contains(handOvers, c.Name) })
	switch {
	case !cv.handOver:
		cv.body = strings.Trim(above+"\n\n"+below, "\n")
	case cv.internal:
		cv.comment, cv.body = strings.Trim(above+"\n\n"+below, "\n"), ""
	default:
		cv.comment, cv.body = above, below
		// Nothing public asked for: the whole reply, attachments too, stays
		// internal.
		cv.internal = !found
		// The receiver gets the comment with the case; the owner needs no
		// copy as a note.
		cv.bodySent = true
	}
}

func hasCommand(cmds []Command, name string) bool {
	return slices.ContainsFunc(cmds, func(c Command) bool { return c.Name == name })
}

// supplierID is the supplier #supplier forwards to: the one the case has,
// else the one on its service's chain.
func (cv *conversation) supplierID() string {
	if cv.c.Supplier != "" {
		return cv.c.Supplier
	}
	if svc := cv.a.rules.Service(cv.c.Service); svc != nil {
		return chainSupplier(svc)
	}
	return ""
}

// apply carries out checked commands in order, each with an event.
func (cv *conversation) apply(ctx context.Context, cmds []Command) error {
	for _, cmd := range cmds {
		if err := cv.event(ctx, "command", cmd.Line, map[string]any{"command": cmd.Name, "arg": cmd.Arg,
			"message": cv.row}); err != nil {
			return err
		}
		if err := cv.applyOne(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

func (cv *conversation) event(ctx context.Context, kind, reason string, data map[string]any) error {
	return store.AddEvent(ctx, cv.e, cv.c.ID, cv.a.now, cv.actor.ID, kind, reason, data)
}

// setStatus moves the case to a status, recording from and to.
func (cv *conversation) setStatus(ctx context.Context, to store.Status, why string) error {
	from := cv.c.Status
	if !from.CanBecome(to) {
		return fmt.Errorf("case %d cannot go from %s to %s", cv.c.Number, from, to)
	}
	// Leaving "waiting" resumes the SLA clocks by itself: a trigger on
	// cases.status records the pause, and the SLA check gives it back.
	if err := store.EndWait(ctx, cv.e, cv.c.ID, to, cv.a.now); err != nil {
		return err
	}
	cv.c.Status = to
	return cv.event(ctx, "status", why, map[string]any{"from": from, "to": to})
}

func (cv *conversation) transfer(ctx context.Context, t Transfer) error {
	t.Actor, t.Comment = cv.actor.ID, cv.comment
	c, err := cv.a.desk.Transfer(ctx, cv.tx, cv.a.rules, cv.c, t, cv.a.now)
	switch {
	case err == nil:
	case store.IsDatabase(err) || ctx.Err() != nil:
		return err // the database, not the command: the delivery is tried again
	default:
		return commandError{line: "#" + string(t.Kind), format: "%v", args: []any{err}}
	}
	cv.a.queued = true
	cv.c = c
	return nil
}

func (cv *conversation) applyOne(ctx context.Context, cmd Command) error {
	a, c := cv.a, cv.c
	switch cmd.Name {
	case "approve", "reject":
		state, to, kind := store.ApprovalApproved, store.Held(c.Assignee, c.Supplier), notify.KindApproved
		if cmd.Name == "reject" {
			state, to, kind = store.ApprovalRejected, store.StatusClosed, notify.KindRejected
		}
		if err := store.SetApproval(ctx, cv.e, c.ID, state, a.now); err != nil {
			return err
		}
		cv.state.Approval = state
		if err := cv.event(ctx, "approval", strings.TrimSpace(state+" "+cmd.Arg),
			map[string]any{"state": state, "reason": cmd.Arg}); err != nil {
			return err
		}
		if (c.Status == store.StatusWaiting && cv.state.WaitUntil == nil) || cmd.Name == "reject" {
			if err := cv.setStatus(ctx, to, "#"+cmd.Name); err != nil {
				return err
			}
		}
		return cv.tellRequester(ctx, kind, notify.Data{Reason: cmd.Arg, Actor: cv.actor.Name}, nil)
	case "service":
		ns := a.rules.Service(strings.TrimSpace(cmd.Arg))
		from := c.Service
		if err := store.SetService(ctx, cv.e, c.ID, ns.ID, a.now); err != nil {
			return err
		}
		moved := *c
		moved.Service = ns.ID
		cv.c = &moved
		if err := cv.event(ctx, "service", "service "+from+" → "+ns.ID, map[string]any{"from": from, "to": ns.ID}); err != nil {
			return err
		}
		d := routing.Decision{Service: ns.ID, Unit: c.Unit, WorkArea: c.WorkArea}
		routing.NextRung(a.rules, &d, a.now.In(a.desk.location()))
		return cv.transfer(ctx, Transfer{Kind: TransferTier, Rung: d.Rung,
			Reason: "service changed from " + from + " to " + ns.ID})
	case "tier":
		svc := a.rules.Service(c.Service)
		return cv.transfer(ctx, Transfer{Kind: TransferTier, Rung: rungOfTier(svc, cmd.Arg)})
	case "escalate":
		return cv.transfer(ctx, Transfer{Kind: TransferEscalate, Reason: cmd.Arg})
	case "assign":
		p := findPerson(a.rules, cmd.Arg)
		return cv.transfer(ctx, Transfer{Kind: TransferAssign, Person: p.ID})
	case "priority":
		p := strings.ToLower(cmd.Arg)
		if p == c.Priority {
			return nil
		}
		if err := store.SetPriority(ctx, cv.e, c.ID, p, a.now); err != nil {
			return err
		}
		if err := cv.event(ctx, "priority", c.Priority+" → "+p, map[string]any{"from": c.Priority, "to": p}); err != nil {
			return err
		}
		old := c.Priority
		cv.c.Priority = p
		// The SLA targets follow the priority (a high case answers sooner).
		if err := RetargetSLA(ctx, cv.e, a.rules, cv.c, old); err != nil {
			return err
		}
	case "consult":
		return cv.consult(ctx, cmd, findPerson(a.rules, cmd.Arg))
	case "supplier":
		return cv.forwardToSupplier(ctx, cmd)
	case "supplier-ref":
		return cv.supplierRef(ctx, cmd)
	case "wait":
		d, _ := parseWait(cmd.Arg)
		until := a.now.Add(d)
		from := c.Status
		if err := store.SetWaiting(ctx, cv.e, c.ID, until, a.now); err != nil {
			return err
		}
		// The SLA clocks pause with the status (a trigger records when),
		// and the SLA check wakes the case at wait_until.
		cv.c.Status = store.StatusWaiting
		cv.state.WaitUntil = &until
		return cv.event(ctx, "status", "waiting until "+until.In(a.desk.location()).Format("2006-01-02 15:04"),
			map[string]any{"from": from, "to": store.StatusWaiting, "wait_until": until})
	case "reopen":
		return cv.setStatus(ctx, store.Held(c.Assignee, c.Supplier), "#reopen")
	case "resolve":
		cv.resolve = &cmd
		return cv.setStatus(ctx, store.StatusResolved, strings.TrimSpace("#resolve "+cmd.Arg))
	case "close":
		return cv.setStatus(ctx, store.StatusClosed, "#close")
	case "merge":
		return cv.merge(ctx, cmd)
	case "cc":
		addr, _ := mail.ParseAddress(cmd.Arg)
		if err := store.AddParticipant(ctx, cv.e, c.ID, addr.Address, addr.Name, store.PartyCc, ""); err != nil {
			return err
		}
		return cv.event(ctx, "participant", cv.actor.ID+" added "+strings.ToLower(addr.Address)+" with #cc",
			map[string]any{"address": strings.ToLower(addr.Address), "kind": store.PartyCc})
	case "note":
		cv.internal = true
	case "history", "mine", "help":
		return cv.answerAgent(ctx, cmd.Name)
	}
	return nil
}

// answerAgent answers #history, #mine and #help: a mail to the agent who
// asked, in reply to their mail, about this case.
func (cv *conversation) answerAgent(ctx context.Context, what string) error {
	a, c := cv.a, cv.c
	data := notify.Data{Case: a.view(c), Actor: cv.actor.Name}
	var atts []store.OutAttachment
	kind := notify.KindHelp
	switch what {
	case "history":
		kind = notify.KindHistory
		h, files, err := a.desk.history(ctx, cv.tx, a.rules, c, historyFull)
		if err != nil {
			return err
		}
		data.Case.History, data.Case.HistoryLeft, atts = h.Entries, h.Left, files
	case "mine":
		kind = notify.KindMine
		views, err := a.desk.Mailer.OwnCases(ctx, cv.tx, a.rules, cv.actor, a.now)
		if err != nil {
			return err
		}
		data.Cases = views
	}
	return a.send(ctx, cv.e, notify.CaseMail{Case: c, Kind: kind, To: a.personRecipient(cv.actor, c), Data: data,
		Attachments: atts, InReplyTo: a.msg.MessageID, References: a.ownReferences()})
}

// consult gives a colleague the case to answer the owner, who keeps it.
// The rest of the reply is the question to them, never to the requester.
func (cv *conversation) consult(ctx context.Context, cmd Command, p *config.Person) error {
	a, c := cv.a, cv.c
	if err := store.SetParticipant(ctx, cv.e, c.ID, p.Email, p.Name, store.PartyConsultant, p.ID); err != nil {
		return err
	}
	if err := cv.event(ctx, "consult", cv.actor.ID+" consults "+p.ID, map[string]any{"consultant": p.ID}); err != nil {
		return err
	}
	open, err := store.OpeningMessage(ctx, cv.tx, c.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	data := notify.Data{Case: a.view(c), Actor: cv.actor.Name, Comment: cv.comment, Consult: true}
	var atts []store.OutAttachment
	if open != nil {
		var views []notify.AttachmentView
		atts, views = storedPassOn(open)
		data.Case.Message = notify.MessageView{From: open.From, FromName: open.FromName, Text: open.NewText, Attachments: views}
	}
	// The colleague asked gets the case so far, as a taker would.
	h, more, err := a.desk.history(ctx, cv.tx, a.rules, c, historyNotice)
	if err != nil {
		return err
	}
	data.Case.History, data.Case.HistoryLeft, atts = h.Entries, h.Left, append(atts, more...)
	return a.send(ctx, cv.e, notify.CaseMail{Case: c, Kind: notify.KindConsult, To: a.personRecipient(p, c), Data: data,
		Attachments: atts, Via: cv.actor.Name})
}

// forwardToSupplier sends the case to its supplier (supplier.go: the
// contract's clock starts); the reply's hand-over comment is the note to
// them (splitHandOver). The
// case stays with its owner, and the supplier's answers go to the owner.
func (cv *conversation) forwardToSupplier(ctx context.Context, cmd Command) error {
	a, c := cv.a, cv.c
	s := a.rules.Supplier(cv.supplierID())
	if err := store.SetSupplier(ctx, cv.e, c.ID, s.ID, a.now); err != nil {
		return err
	}
	nc, err := a.desk.forward(ctx, cv.tx, a.rules, c, s, forwardNote{Text: cv.comment, Actor: cv.actor.ID,
		Via: cv.actor.Name, Why: "restarted by #supplier"}, a.now)
	if err != nil {
		return err
	}
	cv.c = nc
	a.queued = true
	return nil
}

// merge closes this case into case N; the requester is told once, with
// the rest of the reply.
func (cv *conversation) merge(ctx context.Context, cmd Command) error {
	a, c := cv.a, cv.c
	n, _ := parseCaseNumber(cmd.Arg)
	target, err := store.CaseByNumber(ctx, cv.tx, n)
	if err != nil {
		return err
	}
	joined, err := store.MergeCase(ctx, cv.tx, c.ID, target.ID, a.now)
	if err != nil {
		return err
	}
	from := c.Status
	cv.c.Status = store.StatusClosed
	if err := cv.event(ctx, "merge", fmt.Sprintf("merged into #%d", target.Number),
		map[string]any{"into": target.Number, "from": from, "to": store.StatusClosed}); err != nil {
		return err
	}
	if err := store.AddEvent(ctx, cv.e, target.ID, a.now, cv.actor.ID, "merge", fmt.Sprintf("case #%d merged into this one", c.Number),
		map[string]any{"merged": c.Number, "joined": joined}); err != nil {
		return err
	}
	// Nobody joins a case quietly: its owner is told who did.
	if owner, err := a.owner(ctx, target); err != nil {
		return err
	} else if owner != nil && owner.ID != cv.actor.ID && len(joined) > 0 {
		if err := a.send(ctx, cv.e, notify.CaseMail{Case: target, Kind: notify.KindNote, To: a.personRecipient(owner, target),
			Data: notify.Data{Case: a.view(target), Actor: cv.actor.Name, Reason: fmt.Sprint(c.Number), Joined: joined}}); err != nil {
			return err
		}
	}
	cv.merged = true
	// The notice belongs to the case the requester now writes to.
	data := notify.Data{Case: a.view(target), Actor: cv.actor.Name, Cases: []notify.CaseView{a.view(c)}}
	var atts []store.OutAttachment
	if !cv.internal {
		var views []notify.AttachmentView
		atts, views = a.passOn()
		data.Case.Message = notify.MessageView{Text: cv.body, Attachments: views}
	}
	return cv.tellRequesterOf(ctx, target, c, notify.KindMerged, data, atts)
}

// tellRequester sends the requester (and Cc'd participants) a mail about
// this case.
func (cv *conversation) tellRequester(ctx context.Context, kind string, data notify.Data, atts []store.OutAttachment) error {
	return cv.tellRequesterOf(ctx, cv.c, cv.c, kind, data, atts)
}

// tellRequesterOf sends the requester side of case from a mail on case
// about.
func (cv *conversation) tellRequesterOf(ctx context.Context, about, from *store.Case, kind string, data notify.Data, atts []store.OutAttachment) error {
	a := cv.a
	rs, err := a.requesterSide(ctx, cv.tx, from)
	if err != nil {
		return err
	}
	refs, err := store.RequesterThread(ctx, cv.tx, from.ID)
	if err != nil {
		return err
	}
	var inReplyTo string
	if len(refs) > 0 {
		inReplyTo = refs[len(refs)-1]
	}
	if data.Case.Number == 0 {
		data.Case = a.view(about)
	}
	for _, r := range rs {
		if err := a.send(ctx, cv.e, notify.CaseMail{Case: about, Kind: kind, To: r, Data: data, Attachments: atts,
			Via: cv.actor.Name, InReplyTo: inReplyTo, References: refs}); err != nil {
			return err
		}
	}
	return nil
}

// requesterSide lists who gets public mail of a case: the requester
// (unless the case came from a machine) and its Cc'd participants, never
// the sender of the mail being handled nor casemail's own addresses.
func (a *applier) requesterSide(ctx context.Context, q store.Querier, c *store.Case) ([]notify.Recipient, error) {
	seen := map[string]bool{strings.ToLower(a.msg.From.Addr): true}
	if c.Automatic {
		seen[strings.ToLower(c.Requester)] = true
	}
	lang := a.desk.Mailer.CaseLanguage(c)
	var out []notify.Recipient
	add := func(name, addr string) {
		addr = strings.ToLower(strings.TrimSpace(addr))
		if addr == "" || seen[addr] || a.isOurs(addr) {
			return
		}
		seen[addr] = true
		out = append(out, notify.Recipient{Name: name, Address: addr, Language: lang})
	}
	add(c.RequesterName, c.Requester)
	ps, err := store.Participants(ctx, q, c.ID)
	if err != nil {
		return nil, fmt.Errorf("listing participants of case %d: %w", c.Number, err)
	}
	for _, p := range ps {
		if p.Kind == store.PartyRequester || p.Kind == store.PartyCc {
			add(p.Name, p.Address)
		}
	}
	// Cc'd on this reply: participants from now on (addToCase records them).
	for _, cc := range a.msg.Cc {
		add(cc.Name, cc.Addr)
	}
	return out, nil
}

// goesPublic reports whether the reply goes to the requester side: as
// the resolution (#resolve), or as a public reply with text or
// attachments of its own. A #note, a hand-over without #public, a
// consultant's answer and a #merge (whose notice carries the text) do
// not, nor does a reply of commands only.
func (cv *conversation) goesPublic(cmds []Command) bool {
	resolve := hasCommand(cmds, "resolve")
	switch {
	case cv.internal || (cv.consultant && !resolve):
		return false
	case resolve:
		return true
	}
	return !hasCommand(cmds, "merge") && cv.hasBody()
}

// hasBody: the reply says something beyond its commands, in text or
// attachments.
func (cv *conversation) hasBody() bool {
	return strings.TrimSpace(cv.body) != "" ||
		slices.ContainsFunc(cv.a.msg.Attachments, func(at mailparse.Attachment) bool { return !at.Inline })
}

// finish sends what is left of the reply where it belongs: the resolution
// or a public reply to the requester side (records first_response_at),
// or an internal note to the owner (agentReply stored it as a note).
func (cv *conversation) finish(ctx context.Context) error {
	a, c := cv.a, cv.c
	switch {
	case !cv.public:
	case cv.resolve != nil:
		atts, views := a.passOn()
		data := notify.Data{Actor: cv.actor.Name, Reason: cv.resolve.Arg, Case: a.view(c)}
		data.Case.Message = notify.MessageView{Text: cv.body, Attachments: views}
		if err := cv.tellRequester(ctx, notify.KindResolved, data, atts); err != nil {
			return err
		}
	default:
		atts, views := a.passOn()
		data := notify.Data{Actor: cv.actor.Name, Case: a.view(c)}
		data.Case.Message = notify.MessageView{From: cv.actor.Email, FromName: cv.actor.Name, Text: cv.body, Attachments: views}
		if err := cv.tellRequester(ctx, notify.KindReply, data, atts); err != nil {
			return err
		}
		if err := cv.event(ctx, "reply", "public reply from "+cv.actor.ID, map[string]any{"message": cv.row}); err != nil {
			return err
		}
	}
	if cv.public {
		return store.SetFirstResponse(ctx, cv.e, c.ID, a.now)
	}
	if !cv.hasBody() || cv.merged {
		return nil
	}
	// An internal note from someone other than the owner (a consultant's
	// answer, a colleague's remark) goes to the owner.
	owner, err := a.owner(ctx, c)
	if err != nil || owner == nil || owner.ID == cv.actor.ID || cv.bodySent {
		return err
	}
	atts, views := a.passOn()
	data := notify.Data{Case: a.view(c), Actor: cv.actor.Name, Consult: cv.consultant}
	data.Case.Message = notify.MessageView{From: cv.actor.Email, FromName: cv.actor.Name, Text: cv.body, Attachments: views}
	return a.send(ctx, cv.e, notify.CaseMail{Case: c, Kind: notify.KindNote, To: a.personRecipient(owner, c), Data: data,
		Attachments: atts, Via: cv.actor.Name})
}

// rungOfTier is routing.RungOfTier without the found flag (0: none).
func rungOfTier(svc *config.Service, tier string) int {
	n, _ := routing.RungOfTier(svc, tier)
	return n
}
