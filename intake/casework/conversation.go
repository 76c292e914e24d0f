package casework

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/jackc/pgx/v5"
)

// passOnLimit caps the attachments passed on in one mail; larger ones
// are listed with their sizes, and stay on the case.
const passOnLimit = 20 << 20

// maxMergeHops bounds following merged_into from case to case.
const maxMergeHops = 10

// redirect reconsiders the case a mail threaded to. A mail to a merged
// case goes to the case it joined. The requester's (or a participant's)
// mail to a closed case, or to a case resolved longer ago than
// reopen_window, opens a new case linked to the old one instead: the old
// one stays as it was closed. Agents, suppliers and automatic mail keep
// landing on the case (an agent may #reopen it).
func (a *applier) redirect(ctx context.Context, th *Thread) (*Thread, *store.Case, error) {
	for hop := 0; ; hop++ {
		st, err := store.ConversationState(ctx, a.tx, th.Case.ID)
		if err != nil {
			return nil, nil, err
		}
		if st.MergedInto == nil || hop == maxMergeHops {
			break
		}
		into, err := store.CaseByID(ctx, a.tx, *st.MergedInto)
		if err != nil {
			return nil, nil, fmt.Errorf("following case %d's merge: %w", th.Case.Number, err)
		}
		// The sender proved themselves for the merged case; the token does
		// not name the new one, but the merge made them part of it.
		th = &Thread{Case: into, How: fmt.Sprintf(howMerged, th.How, th.Case.Number, into.Number), Proven: th.Proven}
	}
	kind, err := a.messageKind(ctx, th.Case)
	if err != nil {
		return nil, nil, err
	}
	if !kind.RequesterSide() {
		return th, nil, nil
	}
	c := th.Case
	switch {
	case c.Status == store.StatusClosed:
		a.linkWhy = fmt.Sprintf("%s wrote to case #%d, which is closed: opened a new case linked to it", a.msg.From.Addr, c.Number)
	case c.Status == store.StatusResolved && (c.ResolvedAt == nil || a.now.Sub(*c.ResolvedAt) > time.Duration(a.desk.Config.ReopenWindow)):
		a.linkWhy = fmt.Sprintf("%s wrote to case #%d, resolved more than %s ago: opened a new case linked to it",
			a.msg.From.Addr, c.Number, a.desk.Config.ReopenWindow)
	default:
		return th, nil, nil
	}
	return nil, c, nil
}

// converse does what a mail on an existing case means, once addToCase has
// stored it as message row with kind: a requester's follow-up is told to
// the owner, a supplier's answer goes to the owner, an agent's reply is
// relayed to the requester or kept internal and its commands applied.
func (a *applier) converse(ctx context.Context, th *Thread, kind store.Party, row int64) error {
	switch kind {
	case store.PartyBounce:
		return a.bounced(ctx, th.Case)
	case store.PartyAutomatic:
		// A supplier's ticket system writes automatically: its receipt
		// carries their reference, though it answers nothing.
		if a.rules.SupplierBySender(a.msg.From.Addr) != nil {
			if ok, _ := a.desk.Senders.AllowParticipant(a.sender); ok {
				_, err := a.supplierAnswered(ctx, th.Case, true)
				return err
			}
		}
		return nil
	case store.PartySupplier:
		c := th.Case
		// The supplier's clock and reference change only for a mail whose
		// sender authentication the policy accepts: a forged supplier
		// cannot stop their clock or plant a reference. (Their ticket
		// system's mail comes with their reference only, never a token:
		// their authenticated address is what makes it theirs.) The owner
		// sees a refused one marked, with why.
		var unverified notify.Phrase
		if ok, why := a.desk.Senders.AllowParticipant(a.sender); ok {
			var err error
			if c, err = a.supplierAnswered(ctx, th.Case, false); err != nil {
				return err
			}
		} else {
			unverified = authPhrase(why)
		}
		return a.tellOwner(ctx, c, notify.KindSupplierAnswer, "supplier answer", unverified)
	case store.PartyRequester, store.PartyParticipant, store.PartyCc:
		return a.followUp(ctx, th)
	}
	p := a.rules.PersonByEmail(a.msg.From.Addr)
	if p == nil {
		// On the case as an agent once, but no longer in rules.yaml: their
		// mail counts as a participant's.
		return a.followUp(ctx, th)
	}
	return a.agentReply(ctx, th, p, kind, row)
}

