package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// lastSLA is each case's latest outcome per SLA target recorded since $1,
// with the case's status now: a later outcome (a reopened case resolved
// again) replaces an earlier one, so no resolution is counted twice.
const lastSLA = `SELECT DISTINCT ON (e.case_id, e.data->>'target') e.case_id, e.data->>'target' AS target,
		e.data->>'outcome' AS outcome, e.at
	FROM events e WHERE e.kind = 'sla' AND e.at >= $1
	ORDER BY e.case_id, e.data->>'target', e.id DESC`

// slaCounts says which of lastSLA's outcomes count: those in the period,
// and a resolution "met" only while the case stays resolved or closed
// (reopened, it is not resolved: it counts when it is resolved again).
const slaCounts = `l.at < $2 AND NOT (l.target = 'resolution' AND l.outcome = 'met'
	AND c.status NOT IN ('resolved', 'closed'))`

// resolvedIn counts a case as resolved in the period: resolved (or
// closed) now, last resolved in it. A reopened case is not resolved.
const resolvedIn = `resolved_at >= $1 AND resolved_at < $2 AND status IN ('resolved', 'closed')`

// AgentCount is one agent's figures for a period, by the cases they hold.
type AgentCount struct {
	Agent string `json:"agent"` // person id
	// Handled: cases they held that were resolved in the period (and are
	// still resolved or closed).
	Handled int `json:"handled"`
	// FirstResponses: their cases first answered in the period, and the
	// median time to that answer.
	FirstResponses             int            `json:"first_responses"`
	MedianFirstResponse        *time.Duration `json:"-"`
	MedianFirstResponseSeconds *int64         `json:"median_first_response_seconds"`
	SLAMet                     int            `json:"sla_met"`
	SLABreached                int            `json:"sla_breached"`
}

// TierFlow counts cases by the tier they arrived on (opened in the period)
// and by the tier they were resolved on (resolved in the period).
type TierFlow struct {
	Tier     string `json:"tier"`
	Arrived  int    `json:"arrived"`
	Resolved int    `json:"resolved"`
}

// agentFigures fills r.ByAgent: one line per holder of a case counted.
func agentFigures(ctx context.Context, q Querier, r *Report, all bool, units []string) error {
	rows, err := q.Query(ctx, `WITH scope AS (SELECT id, assignee, status, created_at, first_response_at, resolved_at
			FROM cases WHERE assignee <> '' AND ($3 OR unit = ANY($4))),
		handled AS (SELECT assignee, count(*) AS n FROM scope WHERE `+resolvedIn+` GROUP BY 1),
		fr AS (SELECT assignee, count(*) AS n, percentile_cont(0.5) WITHIN GROUP
				(ORDER BY extract(epoch FROM first_response_at - created_at)) AS m
			FROM scope WHERE first_response_at >= $1 AND first_response_at < $2 GROUP BY 1),
		sla AS (SELECT c.assignee, count(*) FILTER (WHERE l.outcome = 'met') AS met,
				count(*) FILTER (WHERE l.outcome = 'breached') AS breached
			FROM (`+lastSLA+`) l JOIN scope c ON c.id = l.case_id WHERE `+slaCounts+` GROUP BY 1),
		agents AS (SELECT assignee FROM handled UNION SELECT assignee FROM fr UNION SELECT assignee FROM sla)
		SELECT a.assignee, coalesce(h.n, 0), coalesce(fr.n, 0), fr.m, coalesce(s.met, 0), coalesce(s.breached, 0)
		FROM agents a LEFT JOIN handled h USING (assignee) LEFT JOIN fr USING (assignee) LEFT JOIN sla s USING (assignee)
		ORDER BY a.assignee`, r.Since, r.Until, all, units)
	if err != nil {
		return fmt.Errorf("counting per agent: %w", err)
	}
	err = forEach(rows, func(row pgx.Row) error {
		var a AgentCount
		var median *float64
		if err := row.Scan(&a.Agent, &a.Handled, &a.FirstResponses, &median, &a.SLAMet, &a.SLABreached); err != nil {
			return err
		}
		if median != nil {
			d := time.Duration(*median * float64(time.Second)).Round(time.Second)
			secs := int64(d.Seconds())
			a.MedianFirstResponse, a.MedianFirstResponseSeconds = &d, &secs
		}
		r.ByAgent = append(r.ByAgent, a)
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting per agent: %w", err)
	}
	return nil
}

// tierFlow fills r.TierFlow. The tier a case arrived on is the one its
// first transfer left (its tier now when it never moved); the tier it was
// resolved on is its tier now, for a case resolved in the period.
func tierFlow(ctx context.Context, q Querier, r *Report, all bool, units []string) error {
	rows, err := q.Query(ctx, `WITH scope AS (SELECT c.id, c.tier, c.status, c.created_at, c.resolved_at,
				coalesce((SELECT e.data->>'from_tier' FROM events e WHERE e.case_id = c.id AND e.kind = 'transfer'
					ORDER BY e.id LIMIT 1), c.tier) AS arrival
			FROM cases c WHERE c.status <> 'dropped' AND ($3 OR c.unit = ANY($4))
			  AND ((c.created_at >= $1 AND c.created_at < $2) OR (c.resolved_at >= $1 AND c.resolved_at < $2))),
		arrived AS (SELECT arrival AS tier, count(*) AS n FROM scope WHERE created_at >= $1 AND created_at < $2 GROUP BY 1),
		resolved AS (SELECT tier, count(*) AS n FROM scope WHERE `+resolvedIn+` GROUP BY 1)
		SELECT tier, coalesce(a.n, 0), coalesce(s.n, 0) FROM arrived a FULL JOIN resolved s USING (tier) ORDER BY tier`,
		r.Since, r.Until, all, units)
	if err != nil {
		return fmt.Errorf("counting tiers at arrival and resolution: %w", err)
	}
	err = forEach(rows, func(row pgx.Row) error {
		var f TierFlow
		if err := row.Scan(&f.Tier, &f.Arrived, &f.Resolved); err != nil {
			return err
		}
		r.TierFlow = append(r.TierFlow, f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting tiers at arrival and resolution: %w", err)
	}
	return nil
}
