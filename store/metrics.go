package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Gauges is the state of the shared database that /metrics reports. Every
// instance reads the same numbers: aggregate them with max, not sum.
type Gauges struct {
	// Cases counts cases by status and tier.
	Cases []Count
	// AutomaticCases counts cases opened by automatic mail (never
	// acknowledged), by status ("dropped": loops, untrusted lists, rules).
	AutomaticCases []Count
	// Outbox counts mail not yet sent, by status: pending, sending, failed
	// (given up after permanent errors or too many attempts).
	Outbox []Count
	// OutboxRetrying counts pending mail that failed at least once.
	OutboxRetrying int64
	// OutboxOldest is how long the oldest pending or sending mail has waited.
	OutboxOldest time.Duration
	// QuarantineUnresolved counts quarantined mail not yet retried successfully.
	QuarantineUnresolved int64
	// SLAOutcomes counts cases by SLA target and outcome (met, breached);
	// SLANotices counts SLA notices given by target and kind (warning,
	// escalation). Both are empty on a schema without SLA tracking.
	SLAOutcomes []Count
	SLANotices  []Count
	// Jobs are the maintenance jobs' last runs (the retention job).
	Jobs []JobRun
	// Erasures counts recorded erasures.
	Erasures int64
	// SupplierWaiting counts open cases waiting on a supplier's answer, by
	// supplier; SupplierReminders the reminders sent to each (ever).
	SupplierWaiting, SupplierReminders []Count
}

// Count is one row of a grouped count: the labels in order, and n.
type Count struct {
	Labels []string
	N      int64
}

// Gauges reads the database state for /metrics. It scans the cases and the
// unsent outbox; callers should not call it more often than every few
// seconds.
func (s *Store) Gauges(ctx context.Context) (*Gauges, error) {
	g := &Gauges{}
	var err error
	if g.Cases, err = counts(ctx, s.pool, 2, `SELECT status, tier, count(*) FROM cases GROUP BY 1, 2 ORDER BY 1, 2`); err != nil {
		return nil, fmt.Errorf("counting cases: %w", err)
	}
	if g.AutomaticCases, err = counts(ctx, s.pool, 1, `SELECT status, count(*) FROM cases WHERE automatic
		GROUP BY 1 ORDER BY 1`); err != nil {
		return nil, fmt.Errorf("counting automatic cases: %w", err)
	}
	if g.Outbox, err = counts(ctx, s.pool, 1, `SELECT status, count(*) FROM outbox WHERE status <> 'sent'
		GROUP BY 1 ORDER BY 1`); err != nil {
		return nil, fmt.Errorf("counting the outbox: %w", err)
	}
	var oldest float64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE attempts > 0 AND status = 'pending'),
			coalesce(extract(epoch FROM now() - min(created_at)), 0)
		FROM outbox WHERE status IN ('pending', 'sending')`).Scan(&g.OutboxRetrying, &oldest); err != nil {
		return nil, fmt.Errorf("reading the outbox backlog: %w", err)
	}
	g.OutboxOldest = time.Duration(oldest * float64(time.Second))
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM quarantine WHERE resolved_at IS NULL`).Scan(&g.QuarantineUnresolved); err != nil {
		return nil, fmt.Errorf("counting quarantine: %w", err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM erasures`).Scan(&g.Erasures); err != nil {
		return nil, fmt.Errorf("counting erasures: %w", err)
	}
	if g.Jobs, err = s.JobRuns(ctx); err != nil {
		return nil, err
	}
	// SLA tracking came with a later migration: a database that an older
	// binary migrated has no such columns, and then there is nothing to say.
	g.SLAOutcomes, err = counts(ctx, s.pool, 2, `
		SELECT 'first_response', sla_first_response, count(*) FROM cases WHERE sla_first_response <> '' GROUP BY 2
		UNION ALL
		SELECT 'resolution', sla_resolution, count(*) FROM cases WHERE sla_resolution <> '' GROUP BY 2
		ORDER BY 1, 2`)
	if err != nil && !undefinedObject(err) {
		return nil, fmt.Errorf("counting SLA outcomes: %w", err)
	}
	g.SLANotices, err = counts(ctx, s.pool, 2, `SELECT target, kind, count(*) FROM sla_notices GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil && !undefinedObject(err) {
		return nil, fmt.Errorf("counting SLA notices: %w", err)
	}
	g.SupplierWaiting, err = counts(ctx, s.pool, 1, `SELECT f.supplier, count(*) FILTER (WHERE f.ended_at IS NULL
			AND f.answered_at IS NULL AND c.status IN ('new', 'open', 'waiting'))
		FROM supplier_forwards f JOIN cases c ON c.id = f.case_id GROUP BY 1 ORDER BY 1`)
	if err != nil && !undefinedObject(err) {
		return nil, fmt.Errorf("counting cases waiting on suppliers: %w", err)
	}
	g.SupplierReminders, err = counts(ctx, s.pool, 1, `SELECT supplier, coalesce(sum(reminders), 0)::bigint
		FROM supplier_forwards GROUP BY 1 ORDER BY 1`)
	if err != nil && !undefinedObject(err) {
		return nil, fmt.Errorf("counting reminders to suppliers: %w", err)
	}
	return g, nil
}

// counts runs a query returning labels label columns then a count.
func counts(ctx context.Context, q Querier, labels int, sql string) ([]Count, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Count, error) {
		c := Count{Labels: make([]string, labels)}
		dest := make([]any, 0, labels+1)
		for i := range c.Labels {
			dest = append(dest, &c.Labels[i])
		}
		err := r.Scan(append(dest, &c.N)...)
		return c, err
	})
}

// undefinedObject reports a missing table or column.
func undefinedObject(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42703")
}