// followUp handles the requester's (or a participant's) mail on a case:
// a waiting case is taken up again, and the owner is told. (addToCase has
// already reopened a resolved case within reopen_window.)
func (a *applier) followUp(ctx context.Context, th *Thread) error {
	c := *th.Case
	trusted, why := a.trusted(th)
	if !trusted {
		// It changes nothing: the owner sees it, marked as unverified.
		return a.tellOwner(ctx, &c, notify.KindFollowup, "follow-up", why)
	}
	if c.Status == store.StatusResolved {
		c.Status = store.StatusOpen // reopened by addToCase
	}
	if err := a.followLanguage(ctx, &c); err != nil {
		return err
	}
	if c.Status == store.StatusWaiting {
		st, err := store.ConversationState(ctx, a.tx, c.ID)
		if err != nil {
			return err
		}
		onSupplier, err := a.waitsOnSupplier(ctx, &c)
		if err != nil {
			return err
		}
		// A case waiting for approval, or paused while its supplier has not
		// answered, stays waiting.
		if st.Approval != store.ApprovalPending && !onSupplier {
			// Taken up again: the SLA clocks resume, moved on by the
			// business time spent waiting.
			if err := a.w.Send(ctx, a.tx); err != nil {
				return err
			}
			resumed, err := ResumeFromWait(ctx, a.tx, a.rules, &c, a.now)
			if err != nil {
				return err
			}
			if err := store.AddEvent(ctx, a.w, c.ID, a.now, a.msg.From.Addr, "status",
				"the requester wrote while the case was waiting",
				map[string]any{"from": store.StatusWaiting, "to": resumed.Status}); err != nil {
				return err
			}
			c = *resumed
		}
	}
	return a.tellOwner(ctx, &c, notify.KindFollowup, "follow-up", notify.Phrase{})
}

// tellOwner sends the owner (the assignee, else the last agent on the
// case) what just came in, attachments included; unverified says why the
// mail proves nothing about its sender ("" when it does).
func (a *applier) tellOwner(ctx context.Context, c *store.Case, kind, what string, unverified notify.Phrase) error {
	owner, err := a.owner(ctx, c)
	if err != nil {
		return err
	}
	if owner == nil {
		return store.AddEvent(ctx, a.w, c.ID, a.now, a.msg.From.Addr, "unseen",
			what+" on a case nobody owns: nobody told", nil)
	}
	if strings.EqualFold(owner.Email, a.msg.From.Addr) {
		return nil
	}
	atts, views := a.passOn()
	to := a.personRecipient(owner, c)
	data := notify.Data{Case: a.view(c), Actor: a.senderName(), Unverified: unverified.In(to.Language)}
	name := a.msg.From.Name
	if name == "" && strings.EqualFold(a.msg.From.Addr, c.Requester) {
		name = c.RequesterName
		data.Actor = name
	}
	data.Case.Message = notify.MessageView{From: a.msg.From.Addr, FromName: name, Text: a.msg.NewText,
		Attachments: views}
	// The owner sees who wrote by name; their address stays in the body.
	via := name
	if strings.Contains(via, "@") {
		via = ""
	}
	if kind == notify.KindSupplierAnswer {
		if s := a.rules.SupplierBySender(a.msg.From.Addr); s != nil {
			data.Actor, via = s.Name, s.Name
		}
	}
	return a.send(ctx, a.w, notify.CaseMail{Case: c, Kind: kind, To: to, Data: data, Attachments: atts, Via: via})
}

// bounced shows the owner a bounce of a mail we sent on the case — unless
// the bounced mail was one to the owner: telling them would bounce again,
// and again.
func (a *applier) bounced(ctx context.Context, c *store.Case) error {
	owner, err := a.owner(ctx, c)
	if err != nil || owner == nil {
		return err
	}
	var to string
	if b := a.msg.Bounce; b != nil && b.OriginalMessageID != "" {
		if to, _, _, err = store.SentTo(ctx, a.tx, b.OriginalMessageID); err != nil {
			return err
		}
	}
	if to == "" && a.msg.Bounce != nil && len(a.msg.Bounce.Recipients) > 0 {
		to = a.msg.Bounce.Recipients[0]
	}
	if strings.EqualFold(to, owner.Email) {
		return store.AddEvent(ctx, a.w, c.ID, a.now, a.msg.From.Addr, "bounce",
			"a mail to the owner bounced: not told again by mail", map[string]any{"recipient": to})
	}
	data := notify.Data{Case: a.view(c), Actor: a.msg.From.Name, Reason: to}
	data.Case.Message = notify.MessageView{From: a.msg.From.Addr, Text: a.msg.Text}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, a.msg.From.Addr, "bounce",
		"a mail to "+to+" bounced: the owner is told", map[string]any{"recipient": to}); err != nil {
		return err
	}
	return a.send(ctx, a.w, notify.CaseMail{Case: c, Kind: notify.KindBounceNotice, To: a.personRecipient(owner, c), Data: data})
}

