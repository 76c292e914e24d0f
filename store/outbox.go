package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutAttachment is an attachment of an outgoing mail: a reference to a
// stored blob, loaded only when the mail is sent.
type OutAttachment struct {
	SHA256      []byte
	Filename    string
	ContentType string
}

// OutMail is a mail casemail means to send, as queued in the outbox. The
// caller renders it completely (subject, bodies, headers) and fixes its
// Message-ID, so that a resend after a crash is the same mail.
type OutMail struct {
	CaseID     int64  // cases.id, 0 when the mail belongs to no case (reminder, digest)
	Kind       string // ack, assignment, reply, forward, escalation, reminder, digest, resolved, error, ...
	MessageID  string // without angle brackets; unique
	From       string // header From, "Name <addr>"; its address is also the envelope sender
	ReplyTo    string // header Reply-To, "" for none
	To, Cc     []string
	Subject    string
	Text       string   // text/plain body
	HTML       string   // optional text/html alternative
	InReplyTo  string   // Message-ID without angle brackets, "" for none
	References []string // Message-IDs without angle brackets, oldest first
	Headers    map[string]string
	// Attachments are sent from the blobs table.
	Attachments []OutAttachment
	// Recipient is the person whose token the Message-ID carries, recorded
	// in sent_message_ids. When empty and the mail has exactly one
	// recipient, that one is recorded.
	Recipient string
}

// OutboxRow is a queued mail with its delivery state.
type OutboxRow struct {
	ID int64
	OutMail
	Status        string // pending | sending | sent | failed
	Attempts      int    // claims so far, the current one included
	NextAttemptAt time.Time
	LockedUntil   *time.Time
	LastError     string
	CreatedAt     time.Time // the mail's Date
	SentAt        *time.Time
}

type attachmentJSON struct {
	SHA256      string `json:"sha256"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
}

// EnqueueMail writes one mail to the outbox inside the caller's transaction
// and returns its row id. With a CaseID it also records the Message-ID as
// sent to its recipient, so replies threading to it find the case.
func EnqueueMail(ctx context.Context, q Querier, m OutMail) (int64, error) {
	args, err := outboxArgs(&m)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := q.QueryRow(ctx, insertOutbox+` RETURNING id`, args...).Scan(&id); err != nil {
		return 0, fmt.Errorf("queueing %s mail: %w", m.Kind, err)
	}
	return id, recordSent(ctx, q, m)
}

// EnqueueMailOnce is EnqueueMail for a mail whose Message-ID says what it
// answers: when the outbox holds that Message-ID already (queued for an
// earlier delivery of the same mail, or by another instance at the same
// moment) it queues nothing and reports false.
func EnqueueMailOnce(ctx context.Context, q Querier, m OutMail) (bool, error) {
	args, err := outboxArgs(&m)
	if err != nil {
		return false, err
	}
	tag, err := q.Exec(ctx, insertOutbox+` ON CONFLICT (message_id) DO NOTHING`, args...)
	if err != nil {
		return false, fmt.Errorf("queueing %s mail: %w", m.Kind, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, recordSent(ctx, q, m)
}

// OutboxHolds reports whether the outbox holds a mail with Message-ID id.
func OutboxHolds(ctx context.Context, q Querier, id string) (bool, error) {
	var held bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE message_id = $1)`,
		strings.Trim(id, "<> ")).Scan(&held); err != nil {
		return false, fmt.Errorf("looking up mail %s in the outbox: %w", id, err)
	}
	return held, nil
}

// QueueMail is EnqueueMail for a Batch: it queues the same writes without
// waiting for the row id.
func QueueMail(ctx context.Context, e Execer, m OutMail) error {
	args, err := outboxArgs(&m)
	if err != nil {
		return err
	}
	if m.CaseID == 0 {
		if _, err := e.Exec(ctx, insertOutbox, args...); err != nil {
			return fmt.Errorf("queueing %s mail: %w", m.Kind, err)
		}
		return nil
	}
	// One statement writes the row and records the Message-ID as sent.
	args = append(args, sentRecipient(m))
	if _, err := e.Exec(ctx, `WITH o AS (`+insertOutbox+` RETURNING message_id, case_id)
		INSERT INTO sent_message_ids (message_id, case_id, recipient) SELECT message_id, case_id, lower($15) FROM o`,
		args...); err != nil {
		return fmt.Errorf("queueing %s mail: %w", m.Kind, err)
	}
	return nil
}

