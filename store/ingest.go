package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cursor returns the last committed IMAP position of a mailbox.
func (s *Store) Cursor(ctx context.Context, mailbox string) (uidValidity, lastUID uint32, ok bool, err error) {
	var v, u int64
	err = s.pool.QueryRow(ctx, `SELECT uidvalidity, last_uid FROM imap_cursors WHERE mailbox = $1`,
		mailbox).Scan(&v, &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("reading cursor of %s: %w", mailbox, err)
	}
	return uint32(v), uint32(u), true, nil
}

// AdvanceCursor moves a mailbox's cursor to uid within uidValidity. It never
// moves backwards within one UIDVALIDITY; a new UIDVALIDITY starts afresh.
func AdvanceCursor(ctx context.Context, q Execer, mailbox string, uidValidity, uid uint32) error {
	_, err := q.Exec(ctx, `INSERT INTO imap_cursors (mailbox, uidvalidity, last_uid, updated_at)
		VALUES ($1, $2, $3, now())
		ON CONFLICT (mailbox) DO UPDATE SET
			last_uid = CASE WHEN imap_cursors.uidvalidity = EXCLUDED.uidvalidity
				THEN GREATEST(imap_cursors.last_uid, EXCLUDED.last_uid) ELSE EXCLUDED.last_uid END,
			uidvalidity = EXCLUDED.uidvalidity, updated_at = now()`,
		mailbox, int64(uidValidity), int64(uid))
	if err != nil {
		return fmt.Errorf("advancing cursor of %s: %w", mailbox, err)
	}
	return nil
}

// ClaimUID records that (mailbox, uidValidity, uid) is being handled in this
// transaction. It returns false when it was handled before: a second daemon
// on the same mailbox waits here until the first commits, then skips.
func ClaimUID(ctx context.Context, q Querier, mailbox string, uidValidity, uid uint32) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO ingested (mailbox, uidvalidity, uid, outcome)
		VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING`, mailbox, int64(uidValidity), int64(uid))
	if err != nil {
		return false, fmt.Errorf("claiming uid %d of %s: %w", uid, mailbox, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Inbound is a stored incoming mail found by FindInbound.
type Inbound struct {
	CaseID, MessageRow int64
	Found              bool
}

// ClaimAndFind is ClaimUID and FindInbound in one round trip: the claim
// first (it waits for another daemon holding the same UID), then the
// search for the same mail stored from another mailbox.
func ClaimAndFind(ctx context.Context, tx Querier, mailbox string, uidValidity, uid uint32, messageID string, contentHash []byte) (fresh bool, in Inbound, err error) {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO ingested (mailbox, uidvalidity, uid, outcome)
		VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING`, mailbox, int64(uidValidity), int64(uid))
	b.Queue(`SELECT case_id, id FROM messages WHERE direction = 'in' AND message_id = $1 AND message_id <> ''
		AND content_hash = $2`, messageID, contentHash)
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	tag, err := res.Exec()
	if err != nil {
		return false, Inbound{}, fmt.Errorf("claiming uid %d of %s: %w", uid, mailbox, err)
	}
	err = res.QueryRow().Scan(&in.CaseID, &in.MessageRow)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, Inbound{}, fmt.Errorf("looking for uid %d of %s stored before: %w", uid, mailbox, err)
	default:
		in.Found = true
	}
	return tag.RowsAffected() == 1, in, res.Close()
}

// Claim names one mail for ClaimAndFindMany.
type Claim struct {
	Mailbox          string
	UIDValidity, UID uint32
	MessageID        string
	ContentHash      []byte
}

// Claimed is what ClaimAndFindMany found for one mail.
type Claimed struct {
	Fresh bool
	Dup   Inbound
}

