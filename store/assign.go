package store

import (
	"context"
	"fmt"
	"sort"
)

// Assigner picks one person among a role's holders, with its state in the
// database so that it is fair across instances and restarts. Use it inside
// the transaction that creates the case, so a rolled-back case does not
// advance the rotation.
type Assigner struct{ Q Querier }

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
		var pos int64
		err := a.Q.QueryRow(ctx, `INSERT INTO assignment_state (key, position) VALUES ($1, 0)
			ON CONFLICT (key) DO UPDATE SET position = assignment_state.position + 1
			RETURNING position`, "rr:"+key).Scan(&pos)
		if err != nil {
			return "", fmt.Errorf("round robin for %s: %w", key, err)
		}
		return sorted[pos%int64(len(sorted))], nil
	default:
		return "", fmt.Errorf("unknown assignment strategy %q", strategy)
	}
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
