package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HistoryMessage is a stored message of a case's history, with what it
// takes to pass its attachments on.
type HistoryMessage struct {
	ThreadMessage
	Kind Party
	At   time.Time
}

// CaseHistory returns a case's messages newest first, at most limit of
// them (0: all), with their attachments, and how many there are in all.
// Bounces and other automatic mail are left out: they are not the
// conversation.
func CaseHistory(ctx context.Context, q Querier, caseID int64, limit int) ([]HistoryMessage, int, error) {
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM messages WHERE case_id = $1 AND direction = 'in'
		AND kind NOT IN ('bounce', 'automatic')`, caseID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting the messages of case %d: %w", caseID, err)
	}
	if limit <= 0 {
		limit = total
	}
	rows, err := q.Query(ctx, `SELECT id, message_id, kind, from_addr, from_name, text_body, new_text, created_at
		FROM messages WHERE case_id = $1 AND direction = 'in' AND kind NOT IN ('bounce', 'automatic')
		ORDER BY id DESC LIMIT $2`, caseID, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the history of case %d: %w", caseID, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryMessage, error) {
		var m HistoryMessage
		err := r.Scan(&m.ID, &m.MessageID, &m.Kind, &m.From, &m.FromName, &m.Text, &m.NewText, &m.At)
		return m, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the history of case %d: %w", caseID, err)
	}
	if len(msgs) == 0 {
		return nil, total, nil
	}
	ids := make([]int64, len(msgs))
	at := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		ids[i], at[m.ID] = m.ID, i
	}
	rows, err = q.Query(ctx, `SELECT message_id, filename, content_type, size, sha256, inline FROM attachments
		WHERE message_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("listing attachments of case %d: %w", caseID, err)
	}
	var id int64
	var a StoredAttachment
	_, err = pgx.ForEachRow(rows, []any{&id, &a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.Inline}, func() error {
		m := &msgs[at[id]]
		m.Attachments = append(m.Attachments, a)
		a = StoredAttachment{}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("listing attachments of case %d: %w", caseID, err)
	}
	return msgs, total, nil
}
