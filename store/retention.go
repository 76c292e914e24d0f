package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RetentionPolicy says how long data is kept; a zero period keeps that data
// for ever.
type RetentionPolicy struct {
	// ClosedCases: closed and dropped cases are deleted with everything
	// on them this long after closing (dropped cases: after their last
	// change).
	ClosedCases time.Duration
	// RawMail: raw mail is deleted this long after its message arrived;
	// resolved quarantine records by their arrival too.
	RawMail time.Duration
	// Attachments: attachment contents are deleted this long after their
	// message arrived; the attachment stays listed with name and size.
	Attachments time.Duration
}

// RetentionResult counts what one retention run removed.
type RetentionResult struct {
	Cases       int64 `json:"cases"`        // cases deleted (with their messages, events, outbox)
	RawMails    int64 `json:"raw_mails"`    // raw mails deleted
	Attachments int64 `json:"attachments"`  // attachments whose contents were dropped
	Blobs       int64 `json:"blobs"`        // attachment bodies deleted
	Quarantine  int64 `json:"quarantine"`   // resolved quarantine records deleted
	AckLog      int64 `json:"ack_log"`      // acknowledgement- and relay-limit entries pruned
	RawOrphans  int64 `json:"raw_orphans"`  // raw mails no message referred to
	BlobOrphans int64 `json:"blob_orphans"` // bodies no attachment or unsent mail referred to
}

// retentionBatch bounds each transaction of a retention run, so that a
// first run on a large database never holds locks for long.
const retentionBatch = 500

// ApplyRetention deletes what p says has expired at now. It works in small
// transactions and can be interrupted at any point: a later run continues.
// Besides the policy it prunes acknowledgement-limit entries older than a
// day (they only count the last hour) and bodies nothing refers to.
func (s *Store) ApplyRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	var r RetentionResult
	if p.ClosedCases > 0 {
		n, err := s.deleteClosedCases(ctx, now.Add(-p.ClosedCases))
		r.Cases = n
		if err != nil {
			return r, fmt.Errorf("retention: deleting closed cases: %w", err)
		}
	}
	if p.RawMail > 0 {
		n, err := s.dropRawMail(ctx, now.Add(-p.RawMail))
		r.RawMails = n
		if err != nil {
			return r, fmt.Errorf("retention: deleting raw mail: %w", err)
		}
		tag, err := s.pool.Exec(ctx, `DELETE FROM quarantine WHERE resolved_at IS NOT NULL AND created_at < $1`,
			now.Add(-p.RawMail))
		if err != nil {
			return r, fmt.Errorf("retention: deleting resolved quarantine: %w", err)
		}
		r.Quarantine = tag.RowsAffected()
	}
	if p.Attachments > 0 {
		n, b, err := s.dropAttachments(ctx, now.Add(-p.Attachments))
		r.Attachments, r.Blobs = n, b
		if err != nil {
			return r, fmt.Errorf("retention: deleting attachments: %w", err)
		}
	}
	// A mailbox's own counts (mailbox:NAME) are pruned with the rest and
	// not counted: AckLog counts entries about people.
	if err := s.pool.QueryRow(ctx, `WITH d AS (DELETE FROM ack_log WHERE at < $1 RETURNING address)
		SELECT count(*) FILTER (WHERE address NOT LIKE 'mailbox:%') FROM d`, now.Add(-24*time.Hour)).Scan(&r.AckLog); err != nil {
		return r, fmt.Errorf("retention: pruning the acknowledgement log: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM relay_log WHERE at < $1`, now.Add(-24*time.Hour))
	if err != nil {
		return r, fmt.Errorf("retention: pruning the relay log: %w", err)
	}
	r.AckLog += tag.RowsAffected()
	// Orphans: left by a mail that was being forwarded when its case
	// expired, or by an interrupted run. An hour's grace keeps this clear
	// of intake transactions that are about to refer to a row again.
	tag, err = s.pool.Exec(ctx, `DELETE FROM raw_mails r WHERE r.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.raw_sha256 = r.sha256)`, now.Add(-time.Hour))
	if err != nil {
		return r, fmt.Errorf("retention: deleting unreferenced raw mail: %w", err)
	}
	r.RawOrphans = tag.RowsAffected()
	if r.BlobOrphans, err = deleteUnusedBlobs(ctx, s.pool, nil); err != nil {
		return r, fmt.Errorf("retention: deleting unreferenced attachment bodies: %w", err)
	}
	return r, nil
}

// deleteClosedCases deletes cases closed (or dropped and unchanged) before
// cutoff, batch by batch, with the raw mail and bodies only they used.
func (s *Store) deleteClosedCases(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.InTx(ctx, func(tx pgx.Tx) error {
			// SKIP LOCKED: a case an instance is changing right now (a
			// reply reopening it) is left for the next run.
			rows, err := tx.Query(ctx, `SELECT id FROM cases
				WHERE status IN ('closed', 'dropped') AND coalesce(closed_at, updated_at) < $1
				ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, retentionBatch)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil || len(ids) == 0 {
				return err
			}
			n, err = deleteCases(ctx, tx, ids)
			return err
		})
		total += n
		if err != nil || n < retentionBatch {
			return total, err
		}
	}
}

// deleteCases deletes the cases ids with everything that cascades from
// them, and the raw mail and attachment bodies no one else uses.
func deleteCases(ctx context.Context, tx pgx.Tx, ids []int64) (int64, error) {
	raws, blobs, err := mailHashes(ctx, tx, `m.case_id = ANY($1)`, ids)
	if err != nil {
		return 0, err
	}
	// Later cases may link to these; the link goes, the later case stays.
	if _, err := tx.Exec(ctx, `UPDATE cases SET linked_case_id = NULL WHERE linked_case_id = ANY($1)`, ids); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET merged_into_id = NULL WHERE merged_into_id = ANY($1)`, ids); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM cases WHERE id = ANY($1)`, ids)
	if err != nil {
		return 0, err
	}
	if _, err := deleteUnusedRaw(ctx, tx, raws); err != nil {
		return 0, err
	}
	if _, err := deleteUnusedBlobs(ctx, tx, blobs); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// mailHashes returns the raw-mail and attachment-body hashes of the
// messages m matching where (with args as $1, $2, ...).
func mailHashes(ctx context.Context, q Querier, where string, args ...any) (raws, blobs [][]byte, err error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT m.raw_sha256 FROM messages m
		WHERE m.raw_sha256 IS NOT NULL AND `+where, args...)
	if err != nil {
		return nil, nil, err
	}
	if raws, err = pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil {
		return nil, nil, err
	}
	rows, err = q.Query(ctx, `SELECT DISTINCT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.sha256 IS NOT NULL AND `+where, args...)
	if err != nil {
		return nil, nil, err
	}
	blobs, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return raws, blobs, err
}

// deleteUnusedRaw deletes the raw mails among hashes that no message
// refers to any more.
func deleteUnusedRaw(ctx context.Context, q Querier, hashes [][]byte) (int64, error) {
	if len(hashes) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `DELETE FROM raw_mails r WHERE r.sha256 = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.raw_sha256 = r.sha256)`, hashes)
	return tag.RowsAffected(), err
}

// deleteUnusedBlobs deletes the attachment bodies among hashes (all of them
// when hashes is nil) that no attachment refers to and no unsent mail in
// the outbox will attach.
func deleteUnusedBlobs(ctx context.Context, q Querier, hashes [][]byte) (int64, error) {
	if hashes != nil && len(hashes) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `WITH unsent AS MATERIALIZED (
			SELECT DISTINCT e->>'sha256' AS hex FROM outbox o, jsonb_array_elements(o.attachments) e
			WHERE o.status <> 'sent' AND o.attachments <> '[]'::jsonb)
		DELETE FROM blobs b WHERE ($1::bytea[] IS NULL OR b.sha256 = ANY($1))
			AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = b.sha256)
			AND NOT EXISTS (SELECT 1 FROM unsent u WHERE u.hex = encode(b.sha256, 'hex'))`, hashes)
	return tag.RowsAffected(), err
}