// owner is who is told about a case: its assignee, else the agent who
// joined it last (a case on the supplier's rung has no assignee).
func (a *applier) owner(ctx context.Context, c *store.Case) (*config.Person, error) {
	return caseOwner(ctx, a.tx, a.rules, c)
}

// caseOwner is who is told about a case: its assignee, else the agent
// who joined it last; nil for none.
func caseOwner(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case) (*config.Person, error) {
	if p := rules.Person(c.Assignee); p != nil {
		return p, nil
	}
	ps, err := store.Participants(ctx, q, c.ID)
	if err != nil {
		return nil, fmt.Errorf("listing participants of case %d: %w", c.Number, err)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].Kind != store.PartyAgent {
			continue
		}
		if p := rules.Person(ps[i].PersonID); p != nil {
			return p, nil
		}
		if p := rules.PersonByEmail(ps[i].Address); p != nil {
			return p, nil
		}
	}
	return nil, nil
}

// agentReply handles a reply from someone in rules.yaml's people. Only a
// reply that proves itself (a valid token or a References chain signed for
// its sender) is relayed or commands anything; any other is kept as an
// internal note and its sender told why.
func (a *applier) agentReply(ctx context.Context, th *Thread, p *config.Person, kind store.Party, row int64) error {
	cmds, body := ParseCommands(a.msg.NewText)
	c := th.Case
	switch {
	case th.How == "expired reply token":
		return a.refuse(ctx, c, p, row, nil, true)
	case !th.Proven:
		return a.refuse(ctx, c, p, row, []commandError{{format: "this mail did not come through a reply address or a reply " +
			"to a mail casemail sent you, so it cannot be proven to be yours: nothing was sent to the requester " +
			"and no command was carried out"}}, false)
	}
	if why, err := a.rights(ctx, th, p, kind); err != nil {
		return err
	} else if why != nil {
		return a.refuse(ctx, c, p, row, []commandError{{format: "nothing was sent to the requester and no command was carried out: %s",
			args: []any{*why}}}, false)
	}
	if errs := checkSyntax(cmds); len(errs) > 0 {
		return a.refuse(ctx, c, p, row, errs, false)
	}
	cv := &conversation{a: a, c: c, actor: p, body: body, row: row,
		consultant: kind == store.PartyConsultant && p.ID != c.Assignee}
	var err error
	if cv.state, err = store.ConversationState(ctx, a.tx, c.ID); err != nil {
		return err
	}
	cmds = sortCommands(cmds)
	// #note makes the whole reply internal, whatever else it says: known
	// before #merge (applied earlier) decides what its notice carries.
	cv.internal = hasCommand(cmds, "note")
	cv.splitHandOver(cmds)
	if errs, err := cv.check(ctx, cmds); err != nil {
		return err
	} else if len(errs) > 0 {
		return a.refuse(ctx, c, p, row, errs, false)
	}
	// Whether the reply goes to the requester side is known before its
	// commands run: one that does not (commands only, a note, a hand-over
	// comment) is a note from now on, so that what the commands read (the
	// #history asked for, a hand-over's case so far) does not show it as
	// a public answer.
	if cv.public = cv.goesPublic(cmds); !cv.public {
		if err := store.SetMessageKind(ctx, a.w, row, store.PartyNote); err != nil {
			return err
		}
	}
	if len(cmds) == 0 {
		cv.e, cv.tx = a.w, a.tx
		return cv.finish(ctx)
	}
	// Commands run in a savepoint, the message already written: if one
	// fails halfway (a transfer finds nobody, say), everything they did is
	// undone and the reply is kept as a note.
	if err := a.w.Send(ctx, a.tx); err != nil {
		return err
	}
	sp, err := a.tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("starting commands: %w", err)
	}
	cv.e, cv.tx = sp, sp
	if err := cv.apply(ctx, cmds); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return fmt.Errorf("undoing commands: %w (after %v)", rerr, err)
		}
		var ce commandError
		if !errors.As(err, &ce) {
			return fmt.Errorf("applying commands of %s on case %d: %w", p.ID, c.Number, err)
		}
		return a.refuse(ctx, c, p, row, []commandError{ce}, false)
	}
	if err := cv.finish(ctx); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("finishing commands: %w", err)
	}
	return nil
}

