package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// CaseFilter selects cases for `casemail cases`; empty fields select all.
type CaseFilter struct {
	Open      bool   // new, open and waiting only
	Status    Status // this status only
	Assignee  string // person id
	Service   string // service id
	Unit      string // unit id
	Requester string // part of the requester's address or name, any case
	// Text is a full-text search (websearch syntax: words, "a phrase",
	// -not, or) over the subject and every message's new text.
	Text  string
	Limit int // at most this many (0: 1000)
}

// ListCases returns the cases f selects, newest first.
func (s *Store) ListCases(ctx context.Context, f CaseFilter) ([]*Case, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	return listCases(ctx, s.pool, `SELECT `+caseColumns+` FROM cases
		WHERE (NOT $1 OR status IN ('new', 'open', 'waiting'))
		  AND ($2 = '' OR status = $2) AND ($3 = '' OR assignee = $3) AND ($4 = '' OR service = $4)
		  AND ($5 = '' OR unit = $5)
		  AND ($6 = '' OR strpos(lower(requester || ' ' || requester_name), lower($6)) > 0)
		  AND ($7 = '' OR to_tsvector('simple', subject) @@ websearch_to_tsquery('simple', $7)
		       OR id IN (SELECT case_id FROM messages
		                 WHERE to_tsvector('simple', subject || ' ' || new_text) @@ websearch_to_tsquery('simple', $7)))
		ORDER BY number DESC LIMIT $8`,
		f.Open, string(f.Status), f.Assignee, f.Service, f.Unit, f.Requester, f.Text, f.Limit)
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