// dropRawMail detaches the raw mail of messages that arrived before cutoff
// and deletes the raw mails nothing refers to any more.
func (s *Store) dropRawMail(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		var n int
		var deleted int64
		err := s.InTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `WITH old AS (
					SELECT id FROM messages WHERE created_at < $1 AND raw_sha256 IS NOT NULL
					ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED),
				prev AS (SELECT m.id, m.raw_sha256 FROM messages m JOIN old USING (id)),
				upd AS (UPDATE messages m SET raw_sha256 = NULL FROM prev WHERE m.id = prev.id RETURNING prev.raw_sha256)
				SELECT DISTINCT raw_sha256 FROM upd`, cutoff, retentionBatch)
			if err != nil {
				return err
			}
			hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			if err != nil {
				return err
			}
			n = len(hashes)
			deleted, err = deleteUnusedRaw(ctx, tx, hashes)
			return err
		})
		total += deleted
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// dropAttachments forgets the contents of attachments of messages that
// arrived before cutoff and deletes the bodies nothing needs any more.
func (s *Store) dropAttachments(ctx context.Context, cutoff time.Time) (attachments, blobs int64, err error) {
	for {
		var n, b int64
		err := s.InTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `WITH old AS (
					SELECT a.id, a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id
					WHERE a.sha256 IS NOT NULL AND m.created_at < $1
					LIMIT $2 FOR UPDATE OF a SKIP LOCKED),
				upd AS (UPDATE attachments a SET sha256 = NULL FROM old WHERE a.id = old.id RETURNING old.sha256)
				SELECT sha256 FROM upd`, cutoff, retentionBatch)
			if err != nil {
				return err
			}
			hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
			if err != nil {
				return err
			}
			n = int64(len(hashes))
			b, err = deleteUnusedBlobs(ctx, tx, hashes)
			return err
		})
		attachments, blobs = attachments+n, blobs+b
		if err != nil || n == 0 {
			return attachments, blobs, err
		}
	}
}
