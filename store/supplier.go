package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SupplierForward is one forward of a case to a supplier and the
// supplier's clock on it (table supplier_forwards).
type SupplierForward struct {
	ID          int64
	CaseID      int64
	Supplier    string
	Contract    string
	Address     string
	ForwardedAt time.Time
	// ResponseDue and ResolutionDue are the contract's targets (nil: none).
	ResponseDue, ResolutionDue *time.Time
	// AnsweredAt is the supplier's first answer: their clock stops.
	AnsweredAt, LastAnswerAt *time.Time
	Reference                string
	Reminders                int
	LastReminderAt           *time.Time
	OwnerToldAt              *time.Time
	// NextCheckAt is when the supplier check next looks at it.
	NextCheckAt *time.Time
	PausesSLA   bool
	EndedAt     *time.Time
	EndedWhy    string
}

// Waiting reports whether the case waits on the supplier's answer.
func (f *SupplierForward) Waiting() bool { return f.AnsweredAt == nil && f.EndedAt == nil }

// Overdue reports whether the supplier's response is late at now.
func (f *SupplierForward) Overdue(now time.Time) bool {
	return f.Waiting() && f.ResponseDue != nil && f.ResponseDue.Before(now)
}

const forwardColumns = `f.id, f.case_id, f.supplier, f.contract, f.address, f.forwarded_at, f.response_due,
	f.resolution_due, f.answered_at, f.last_answer_at, f.reference, f.reminders, f.last_reminder_at,
	f.owner_told_at, f.next_check_at, f.pauses_sla, f.ended_at, f.ended_why`

func forwardDest(f *SupplierForward) []any {
	return []any{&f.ID, &f.CaseID, &f.Supplier, &f.Contract, &f.Address, &f.ForwardedAt, &f.ResponseDue,
		&f.ResolutionDue, &f.AnsweredAt, &f.LastAnswerAt, &f.Reference, &f.Reminders, &f.LastReminderAt,
		&f.OwnerToldAt, &f.NextCheckAt, &f.PausesSLA, &f.EndedAt, &f.EndedWhy}
}

// StartForward ends the case's current forward (why: "restarted" and the
// like) and records f as the new one; a reference already known from the
// same supplier carries over when f has none. f.ID comes back set.
func StartForward(ctx context.Context, q Querier, f *SupplierForward, why string) error {
	var prevRef string
	err := q.QueryRow(ctx, `UPDATE supplier_forwards SET ended_at = $2, ended_why = $3, next_check_at = NULL
		WHERE case_id = $1 AND ended_at IS NULL RETURNING CASE WHEN supplier = $4 THEN reference ELSE '' END`,
		f.CaseID, f.ForwardedAt, why, f.Supplier).Scan(&prevRef)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("ending the supplier forward of case %d: %w", f.CaseID, err)
	}
	if f.Reference == "" {
		f.Reference = prevRef
	}
	err = q.QueryRow(ctx, `INSERT INTO supplier_forwards (case_id, supplier, contract, address, forwarded_at,
		response_due, resolution_due, reference, next_check_at, pauses_sla)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		f.CaseID, f.Supplier, f.Contract, f.Address, f.ForwardedAt, f.ResponseDue, f.ResolutionDue, f.Reference,
		f.NextCheckAt, f.PausesSLA).Scan(&f.ID)
	if err != nil {
		return fmt.Errorf("recording the supplier forward of case %d: %w", f.CaseID, err)
	}
	return nil
}

// CurrentForward returns the case's forward not yet ended, locked for the
// caller's transaction; ErrNotFound for none.
func CurrentForward(ctx context.Context, q Querier, caseID int64) (*SupplierForward, error) {
	return oneForward(ctx, q, `SELECT `+forwardColumns+` FROM supplier_forwards f
		WHERE f.case_id = $1 AND f.ended_at IS NULL FOR UPDATE`, caseID)
}

// LatestForward returns the case's current forward, else its last one;
// ErrNotFound for none.
func LatestForward(ctx context.Context, q Querier, caseID int64) (*SupplierForward, error) {
	return oneForward(ctx, q, `SELECT `+forwardColumns+` FROM supplier_forwards f
		WHERE f.case_id = $1 ORDER BY f.ended_at IS NULL DESC, f.forwarded_at DESC, f.id DESC LIMIT 1`, caseID)
}

func oneForward(ctx context.Context, q Querier, sql string, args ...any) (*SupplierForward, error) {
	var f SupplierForward
	err := q.QueryRow(ctx, sql, args...).Scan(forwardDest(&f)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading a supplier forward: %w", err)
	}
	return &f, nil
}

// SaveForward writes back what changes on a forward: the answer, the
// reference, reminders, the owner told, the next check and the end.
func SaveForward(ctx context.Context, e Execer, f *SupplierForward) error {
	_, err := e.Exec(ctx, `UPDATE supplier_forwards SET answered_at = $2, last_answer_at = $3, reference = $4,
		reminders = $5, last_reminder_at = $6, owner_told_at = $7, next_check_at = $8, ended_at = $9, ended_why = $10
		WHERE id = $1`, f.ID, f.AnsweredAt, f.LastAnswerAt, f.Reference, f.Reminders, f.LastReminderAt,
		f.OwnerToldAt, f.NextCheckAt, f.EndedAt, f.EndedWhy)
	if err != nil {
		return fmt.Errorf("saving the supplier forward of case %d: %w", f.CaseID, err)
	}
	return nil
}

// DueForwards returns up to limit forwards whose next check has come at
// now, earliest first, locked (forwards another transaction holds are
// skipped; the next check takes them). It reads the partial index on
// next_check_at: the cost grows with the due forwards only.
func DueForwards(ctx context.Context, q Querier, now time.Time, limit int) ([]SupplierWait, error) {
	rows, err := q.Query(ctx, `SELECT `+forwardColumns+`, `+prefixed("c.", caseColumns)+`
		FROM supplier_forwards f JOIN cases c ON c.id = f.case_id
		WHERE f.next_check_at <= $1 ORDER BY f.next_check_at, f.id LIMIT $2 FOR UPDATE OF f SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("finding supplier forwards due: %w", err)
	}
	out, err := scanWaits(rows)
	if err != nil {
		return nil, fmt.Errorf("reading supplier forwards due: %w", err)
	}
	return out, nil
}