// rights says why a proven agent's reply may not command or speak for the
// case (nil when it may): the sender's authentication, a reply address
// shown to others, a notice older than command_ttl, or a sender who no
// longer holds the case.
func (a *applier) rights(ctx context.Context, th *Thread, p *config.Person, kind store.Party) (*commandError, error) {
	c := th.Case
	if ok, why := a.desk.Senders.AllowCommand(a.sender); !ok {
		return &commandError{format: "%s", args: []any{authPhrase(why)}}, nil
	}
	if th.Spent != "" {
		return &commandError{format: "the reply address you used had been shown to others (%s), so it carries no command " +
			"any more: reply to a newer notice about case %d", args: []any{th.Spent, c.Number}}, nil
	}
	if ttl := time.Duration(a.desk.Config.CommandTTL); ttl > 0 && !th.Issued.IsZero() && a.now.Sub(th.Issued) > ttl {
		return &commandError{format: "you replied to a notice from %s, older than %s (command_ttl): reply to a newer notice about case %d",
			args: []any{th.Issued.In(a.desk.location()).Format("2006-01-02"), a.desk.Config.CommandTTL, c.Number}}, nil
	}
	holds, err := a.holds(ctx, c, p, kind)
	if err != nil || holds {
		return nil, err
	}
	with := "—"
	if h := a.rules.Person(c.Assignee); h != nil {
		with = h.Name
	} else if s := a.rules.Supplier(c.Supplier); s != nil {
		with = s.Name
	}
	return &commandError{format: "you no longer hold case %d (it is with %s)", args: []any{c.Number, with}}, nil
}

// holds reports whether p holds case c, so that their commands count: its
// assignee, someone it was consulted with, a holder of its rung's role (or
// of its approval role), its owners when nobody has it (a coordinator, the
// support manager, the agent who forwarded it to the supplier), and the
// support manager always.
func (a *applier) holds(ctx context.Context, c *store.Case, p *config.Person, kind store.Party) (bool, error) {
	if p.ID == c.Assignee || kind == store.PartyConsultant {
		return true, nil
	}
	in := func(ps []*config.Person) bool {
		return slices.ContainsFunc(ps, func(x *config.Person) bool { return x.ID == p.ID })
	}
	r := a.rules
	if (c.Role != "" && in(r.HoldersOf(c.Role, c.Unit))) || in(r.HoldersOf(config.RoleSupportManager, c.Unit)) ||
		in(r.Owners(c.Assignee, c.Unit)) {
		return true, nil
	}
	if svc := r.Service(c.Service); svc != nil && svc.Approval != "" && in(r.HoldersOf(svc.Approval, c.Unit)) {
		return true, nil
	}
	if c.Assignee != "" {
		return false, nil
	}
	owner, err := a.owner(ctx, c)
	return owner != nil && owner.ID == p.ID, err
}

// commandError is a command that cannot be carried out, told to the agent
// in their language: format is the English wording, which
// notify.Translate gives in the agent's (phrase, store.Status and
// notify.Phrase arguments are worded too).
type commandError struct {
	line   string // the command line it is about; "" for the reply as a whole
	format string
	args   []any
}

// phrase is an argument of a commandError worded by notify.Translate.
type phrase string

// Error is the error in English as stored (a length of time in
// rules.yaml's syntax, which notify.Reword reads back).
func (e commandError) Error() string { return e.text(notify.DefaultLanguage, false) }

// in is the error as its reader gets it, in lang.
func (e commandError) in(lang string) string { return e.text(lang, true) }

func (e commandError) text(lang string, reader bool) string {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		switch v := a.(type) {
		case config.Duration:
			args[i] = v
			if reader {
				args[i] = notify.SpanOf(time.Duration(v)).In(lang)
			}
		case phrase:
			args[i] = notify.Translate(lang, string(v))
		case store.Status:
			args[i] = notify.StatusName(lang, string(v))
		case commandError:
			args[i] = v.text(lang, reader)
		case notify.Phrase:
			args[i] = v.In(lang)
		default:
			args[i] = a
		}
	}
	s := fmt.Sprintf(notify.Translate(lang, e.format), args...)
	if e.line != "" {
		s = e.line + ": " + s
	}
	return s
}

