package casework

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// slaDue is when a case opened at created owes its first response and its
// resolution: its service's targets for its priority, counted in business
// time. A dropped case, or a service without an SLA, owes nothing.
func slaDue(rules *config.Rules, service, priority string, status store.Status, created time.Time) (first, resolution *time.Time) {
	if !status.Active() && status != store.StatusWaiting {
		return nil, nil
	}
	if priority == "" {
		priority = "normal"
	}
	due := routing.Due(rules, service, priority, created)
	return timePtr(due.FirstResponse), timePtr(due.Resolution)
}

// RetargetSLA moves a case's due times to the targets of its new priority
// after #priority, keeping the business time already credited for pauses:
// each due time is the new target from creation plus that credit.
func RetargetSLA(ctx context.Context, e store.Execer, rules *config.Rules, c *store.Case, oldPriority string) error {
	_, cal := routing.SLA(rules, c.Service)
	if cal == nil {
		return nil
	}
	was := routing.Due(rules, c.Service, oldPriority, c.CreatedAt)
	now := routing.Due(rules, c.Service, c.Priority, c.CreatedAt)
	shift := func(cur *time.Time, old, fresh time.Time) *time.Time {
		if fresh.IsZero() {
			return nil
		}
		if cur == nil || old.IsZero() || !cur.After(old) {
			return &fresh
		}
		t := cal.AddBusiness(fresh, config.BusinessDuration{Clock: cal.BusinessBetween(old, *cur)})
		return &t
	}
	c.FirstResponseD = shift(c.FirstResponseD, was.FirstResponse, now.FirstResponse)
	c.ResolutionDue = shift(c.ResolutionDue, was.Resolution, now.Resolution)
	return store.SetDue(ctx, e, c.ID, c.FirstResponseD, c.ResolutionDue)
}

// ResumeFromWait ends a case's #wait at now (status open, or new without
// anyone to hold it) and moves its due times on by the business time it
// spent waiting, so the SLA clock resumes where it stopped. On a case not
// waiting it only gives back a pause not yet given back. The conversation
// calls it when a waiting case is answered or woken by hand; the SLA check
// does the same when wait_until passes. (store.SetWaiting, store.EndWait
// or any other status change also keep the pause: the database records it
// and the next SLA check gives it back.)
func ResumeFromWait(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, now time.Time) (*store.Case, error) {
	if c.Status == store.StatusWaiting {
		if err := store.EndWait(ctx, q, c.ID, store.Held(c.Assignee, c.Supplier), now); err != nil {
			return nil, err
		}
	}
	sc, err := store.SLACaseByID(ctx, q, c.ID)
	if err != nil {
		return nil, err
	}
	if sc.WaitingEnded != nil {
		if err := givePauseBack(ctx, q, rules, sc, now); err != nil {
			return nil, err
		}
		if err := store.SaveSLA(ctx, q, sc); err != nil {
			return nil, err
		}
	}
	return sc.Case, nil
}

// givePauseBack moves the pending due, warning and escalation times of sc
// on by the business time between WaitingSince and WaitingEnded, and
// clears the pause.
func givePauseBack(ctx context.Context, q store.Execer, rules *config.Rules, sc *store.SLACase, now time.Time) error {
	since, ended := sc.WaitingSince, sc.WaitingEnded
	sc.WaitingSince, sc.WaitingEnded = nil, nil
	_, cal := routing.SLA(rules, sc.Service)
	if since == nil || ended == nil || cal == nil {
		return nil
	}
	paused := cal.BusinessBetween(*since, *ended)
	if paused <= 0 {
		return nil
	}
	shift := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		return timePtr(cal.AddBusiness(*t, config.BusinessDuration{Clock: paused}))
	}
	if sc.FirstResponseOutcome == "" && sc.FirstResponse == nil {
		sc.FirstResponseD, sc.FirstResponseWarn = shift(sc.FirstResponseD), shift(sc.FirstResponseWarn)
	}
	if sc.ResolutionOutcome == "" {
		sc.ResolutionDue, sc.ResolutionWarn = shift(sc.ResolutionDue), shift(sc.ResolutionWarn)
	}
	sc.EscalateAt = shift(sc.EscalateAt)
	return store.AddEvent(ctx, q, sc.ID, now, "", "sla-paused",
		fmt.Sprintf("waited %s of business time: SLA due times moved on by as much", paused),
		map[string]any{"since": since, "until": ended, "business_seconds": int64(paused.Seconds())})
}

