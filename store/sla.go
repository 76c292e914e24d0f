package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SLA targets, as recorded in sla_notices and sla events.
const (
	TargetFirstResponse = "first_response"
	TargetResolution    = "resolution"
)

// SLA outcomes of a target.
const (
	SLAMet      = "met"
	SLABreached = "breached"
)

// SLACase is a case with its SLA clock, as the SLA check reads and writes
// it. The embedded Case's FirstResponseD and ResolutionDue are the due
// times.
type SLACase struct {
	*Case
	WaitUntil         *time.Time
	FirstResponseWarn *time.Time
	ResolutionWarn    *time.Time
	// EscalateAt is when a breached case climbs the next rung.
	EscalateAt *time.Time
	// WaitingSince and WaitingEnded bound a pause not yet given back to the
	// due times (the database keeps them on every status change).
	WaitingSince, WaitingEnded *time.Time
	// Armed is false until the warning times are set.
	Armed bool
	// FirstResponseOutcome and ResolutionOutcome are "", SLAMet or SLABreached.
	FirstResponseOutcome, ResolutionOutcome string
}

const slaColumns = `wait_until, first_response_warn, resolution_warn, sla_escalate_at, waiting_since,
	waiting_ended, sla_armed, sla_first_response, sla_resolution`

func scanSLACase(row pgx.Row) (*SLACase, error) {
	s := &SLACase{}
	c, err := scanCase(row, &s.WaitUntil, &s.FirstResponseWarn, &s.ResolutionWarn, &s.EscalateAt,
		&s.WaitingSince, &s.WaitingEnded, &s.Armed, &s.FirstResponseOutcome, &s.ResolutionOutcome)
	if err != nil {
		return nil, err
	}
	s.Case = c
	return s, nil
}

// SetDue sets a case's SLA due times (nil: no target) and starts its SLA
// clock afresh: outcomes pending, warnings to be armed by the SLA check.
func SetDue(ctx context.Context, e Execer, caseID int64, firstResponse, resolution *time.Time) error {
	_, err := e.Exec(ctx, `UPDATE cases SET first_response_due = $2, resolution_due = $3,
		first_response_warn = NULL, resolution_warn = NULL, sla_armed = ($2::timestamptz IS NULL AND $3::timestamptz IS NULL),
		sla_first_response = '', sla_resolution = '', sla_escalate_at = NULL
		WHERE id = $1`, caseID, firstResponse, resolution)
	if err != nil {
		return fmt.Errorf("setting SLA due times of case %d: %w", caseID, err)
	}
	return nil
}

// DueSLA returns up to limit cases whose SLA clock needs attention at now,
// earliest first, locked for the caller's transaction. Cases another
// transaction holds are skipped (the next check takes them). It reads the
// partial index on sla_next_at: the cost grows with the due cases, not
// with the open ones.
func DueSLA(ctx context.Context, q Querier, now time.Time, limit int) ([]*SLACase, error) {
	rows, err := q.Query(ctx, `SELECT `+caseColumns+`, `+slaColumns+` FROM cases
		WHERE sla_next_at <= $1 ORDER BY sla_next_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("finding cases due for the SLA check: %w", err)
	}
	defer rows.Close()
	var out []*SLACase
	for rows.Next() {
		s, err := scanSLACase(rows)
		if err != nil {
			return nil, fmt.Errorf("reading a case due for the SLA check: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SLACaseByID reads one case with its SLA clock and locks it.
func SLACaseByID(ctx context.Context, q Querier, caseID int64) (*SLACase, error) {
	s, err := scanSLACase(q.QueryRow(ctx, `SELECT `+caseColumns+`, `+slaColumns+` FROM cases
		WHERE id = $1 FOR UPDATE`, caseID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the SLA clock of case %d: %w", caseID, err)
	}
	return s, nil
}

// SaveSLA writes a case's SLA clock back: due and warning times, outcomes,
// the next escalation and the pause (cleared once given back).
func SaveSLA(ctx context.Context, e Execer, s *SLACase) error {
	_, err := e.Exec(ctx, `UPDATE cases SET first_response_due = $2, resolution_due = $3,
		first_response_warn = $4, resolution_warn = $5, sla_armed = $6, sla_first_response = $7,
		sla_resolution = $8, sla_escalate_at = $9, waiting_since = $10, waiting_ended = $11
		WHERE id = $1`, s.ID, s.FirstResponseD, s.ResolutionDue, s.FirstResponseWarn, s.ResolutionWarn,
		s.Armed, s.FirstResponseOutcome, s.ResolutionOutcome, s.EscalateAt, s.WaitingSince, s.WaitingEnded)
	if err != nil {
		return fmt.Errorf("saving the SLA clock of case %d: %w", s.ID, err)
	}
	return nil
}

// ClaimSLANotice records that a notice (kind "warning" or "escalation") for
// a target was given while the case was on rung. It reports false when
// one was recorded before: the caller then does not give it again.
func ClaimSLANotice(ctx context.Context, q Querier, caseID int64, target, kind string, rung int, at time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO sla_notices (case_id, target, kind, rung, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, caseID, target, kind, rung, at)
	if err != nil {
		return false, fmt.Errorf("recording the %s %s notice of case %d: %w", target, kind, caseID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CaseMove is where a transfer puts a case.
type CaseMove struct {
	Tier     string
	Rung     int
	Role     string
	Supplier string
	Assignee string
	Status   Status // new | open | waiting | …
}

// MoveCase puts a case on another rung or with another assignee and
// returns it as it now is.
func MoveCase(ctx context.Context, q Querier, caseID int64, mv CaseMove, at time.Time) (*Case, error) {
	c, err := scanCase(q.QueryRow(ctx, `UPDATE cases SET tier = $2, rung = $3, role = $4, supplier = $5,
		assignee = $6, status = $7, updated_at = $8 WHERE id = $1 RETURNING `+caseColumns,
		caseID, mv.Tier, mv.Rung, mv.Role, mv.Supplier, mv.Assignee, mv.Status, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("moving case %d: %w", caseID, err)
	}
	return c, nil
}
