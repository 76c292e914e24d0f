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
	_, err := s.Pool.Exec(ctx, `INSERT INTO instances (id) VALUES ($1)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, instance)
	if err != nil {
		return fmt.Errorf("heartbeat of %s: %w", instance, err)
	}
	return nil
}

// Retire removes a stopping instance, so that what it claimed and did not
// finish is free at once; it also forgets instances dead for a day.
func (s *Store) Retire(ctx context.Context, instance string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM instances WHERE id = $1 OR heartbeat_at < now() - interval '1 day'`, instance)
	return err
}