// DefaultSLAWarning is the share of a target's business time after which
// its holder is warned that it is near: at 80%, a 4h first response warns
// after 3h12m of opening hours, a 3d resolution on the third working day.
const DefaultSLAWarning = 0.8

func (d *Desk) warnShare() float64 {
	switch {
	case d.SLAWarning == 0:
		return DefaultSLAWarning
	case d.SLAWarning < 0 || d.SLAWarning >= 1:
		return 0
	}
	return d.SLAWarning
}

// SLAJob is the SLA check as a scheduled job, on schedule.sla_check.
func (d *Desk) SLAJob() notify.Job {
	return notify.Job{Name: notify.JobSLACheck, Spec: func(r *config.Rules) string { return r.Schedule.SLACheck },
		Run: func(ctx context.Context, tx pgx.Tx, rules *config.Rules, _ *time.Time, now time.Time) (any, error) {
			return d.CheckSLA(ctx, tx, rules, now)
		}}
}

// SLAStats says what one SLA check did.
type SLAStats struct {
	Cases, Warnings, Breaches, Escalations, Met, Woken, Failed int
}

// CheckSLA is the SLA check at now, in tx: for every case whose SLA clock
// is due (an indexed read of cases.sla_next_at, so its cost grows with the
// due cases only) it wakes a case whose #wait ended and tells its owner,
// gives back a pause, arms the warnings, warns the holder once a target's
// time is DefaultSLAWarning (or SLAWarning) spent, records each target as
// met or breached (events of kind "sla"), and on a breach escalates the
// case one rung through Transfer. A breached case that stays unanswered
// climbs one more rung each time the target's duration passes again, up
// to the supplier and then the support manager; each rung at most once per
// target (sla_notices), also after downtime, which the check catches up in
// one pass. A case that fails is rolled back alone (savepoint), logged and
// tried again at the next check.
func (d *Desk) CheckSLA(ctx context.Context, tx pgx.Tx, rules *config.Rules, now time.Time) (SLAStats, error) {
	var st SLAStats
	limit := d.MaxPerPass
	if limit <= 0 {
		limit = 5000
	}
	due, err := store.DueSLA(ctx, tx, now, limit)
	if err != nil {
		return st, err
	}
	for _, sc := range due {
		st.Cases++
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return d.checkCase(ctx, sp, rules, sc, now, &st) })
		if err != nil {
			st.Failed++
			d.log().Error("SLA check of a case failed; it is tried again at the next check",
				"case", sc.Number, "err", err)
		}
	}
	return st, nil
}

