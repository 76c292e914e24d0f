package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CaseCount is one line of a breakdown: cases opened and resolved in the
// period, and open now, for one unit, service or tier.
type CaseCount struct {
	Key      string `json:"key"` // unit id, service id or tier; "" for none
	Opened   int    `json:"opened"`
	Resolved int    `json:"resolved"`
	Open     int    `json:"open"`
}

// TierMove counts transfers from one tier to another.
type TierMove struct {
	From string `json:"from"`
	To   string `json:"to"`
	N    int    `json:"n"`
}

// SLACount counts one target's outcomes recorded in the period.
type SLACount struct {
	Target   string `json:"target"` // TargetFirstResponse | TargetResolution
	Met      int    `json:"met"`
	Breached int    `json:"breached"`
}

// Report is what the digest and `casemail report` show for a period: the
// same numbers from the same queries.
type Report struct {
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Units    []string  `json:"units,omitempty"` // the scope; empty: every unit
	Opened   int       `json:"opened"`
	Resolved int       `json:"resolved"`
	Open     int       `json:"open"`
	Dropped  int       `json:"dropped"`
	// ByUnit, ByService and ByTier break the counts down.
	ByUnit    []CaseCount `json:"by_unit"`
	ByService []CaseCount `json:"by_service"`
	ByTier    []CaseCount `json:"by_tier"`
	// Transfers are moves between rungs of a chain (escalations, #tier,
	// #assign to another rung) in the period; TierMoves breaks them down.
	Transfers int        `json:"transfers"`
	TierMoves []TierMove `json:"tier_moves"`
	SLA       []SLACount `json:"sla"`
	// ByAgent gives each agent's figures; TierFlow counts cases by the
	// tier they arrived on and the tier they were resolved on.
	ByAgent  []AgentCount `json:"by_agent"`
	TierFlow []TierFlow   `json:"tier_flow"`
	// MedianFirstResponse is the median elapsed time from opening to the
	// first public answer of cases first answered in the period (nil: none).
	MedianFirstResponse *time.Duration `json:"-"`
	FirstResponses      int            `json:"first_responses"`
	// Case lists, at most the limit given each.
	Oldest       []*Case `json:"-"` // open, oldest first
	Overdue      []*Case `json:"-"` // open and past a due time, most overdue first
	Unassigned   []*Case `json:"-"` // open without assignee or supplier
	DroppedCases []*Case `json:"-"` // dropped in the period, newest first
	// Suppliers is each supplier's record for forwards made in the period.
	Suppliers []SupplierCount `json:"suppliers"`
	// SupplierWaits are open cases waiting on a supplier, overdue first.
	SupplierWaits []SupplierWait `json:"-"`
}

// SLATotals sums the SLA counts over the targets.
func (r *Report) SLATotals() (met, breached int) {
	for _, s := range r.SLA {
		met += s.Met
		breached += s.Breached
	}
	return met, breached
}

