package store

import (
	"context"
	"testing"
	"time"
)

// TestSupplierCounts: per supplier, the forwards of the period, those
// answered, the median first answer, those over contract (answered late,
// silent past the response time, resolved past the resolution time) and
// those still open with the supplier; a forward before the period and
// another unit's (in a unit-scoped report) do not count.
func TestSupplierCounts(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	mk := func(unit string, status Status, at time.Time) *Case {
		c, err := CreateCase(ctx, st.pool, NewCase{Status: status, Service: "qm", Unit: unit, Requester: "ola@example.no",
			Mailbox: "helpdesk", Tier: "external", Rung: 4, Supplier: "v", CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fw := func(c *Case, supplier string, at time.Time, respond time.Duration, answered time.Duration, resolution time.Duration) *SupplierForward {
		f := &SupplierForward{CaseID: c.ID, Supplier: supplier, Address: supplier + "@example.org", ForwardedAt: at}
		due := at.Add(respond)
		f.ResponseDue = &due
		if resolution > 0 {
			rd := at.Add(resolution)
			f.ResolutionDue = &rd
		}
		if err := StartForward(ctx, st.pool, f, "restarted"); err != nil {
			t.Fatal(err)
		}
		if answered > 0 {
			a := at.Add(answered)
			f.AnsweredAt = &a
			if err := SaveForward(ctx, st.pool, f); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	start := now.Add(-10 * 24 * hour)
	// v: answered in 1h (in time), in 3h (late: due 2h), silent past due,
	// and one answered in 1h but resolved after its resolution time.
	fw(mk("bryne", StatusOpen, start), "v", start, 2*hour, hour, 0)
	fw(mk("bryne", StatusOpen, start), "v", start.Add(hour), 2*hour, 3*hour, 0)
	fw(mk("sandnes", StatusOpen, start), "v", start.Add(2*hour), 2*hour, 0, 0)
	late := mk("bryne", StatusResolved, start)
	fw(late, "v", start.Add(3*hour), 2*hour, hour, 24*hour)
	if _, err := st.pool.Exec(ctx, `UPDATE cases SET resolved_at = $2 WHERE id = $1`, late.ID, start.Add(50*hour)); err != nil {
		t.Fatal(err)
	}
	// w: one silent forward not yet due, still open.
	fw(mk("bryne", StatusOpen, now.Add(-hour)), "w", now.Add(-hour), 4*hour, 0, 0)
	// Before the period: not counted.
	fw(mk("bryne", StatusOpen, now.AddDate(0, -2, 0)), "v", now.AddDate(0, -2, 0), hour, 0, 0)

	got, err := SupplierCounts(ctx, st.pool, now.Add(-30*24*hour), now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("suppliers: %+v", got)
	}
	v, w := got[0], got[1]
	if v.Supplier != "v" || v.Forwarded != 4 || v.Answered != 3 || v.OverContract != 3 || v.StillOpen != 3 ||
		v.MedianFirstAnswer == nil || *v.MedianFirstAnswer != hour {
		t.Errorf("v: %+v (median %v), want 4 forwarded, 3 answered, median 1h, 3 over contract, 3 still open", v, v.MedianFirstAnswer)
	}
	if w.Supplier != "w" || w.Forwarded != 1 || w.Answered != 0 || w.OverContract != 0 || w.StillOpen != 1 || w.MedianFirstAnswer != nil {
		t.Errorf("w: %+v", w)
	}
	// Bryne only: the Sandnes forward leaves v's figures.
	got, err = SupplierCounts(ctx, st.pool, now.Add(-30*24*hour), now, []string{"bryne"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Forwarded != 3 || got[0].OverContract != 2 {
		t.Errorf("v for Bryne: %+v", got[0])
	}
	// Waiting on suppliers: the silent ones, overdue first.
	waits, err := WaitingOnSuppliers(ctx, st.pool, nil, 10, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(waits) != 3 || waits[0].Forward.Supplier != "v" || waits[len(waits)-1].Forward.Supplier != "w" {
		t.Errorf("waiting: %d, first %v", len(waits), waits)
	}
}
