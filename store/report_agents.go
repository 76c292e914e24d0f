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

// AgentCount is one agent's figures for a period, each case counted for
// the agent who did the work it measures (see agentFigures).
type AgentCount struct {
	Agent string `json:"agent"` // person id
	// Handled: cases resolved in the period (and still resolved or
	// closed) that they held when the case was resolved.
	Handled int `json:"handled"`
	// FirstResponses: cases first answered in the period by a public
	// answer they sent, and the median time to that answer.
	FirstResponses             int            `json:"first_responses"`
	MedianFirstResponse        *time.Duration `json:"-"`
	MedianFirstResponseSeconds *int64         `json:"median_first_response_seconds"`
	// SLAMet and SLABreached: a first response met counts for who sent
	// it; a resolution met for who held the case when it was resolved; a
	// breach for who held the case when its time ran out.
	SLAMet      int `json:"sla_met"`
	SLABreached int `json:"sla_breached"`
}

// TierFlow counts cases by the tier they arrived on (opened in the period)
// and by the tier they were resolved on (resolved in the period).
type TierFlow struct {
	Tier     string `json:"tier"`
	Arrived  int    `json:"arrived"`
	Resolved int    `json:"resolved"`
}

// holderAt is the SQL for who held case c at time t (an expression): the
// one the last transfer before t moved it to, else the one it had before
// its first transfer, else its holder now. Transfers (events of kind
// transfer, which record from_assignee and to_assignee) are the only
// changes of a case's holder after it was opened.
func holderAt(t string) string {
	return `coalesce(
		(SELECT e.data->>'to_assignee' FROM events e WHERE e.case_id = c.id AND e.kind = 'transfer' AND e.at < ` + t + `
			ORDER BY e.at DESC, e.id DESC LIMIT 1),
		(SELECT e.data->>'from_assignee' FROM events e WHERE e.case_id = c.id AND e.kind = 'transfer' ORDER BY e.id LIMIT 1),
		c.assignee)`
}

// firstResponder is the SQL for who sent case c's first public answer:
// the agent of the public reply, or of the #resolve with its text, that
// stamped first_response_at (events at that moment); else, for an answer
// no event names, whoever held the case then.
const firstResponder = `coalesce(
		(SELECT e.actor FROM events e WHERE e.case_id = c.id AND e.at = c.first_response_at AND e.actor <> ''
			AND (e.kind = 'reply' OR (e.kind = 'status' AND e.data->>'to' = 'resolved')) ORDER BY e.id LIMIT 1),
		` + "%s)"

// agentFigures fills r.ByAgent: each case counted for the agent who did
// the work: handled for the holder at its resolution, its first response
// for who sent it, an SLA outcome as AgentCount says; a case handed from
// one agent to another counts for each of them for their part.
func agentFigures(ctx context.Context, q Querier, r *Report, all bool, units []string) error {
	responder := fmt.Sprintf(firstResponder, holderAt("c.first_response_at"))
	rows, err := q.Query(ctx, `WITH scope AS (SELECT id, assignee, status, created_at, first_response_at, resolved_at
			FROM cases WHERE $3 OR unit = ANY($4)),
		handled AS (SELECT `+holderAt("c.resolved_at")+` AS agent, count(*) AS n
			FROM scope c WHERE `+resolvedIn+` GROUP BY 1),
		fr AS (SELECT `+responder+` AS agent, count(*) AS n, percentile_cont(0.5) WITHIN GROUP
				(ORDER BY extract(epoch FROM first_response_at - created_at)) AS m
			FROM scope c WHERE first_response_at >= $1 AND first_response_at < $2 GROUP BY 1),
		sla AS (SELECT CASE WHEN l.target = 'first_response' AND l.outcome = 'met' AND c.first_response_at IS NOT NULL
					THEN `+responder+` ELSE `+holderAt("l.at")+` END AS agent,
				count(*) FILTER (WHERE l.outcome = 'met') AS met,
				count(*) FILTER (WHERE l.outcome = 'breached') AS breached
			FROM (`+lastSLA+`) l JOIN scope c ON c.id = l.case_id WHERE `+slaCounts+` GROUP BY 1),
		agents AS (SELECT agent FROM handled UNION SELECT agent FROM fr UNION SELECT agent FROM sla)
		SELECT a.agent, coalesce(h.n, 0), coalesce(fr.n, 0), fr.m, coalesce(s.met, 0), coalesce(s.breached, 0)
		FROM agents a LEFT JOIN handled h USING (agent) LEFT JOIN fr USING (agent) LEFT JOIN sla s USING (agent)
		WHERE a.agent <> ''
		ORDER BY a.agent`, r.Since, r.Until, all, units)
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