func (d *Desk) checkCase(ctx context.Context, q pgx.Tx, rules *config.Rules, sc *store.SLACase, now time.Time, st *SLAStats) error {
	// Writes that need no answer go out in one round trip at the end (or
	// before a transfer, which reads what came before).
	w := &store.Batch{}
	if sc.Status == store.StatusWaiting && sc.WaitUntil != nil && !now.Before(*sc.WaitUntil) {
		if err := d.wake(ctx, q, rules, sc, now); err != nil {
			return err
		}
		st.Woken++
	}
	if sc.WaitingEnded != nil {
		if err := givePauseBack(ctx, q, rules, sc, now); err != nil {
			return err
		}
	}
	sla, cal := routing.SLA(rules, sc.Service)
	if !sc.Armed {
		if share := d.warnShare(); cal != nil && share > 0 {
			if sc.FirstResponseD != nil {
				sc.FirstResponseWarn = timePtr(routing.WarnAt(cal, sc.CreatedAt, *sc.FirstResponseD, share))
			}
			if sc.ResolutionDue != nil {
				sc.ResolutionWarn = timePtr(routing.WarnAt(cal, sc.CreatedAt, *sc.ResolutionDue, share))
			}
		}
		sc.Armed = true
	}
	active := sc.Status == store.StatusNew || sc.Status == store.StatusOpen
	targets := []struct {
		name    string
		due     *time.Time
		warn    **time.Time
		outcome *string
		done    *time.Time
	}{
		{store.TargetFirstResponse, sc.FirstResponseD, &sc.FirstResponseWarn, &sc.FirstResponseOutcome, sc.FirstResponse},
		{store.TargetResolution, sc.ResolutionDue, &sc.ResolutionWarn, &sc.ResolutionOutcome, orTime(sc.ResolvedAt, sc.ClosedAt)},
	}
	for _, tg := range targets {
		if *tg.outcome != "" || tg.due == nil {
			continue
		}
		switch {
		case tg.done != nil:
			*tg.outcome = store.SLAMet
			if tg.done.After(*tg.due) {
				*tg.outcome = store.SLABreached // answered after the due time, before a check saw it
				st.Breaches++
			} else {
				st.Met++
			}
			*tg.warn = nil
			if err := slaEvent(ctx, w, sc, tg.name, *tg.outcome, *tg.due, *tg.done); err != nil {
				return err
			}
		case active && !now.Before(*tg.due):
			*tg.outcome, *tg.warn = store.SLABreached, nil
			st.Breaches++
			if err := slaEvent(ctx, w, sc, tg.name, store.SLABreached, *tg.due, now); err != nil {
				return err
			}
			if err := d.escalate(ctx, q, w, rules, sc, tg.name, *tg.due, sla, cal, now, st); err != nil {
				return err
			}
		case active && *tg.warn != nil && !now.Before(**tg.warn):
			*tg.warn = nil
			if err := d.warn(ctx, q, w, rules, sc, tg.name, *tg.due, now); err != nil {
				return err
			}
			st.Warnings++
		}
	}
	if sc.EscalateAt != nil && active && !now.Before(*sc.EscalateAt) {
		sc.EscalateAt = nil
		switch {
		case sc.FirstResponseOutcome == store.SLABreached && sc.FirstResponse == nil && sc.FirstResponseD != nil:
			if err := d.escalate(ctx, q, w, rules, sc, store.TargetFirstResponse, *sc.FirstResponseD, sla, cal, now, st); err != nil {
				return err
			}
		case sc.ResolutionOutcome == store.SLABreached && sc.ResolvedAt == nil && sc.ClosedAt == nil && sc.ResolutionDue != nil:
			if err := d.escalate(ctx, q, w, rules, sc, store.TargetResolution, *sc.ResolutionDue, sla, cal, now, st); err != nil {
				return err
			}
		}
	}
	if err := store.SaveSLA(ctx, w, sc); err != nil {
		return err
	}
	return w.Send(ctx, q)
}

// escalate moves a breached case one rung up, once per rung and target,
// and sets when it climbs again: after the target's duration on the new
// rung. At the top the support manager is told and the climb ends.
func (d *Desk) escalate(ctx context.Context, q pgx.Tx, w *store.Batch, rules *config.Rules, sc *store.SLACase, target string,
	due time.Time, sla *config.SLA, cal *config.Calendar, now time.Time, st *SLAStats) error {
	first, err := store.ClaimSLANotice(ctx, q, sc.ID, target, "escalation", sc.Rung, now)
	if err != nil || !first {
		return err // this rung was escalated for this target before
	}
	if err := w.Send(ctx, q); err != nil {
		return err
	}
	loc := d.Mailer.Zone(rules, sc.Unit)
	t := Transfer{Kind: TransferBreach, Reason: breachText(notify.DefaultLanguage, target, due.In(loc)),
		reasonIn: func(lang string) string { return breachText(lang, target, due.In(loc)) }}
	before := sc.Rung
	nc, err := d.Transfer(ctx, q, rules, sc.Case, t, now)
	if err != nil {
		return err
	}
	st.Escalations++
	// Keep the SLA fields of sc (changed in memory, saved after); take the
	// placement from the moved case.
	sc.Tier, sc.Rung, sc.Role, sc.Supplier, sc.Assignee, sc.Status, sc.UpdatedAt =
		nc.Tier, nc.Rung, nc.Role, nc.Supplier, nc.Assignee, nc.Status, nc.UpdatedAt
	if nc.Rung == before || sla == nil || cal == nil {
		return nil // top of the chain: the support manager knows
	}
	fr, res := sla.For(sc.Priority)
	window := fr
	if target == store.TargetResolution {
		window = res
	}
	if next := cal.AddBusiness(now, window); !window.IsZero() && !next.IsZero() {
		sc.EscalateAt = &next
	}
	return nil
}

