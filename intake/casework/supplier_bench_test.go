package casework

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkSupplierCheck is the supplier check over 200,000 cases waiting
// on the supplier of which 0, 100 or 1,000 are past their response time
// (each gets a reminder: rendered, queued, recorded). Its cost follows the
// due forwards, not the waiting ones: the check reads the partial index on
// supplier_forwards.next_check_at.
//
//	go test ./intake/casework -run '^$' -bench BenchmarkSupplierCheck -benchtime 5x
func BenchmarkSupplierCheck(b *testing.B) {
	e := newSchedEnv(b)
	e.rules = supplierRules(b)
	ctx := context.Background()
	base := e.at(2026, 3, 9, 8, 0)
	far := e.at(2030, 1, 1, 8, 0)
	const waiting = 200_000
	start := time.Now()
	if _, err := e.st.DB().Exec(ctx, `INSERT INTO cases (status, subject, requester, mailbox, language, priority,
			service, unit, work_area, tier, rung, role, supplier, assignee, created_at, updated_at)
		SELECT 'waiting', 'Case ' || g, 'user' || g || '@bryne.example.no', 'helpdesk', 'nb', 'normal',
			'qm-handbook', 'bryne', 'schools', '2', 2, 'coordinator', 'qm-vendor', 'per', $1, $1
		FROM generate_series(1, $2) g`, base, waiting); err != nil {
		b.Fatal(err)
	}
	if _, err := e.st.DB().Exec(ctx, `INSERT INTO supplier_forwards (case_id, supplier, contract, address,
			forwarded_at, response_due, next_check_at, pauses_sla)
		SELECT id, 'qm-vendor', 'qm-standard', 'support@vendor.example', $1, $2, $2, true FROM cases`, base, far); err != nil {
		b.Fatal(err)
	}
	if _, err := e.st.DB().Exec(ctx, `ANALYZE cases; ANALYZE supplier_forwards`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d cases waiting on the supplier inserted in %s", waiting, time.Since(start).Round(time.Millisecond))
	now := e.at(2026, 3, 9, 14, 0)
	dueAt := e.at(2026, 3, 9, 12, 0)
	for _, due := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("waiting=%d/due=%d", waiting, due), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if _, err := e.st.DB().Exec(ctx, `TRUNCATE outbox, sent_message_ids`); err != nil {
					b.Fatal(err)
				}
				if _, err := e.st.DB().Exec(ctx, `UPDATE supplier_forwards SET reminders = 0, next_check_at = $1
					WHERE case_id <= $2`, dueAt, due); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var st SupplierStats
				err := e.st.InTx(ctx, func(tx pgx.Tx) error {
					var err error
					st, err = e.desk.CheckSuppliers(ctx, tx, e.rules, now)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if st.Reminders != due || st.Failed != 0 {
					b.Fatalf("stats %+v, want %d reminders", st, due)
				}
			}
		})
	}
}