const insertOutbox = `INSERT INTO outbox (case_id, kind, message_id, from_header, reply_to, to_addrs, cc_addrs,
	subject, text_body, html_body, in_reply_to, refs, headers, attachments)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// outboxArgs validates m, normalises its Message-ID in place and returns
// the arguments of insertOutbox.
func outboxArgs(m *OutMail) ([]any, error) {
	m.MessageID = strings.Trim(strings.TrimSpace(m.MessageID), "<>")
	switch {
	case m.MessageID == "":
		return nil, errors.New("queueing mail: no Message-ID")
	case strings.TrimSpace(m.From) == "":
		return nil, errors.New("queueing mail: no From")
	case len(m.To)+len(m.Cc) == 0:
		return nil, errors.New("queueing mail: no recipient")
	case m.Kind == "":
		return nil, errors.New("queueing mail: no kind")
	}
	atts := make([]attachmentJSON, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		if len(a.SHA256) == 0 {
			return nil, fmt.Errorf("queueing mail: attachment %q has no blob", a.Filename)
		}
		atts = append(atts, attachmentJSON{SHA256: hex.EncodeToString(a.SHA256), Filename: a.Filename, ContentType: a.ContentType})
	}
	attJSON, err := json.Marshal(atts)
	if err != nil {
		return nil, fmt.Errorf("queueing mail: encoding attachments: %w", err)
	}
	headers := m.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	hdrJSON, err := json.Marshal(headers)
	if err != nil {
		return nil, fmt.Errorf("queueing mail: encoding headers: %w", err)
	}
	refs := make([]string, 0, len(m.References))
	for _, r := range m.References {
		if r = strings.Trim(strings.TrimSpace(r), "<>"); r != "" {
			refs = append(refs, r)
		}
	}
	var caseID *int64
	if m.CaseID != 0 {
		caseID = &m.CaseID
	}
	return []any{caseID, m.Kind, m.MessageID, m.From, m.ReplyTo, nonNil(m.To), nonNil(m.Cc),
		cleanText(m.Subject), cleanText(m.Text), cleanText(m.HTML), strings.Trim(m.InReplyTo, "<> "), refs,
		hdrJSON, attJSON}, nil
}

// recordSent notes a case mail's Message-ID as sent to its recipient.
func recordSent(ctx context.Context, e Execer, m OutMail) error {
	if m.CaseID == 0 {
		return nil
	}
	if _, err := e.Exec(ctx, `INSERT INTO sent_message_ids (message_id, case_id, recipient) VALUES ($1, $2, lower($3))`,
		m.MessageID, m.CaseID, sentRecipient(m)); err != nil {
		return fmt.Errorf("recording sent Message-ID: %w", err)
	}
	return nil
}

// sentRecipient is the address a case mail's Message-ID is recorded for.
func sentRecipient(m OutMail) string {
	recipient := m.Recipient
	if recipient == "" && len(m.To)+len(m.Cc) == 1 {
		recipient = append(append([]string{}, m.To...), m.Cc...)[0]
	}
	if a, err := mail.ParseAddress(recipient); err == nil {
		recipient = a.Address // "Name <addr>" → addr
	}
	return strings.TrimSpace(recipient)
}

// outboxColumnList is the column list scanOutbox reads; "o." qualifies
// each column for the claiming UPDATE ... FROM, where "id" alone is ambiguous.
const outboxColumnList = `o.id, coalesce(o.case_id, 0), o.kind, o.message_id, o.from_header, o.reply_to,
	o.to_addrs, o.cc_addrs, o.subject, o.text_body, o.html_body, o.in_reply_to, o.refs, o.headers,
	o.attachments, o.status, o.attempts, o.next_attempt_at, o.locked_until, o.last_error, o.created_at, o.sent_at`

func scanOutbox(row pgx.Row) (OutboxRow, error) {
	var r OutboxRow
	var hdrJSON, attJSON []byte
	err := row.Scan(&r.ID, &r.CaseID, &r.Kind, &r.MessageID, &r.From, &r.ReplyTo, &r.To, &r.Cc,
		&r.Subject, &r.Text, &r.HTML, &r.InReplyTo, &r.References, &hdrJSON, &attJSON, &r.Status, &r.Attempts,
		&r.NextAttemptAt, &r.LockedUntil, &r.LastError, &r.CreatedAt, &r.SentAt)
	if err != nil {
		return OutboxRow{}, err
	}
	if err := json.Unmarshal(hdrJSON, &r.Headers); err != nil {
		return OutboxRow{}, fmt.Errorf("outbox row %d: decoding headers: %w", r.ID, err)
	}
	var atts []attachmentJSON
	if err := json.Unmarshal(attJSON, &atts); err != nil {
		return OutboxRow{}, fmt.Errorf("outbox row %d: decoding attachments: %w", r.ID, err)
	}
	for _, a := range atts {
		sum, err := hex.DecodeString(a.SHA256)
		if err != nil {
			return OutboxRow{}, fmt.Errorf("outbox row %d: attachment %q: bad sha256: %w", r.ID, a.Filename, err)
		}
		r.Attachments = append(r.Attachments, OutAttachment{SHA256: sum, Filename: a.Filename, ContentType: a.ContentType})
	}
	return r, nil
}

// ClaimOutbox takes up to limit due mails for sending: pending ones whose
// next attempt is due, and ones left in 'sending' by an instance whose
// lease ran out (it died mid-send). Each is set to 'sending' until
// now+lease and its attempt counted. Rows another instance is claiming at
// the same moment are skipped (FOR UPDATE SKIP LOCKED), so several
// instances never claim the same row. Rows come back oldest first.
func (s *Store) ClaimOutbox(ctx context.Context, limit int, lease time.Duration, now time.Time) ([]OutboxRow, error) {
	if limit <= 0 {
		limit = 1
	}
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM outbox
			WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1
			  AND (status = 'pending' OR locked_until IS NULL OR locked_until <= $1
			       -- claimed by an instance that stopped beating: it died mid-send
			       OR (locked_by <> '' AND NOT EXISTS (SELECT 1 FROM instances i
			           WHERE i.id = outbox.locked_by AND i.heartbeat_at > now() - $4::interval)))
			ORDER BY next_attempt_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox o SET status = 'sending', locked_until = $3, locked_by = $5, attempts = o.attempts + 1
		FROM due WHERE o.id = due.id
		RETURNING `+outboxColumnList, now, limit, now.Add(lease), instanceTimeout, s.Instance)
	if err != nil {
		return nil, fmt.Errorf("claiming outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("claiming outbox: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming outbox: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttemptAt.Equal(out[j].NextAttemptAt) {
			return out[i].NextAttemptAt.Before(out[j].NextAttemptAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// MarkSent records that the SMTP server accepted the mail.
func (s *Store) MarkSent(ctx context.Context, id int64, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = $2, locked_until = NULL, last_error = ''
		WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("marking outbox row %d sent: %w", id, err)
	}
	return nil
}

// MarkRetry puts a mail back in the queue after a temporary failure, due
// again at next.
func (s *Store) MarkRetry(ctx context.Context, id int64, errText string, next time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'pending', next_attempt_at = $3, locked_until = NULL,
		last_error = $2 WHERE id = $1 AND status <> 'sent'`, id, cleanText(errText), next)
	if err != nil {
		return fmt.Errorf("rescheduling outbox row %d: %w", id, err)
	}
	return nil
}

// MarkFailed records a permanent failure: the mail is not tried again.
func (s *Store) MarkFailed(ctx context.Context, id int64, errText string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'failed', locked_until = NULL, last_error = $2
		WHERE id = $1 AND status <> 'sent'`, id, cleanText(errText))
	if err != nil {
		return fmt.Errorf("marking outbox row %d failed: %w", id, err)
	}
	return nil
}

// ReleaseOutbox hands claimed mails that were not tried back to the queue
// at once (on shutdown, or when a batch outlives its lease), without
// counting the attempt.
func (s *Store) ReleaseOutbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'pending', locked_until = NULL,
		attempts = greatest(attempts - 1, 0) WHERE id = ANY($1) AND status = 'sending'`, ids)
	if err != nil {
		return fmt.Errorf("releasing %d outbox rows: %w", len(ids), err)
	}
	return nil
}

// OutboxStats reports the mails waiting to be sent (pending or being sent)
// and how long the oldest of them has waited, for /metrics and /readyz.
func (s *Store) OutboxStats(ctx context.Context) (pending int, oldest time.Duration, err error) {
	var age *float64
	err = s.pool.QueryRow(ctx, `SELECT count(*), extract(epoch FROM now() - min(created_at))::float8
		FROM outbox WHERE status IN ('pending', 'sending')`).Scan(&pending, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("reading outbox stats: %w", err)
	}
	if age != nil && *age > 0 {
		oldest = time.Duration(*age * float64(time.Second))
	}
	return pending, oldest, nil
}

// OutboxByID returns one outbox row whatever its status.
func (s *Store) OutboxByID(ctx context.Context, id int64) (OutboxRow, error) {
	r, err := scanOutbox(s.pool.QueryRow(ctx, `SELECT `+outboxColumnList+` FROM outbox o WHERE o.id = $1`, id))
	if err != nil {
		return OutboxRow{}, fmt.Errorf("reading outbox row %d: %w", id, err)
	}
	return r, nil
}

// CaseOutbox lists a case's outgoing mails, oldest first, for `casemail case N`.
func CaseOutbox(ctx context.Context, q Querier, caseID int64) ([]OutboxRow, error) {
	rows, err := q.Query(ctx, `SELECT `+outboxColumnList+` FROM outbox o WHERE o.case_id = $1 ORDER BY o.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("listing outbox of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		r, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("listing outbox of case %d: %w", caseID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
