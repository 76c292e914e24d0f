package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// tokenKey is how a spent token is kept: its SHA-256, never the token.
func tokenKey(token string) []byte {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(token))))
	return sum[:]
}

// SpendTokens records tokens as shown to others (reason says how), so that
// they carry no command any more. Spending a token twice keeps the first.
func SpendTokens(ctx context.Context, e Execer, tokens []string, caseID int64, reason string, at time.Time) error {
	for _, t := range tokens {
		if _, err := e.Exec(ctx, `INSERT INTO spent_tokens (token_sha256, case_id, spent_at, reason)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, tokenKey(t), caseID, at, cleanText(reason)); err != nil {
			return fmt.Errorf("spending a reply token: %w", err)
		}
	}
	return nil
}

// TokenSpent reports whether a token was spent, and why.
func TokenSpent(ctx context.Context, q Querier, token string) (spent bool, reason string, err error) {
	err = q.QueryRow(ctx, `SELECT true, reason FROM spent_tokens WHERE token_sha256 = $1`, tokenKey(token)).
		Scan(&spent, &reason)
	if err != nil && isNoRows(err) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("looking up a reply token: %w", err)
	}
	return spent, reason, nil
}

// AllowRelay records a mail about a case to addr unless limit of them went
// in the hour before at (0: no limit); it reports whether it may go. The
// count takes no lock: relays of one case come from one mail at a time.
func AllowRelay(ctx context.Context, q Querier, caseID int64, addr string, limit int, at time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO relay_log (case_id, address, at) SELECT $1, $2, $3
		WHERE $4 <= 0 OR (SELECT count(*) FROM relay_log WHERE case_id = $1 AND address = $2 AND at > $5) < $4`,
		caseID, strings.ToLower(addr), at, limit, at.Add(-time.Hour))
	if err != nil {
		return false, fmt.Errorf("counting mails of case %d to %s: %w", caseID, addr, err)
	}
	return tag.RowsAffected() == 1, nil
}

// AllowAnswer records an answer by mail under key (mine:PERSON, for a
// mail to a mine address) unless limit of them went in the hour before
// at (0: no limit); it reports whether it may go. It counts in ack_log,
// pruned with the acknowledgements, and takes no lock: two instances
// racing may let one more through than limit, which it is there to
// bound, not to meter.
func AllowAnswer(ctx context.Context, q Querier, key string, limit int, at time.Time) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO ack_log (address, at) SELECT $1, $2
		WHERE $3 <= 0 OR (SELECT count(*) FROM ack_log WHERE address = $1 AND at > $4) < $3`,
		key, at, limit, at.Add(-time.Hour))
	if err != nil {
		return false, fmt.Errorf("counting answers to %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}
