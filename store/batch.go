package store

import (
	"context"
	"fmt"

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
// statement allows. Its Exec never fails: errors surface at Send, and then
// the whole transaction fails with them.
type Batch struct{ b pgx.Batch }

// Exec queues a statement.
func (b *Batch) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// Len is the number of queued statements.
func (b *Batch) Len() int { return b.b.Len() }

// Send runs the queued statements in tx and empties the batch.
func (b *Batch) Send(ctx context.Context, tx pgx.Tx) error {
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
