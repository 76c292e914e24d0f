package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Approval states of a case (cases.approval): "" when its service needs no
// approval.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
)

// CaseState is what a conversation needs of a case beyond Case: its
// approval, whether it was merged into another case, and until when it waits.
type CaseState struct {
	Approval   string
	MergedInto *int64 // cases.id of the case this one joined
	WaitUntil  *time.Time
}

// ConversationState reads a case's approval, merge and wait state.
func ConversationState(ctx context.Context, q Querier, caseID int64) (CaseState, error) {
	var s CaseState
	err := q.QueryRow(ctx, `SELECT approval, merged_into_id, wait_until FROM cases WHERE id = $1`, caseID).
		Scan(&s.Approval, &s.MergedInto, &s.WaitUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("reading state of case %d: %w", caseID, err)
	}
	return s, nil
}

// SetMessageKind changes how a stored message counts: an agent's reply
// that turned out internal becomes a note.
func SetMessageKind(ctx context.Context, e Execer, messageRow int64, kind Party) error {
	if _, err := e.Exec(ctx, `UPDATE messages SET kind = $2 WHERE id = $1`, messageRow, kind); err != nil {
		return fmt.Errorf("marking message %d as %s: %w", messageRow, kind, err)
	}
	return nil
}

// SetFirstResponse stamps the first public answer to the requester; later
// answers leave it as it is.
func SetFirstResponse(ctx context.Context, e Execer, caseID int64, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET first_response_at = COALESCE(first_response_at, $2), updated_at = $2
		WHERE id = $1`, caseID, at); err != nil {
		return fmt.Errorf("recording first response of case %d: %w", caseID, err)
	}
	return nil
}

// SetWaiting puts a case on hold until a time (status waiting).
func SetWaiting(ctx context.Context, e Execer, caseID int64, until, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET status = 'waiting', wait_until = $2, updated_at = $3 WHERE id = $1`,
		caseID, until, at); err != nil {
		return fmt.Errorf("setting case %d waiting: %w", caseID, err)
	}
	return nil
}

// EndWait gives a case a new status and clears its wait_until. Like
// SetCaseStatus it stamps resolved_at and closed_at.
func EndWait(ctx context.Context, e Execer, caseID int64, status Status, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET status = $2, wait_until = NULL, updated_at = $3,
		resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END,
		closed_at = CASE WHEN $2 = 'closed' THEN $3 ELSE closed_at END
		WHERE id = $1`, caseID, status, at); err != nil {
		return fmt.Errorf("setting case %d %s: %w", caseID, status, err)
	}
	return nil
}

// SetPriority changes a case's priority.
func SetPriority(ctx context.Context, e Execer, caseID int64, priority string, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET priority = $2, updated_at = $3 WHERE id = $1`,
		caseID, priority, at); err != nil {
		return fmt.Errorf("setting priority of case %d: %w", caseID, err)
	}
	return nil
}

// SetService changes a case's service; its place on the new service's
// chain is the transfer's business.
func SetService(ctx context.Context, e Execer, caseID int64, service string, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET service = $2, updated_at = $3 WHERE id = $1`,
		caseID, service, at); err != nil {
		return fmt.Errorf("setting service of case %d: %w", caseID, err)
	}
	return nil
}

// SetSupplier records the supplier a case was forwarded to.
func SetSupplier(ctx context.Context, e Execer, caseID int64, supplier string, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET supplier = $2, updated_at = $3 WHERE id = $1`,
		caseID, supplier, at); err != nil {
		return fmt.Errorf("setting supplier of case %d: %w", caseID, err)
	}
	return nil
}

// SetApproval records a case's approval state (ApprovalPending, …).
func SetApproval(ctx context.Context, e Execer, caseID int64, state string, at time.Time) error {
	if _, err := e.Exec(ctx, `UPDATE cases SET approval = $2, updated_at = $3 WHERE id = $1`,
		caseID, state, at); err != nil {
		return fmt.Errorf("setting approval of case %d: %w", caseID, err)
	}
	return nil
}