// ClaimAndFindMany is ClaimAndFind for several mails in one round trip:
// the claims in the order given (so that two instances claiming the same
// mails wait for each other instead of deadlocking), then the search for
// each mail stored before. Mails sharing a Message-ID must not be given
// together: the search does not see the others' writes.
func ClaimAndFindMany(ctx context.Context, tx Querier, cs []Claim) ([]Claimed, error) {
	mailboxes := make([]string, len(cs))
	validities := make([]int64, len(cs))
	uids := make([]int64, len(cs))
	ids := make([]string, len(cs))
	hashes := make([][]byte, len(cs))
	for i, c := range cs {
		mailboxes[i], validities[i], uids[i] = c.Mailbox, int64(c.UIDValidity), int64(c.UID)
		ids[i], hashes[i] = c.MessageID, c.ContentHash
	}
	out := make([]Claimed, len(cs))
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO ingested (mailbox, uidvalidity, uid, outcome)
		SELECT mailbox, uidvalidity, uid, 'pending'
		FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS c(mailbox, uidvalidity, uid, n)
		ORDER BY n
		ON CONFLICT DO NOTHING RETURNING mailbox, uidvalidity, uid`, mailboxes, validities, uids)
	// One probe of the identity index a mail (LATERAL … LIMIT 1 keeps it
	// so): a join the planner may choose instead, as it does while the
	// table is small, scans every incoming message once the table has
	// grown, and a prepared statement keeps its first plan until the
	// table is analyzed again.
	b.Queue(`SELECT c.n, m.case_id, m.id
		FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS c(message_id, hash, n)
		CROSS JOIN LATERAL (SELECT case_id, id FROM messages m WHERE m.direction = 'in'
			AND m.message_id = c.message_id AND m.message_id <> '' AND m.content_hash = c.hash LIMIT 1) m`, ids, hashes)
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	type key struct {
		mailbox string
		v, uid  int64
	}
	index := make(map[key]int, len(cs))
	for i := range cs {
		index[key{mailboxes[i], validities[i], uids[i]}] = i
	}
	rows, err := res.Query()
	if err != nil {
		return nil, fmt.Errorf("claiming %d mails: %w", len(cs), err)
	}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.mailbox, &k.v, &k.uid); err != nil {
			rows.Close()
			return nil, err
		}
		out[index[k]].Fresh = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming %d mails: %w", len(cs), err)
	}
	rows, err = res.Query()
	if err != nil {
		return nil, fmt.Errorf("looking for %d mails stored before: %w", len(cs), err)
	}
	for rows.Next() {
		var n, caseID, row int64
		if err := rows.Scan(&n, &caseID, &row); err != nil {
			rows.Close()
			return nil, err
		}
		out[n-1].Dup = Inbound{CaseID: caseID, MessageRow: row, Found: true}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("looking for %d mails stored before: %w", len(cs), err)
	}
	return out, res.Close()
}

// SetOutcome records what a claimed UID became.
func SetOutcome(ctx context.Context, q Execer, mailbox string, uidValidity, uid uint32, outcome string, msgRow, quarantineID int64) error {
	_, err := q.Exec(ctx, `UPDATE ingested SET outcome = $4, message_row = NULLIF($5, 0), quarantine_id = NULLIF($6, 0)
		WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3`,
		mailbox, int64(uidValidity), int64(uid), outcome, msgRow, quarantineID)
	return err
}

// QuarantineRecord is a mail that could not be processed.
type QuarantineRecord struct {
	ID          int64
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	Reason      string
	Raw         []byte
	CreatedAt   time.Time
	RetriedAt   *time.Time
	ResolvedAt  *time.Time
}

// Quarantine keeps a raw mail with the reason it could not be processed.
func Quarantine(ctx context.Context, q Querier, mailbox string, uidValidity, uid uint32, reason string, raw []byte) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO quarantine (mailbox, uidvalidity, uid, reason, raw)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, mailbox, int64(uidValidity), int64(uid), cleanText(reason), raw).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("quarantining uid %d of %s: %w", uid, mailbox, err)
	}
	return id, nil
}

// ListQuarantine lists quarantined mail, newest first, without raw bodies.
func (s *Store) ListQuarantine(ctx context.Context, all bool) ([]QuarantineRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, mailbox, uidvalidity, uid, reason, created_at, retried_at, resolved_at
		FROM quarantine WHERE $1 OR resolved_at IS NULL ORDER BY id DESC`, all)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (QuarantineRecord, error) {
		var q QuarantineRecord
		var v, u int64
		err := r.Scan(&q.ID, &q.Mailbox, &v, &u, &q.Reason, &q.CreatedAt, &q.RetriedAt, &q.ResolvedAt)
		q.UIDValidity, q.UID = uint32(v), uint32(u)
		return q, err
	})
}

// GetQuarantine returns one quarantined mail with its raw bytes.
func (s *Store) GetQuarantine(ctx context.Context, id int64) (*QuarantineRecord, error) {
	var q QuarantineRecord
	var v, u int64
	err := s.pool.QueryRow(ctx, `SELECT id, mailbox, uidvalidity, uid, reason, raw, created_at, retried_at, resolved_at
		FROM quarantine WHERE id = $1`, id).Scan(&q.ID, &q.Mailbox, &v, &u, &q.Reason, &q.Raw, &q.CreatedAt,
		&q.RetriedAt, &q.ResolvedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	q.UIDValidity, q.UID = uint32(v), uint32(u)
	return &q, err
}

// ResolveQuarantine marks a quarantined mail as processed after a retry.
func ResolveQuarantine(ctx context.Context, q Querier, id int64, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE quarantine SET retried_at = $2, resolved_at = $2 WHERE id = $1`, id, at)
	return err
}

// RetryFailed notes a retry that failed again.
func (s *Store) RetryFailed(ctx context.Context, id int64, reason string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE quarantine SET retried_at = $2, reason = $3 WHERE id = $1`, id, at, cleanText(reason))
	return err
}

// Unmarked lists the UIDs of a mailbox that were committed but not yet
// flagged or moved on the IMAP server.
func (s *Store) Unmarked(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid FROM ingested WHERE mailbox = $1 AND uidvalidity = $2
		AND NOT marked AND outcome <> 'pending' ORDER BY uid LIMIT 10000`, mailbox, int64(uidValidity))
	if err != nil {
		return nil, fmt.Errorf("listing unmarked mail of %s: %w", mailbox, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint32, error) {
		var u int64
		err := r.Scan(&u)
		return uint32(u), err
	})
}

// SetMarked records that UIDs were flagged or moved on the server.
func (s *Store) SetMarked(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error {
	list := make([]int64, len(uids))
	for i, u := range uids {
		list[i] = int64(u)
	}
	_, err := s.pool.Exec(ctx, `UPDATE ingested SET marked = true WHERE mailbox = $1 AND uidvalidity = $2
		AND uid = ANY($3) AND NOT marked`, mailbox, int64(uidValidity), list)
	if err != nil {
		return fmt.Errorf("recording marked mail of %s: %w", mailbox, err)
	}
	return nil
}