// scanWaits reads rows of forwardColumns then the case's columns.
func scanWaits(rows pgx.Rows) ([]SupplierWait, error) {
	var out []SupplierWait
	err := forEach(rows, func(row pgx.Row) error {
		f := &SupplierForward{}
		c, err := scanCase(prefixRow{row, len(forwardDest(f))}, forwardDest(f)...)
		if err != nil {
			return err
		}
		out = append(out, SupplierWait{Case: c, Forward: f})
		return nil
	})
	return out, err
}

// prefixRow lets scanCase read a row whose case columns come after n
// others: the n extra destinations are moved to the front.
type prefixRow struct {
	row pgx.Row
	n   int
}

func (p prefixRow) Scan(dest ...any) error {
	k := len(dest) - p.n
	return p.row.Scan(append(append([]any{}, dest[k:]...), dest[:k]...)...)
}

// CaseBySupplierReference returns the case whose forward to supplier
// carries ref (any case; the latest forward wins); found is false for
// none.
func CaseBySupplierReference(ctx context.Context, q Querier, supplier, ref string) (*Case, bool, error) {
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+prefixed("c.", caseColumns)+`
		FROM supplier_forwards f JOIN cases c ON c.id = f.case_id
		WHERE f.supplier = $1 AND lower(f.reference) = lower($2) AND f.reference <> ''
		ORDER BY f.forwarded_at DESC, f.id DESC LIMIT 1`, supplier, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("finding the case of %s's reference: %w", supplier, err)
	}
	return c, true, nil
}

// SupplierWait is a forward with its case: one the digest lists as
// waiting, or one the supplier check looks at.
type SupplierWait struct {
	Case    *Case
	Forward *SupplierForward
}

