package notify

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// digestListed bounds each list of cases in a digest.
const digestListed = 10

// DigestJob is the digest job, on schedule.digest: the digest covers the
// time since the previous one (a week when there was none).
func (m *Mailer) DigestJob() Job {
	return Job{Name: JobDigest, Spec: func(r *config.Rules) string { return r.Schedule.Digest },
		Run: func(ctx context.Context, tx pgx.Tx, rules *config.Rules, last *time.Time, now time.Time) (any, error) {
			since := now.AddDate(0, 0, -7)
			if last != nil {
				since = *last
			}
			return nil, m.Digest(ctx, tx, rules, since, now)
		}}
}

// Digest sends the digest for [since, now): the whole helpdesk to each
// coordinator and support manager, and to each superuser their own units
// (Q6). Everyone gets one mail per scope.
func (m *Mailer) Digest(ctx context.Context, tx pgx.Tx, rules *config.Rules, since, now time.Time) error {
	type audience struct {
		person *config.Person
		units  []string // nil: everything
	}
	var aud []audience
	whole := map[string]bool{}
	for _, roleName := range []string{config.RoleCoordinator, config.RoleSupportManager} {
		for _, id := range allHolders(rules.Role(roleName)) {
			if p := rules.Person(id); p != nil && !whole[id] {
				whole[id] = true
				aud = append(aud, audience{person: p})
			}
		}
	}
	for id, units := range superuserUnits(rules) {
		if p := rules.Person(id); p != nil && !whole[id] {
			aud = append(aud, audience{person: p, units: units})
		}
	}
	sort.SliceStable(aud, func(i, j int) bool { return aud[i].person.ID < aud[j].person.ID })
	reports := map[string]*store.Report{}
	for _, a := range aud {
		key := fmt.Sprint(a.units)
		r := reports[key]
		if r == nil {
			var err error
			if r, err = store.BuildReport(ctx, tx, since, now, a.units, digestListed); err != nil {
				return err
			}
			reports[key] = r
		}
		var unitLang string
		if len(a.units) > 0 {
			if u := rules.Unit(a.units[0]); u != nil {
				unitLang = u.Language
			}
		}
		rcp := Recipient{Name: a.person.Name, Address: a.person.Email,
			Language: m.RecipientLanguage(a.person.Language, "", unitLang, "")}
		var unit string
		if len(a.units) == 1 {
			unit = a.units[0]
		}
		view := m.DigestView(rules, r, unit, now)
		if _, err := m.queuePlain(ctx, tx, KindDigest, rcp, Data{Digest: view}, "", ""); err != nil {
			return err
		}
	}
	return nil
}

// DigestView renders a report for the digest template; dates in the zone
// of unit (or casemail.yaml's).
func (m *Mailer) DigestView(rules *config.Rules, r *store.Report, unit string, now time.Time) DigestView {
	loc := m.Zone(rules, unit)
	v := DigestView{
		Period: r.Since.In(loc).Format("2006-01-02 15:04") + " – " + r.Until.In(loc).Format("2006-01-02 15:04"),
		Opened: r.Opened, Resolved: r.Resolved, Open: r.Open, Transfers: r.Transfers, Dropped: r.Dropped,
	}
	var names []string
	for _, id := range r.Units {
		if u := rules.Unit(id); u != nil {
			names = append(names, u.Name)
		} else {
			names = append(names, id)
		}
	}
	if len(names) > 0 {
		v.Scope = joinNames(names)
	}
	v.SLAMet, v.SLABreached = r.SLATotals()
	if r.MedianFirstResponse != nil {
		span := SpanOf(*r.MedianFirstResponse)
		v.MedianFirstResponse = &span
	}
	add := func(kind string, counts []store.CaseCount, name func(string) string) {
		if len(counts) == 0 {
			return
		}
		b := DigestBreakdown{Kind: kind}
		for _, c := range counts {
			b.Rows = append(b.Rows, DigestRow{Name: name(c.Key), Opened: c.Opened, Resolved: c.Resolved, Open: c.Open})
		}
		v.Breakdowns = append(v.Breakdowns, b)
	}
	add("unit", r.ByUnit, func(id string) string {
		if u := rules.Unit(id); u != nil {
			return u.Name
		}
		return orDash(id)
	})
	add("service", r.ByService, func(id string) string {
		if s := rules.Service(id); s != nil {
			return s.Name
		}
		return orDash(id)
	})
	add("tier", r.ByTier, orDash)
	for _, mv := range r.TierMoves {
		v.TierMoves = append(v.TierMoves, DigestRow{Name: orDash(mv.From) + " → " + orDash(mv.To), Open: mv.N})
	}
	list := func(cs []*store.Case) []CaseView {
		var out []CaseView
		for _, c := range cs {
			cv := m.CaseView(rules, c, now)
			cv.Created, cv.Due = cv.Created.In(loc), cv.Due.In(loc)
			out = append(out, cv)
		}
		return out
	}
	v.Overdue, v.Unassigned, v.DroppedCases, v.Oldest = list(r.Overdue), list(r.Unassigned), list(r.DroppedCases), list(r.Oldest)
	for _, w := range r.SupplierWaits {
		cv := m.CaseView(rules, w.Case, now)
		cv.Created, cv.Due = cv.Created.In(loc), cv.Due.In(loc)
		m.AddForward(&cv, rules, w.Case, w.Forward, now)
		v.SupplierWaits = append(v.SupplierWaits, cv)
	}
	return v
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func joinNames(names []string) string {
	out := names[0]
	for _, n := range names[1:] {
		out += ", " + n
	}
	return out
}

// allHolders returns everyone holding a role anywhere, in file order.
func allHolders(role *config.Role) []string {
	if role == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(ids []string) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	for _, s := range role.ByUnit {
		add(s.People)
	}
	for _, s := range role.ByWorkArea {
		add(s.People)
	}
	add(role.Everyone)
	return out
}

// superuserUnits maps each superuser to the units they hold the role for:
// by unit, or every unit of a work area they hold it for; nil for a
// superuser of everything.
func superuserUnits(rules *config.Rules) map[string][]string {
	role := rules.Role(config.RoleSuperuser)
	out := map[string][]string{}
	if role == nil {
		return out
	}
	everything := map[string]bool{}
	for _, id := range role.Everyone {
		everything[id] = true
		out[id] = nil
	}
	add := func(id, unit string) {
		if everything[id] {
			return
		}
		for _, u := range out[id] {
			if u == unit {
				return
			}
		}
		out[id] = append(out[id], unit)
	}
	for _, s := range role.ByUnit {
		for _, id := range s.People {
			add(id, s.Key)
		}
	}
	for _, s := range role.ByWorkArea {
		for _, u := range rules.Units {
			if u.WorkArea == s.Key {
				for _, id := range s.People {
					add(id, u.ID)
				}
			}
		}
	}
	return out
}
