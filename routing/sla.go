package routing

import (
	"strings"
	"time"

	"github.com/casemail/casemail/config"
)

// SLATimes is when a case's SLA targets fall due. A zero time means the
// target does not apply.
type SLATimes struct {
	FirstResponse time.Time
	Resolution    time.Time
}

// Due computes a case's SLA due times from its service's SLA for a
// priority, counted in business time on the SLA's calendar from start. A
// service without an SLA (or unknown, or with no calendar) has none.
func Due(r *config.Rules, service, priority string, start time.Time) SLATimes {
	sla, cal := SLA(r, service)
	if sla == nil {
		return SLATimes{}
	}
	fr, res := sla.For(priority)
	var out SLATimes
	if !fr.IsZero() {
		out.FirstResponse = cal.AddBusiness(start, fr)
	}
	if !res.IsZero() {
		out.Resolution = cal.AddBusiness(start, res)
	}
	return out
}

// SLA returns a service's SLA and its calendar, or nils when the service
// has none.
func SLA(r *config.Rules, service string) (*config.SLA, *config.Calendar) {
	svc := r.Service(service)
	if svc == nil || svc.SLA == nil {
		return nil, nil
	}
	cal := r.Calendar(svc.SLA.Calendar)
	if cal == nil {
		return nil, nil
	}
	return svc.SLA, cal
}

// WarnAt returns the moment fraction (0 < fraction < 1) of the business
// time between start and due has passed: when the holder is warned that
// a target is near. Zero when there is no due time or fraction is out of
// range.
func WarnAt(cal *config.Calendar, start, due time.Time, fraction float64) time.Time {
	if cal == nil || due.IsZero() || fraction <= 0 || fraction >= 1 {
		return time.Time{}
	}
	total := cal.BusinessBetween(start, due)
	if total <= 0 {
		return time.Time{}
	}
	lead := time.Duration(float64(total) * fraction).Truncate(time.Second)
	return cal.AddBusiness(start, config.BusinessDuration{Clock: lead})
}

// RungOfTier returns the 1-based rung of a service's chain whose tier is
// tier ("1", "2", "3", "external", in any case, as an agent types it after
// #tier), the lowest when several are; false when the chain has none.
// #tier N names a tier; Transfer takes a rung.
func RungOfTier(svc *config.Service, tier string) (int, bool) {
	tier = strings.TrimSpace(tier)
	for i, rung := range svc.Chain {
		if strings.EqualFold(rung.Tier, tier) {
			return i + 1, true
		}
	}
	return 0, false
}
