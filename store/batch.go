package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is what a write needs: a pool, a transaction, or a Batch that
// queues it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Batch queues writes and sends them in one round trip (pgx pipelining),
// which is what lets intake commit mail faster than one round trip per
// statement allows. Events and participants queued on it are written with
// one multi-row INSERT each. Its Exec never fails: errors surface at Send,
// and then the whole transaction fails with them. What is queued is not
// visible to reads before Send.
type Batch struct {
	b            pgx.Batch
	events       eventRows
	participants participantRows
}

type eventRows struct {
	caseID              []int64
	at                  []time.Time
	actor, kind, reason []string
	data                [][]byte
}

type participantRows struct {
	caseID                        []int64
	address, name, kind, personID []string
}

// Exec queues a statement.
func (b *Batch) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// Len is the number of queued statements.
func (b *Batch) Len() int { return b.b.Len() + len(b.events.caseID) + len(b.participants.caseID) }

// Send runs the queued statements in tx and empties the batch.
func (b *Batch) Send(ctx context.Context, tx Querier) error {
	if p := b.participants; len(p.caseID) > 0 {
		b.b.Queue(`INSERT INTO participants (case_id, address, name, kind, person_id)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
			ON CONFLICT (case_id, address) DO NOTHING`, p.caseID, p.address, p.name, p.kind, p.personID)
		b.participants = participantRows{}
	}
	if e := b.events; len(e.caseID) > 0 {
		b.b.Queue(`INSERT INTO events (case_id, at, actor, kind, reason, data)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[])`,
			e.caseID, e.at, e.actor, e.kind, e.reason, e.data)
		b.events = eventRows{}
	}
	n := b.b.Len()
	if n == 0 {
		return nil
	}
	batch := b.b
	b.b = pgx.Batch{}
	res := tx.SendBatch(ctx, &batch)
	for i := 0; i < n; i++ {
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("queued write %d of %d: %w", i+1, n, err)
		}
	}
	return res.Close()
}
