package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Mailbox leases: which instance watches which mailbox (table
// mailbox_leases). The holder renews its leases every LeaseRenewEvery for
// LeaseTTL; a lease not renewed in time is free for any instance. Every
// time is the database's clock, so instances need not agree on theirs.
const (
	LeaseRenewEvery = 2 * time.Second
	LeaseTTL        = 10 * time.Second
)

// LeaseInstance is a live instance and how many mailboxes it holds.
type LeaseInstance struct {
	ID   string
	Held int
}

// RenewLeases records that instance lives and extends every lease it
// holds by ttl, in one round trip. It returns the mailboxes it still
// holds: a lease that expired and was taken by another instance is not
// among them.
func (s *Store) RenewLeases(ctx context.Context, instance string, ttl time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH beat AS (
			INSERT INTO instances (id, leases_renewed_at) VALUES ($1, now())
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), leases_renewed_at = now())
		UPDATE mailbox_leases SET expires_at = now() + $2::interval
		-- locked in mailbox order, as TakeLeases does: a renewal racing a
		-- takeover of the same expired leases waits instead of deadlocking
		WHERE mailbox IN (SELECT mailbox FROM mailbox_leases WHERE instance = $1 ORDER BY mailbox FOR UPDATE)
		  AND instance = $1
		RETURNING mailbox`, instance, ttl)
	if err != nil {
		return nil, fmt.Errorf("renewing the mailbox leases of %s: %w", instance, err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("renewing the mailbox leases of %s: %w", instance, err)
	}
	return held, nil
}

// LiveInstances lists the instances sharing mailboxes, those that renewed
// their leases within the last within, each with the number of unexpired
// leases it holds.
func (s *Store) LiveInstances(ctx context.Context, within time.Duration) ([]LeaseInstance, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.id, count(l.mailbox)
		FROM instances i LEFT JOIN mailbox_leases l ON l.instance = i.id AND l.expires_at > now()
		WHERE i.leases_renewed_at > now() - $1::interval
		GROUP BY i.id ORDER BY i.id`, within)
	if err != nil {
		return nil, fmt.Errorf("listing live instances: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LeaseInstance, error) {
		var li LeaseInstance
		err := r.Scan(&li.ID, &li.Held)
		return li, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing live instances: %w", err)
	}
	return list, nil
}

// TakenLease is a lease an instance just took; From is the instance whose
// expired lease it replaced ("" when the mailbox had none).
type TakenLease struct {
	Mailbox string
	From    string
}

// TakeLeases takes up to n of the mailboxes among candidates that have no
// lease or an expired one, chosen at random (so that the mailboxes of a
// dead instance spread over the survivors). A mailbox another instance
// took meanwhile is skipped: the conflict is decided on the row, so two
// instances never both get one.
func (s *Store) TakeLeases(ctx context.Context, instance string, candidates []string, n int, ttl time.Duration) ([]TakenLease, error) {
	if n <= 0 || len(candidates) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `WITH cand AS (
			SELECT m.mailbox, coalesce(l.instance, '') AS prev
			FROM unnest($2::text[]) AS m(mailbox)
			LEFT JOIN mailbox_leases l ON l.mailbox = m.mailbox
			WHERE l.mailbox IS NULL OR l.expires_at <= now()
			ORDER BY random() LIMIT $3),
		taken AS (
			INSERT INTO mailbox_leases (mailbox, instance, expires_at)
			-- Rows in one order for every instance: instances taking
			-- the same mailboxes at once then wait, never deadlock.
			SELECT mailbox, $1, now() + $4::interval FROM cand ORDER BY mailbox
			ON CONFLICT (mailbox) DO UPDATE
				SET instance = excluded.instance, since = now(), expires_at = excluded.expires_at
				WHERE mailbox_leases.expires_at <= now()
			RETURNING mailbox)
		SELECT taken.mailbox, cand.prev FROM taken JOIN cand USING (mailbox) ORDER BY taken.mailbox`,
		instance, candidates, n, ttl)
	if err != nil {
		return nil, fmt.Errorf("taking mailbox leases: %w", err)
	}
	taken, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TakenLease, error) {
		var tl TakenLease
		err := r.Scan(&tl.Mailbox, &tl.From)
		return tl, err
	})
	if err != nil {
		return nil, fmt.Errorf("taking mailbox leases: %w", err)
	}
	return taken, nil
}

// ReleaseLeases gives up instance's leases of mailboxes, so another
// instance can take them at once; with mailboxes nil it gives up all and
// stops counting as sharing the mailboxes. The caller has stopped
// watching them first.
func (s *Store) ReleaseLeases(ctx context.Context, instance string, mailboxes []string) error {
	var err error
	if mailboxes == nil {
		_, err = s.pool.Exec(ctx, `WITH out AS (UPDATE instances SET leases_renewed_at = NULL WHERE id = $1)
			DELETE FROM mailbox_leases WHERE instance = $1`, instance)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM mailbox_leases WHERE instance = $1 AND mailbox = ANY($2)`, instance, mailboxes)
	}
	if err != nil {
		return fmt.Errorf("releasing mailbox leases of %s: %w", instance, err)
	}
	return nil
}

// MailboxLease is one row of the lease table as `casemail status` shows it.
type MailboxLease struct {
	Mailbox   string
	Instance  string
	Since     time.Time
	ExpiresAt time.Time
	Expired   bool // the holder did not renew in time: any instance may take it
}

// InstanceInfo is a registered instance as `casemail status` shows it.
type InstanceInfo struct {
	ID          string
	StartedAt   time.Time
	HeartbeatAt time.Time
	Live        bool // heartbeat within LeaseTTL
}

// LeaseStatus returns every registered instance and every mailbox lease.
func (s *Store) LeaseStatus(ctx context.Context) ([]InstanceInfo, []MailboxLease, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, heartbeat_at, heartbeat_at > now() - $1::interval
		FROM instances ORDER BY started_at, id`, LeaseTTL)
	if err != nil {
		return nil, nil, fmt.Errorf("listing instances: %w", err)
	}
	insts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InstanceInfo, error) {
		var i InstanceInfo
		err := r.Scan(&i.ID, &i.StartedAt, &i.HeartbeatAt, &i.Live)
		return i, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing instances: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT mailbox, instance, since, expires_at, expires_at <= now()
		FROM mailbox_leases ORDER BY mailbox`)
	if err != nil {
		return nil, nil, fmt.Errorf("listing mailbox leases: %w", err)
	}
	leases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MailboxLease, error) {
		var l MailboxLease
		err := r.Scan(&l.Mailbox, &l.Instance, &l.Since, &l.ExpiresAt, &l.Expired)
		return l, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing mailbox leases: %w", err)
	}
	return insts, leases, nil
}