// WaitingOnSuppliers lists open cases waiting on a supplier's answer
// (units nil: every unit), overdue first (the most overdue first), then
// by forward time; at most limit. With answered, cases whose supplier has
// answered but which are still open with them are listed too, after.
func WaitingOnSuppliers(ctx context.Context, q Querier, units []string, limit int, answered bool) ([]SupplierWait, error) {
	all := units == nil
	if units == nil {
		units = []string{}
	}
	rows, err := q.Query(ctx, `SELECT `+forwardColumns+`, `+prefixed("c.", caseColumns)+`
		FROM supplier_forwards f JOIN cases c ON c.id = f.case_id
		WHERE f.ended_at IS NULL AND ($4 OR f.answered_at IS NULL) AND c.status IN ('new', 'open', 'waiting')
		  AND ($1 OR c.unit = ANY($2))
		ORDER BY f.answered_at IS NOT NULL, f.response_due IS NULL, f.response_due, f.forwarded_at, f.id LIMIT $3`,
		all, units, limit, answered)
	if err != nil {
		return nil, fmt.Errorf("listing cases waiting on suppliers: %w", err)
	}
	out, err := scanWaits(rows)
	if err != nil {
		return nil, fmt.Errorf("listing cases waiting on suppliers: %w", err)
	}
	return out, nil
}

// AwaitedSuppliers maps each of the cases that waits on a supplier's
// answer to that supplier (cases not waiting are left out).
func AwaitedSuppliers(ctx context.Context, q Querier, caseIDs []int64) (map[int64]string, error) {
	rows, err := q.Query(ctx, `SELECT case_id, supplier FROM supplier_forwards
		WHERE case_id = ANY($1) AND ended_at IS NULL AND answered_at IS NULL`, caseIDs)
	if err != nil {
		return nil, fmt.Errorf("finding cases waiting on suppliers: %w", err)
	}
	out := map[int64]string{}
	err = forEach(rows, func(row pgx.Row) error {
		var id int64
		var s string
		if err := row.Scan(&id, &s); err != nil {
			return err
		}
		out[id] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding cases waiting on suppliers: %w", err)
	}
	return out, nil
}

// SupplierCount is one supplier's record in a period (report and digest).
type SupplierCount struct {
	Supplier  string `json:"supplier"`
	Forwarded int    `json:"forwarded"` // forwards made in the period
	Answered  int    `json:"answered"`  // of those, answered
	// MedianFirstAnswer is the median time from forward to the first
	// answer of the answered ones (nil: none answered).
	MedianFirstAnswer *time.Duration `json:"-"`
	MedianSeconds     *int64         `json:"median_first_answer_seconds"`
	// OverContract: answered after the response time, not answered when it
	// passed, or resolved after the resolution time.
	OverContract int `json:"over_contract"`
	// StillOpen: forwards of the period whose case is still open with the
	// supplier (not ended, the case not resolved or closed).
	StillOpen int `json:"still_open"`
	Reminders int `json:"reminders"`
}

// SupplierCounts counts forwards made in [since, until) per supplier,
// limited to units when given; "over contract" is judged at until.
func SupplierCounts(ctx context.Context, q Querier, since, until time.Time, units []string) ([]SupplierCount, error) {
	all := units == nil
	if units == nil {
		units = []string{}
	}
	rows, err := q.Query(ctx, `SELECT f.supplier, count(*), count(f.answered_at),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.answered_at - f.forwarded_at))
				FILTER (WHERE f.answered_at IS NOT NULL),
			count(*) FILTER (WHERE f.answered_at > f.response_due
				OR (f.answered_at IS NULL AND f.ended_at IS NULL AND f.response_due < $2)
				OR coalesce(c.resolved_at, c.closed_at, CASE WHEN f.ended_at IS NULL THEN $2 END) > f.resolution_due),
			count(*) FILTER (WHERE f.ended_at IS NULL AND c.status IN ('new', 'open', 'waiting')),
			coalesce(sum(f.reminders), 0)
		FROM supplier_forwards f JOIN cases c ON c.id = f.case_id
		WHERE f.forwarded_at >= $1 AND f.forwarded_at < $2 AND ($3 OR c.unit = ANY($4))
		GROUP BY f.supplier ORDER BY f.supplier`, since, until, all, units)
	if err != nil {
		return nil, fmt.Errorf("counting supplier forwards: %w", err)
	}
	var out []SupplierCount
	err = forEach(rows, func(row pgx.Row) error {
		var s SupplierCount
		var median *float64
		if err := row.Scan(&s.Supplier, &s.Forwarded, &s.Answered, &median, &s.OverContract, &s.StillOpen, &s.Reminders); err != nil {
			return err
		}
		if median != nil {
			d := time.Duration(*median * float64(time.Second)).Round(time.Second)
			secs := int64(d / time.Second)
			s.MedianFirstAnswer, s.MedianSeconds = &d, &secs
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting supplier forwards: %w", err)
	}
	return out, nil
}