// BuildReport counts cases for [since, until), limited to units when given
// (nil: every case), with up to lists cases in each list (0: no lists).
// "Open now" means new, open or waiting at until's moment of reading.
func BuildReport(ctx context.Context, q Querier, since, until time.Time, units []string, lists int) (*Report, error) {
	r := &Report{Since: since, Until: until, Units: units}
	all := units == nil
	if units == nil {
		units = []string{}
	}
	// One scan of the cases in scope for the three breakdowns, with
	// GROUPING SETS: grouping() tells which breakdown a row belongs to.
	rows, err := q.Query(ctx, `SELECT grouping(unit, service, tier), unit, service, tier,
			count(*) FILTER (WHERE created_at >= $1 AND created_at < $2 AND status <> 'dropped'),
			count(*) FILTER (WHERE `+resolvedIn+`),
			count(*) FILTER (WHERE status IN ('new', 'open', 'waiting'))
		FROM cases
		WHERE ($3 OR unit = ANY($4))
		  AND (status IN ('new', 'open', 'waiting') OR created_at >= $1 OR resolved_at >= $1)
		GROUP BY GROUPING SETS ((unit), (service), (tier), ())`, since, until, all, units)
	if err != nil {
		return nil, fmt.Errorf("counting cases: %w", err)
	}
	err = forEach(rows, func(r2 pgx.Row) error {
		var g int
		var unit, service, tier *string
		var c CaseCount
		if err := r2.Scan(&g, &unit, &service, &tier, &c.Opened, &c.Resolved, &c.Open); err != nil {
			return err
		}
		// grouping() has a bit per argument, set when it is aggregated away.
		switch g {
		case 0b011:
			c.Key = deref(unit)
			r.ByUnit = appendCaseCount(r.ByUnit, c)
		case 0b101:
			c.Key = deref(service)
			r.ByService = appendCaseCount(r.ByService, c)
		case 0b110:
			c.Key = deref(tier)
			r.ByTier = appendCaseCount(r.ByTier, c)
		case 0b111:
			r.Opened, r.Resolved, r.Open = c.Opened, c.Resolved, c.Open
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting cases: %w", err)
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM cases WHERE status = 'dropped'
		AND created_at >= $1 AND created_at < $2 AND ($3 OR unit = ANY($4))`, since, until, all, units).
		Scan(&r.Dropped); err != nil {
		return nil, fmt.Errorf("counting dropped cases: %w", err)
	}

	rows, err = q.Query(ctx, `SELECT e.data->>'from_tier', e.data->>'to_tier', count(*)
		FROM events e JOIN cases c ON c.id = e.case_id
		WHERE e.kind = 'transfer' AND e.at >= $1 AND e.at < $2 AND (e.data->>'moved')::boolean
		  AND ($3 OR c.unit = ANY($4))
		GROUP BY 1, 2 ORDER BY 1, 2`, since, until, all, units)
	if err != nil {
		return nil, fmt.Errorf("counting transfers: %w", err)
	}
	err = forEach(rows, func(row pgx.Row) error {
		var m TierMove
		if err := row.Scan(&m.From, &m.To, &m.N); err != nil {
			return err
		}
		r.TierMoves = append(r.TierMoves, m)
		r.Transfers += m.N
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting transfers: %w", err)
	}

	rows, err = q.Query(ctx, `SELECT l.target,
			count(*) FILTER (WHERE l.outcome = 'met'),
			count(*) FILTER (WHERE l.outcome = 'breached')
		FROM (`+lastSLA+`) l JOIN cases c ON c.id = l.case_id
		WHERE `+slaCounts+` AND ($3 OR c.unit = ANY($4))
		GROUP BY 1 ORDER BY 1`, since, until, all, units)
	if err != nil {
		return nil, fmt.Errorf("counting SLA outcomes: %w", err)
	}
	err = forEach(rows, func(row pgx.Row) error {
		var s SLACount
		if err := row.Scan(&s.Target, &s.Met, &s.Breached); err != nil {
			return err
		}
		r.SLA = append(r.SLA, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting SLA outcomes: %w", err)
	}

	var median *float64
	if err := q.QueryRow(ctx, `SELECT count(*), percentile_cont(0.5) WITHIN GROUP
			(ORDER BY extract(epoch FROM first_response_at - created_at))
		FROM cases WHERE first_response_at >= $1 AND first_response_at < $2 AND ($3 OR unit = ANY($4))`,
		since, until, all, units).Scan(&r.FirstResponses, &median); err != nil {
		return nil, fmt.Errorf("measuring first responses: %w", err)
	}
	if median != nil {
		d := time.Duration(*median * float64(time.Second)).Round(time.Second)
		r.MedianFirstResponse = &d
	}

	if err := agentFigures(ctx, q, r, all, units); err != nil {
		return nil, err
	}
	if err := tierFlow(ctx, q, r, all, units); err != nil {
		return nil, err
	}

	if lists > 0 {
		scope := ` AND ($2 OR unit = ANY($3))`
		open := `status IN ('new', 'open', 'waiting')`
		var lerr error
		list := func(where, order string, args ...any) []*Case {
			if lerr != nil {
				return nil
			}
			var cs []*Case
			cs, lerr = listCases(ctx, q, `SELECT `+caseColumns+` FROM cases WHERE `+where+scope+
				` ORDER BY `+order+` LIMIT $1`, append([]any{lists, all, units}, args...)...)
			return cs
		}
		r.Oldest = list(open, `created_at, number`)
		r.Overdue = list(open+` AND least(CASE WHEN first_response_at IS NULL THEN first_response_due END,
			resolution_due) < $4`, `least(CASE WHEN first_response_at IS NULL THEN first_response_due END,
			resolution_due), number`, until)
		r.Unassigned = list(open+` AND assignee = '' AND supplier = ''`, `created_at, number`)
		r.DroppedCases = list(`status = 'dropped' AND created_at >= $4 AND created_at < $5`,
			`created_at DESC, number DESC`, since, until)
		if lerr != nil {
			return nil, fmt.Errorf("listing cases for the report: %w", lerr)
		}
		if r.SupplierWaits, err = WaitingOnSuppliers(ctx, q, r.Units, lists, false); err != nil {
			return nil, err
		}
	}
	if r.Suppliers, err = SupplierCounts(ctx, q, since, until, r.Units); err != nil {
		return nil, err
	}
	return r, nil
}

func appendCaseCount(list []CaseCount, c CaseCount) []CaseCount {
	if c.Opened == 0 && c.Resolved == 0 && c.Open == 0 {
		return list
	}
	return append(list, c)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// forEach scans every row with fn and closes rows.
func forEach(rows pgx.Rows, fn func(pgx.Row) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func listCases(ctx context.Context, q Querier, sql string, args ...any) ([]*Case, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []*Case
	err = forEach(rows, func(row pgx.Row) error {
		c, err := scanCase(row)
		if err == nil {
			out = append(out, c)
		}
		return err
	})
	return out, err
}

// ReminderCase is an open case as a reminder lists it.
type ReminderCase struct {
	*Case
	// Due is the due time it is measured against: the first response until
	// there is one, then the resolution (nil: none).
	Due *time.Time
}

// OpenCases returns every case not yet resolved (new, open, waiting) for
// the reminders, by assignee, overdue first: the most overdue, then the
// soonest due, then those without due time, oldest first.
func OpenCases(ctx context.Context, q Querier) ([]ReminderCase, error) {
	const due = `least(CASE WHEN first_response_at IS NULL THEN first_response_due END, resolution_due)`
	rows, err := q.Query(ctx, `SELECT `+caseColumns+`, `+due+` FROM cases
		WHERE status IN ('new', 'open', 'waiting')
		ORDER BY assignee, `+due+` IS NULL, `+due+`, created_at, number`)
	if err != nil {
		return nil, fmt.Errorf("listing open cases: %w", err)
	}
	var out []ReminderCase
	err = forEach(rows, func(row pgx.Row) error {
		var rc ReminderCase
		c, err := scanCase(row, &rc.Due)
		if err == nil {
			rc.Case = c
			out = append(out, rc)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing open cases: %w", err)
	}
	return out, nil
}