// MergeCase closes a case as merged into another and makes its requester
// and Cc'd people participants of the other, so their replies land there;
// it returns those who were not on the other case before.
func MergeCase(ctx context.Context, q Querier, caseID, intoID int64, at time.Time) (joined []string, err error) {
	if _, err := q.Exec(ctx, `UPDATE cases SET merged_into_id = $2, status = 'closed', wait_until = NULL,
		closed_at = $3, updated_at = $3 WHERE id = $1`, caseID, intoID, at); err != nil {
		return nil, fmt.Errorf("merging case %d: %w", caseID, err)
	}
	rows, err := q.Query(ctx, `INSERT INTO participants (case_id, address, name, kind, person_id)
		SELECT $2, address, name, kind, person_id FROM participants
		WHERE case_id = $1 AND kind IN ('requester', 'cc')
		ON CONFLICT (case_id, address) DO NOTHING RETURNING address`, caseID, intoID)
	if err != nil {
		return nil, fmt.Errorf("merging participants of case %d: %w", caseID, err)
	}
	joined, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("merging participants of case %d: %w", caseID, err)
	}
	return joined, nil
}

// SetParticipant records someone on a case with a kind, changing the kind
// of an existing participant (a Cc'd colleague who is now consulted).
// The requester keeps being the requester.
func SetParticipant(ctx context.Context, e Execer, caseID int64, addr, name string, kind Party, personID string) error {
	if _, err := e.Exec(ctx, `INSERT INTO participants (case_id, address, name, kind, person_id)
		VALUES ($1, lower($2), $3, $4, $5)
		ON CONFLICT (case_id, address) DO UPDATE SET kind = EXCLUDED.kind, person_id = EXCLUDED.person_id
		WHERE participants.kind <> 'requester'`, caseID, addr, name, kind, personID); err != nil {
		return fmt.Errorf("recording %s on case %d: %w", kind, caseID, err)
	}
	return nil
}

// ThreadMessage is a stored message with what it takes to pass it on:
// its text and its attachments' blobs.
type ThreadMessage struct {
	ID          int64
	MessageID   string
	From        string
	FromName    string
	Text        string
	NewText     string
	Attachments []StoredAttachment
}

// StoredAttachment is an attachment of a stored message. SHA256 is nil
// when its body was not kept.
type StoredAttachment struct {
	Filename    string
	ContentType string
	Size        int64
	SHA256      []byte
	Inline      bool
}

// OpeningMessage returns the first incoming message of a case: what the
// requester asked, for a consult notice or a supplier forward.
func OpeningMessage(ctx context.Context, q Querier, caseID int64) (*ThreadMessage, error) {
	var m ThreadMessage
	err := q.QueryRow(ctx, `SELECT id, message_id, from_addr, from_name, text_body, new_text FROM messages
		WHERE case_id = $1 AND direction = 'in' ORDER BY id LIMIT 1`, caseID).
		Scan(&m.ID, &m.MessageID, &m.From, &m.FromName, &m.Text, &m.NewText)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the first message of case %d: %w", caseID, err)
	}
	rows, err := q.Query(ctx, `SELECT filename, content_type, size, sha256, inline FROM attachments
		WHERE message_id = $1 ORDER BY id`, m.ID)
	if err != nil {
		return nil, fmt.Errorf("listing attachments of message %d: %w", m.ID, err)
	}
	m.Attachments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredAttachment, error) {
		var a StoredAttachment
		err := r.Scan(&a.Filename, &a.ContentType, &a.Size, &a.SHA256, &a.Inline)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing attachments of message %d: %w", m.ID, err)
	}
	return &m, nil
}

// RequesterThread returns the Message-IDs a mail to the requester side of
// a case should reference, oldest first: the first and the latest mail
// that came in from the requester or a Cc'd participant.
func RequesterThread(ctx context.Context, q Querier, caseID int64) ([]string, error) {
	rows, err := q.Query(ctx, `(SELECT id, message_id FROM messages
			WHERE case_id = $1 AND direction = 'in' AND message_id <> '' AND kind IN ('requester', 'participant')
			ORDER BY id LIMIT 1)
		UNION
		(SELECT id, message_id FROM messages
			WHERE case_id = $1 AND direction = 'in' AND message_id <> '' AND kind IN ('requester', 'participant')
			ORDER BY id DESC LIMIT 1)
		ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("reading the thread of case %d: %w", caseID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id int64
		var mid string
		err := r.Scan(&id, &mid)
		return mid, err
	})
}
