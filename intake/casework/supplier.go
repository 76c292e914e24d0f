package casework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// The supplier's side of a case, in one place: the forward and the
// contract's clock it starts (#supplier, a transfer to the external rung,
// a case that starts at the supplier), the case's own SLA paused meanwhile
// when its service says so, the supplier's answer (their reference found,
// their clock stopped), #supplier-ref, and the supplier check: reminders
// to a silent supplier and the owner told when they are used up.

// forwardNote is what a forward carries besides the case: the agent's
// note to the supplier and who sent it.
type forwardNote struct {
	Text, Actor, Via string
	// Comment is a hand-over's internal comment (#escalate's text when the
	// case moves to the supplier's rung).
	Comment string
	// Why is recorded when a new forward replaces the case's current one.
	Why string
}

// forward sends case c to supplier sup under the contract that holds for
// it, starts the supplier's clock and, when the service pauses its SLA for
// the supplier, puts the case in waiting. The supplier learns the problem,
// never who the requester is. It returns the case as it now is.
func (d *Desk) forward(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, sup *config.Supplier,
	note forwardNote, now time.Time) (*store.Case, error) {
	ct := rules.Contract(sup.ID, c.Service, c.Unit)
	f := &store.SupplierForward{CaseID: c.ID, Supplier: sup.ID, Contract: ct.ID, Address: ct.Email, ForwardedAt: now}
	f.ResponseDue = timePtr(ct.Add(now, ct.Response))
	f.ResolutionDue = timePtr(ct.Add(now, ct.Resolution))
	// The check first looks when the response is due; with no response
	// time there is nothing to remind of.
	f.NextCheckAt = f.ResponseDue
	svc := rules.Service(c.Service)
	f.PausesSLA = svc != nil && svc.SLA != nil && svc.SLA.PauseForSupplier
	why := note.Why
	if why == "" {
		why = "restarted"
	}
	if err := store.StartForward(ctx, q, f, why); err != nil {
		return nil, err
	}
	if err := store.SetParticipant(ctx, q, c.ID, ct.Email, sup.Name, store.PartySupplier, ""); err != nil {
		return nil, err
	}
	data := map[string]any{"supplier": sup.ID, "contract": ct.ID, "address": ct.Email, "pauses_sla": f.PausesSLA,
		"response_due": f.ResponseDue, "resolution_due": f.ResolutionDue}
	if f.Reference != "" {
		data["reference"] = f.Reference
	}
	reason := "forwarded to " + sup.ID
	if ct.ID != "" {
		reason += " under contract " + ct.ID
	}
	if f.ResponseDue != nil {
		reason += ", answer due " + f.ResponseDue.In(d.location()).Format("2006-01-02 15:04")
	}
	if err := store.AddEvent(ctx, q, c.ID, now, note.Actor, "supplier", reason, data); err != nil {
		return nil, err
	}

	nc := *c
	nc.Supplier = sup.ID
	if f.PausesSLA && nc.Status.Active() {
		if err := store.SetCaseStatus(ctx, q, c.ID, store.StatusWaiting, now); err != nil {
			return nil, err
		}
		if err := store.AddEvent(ctx, q, c.ID, now, "", "status", "waiting on the supplier "+sup.ID+": the SLA pauses",
			map[string]any{"from": nc.Status, "to": store.StatusWaiting, "supplier": sup.ID}); err != nil {
			return nil, err
		}
		nc.Status = store.StatusWaiting
	}

	opening, err := store.OpeningMessage(ctx, q, c.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	view := d.supplierView(rules, &nc, f, now)
	view.Requester, view.RequesterName = "", ""
	var atts []store.OutAttachment
	if opening != nil {
		var views []notify.AttachmentView
		atts, views = storedPassOn(opening)
		view.Message = notify.MessageView{Text: opening.NewText, Attachments: views}
		if strings.TrimSpace(opening.NewText) == "" {
			view.Message.Text = opening.Text
		}
	}
	lang := notify.Language(sup.Language, d.Mailer.CaseLanguage(c))
	_, err = d.Mailer.Queue(ctx, q, notify.CaseMail{Case: &nc, Kind: notify.KindForward,
		To:   notify.Recipient{Name: sup.Name, Address: ct.Email, Language: lang},
		Data: notify.Data{Case: view, Actor: notify.ActorName(rules, note.Actor), Reason: note.Text, Comment: note.Comment}, Attachments: atts, Via: note.Via}, now)
	if err != nil {
		return nil, err
	}
	return &nc, nil
}

// supplierView is a case as a mail about its supplier shows it: the
// supplier's reference, due time and reminders.
func (d *Desk) supplierView(rules *config.Rules, c *store.Case, f *store.SupplierForward, now time.Time) notify.CaseView {
	v := d.Mailer.CaseView(rules, c, now)
	d.Mailer.AddForward(&v, rules, c, f, now)
	return v
}

// supplierAnswered records a supplier's mail on a case: their reference,
// when the mail carries one the case does not have yet (the contract's
// pattern over the subject and the start of the body), and, unless the
// mail is automatic (their ticket system's receipt is no answer), for
// their first answer the stop of their clock and the end of the case's
// pause. It returns the case as it now is.
func (a *applier) supplierAnswered(ctx context.Context, c *store.Case, automatic bool) (*store.Case, error) {
	if err := a.w.Send(ctx, a.tx); err != nil {
		return nil, err
	}
	f, err := store.CurrentForward(ctx, a.tx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		f, err = store.LatestForward(ctx, a.tx, c.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return c, nil // the supplier wrote on a case never forwarded to them
	}
	if err != nil {
		return nil, err
	}
	a.fw = f
	from := a.msg.From.Addr
	if ct := a.rules.Contract(f.Supplier, c.Service, c.Unit); ct != nil {
		if ref := ct.FindReference(a.msg.Subject, a.msg.Text); ref != "" && !strings.EqualFold(ref, f.Reference) {
			old := f.Reference
			f.Reference = ref
			if err := store.AddEvent(ctx, a.w, c.ID, a.now, from, "supplier-ref", "the supplier's reference: "+ref,
				map[string]any{"supplier": f.Supplier, "reference": ref, "was": old}); err != nil {
				return nil, err
			}
		}
	}
	if automatic {
		return c, store.SaveForward(ctx, a.w, f)
	}
	f.LastAnswerAt = &a.now
	if f.AnsweredAt == nil && f.EndedAt == nil {
		f.AnsweredAt, f.NextCheckAt = &a.now, nil
		late := f.ResponseDue != nil && a.now.After(*f.ResponseDue)
		why := fmt.Sprintf("%s answered after %s", f.Supplier, a.now.Sub(f.ForwardedAt).Round(time.Minute))
		if late {
			why += ", past the contract's response time"
		}
		if err := store.AddEvent(ctx, a.w, c.ID, a.now, from, "supplier-answer", why,
			map[string]any{"supplier": f.Supplier, "after_seconds": int64(a.now.Sub(f.ForwardedAt).Seconds()),
				"over_contract": late, "reminders": f.Reminders}); err != nil {
			return nil, err
		}
		if f.PausesSLA && c.Status == store.StatusWaiting {
			if err := a.w.Send(ctx, a.tx); err != nil {
				return nil, err
			}
			resumed, err := ResumeFromWait(ctx, a.tx, a.rules, c, a.now)
			if err != nil {
				return nil, err
			}
			if err := store.AddEvent(ctx, a.w, c.ID, a.now, from, "status", "the supplier answered: the SLA resumes",
				map[string]any{"from": store.StatusWaiting, "to": resumed.Status}); err != nil {
				return nil, err
			}
			c = resumed
		}
	}
	if err := store.SaveForward(ctx, a.w, f); err != nil {
		return nil, err
	}
	return c, nil
}

// waitsOnSupplier reports whether case c is waiting because its SLA pauses
// for a supplier who has not answered: a requester's mail does not end
// that wait.
func (a *applier) waitsOnSupplier(ctx context.Context, c *store.Case) (bool, error) {
	f, err := store.CurrentForward(ctx, a.tx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return f.PausesSLA && f.Waiting(), nil
}

// maxReference bounds a reference given with #supplier-ref.
const maxReference = 100

// checkSupplierRef checks "#supplier-ref REF".
func (cv *conversation) checkSupplierRef(ctx context.Context, cmd Command) error {
	ref := strings.TrimSpace(cmd.Arg)
	if len(ref) > maxReference || strings.ContainsAny(ref, " \t") {
		return cmdErr(cmd, "a reference is one word of at most %d characters", maxReference)
	}
	if cv.c.Supplier != "" {
		return nil
	}
	if _, err := store.LatestForward(ctx, cv.a.tx, cv.c.ID); errors.Is(err, store.ErrNotFound) {
		return cmdErr(cmd, "the case was never forwarded to a supplier; use #supplier first")
	} else if err != nil {
		return err
	}
	return nil
}

// supplierRef records (or corrects) the supplier's reference of the
// case's current or last forward; a later mail from the supplier that
// carries only it threads to the case.
func (cv *conversation) supplierRef(ctx context.Context, cmd Command) error {
	f, err := store.CurrentForward(ctx, cv.tx, cv.c.ID)
	if errors.Is(err, store.ErrNotFound) {
		f, err = store.LatestForward(ctx, cv.tx, cv.c.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		// Forwarded before casemail kept forwards (or the same command
		// forwards it now): a forward row under the case's supplier.
		s := cv.a.rules.Supplier(cv.c.Supplier)
		if s == nil {
			return cmdErr(cmd, "the case was never forwarded to a supplier; use #supplier first")
		}
		f = &store.SupplierForward{CaseID: cv.c.ID, Supplier: s.ID, Address: s.Email, ForwardedAt: cv.a.now}
		if err := store.StartForward(ctx, cv.tx, f, "restarted"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	old := f.Reference
	f.Reference = strings.TrimSpace(cmd.Arg)
	if err := store.SaveForward(ctx, cv.e, f); err != nil {
		return err
	}
	return cv.event(ctx, "supplier-ref", "the supplier's reference: "+f.Reference,
		map[string]any{"supplier": f.Supplier, "reference": f.Reference, "was": old})
}

// SupplierJob is the supplier check as a scheduled job, on
// schedule.supplier_check.
func (d *Desk) SupplierJob() notify.Job {
	return notify.Job{Name: notify.JobSupplierCheck, Spec: func(r *config.Rules) string { return r.Schedule.SupplierCheck },
		Run: func(ctx context.Context, tx pgx.Tx, rules *config.Rules, _ *time.Time, now time.Time) (any, error) {
			return d.CheckSuppliers(ctx, tx, rules, now)
		}}
}

// SupplierStats says what one supplier check did.
type SupplierStats struct {
	Forwards, Reminders, OwnersTold, Ended, Failed int
}

// CheckSuppliers is the supplier check at now, in tx: for every forward
// whose next check has come (an indexed read) and whose supplier has not
// answered, it sends the supplier a reminder, at most once per the
// contract's interval and up to its limit; one interval after the last
// reminder it tells the case's owner that the supplier is late, once. A
// forward whose case is resolved, closed or dropped ends. Each forward is
// handled in a savepoint: one that fails is logged and tried again at the
// next check. Run under store.RunOnce, it runs once across instances.
func (d *Desk) CheckSuppliers(ctx context.Context, tx pgx.Tx, rules *config.Rules, now time.Time) (SupplierStats, error) {
	var st SupplierStats
	limit := d.MaxPerPass
	if limit <= 0 {
		limit = 5000
	}
	due, err := store.DueForwards(ctx, tx, now, limit)
	if err != nil {
		return st, err
	}
	for _, f := range due {
		st.Forwards++
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return d.checkForward(ctx, sp, rules, f, now, &st) })
		if err != nil {
			st.Failed++
			d.log().Error("supplier check of a case failed; it is tried again at the next check",
				"case", f.Case.Number, "supplier", f.Forward.Supplier, "err", err)
		}
	}
	return st, nil
}

func (d *Desk) checkForward(ctx context.Context, q pgx.Tx, rules *config.Rules, df store.SupplierWait, now time.Time, st *SupplierStats) error {
	f, c := df.Forward, df.Case
	f.NextCheckAt = nil
	// Writes that need no answer go out in one round trip at the end.
	w := &store.Batch{}
	switch {
	case !f.Waiting():
		return store.SaveForward(ctx, q, f)
	case !c.Status.Active() && c.Status != store.StatusWaiting:
		f.EndedAt, f.EndedWhy = &now, "case "+string(c.Status)
		st.Ended++
		return store.SaveForward(ctx, q, f)
	}
	sup := rules.Supplier(f.Supplier)
	ct := rules.Contract(f.Supplier, c.Service, c.Unit)
	if sup == nil || ct == nil {
		d.log().Warn("a case waits on a supplier no longer in rules.yaml: no reminders", "case", c.Number, "supplier", f.Supplier)
		return store.SaveForward(ctx, q, f)
	}
	policy := ct.ReminderPolicy()
	loc := d.Mailer.Zone(rules, c.Unit)
	switch {
	case f.Reminders < policy.Limit:
		f.Reminders++
		f.LastReminderAt = &now
		f.NextCheckAt = timePtr(ct.Add(now, policy.Every))
		view := d.supplierView(rules, c, f, now)
		view.Requester, view.RequesterName = "", ""
		lang := notify.Language(sup.Language, d.Mailer.CaseLanguage(c))
		if _, err := d.Mailer.Queue(ctx, w, notify.CaseMail{Case: c, Kind: notify.KindSupplierReminder,
			To: notify.Recipient{Name: sup.Name, Address: f.Address, Language: lang}, Data: notify.Data{Case: view}}, now); err != nil {
			return err
		}
		st.Reminders++
		if err := store.AddEvent(ctx, w, c.ID, now, "", "supplier-reminder",
			fmt.Sprintf("reminder %d of %d to %s", f.Reminders, policy.Limit, f.Supplier),
			map[string]any{"supplier": f.Supplier, "n": f.Reminders, "limit": policy.Limit, "next": f.NextCheckAt}); err != nil {
			return err
		}
	case f.OwnerToldAt == nil:
		f.OwnerToldAt = &now
		owners, err := d.caseOwners(ctx, q, rules, c)
		if err != nil {
			return err
		}
		for _, p := range owners {
			rcp := d.Mailer.PersonRecipient(rules, c, p)
			if _, err := d.Mailer.Queue(ctx, w, notify.CaseMail{Case: c, Kind: notify.KindSupplierLate, To: rcp,
				Data: notify.Data{Case: d.supplierView(rules, c, f, now)}}, now); err != nil {
				return err
			}
		}
		st.OwnersTold++
		why := fmt.Sprintf("%s has not answered after %d reminders: the owner is told", f.Supplier, f.Reminders)
		if f.ResponseDue != nil {
			why = fmt.Sprintf("%s has not answered after %d reminders, answer was due %s: the owner is told", f.Supplier,
				f.Reminders, f.ResponseDue.In(loc).Format("2006-01-02 15:04"))
		}
		if err := store.AddEvent(ctx, w, c.ID, now, "", "supplier-late", why,
			map[string]any{"supplier": f.Supplier, "reminders": f.Reminders, "told": personIDs(owners)}); err != nil {
			return err
		}
	}
	if err := store.SaveForward(ctx, w, f); err != nil {
		return err
	}
	return w.Send(ctx, q)
}

// caseOwners are who answers for a case: its assignee, else the agent who
// joined it last, else its unit's coordinator or the support manager.
func (d *Desk) caseOwners(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case) ([]*config.Person, error) {
	p, err := caseOwner(ctx, q, rules, c)
	if err != nil {
		return nil, err
	}
	if p != nil {
		return []*config.Person{p}, nil
	}
	return rules.Owners("", c.Unit), nil
}