// warn tells a case's holder that a target is near: the assignee, else
// (unassigned) the coordinator of its work area or the support manager.
func (d *Desk) warn(ctx context.Context, q pgx.Tx, w *store.Batch, rules *config.Rules, sc *store.SLACase, target string, due time.Time, now time.Time) error {
	first, err := store.ClaimSLANotice(ctx, q, sc.ID, target, "warning", sc.Rung, now)
	if err != nil || !first {
		return err
	}

	people := rules.Owners(sc.Case.Assignee, sc.Case.Unit)
	loc := d.Mailer.Zone(rules, sc.Unit)
	for _, p := range people {
		rcp := d.Mailer.PersonRecipient(rules, sc.Case, p)
		view := d.Mailer.CaseView(rules, sc.Case, now)
		if _, err := d.Mailer.Queue(ctx, w, notify.CaseMail{Case: sc.Case, Kind: notify.KindReminder, To: rcp,
			Data: notify.Data{Case: view, Reason: warnText(rcp.Language, target, due.In(loc))}}, now); err != nil {
			return err
		}
	}
	return store.AddEvent(ctx, w, sc.ID, now, "", "sla-warning", fmt.Sprintf("%s due %s", target, due.In(loc).Format("2006-01-02 15:04")),
		map[string]any{"target": target, "due": due, "told": personIDs(people)})
}

// wake ends a #wait whose time has come and tells the owner.
func (d *Desk) wake(ctx context.Context, q pgx.Tx, rules *config.Rules, sc *store.SLACase, now time.Time) error {
	status := store.Held(sc.Assignee, sc.Supplier)
	if err := store.EndWait(ctx, q, sc.ID, status, now); err != nil {
		return err
	}
	// What the database's trigger just recorded, for givePauseBack.
	if sc.WaitingSince != nil {
		sc.WaitingEnded = &now
	}
	sc.Status, sc.WaitUntil, sc.UpdatedAt = status, nil, now
	if err := store.AddEvent(ctx, q, sc.ID, now, "", "status", "the #wait ended",
		map[string]any{"from": store.StatusWaiting, "to": status}); err != nil {
		return err
	}

	for _, p := range rules.Owners(sc.Case.Assignee, sc.Case.Unit) {
		rcp := d.Mailer.PersonRecipient(rules, sc.Case, p)
		view := d.Mailer.CaseView(rules, sc.Case, now)
		if _, err := d.Mailer.Queue(ctx, q, notify.CaseMail{Case: sc.Case, Kind: notify.KindReminder, To: rcp,
			Data: notify.Data{Case: view, Expired: true}}, now); err != nil {
			return err
		}
	}
	return nil
}

func personIDs(ps []*config.Person) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func slaEvent(ctx context.Context, q store.Execer, sc *store.SLACase, target, outcome string, due, at time.Time) error {
	return store.AddEvent(ctx, q, sc.ID, at, "", "sla", target+" "+outcome,
		map[string]any{"target": target, "outcome": outcome, "due": due, "rung": sc.Rung, "tier": sc.Tier})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func orTime(a, b *time.Time) *time.Time {
	if a != nil {
		return a
	}
	return b
}

// SLA phrases, in the languages of the templates: the notices' reasons are
// shown as they are by templates that are not the scheduler's own.
var slaPhrases = map[string]map[string]string{
	"en": {
		"breach." + store.TargetFirstResponse: "SLA breached: no first response by %s",
		"breach." + store.TargetResolution:    "SLA breached: not resolved by %s",
		"warn." + store.TargetFirstResponse:   "The first response is due %s.",
		"warn." + store.TargetResolution:      "The case is to be resolved by %s.",
	},
	"sv": {
		"breach." + store.TargetFirstResponse: "SLA överskridet: inget första svar senast %s",
		"breach." + store.TargetResolution:    "SLA överskridet: inte löst senast %s",
		"warn." + store.TargetFirstResponse:   "Första svar ska ges senast %s.",
		"warn." + store.TargetResolution:      "Ärendet ska vara löst senast %s.",
	},
	"nb": {
		"breach." + store.TargetFirstResponse: "SLA brutt: ikke besvart innen %s",
		"breach." + store.TargetResolution:    "SLA brutt: ikke løst innen %s",
		"warn." + store.TargetFirstResponse:   "Første svar skal gis innen %s.",
		"warn." + store.TargetResolution:      "Saken skal være løst innen %s.",
	},
}

func slaPhrase(lang, key string, t time.Time) string {
	w := slaPhrases[notify.Language(lang)]
	if w == nil {
		w = slaPhrases[notify.DefaultLanguage]
	}
	return fmt.Sprintf(w[key], t.Format("2006-01-02 15:04"))
}

func breachText(lang, target string, due time.Time) string {
	return slaPhrase(lang, "breach."+target, due)
}
func warnText(lang, target string, due time.Time) string { return slaPhrase(lang, "warn."+target, due) }