func cmdErr(c Command, format string, args ...any) error {
	return commandError{line: c.Line, format: format, args: args}
}

// refuse keeps an agent's reply as an internal note, records why, and
// sends them an error reply.
func (a *applier) refuse(ctx context.Context, c *store.Case, p *config.Person, row int64, problems []commandError, expired bool) error {
	if err := store.SetMessageKind(ctx, a.w, row, store.PartyNote); err != nil {
		return err
	}
	// The trail keeps them in English; the agent reads them in theirs.
	rcp := a.personRecipient(p, c)
	var errs, told []string
	for _, pr := range problems {
		errs, told = append(errs, pr.Error()), append(told, pr.in(rcp.Language))
	}
	reason := strings.Join(errs, "; ")
	if expired {
		reason = "the reply token has expired"
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, p.ID, "command-refused", reason,
		map[string]any{"errors": errs, "expired": expired, "message": row}); err != nil {
		return err
	}
	data := notify.Data{Case: a.view(c), Errors: told, Expired: expired}
	return a.send(ctx, a.w, notify.CaseMail{Case: c, Kind: notify.KindError, To: rcp, Data: data,
		InReplyTo: a.msg.MessageID, References: a.ownReferences()})
}

// send queues one mail through the Mailer.
//
// Mail relayed about a case (public replies, follow-up and note notices)
// is capped per case and recipient an hour (relay_limit_per_hour), so that
// two autoresponders that set no Auto-Submitted cannot ping-pong through a
// case; a mail over the cap is an event on the case and a metric.
func (a *applier) send(ctx context.Context, e store.Execer, cm notify.CaseMail) error {
	if relayed[cm.Kind] {
		var q store.Querier = a.tx
		if tx, ok := e.(pgx.Tx); ok {
			q = tx // the commands' savepoint: undone with them
		}
		limit := a.desk.Config.RelayLimitPerHour
		ok, err := store.AllowRelay(ctx, q, cm.Case.ID, cm.To.Address, limit, a.now)
		if err != nil {
			return err
		}
		if !ok {
			a.capped = append(a.capped, "relay")
			return store.AddEvent(ctx, e, cm.Case.ID, a.now, "", "relay-capped",
				fmt.Sprintf("%s already got %d mails about this case this hour: this %s was not sent", cm.To.Address, limit, cm.Kind),
				map[string]any{"to": cm.To.Address, "kind": cm.Kind, "limit": limit})
		}
	}
	if _, err := a.desk.Mailer.Queue(ctx, e, cm, a.now); err != nil {
		return err
	}
	a.queued = true
	return nil
}

// relayed are the kinds of mail capped by relay_limit_per_hour.
var relayed = map[string]bool{notify.KindReply: true, notify.KindResolved: true, notify.KindFollowup: true,
	notify.KindNote: true, notify.KindSupplierAnswer: true, notify.KindBounceNotice: true}

// ownReferences continues the thread of the mail being handled.
func (a *applier) ownReferences() []string {
	if a.msg.MessageID == "" {
		return nil
	}
	return append(append([]string{}, a.msg.References...), a.msg.MessageID)
}

// passOn returns the mail's attachments to pass on (not inline images,
// which belong to its HTML and signature; none whose body was not kept;
// at most passOnLimit in all) and the list to show, which names them all.
func (a *applier) passOn() ([]store.OutAttachment, []notify.AttachmentView) {
	var out []store.OutAttachment
	var views []notify.AttachmentView
	var total int64
	for _, at := range a.msg.Attachments {
		if at.Inline {
			continue
		}
		v := notify.AttachmentView{Name: at.Filename, Type: at.ContentType, Size: at.Size}
		if at.Data == nil || total+int64(len(at.Data)) > passOnLimit {
			v.Omitted = true
		} else {
			total += int64(len(at.Data))
			sum := at.SHA256
			out = append(out, store.OutAttachment{SHA256: sum[:], Filename: at.Filename, ContentType: at.ContentType})
		}
		views = append(views, v)
	}
	return out, views
}

