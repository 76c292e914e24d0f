package casework

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkSLACheck is the SLA pass over 1,000,000 open cases of which
// 0, 100 or 1,000 are due (each due one gets a warning mail: rendered,
// queued, recorded). Its cost follows the due cases, not the open ones:
// the pass reads the partial index on cases.sla_next_at.
//
//	go test ./intake/casework -run '^$' -bench BenchmarkSLACheck -benchtime 5x
func BenchmarkSLACheck(b *testing.B) {
	e := newSchedEnv(b)
	ctx := context.Background()
	base := e.at(2026, 3, 9, 8, 0)
	far := e.at(2030, 1, 1, 8, 0)
	const open = 1_000_000
	start := time.Now()
	// One statement: a million open qm-handbook cases on rung 1 (anna),
	// SLA armed, every warning far ahead.
	if _, err := e.st.DB().Exec(ctx, `INSERT INTO cases (status, subject, requester, mailbox, language, priority,
			service, unit, work_area, tier, rung, role, assignee, created_at, updated_at,
			first_response_due, resolution_due, first_response_warn, resolution_warn, sla_armed)
		SELECT 'open', 'Case ' || g, 'user' || g || '@bryne.example.no', 'helpdesk', 'nb', 'normal',
			'qm-handbook', 'bryne', 'schools', '1', 1, 'superuser', 'anna', $1, $1, $2, $2, $2, $2, true
		FROM generate_series(1, $3) g`, base, far, open); err != nil {
		b.Fatal(err)
	}
	if _, err := e.st.DB().Exec(ctx, `ANALYZE cases`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d open cases inserted in %s", open, time.Since(start).Round(time.Millisecond))
	now := e.at(2026, 3, 9, 10, 0)
	warnAt := e.at(2026, 3, 9, 9, 0)
	for _, due := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("open=%d/due=%d", open, due), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Make the first `due` cases due for a warning again.
				if _, err := e.st.DB().Exec(ctx, `TRUNCATE sla_notices, outbox, sent_message_ids`); err != nil {
					b.Fatal(err)
				}
				if _, err := e.st.DB().Exec(ctx, `UPDATE cases SET first_response_warn = $1 WHERE id <= $2`, warnAt, due); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var st SLAStats
				err := e.st.InTx(ctx, func(tx pgx.Tx) error {
					var err error
					st, err = e.desk.CheckSLA(ctx, tx, e.rules, now)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if st.Warnings != due || st.Failed != 0 {
					b.Fatalf("stats %+v, want %d warnings", st, due)
				}
			}
		})
	}
}
