package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListCases returns cases newest first; open limits them to new, open and
// waiting ones.
func (s *Store) ListCases(ctx context.Context, open bool, limit int) ([]*Case, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE NOT $1 OR status IN ('new', 'open', 'waiting') ORDER BY number DESC LIMIT $2`, open, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Message is a stored message as shown by `casemail case N`.
type Message struct {
	ID          int64        `json:"id"`
	Direction   string       `json:"direction"`
	Kind        Party        `json:"kind"`
	MessageID   string       `json:"message_id"`
	From        string       `json:"from"`
	FromName    string       `json:"from_name"`
	To          []string     `json:"to"`
	Cc          []string     `json:"cc"`
	Subject     string       `json:"subject"`
	Text        string       `json:"text"`
	NewText     string       `json:"new_text"`
	CreatedAt   time.Time    `json:"created_at"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is an attachment's listing.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Kept        bool   `json:"kept"`
}

// Event is one entry of a case's audit trail.
type Event struct {
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Kind   string          `json:"kind"`
	Reason string          `json:"reason"`
	Data   json.RawMessage `json:"data"`
}

// Messages lists a case's messages in order, with their attachments.
func Messages(ctx context.Context, q Querier, caseID int64) ([]Message, error) {
	rows, err := q.Query(ctx, `SELECT id, direction, kind, message_id, from_addr, from_name, to_addrs, cc_addrs,
		subject, text_body, new_text, created_at FROM messages WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, err
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		err := r.Scan(&m.ID, &m.Direction, &m.Kind, &m.MessageID, &m.From, &m.FromName, &m.To, &m.Cc,
			&m.Subject, &m.Text, &m.NewText, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		rows, err := q.Query(ctx, `SELECT filename, content_type, size, sha256 IS NOT NULL FROM attachments
			WHERE message_id = $1 ORDER BY id`, msgs[i].ID)
		if err != nil {
			return nil, err
		}
		msgs[i].Attachments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attachment, error) {
			var a Attachment
			err := r.Scan(&a.Filename, &a.ContentType, &a.Size, &a.Kept)
			return a, err
		})
		if err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// Events lists a case's audit trail in order.
func Events(ctx context.Context, q Querier, caseID int64) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT at, actor, kind, reason, data FROM events WHERE case_id = $1 ORDER BY id`, caseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.At, &e.Actor, &e.Kind, &e.Reason, &e.Data)
		return e, err
	})
}

// ReplayCase is a case with the raw mail that opened it.
type ReplayCase struct {
	Case *Case
	Raw  []byte
}

// ReplayCases returns the cases created since a time, each with the raw
// mail of its first message, for `rules replay`.
func (s *Store) ReplayCases(ctx context.Context, since time.Time) ([]ReplayCase, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+prefixed("c.", caseColumns)+`, r.data
		FROM cases c
		JOIN LATERAL (SELECT raw_sha256 FROM messages WHERE case_id = c.id AND direction = 'in'
			ORDER BY id LIMIT 1) m ON true
		JOIN raw_mails r ON r.sha256 = m.raw_sha256
		WHERE c.created_at >= $1 ORDER BY c.number`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReplayCase
	for rows.Next() {
		var raw []byte
		c, err := scanCase(rows, &raw)
		if err != nil {
			return nil, err
		}
		out = append(out, ReplayCase{Case: c, Raw: raw})
	}
	return out, rows.Err()
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
