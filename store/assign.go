package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Assigner picks one person among a role's holders, with its state in the
// database so that it is fair across instances and restarts. Use it inside
// the transaction that creates the case, so a rolled-back case does not
// advance the rotation.
type Assigner struct {
	Q Querier
	// Apart, when set, turns a round robin in a statement of its own on
	// this pool (Store.Apart gives the right one) instead of in Q. Q then
	// holds no lock on the rotation, so transactions that open cases at
	// the same time do not queue behind each other for it. The price: a
	// case rolled back afterwards has still used its turn.
	Apart *pgxpool.Pool
}

// rotateSQL advances a round robin and returns the new position.
const rotateSQL = `INSERT INTO assignment_state (key, position) VALUES ($1, 0)
	ON CONFLICT (key) DO UPDATE SET position = assignment_state.position + 1
	RETURNING position`

// apartWait bounds how long a turn taken apart waits for the rotation's
// row. The caller's transaction may hold a lock that the row's holder is
// waiting for, a cycle PostgreSQL cannot see (it runs through the client):
// the timeout breaks it, the caller's transaction fails and is retried.
const apartWait = 2 * time.Second

// Pick returns one of candidates by strategy: round_robin (the default) or
// least_open. key names the pool of holders, e.g. a role and a unit.
func (a Assigner) Pick(ctx context.Context, key, strategy string, candidates []string) (string, error) {
	switch len(candidates) {
	case 0:
		return "", nil
	case 1:
		return candidates[0], nil
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	switch strategy {
	case "least_open":
		return a.leastOpen(ctx, sorted)
	case "round_robin", "", "first":
		pos, err := a.rotate(ctx, "rr:"+key)
		if err != nil {
			return "", fmt.Errorf("round robin for %s: %w", key, err)
		}
		return sorted[pos%int64(len(sorted))], nil
	default:
		return "", fmt.Errorf("unknown assignment strategy %q", strategy)
	}
}

// rotate advances the round robin of key, in Q or apart.
func (a Assigner) rotate(ctx context.Context, key string) (int64, error) {
	var q Querier = a.Q
	if a.Apart != nil {
		// One autocommitted statement on the side pool (see Open for its
		// settings); the context also bounds the wait for a connection.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*apartWait)
		defer cancel()
		q = a.Apart
	}
	var pos int64
	err := q.QueryRow(ctx, rotateSQL, key).Scan(&pos)
	return pos, err
}

// leastOpen picks the holder with the fewest cases not yet resolved; ties go
// to the first by id so the choice is stable.
func (a Assigner) leastOpen(ctx context.Context, sorted []string) (string, error) {
	rows, err := a.Q.Query(ctx, `SELECT assignee, count(*) FROM cases
		WHERE assignee = ANY($1) AND status IN ('new', 'open', 'waiting') GROUP BY assignee`, sorted)
	if err != nil {
		return "", fmt.Errorf("counting open cases: %w", err)
	}
	defer rows.Close()
	open := map[string]int64{}
	for rows.Next() {
		var who string
		var n int64
		if err := rows.Scan(&who, &n); err != nil {
			return "", err
		}
		open[who] = n
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	best := sorted[0]
	for _, c := range sorted[1:] {
		if open[c] < open[best] {
			best = c
		}
	}
	return best, nil
}