// storedPassOn is passOn for a stored message.
func storedPassOn(m *store.ThreadMessage) ([]store.OutAttachment, []notify.AttachmentView) {
	var out []store.OutAttachment
	var views []notify.AttachmentView
	var total int64
	for _, at := range m.Attachments {
		if at.Inline {
			continue
		}
		v := notify.AttachmentView{Name: at.Filename, Type: at.ContentType, Size: at.Size}
		if at.SHA256 == nil || total+at.Size > passOnLimit {
			v.Omitted = true
		} else {
			total += at.Size
			out = append(out, store.OutAttachment{SHA256: at.SHA256, Filename: at.Filename, ContentType: at.ContentType})
		}
		views = append(views, v)
	}
	return out, views
}

// senderName is how the sender is named in a mail body.
func (a *applier) senderName() string {
	if p := a.rules.PersonByEmail(a.msg.From.Addr); p != nil {
		return p.Name
	}
	if a.msg.From.Name != "" {
		return a.msg.From.Name + " <" + a.msg.From.Addr + ">"
	}
	return a.msg.From.Addr
}

// view is a stored case as templates show it.
func (a *applier) view(c *store.Case) notify.CaseView {
	v := a.desk.Mailer.CaseView(a.rules, c, a.now)
	if a.fw != nil && a.fw.CaseID == c.ID {
		a.desk.Mailer.AddForward(&v, a.rules, c, a.fw, a.now)
	}
	return v
}

// personRecipient addresses someone from rules.yaml in their language.
func (a *applier) personRecipient(p *config.Person, c *store.Case) notify.Recipient {
	return a.desk.Mailer.PersonRecipient(a.rules, c, p)
}

// awaitApproval holds a new case of a service with `approval: ROLE` until a
// holder of the role approves it, and tells every available holder.
func (a *applier) awaitApproval(ctx context.Context, c *store.Case) error {
	svc := a.rules.Service(c.Service)
	if svc == nil || svc.Approval == "" || c.Status == store.StatusDropped {
		return nil
	}
	if err := store.SetApproval(ctx, a.w, c.ID, store.ApprovalPending, a.now); err != nil {
		return err
	}
	if err := store.SetCaseStatus(ctx, a.w, c.ID, store.StatusWaiting, a.now); err != nil {
		return err
	}
	approvers := a.approvers(c, svc, true)
	ids := make([]string, 0, len(approvers))
	for _, p := range approvers {
		ids = append(ids, p.ID)
	}
	if err := store.AddEvent(ctx, a.w, c.ID, a.now, "", "approval",
		fmt.Sprintf("service %s needs the approval of a %s: the case waits", svc.ID, svc.Approval),
		map[string]any{"state": store.ApprovalPending, "role": svc.Approval, "approvers": ids, "from": c.Status, "to": store.StatusWaiting}); err != nil {
		return err
	}
	view := a.view(c)
	view.Status = string(store.StatusWaiting)
	atts, views := a.passOn()
	view.Message = notify.MessageView{From: a.msg.From.Addr, FromName: a.msg.From.Name, Text: a.msg.NewText, Attachments: views}
	for _, p := range approvers {
		if err := a.send(ctx, a.w, notify.CaseMail{Case: c, Kind: notify.KindApproval, To: a.personRecipient(p, c),
			Data: notify.Data{Case: view}, Attachments: atts}); err != nil {
			return err
		}
	}
	return nil
}

// approvers are the holders of a service's approval role for the case's
// unit; available leaves out those away now.
func (a *applier) approvers(c *store.Case, svc *config.Service, available bool) []*config.Person {
	role := a.rules.Role(svc.Approval)
	if role == nil {
		return nil
	}
	var out []*config.Person
	for _, id := range role.Holders(a.rules.Unit(c.Unit)) {
		p := a.rules.Person(id)
		if p == nil || (available && p.AwayAt(a.now.In(a.desk.location()))) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// followLanguage answers the requester in the language of their last mail
// (RecipientLanguage's second rule), unless rules.yaml stores theirs.
func (a *applier) followLanguage(ctx context.Context, c *store.Case) error {
	if !strings.EqualFold(a.msg.From.Addr, c.Requester) || a.storedLanguage(c.Requester) != "" {
		return nil
	}
	lang := a.desk.Mailer.WrittenLanguage(a.msg.Language())
	if lang == "" || lang == c.Language {
		return nil
	}
	if err := store.SetCaseLanguage(ctx, a.w, c.ID, lang, a.now); err != nil {
		return err
	}
	from := c.Language
	c.Language = lang
	return store.AddEvent(ctx, a.w, c.ID, a.now, a.msg.From.Addr, "language",
		"the requester wrote in "+lang+": answered in "+lang+" from now on", map[string]any{"from": from, "to": lang})
}
