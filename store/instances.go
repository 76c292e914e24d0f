package store

import (
	"context"
	"fmt"
	"time"
)

// HeartbeatEvery is how often a running instance records that it lives;
// one silent for instanceTimeout is taken for dead.
const (
	HeartbeatEvery  = 5 * time.Second
	instanceTimeout = 4 * HeartbeatEvery
)

// Heartbeat records that the instance lives (registering it when new).
// Work it claimed (outbox rows) stays its own while it beats.
func (s *Store) Heartbeat(ctx context.Context, instance string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO instances (id) VALUES ($1)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, instance)
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", instance, err)
	}
	return nil
}

// Retire removes a stopping instance, so that what it claimed and did not
// finish is free at once; it also forgets instances dead for a day.
func (s *Store) Retire(ctx context.Context, instance string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM instances WHERE id = $1 OR heartbeat_at < now() - interval '1 day'`, instance)
	return err
}

// ClaimAlert records that the alert key is being sent; false when it was
// already (by this or another instance).
func ClaimAlert(ctx context.Context, q Querier, key string) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO alerts_sent (key) VALUES ($1) ON CONFLICT DO NOTHING`, key)
	if err != nil {
		return false, fmt.Errorf("recording alert: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
