package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Case is one row of cases.
type Case struct {
	ID             int64
	Number         int64
	Status         Status
	Subject        string
	Requester      string
	RequesterName  string
	Mailbox        string
	Language       string
	Priority       string
	Service        string
	Unit           string
	WorkArea       string
	Tier           string
	Rung           int
	Role           string
	Supplier       string
	Assignee       string
	Tags           []string
	Automatic      bool
	LinkedCaseID   *int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	FirstResponse  *time.Time
	ResolutionDue  *time.Time
	ResolvedAt     *time.Time
	ClosedAt       *time.Time
	FirstResponseD *time.Time // first_response_due
}

const caseColumns = `id, number, status, subject, requester, requester_name, mailbox, language,
	priority, service, unit, work_area, tier, rung, role, supplier, assignee, tags, automatic,
	linked_case_id, created_at, updated_at, first_response_at, resolution_due, resolved_at, closed_at,
	first_response_due`

// scanCase reads caseColumns, then any extra columns into extra.
func scanCase(row pgx.Row, extra ...any) (*Case, error) {
	var c Case
	dest := []any{&c.ID, &c.Number, &c.Status, &c.Subject, &c.Requester, &c.RequesterName, &c.Mailbox,
		&c.Language, &c.Priority, &c.Service, &c.Unit, &c.WorkArea, &c.Tier, &c.Rung, &c.Role, &c.Supplier,
		&c.Assignee, &c.Tags, &c.Automatic, &c.LinkedCaseID, &c.CreatedAt, &c.UpdatedAt, &c.FirstResponse,
		&c.ResolutionDue, &c.ResolvedAt, &c.ClosedAt, &c.FirstResponseD}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	return &c, nil
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// CaseByNumber returns the case with a human number.
func CaseByNumber(ctx context.Context, q Querier, number int64) (*Case, error) {
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE number = $1`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, err
}

// CaseByID returns the case with an internal id.
func CaseByID(ctx context.Context, q Querier, id int64) (*Case, error) {
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return c, err
}

// NewCase is what CreateCase records.
type NewCase struct {
	Status        Status // new, open or dropped
	Subject       string
	Requester     string
	RequesterName string
	Mailbox       string
	Language      string
	Priority      string
	Service       string
	Unit          string
	WorkArea      string
	Tier          string
	Rung          int
	Role          string
	Supplier      string
	Assignee      string
	Tags          []string
	Automatic     bool
	LinkedCaseID  *int64
	CreatedAt     time.Time
	// SLA due times from the service and priority; nil without an SLA.
	FirstResponseDue, ResolutionDue *time.Time
}

// CreateCase inserts a case and returns it with its number.
func CreateCase(ctx context.Context, q Querier, n NewCase) (*Case, error) {
	sql, args := createCase(n)
	c, err := scanCase(q.QueryRow(ctx, sql, args...))
	if err != nil {
		return nil, fmt.Errorf("creating case: %w", err)
	}
	return c, nil
}

// AckLimits caps acknowledgements an hour: per requester, and per mailbox
// whoever writes (a flood of forged senders). 0 is no cap.
type AckLimits struct {
	PerSender, PerMailbox int
	Mailbox               string
	// Counts, when set, keeps the mailbox's count for the rest of the
	// transaction (see MailboxAcks); nil counts it every time.
	Counts MailboxAcks
}

// MailboxAcks is one transaction's count of its mailboxes'
// acknowledgements in the last hour, by mailbox: counted in the database
// at the transaction's first new case, then kept up to date here with the
// transaction's own. Counting is up to the cap, and at a cap of 1,000 a
// count is a thousand index entries and heap rows: a transaction of many
// mails (a part of a batch) would otherwise pay it for every case it
// opens. What it misses, other transactions' acknowledgements committed
// while it runs, it would miss anyway while they are uncommitted: the
// mailbox's cap bounds a flood, it does not meter (see ackCount).
type MailboxAcks map[string]int

// AckAllowance says whether a new case's acknowledgement may be sent, and
// if not, which cap bit: "sender" or "mailbox".
type AckAllowance struct {
	Allowed bool
	Capped  string
}

// CreateCaseWithAck is CreateCase and the acknowledgement allowance of the
// case's requester under lim, in one round trip.
func CreateCaseWithAck(ctx context.Context, tx Querier, n NewCase, lim AckLimits, now time.Time) (c *Case, ack AckAllowance, err error) {
	b := &pgx.Batch{}
	sql, args := createCase(n)
	b.Queue(sql, args...)
	addr := queueAllowAck(b, n.Requester, lim, now)
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	if c, err = scanCase(res.QueryRow()); err != nil {
		return nil, AckAllowance{}, fmt.Errorf("creating case: %w", err)
	}
	if ack, err = allowAckResult(res, addr, lim); err != nil {
		return nil, AckAllowance{}, err
	}
	return c, ack, res.Close()
}

// createCase is the statement CreateCase runs.
func createCase(n NewCase) (string, []any) {
	if n.Priority == "" {
		n.Priority = "normal"
	}
	if n.Status == "" {
		n.Status = StatusNew
	}
	if n.Tags == nil {
		n.Tags = []string{}
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = time.Now()
	}
	return `INSERT INTO cases
		(status, subject, requester, requester_name, mailbox, language, priority, service, unit, work_area,
		 tier, rung, role, supplier, assignee, tags, automatic, linked_case_id, created_at, updated_at,
		 first_response_due, resolution_due, sla_armed)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$19,
		 $20, $21, ($20::timestamptz IS NULL AND $21::timestamptz IS NULL))
		RETURNING ` + caseColumns, []any{
			n.Status, n.Subject, strings.ToLower(n.Requester), n.RequesterName, n.Mailbox, n.Language, n.Priority,
			n.Service, n.Unit, n.WorkArea, n.Tier, n.Rung, n.Role, n.Supplier, n.Assignee, n.Tags, n.Automatic,
			n.LinkedCaseID, n.CreatedAt, n.FirstResponseDue, n.ResolutionDue}
}

// SetCaseStatus changes a case's status and stamps updated_at.
func SetCaseStatus(ctx context.Context, q Execer, caseID int64, status Status, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE cases SET status = $2, updated_at = $3,
		resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolved_at END,
		closed_at = CASE WHEN $2 = 'closed' THEN $3 ELSE closed_at END
		WHERE id = $1`, caseID, status, at)
	return err
}

// AddParticipant records someone who sees public mail of a case. An existing
// participant keeps their kind.
func AddParticipant(ctx context.Context, q Execer, caseID int64, addr, name string, kind Party, personID string) error {
	if bt, ok := q.(*Batch); ok {
		p := &bt.participants
		p.caseID, p.address, p.name = append(p.caseID, caseID), append(p.address, strings.ToLower(addr)), append(p.name, name)
		p.kind, p.personID = append(p.kind, string(kind)), append(p.personID, personID)
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO participants (case_id, address, name, kind, person_id)
		VALUES ($1, lower($2), $3, $4, $5) ON CONFLICT (case_id, address) DO NOTHING`,
		caseID, addr, name, kind, personID)
	if err != nil {
		return fmt.Errorf("adding participant: %w", err)
	}
	return nil
}

// Participant is one row of participants.
type Participant struct {
	Address, Name string
	Kind          Party
	PersonID      string
}

// Participants lists a case's participants in the order they were added.
func Participants(ctx context.Context, q Querier, caseID int64) ([]Participant, error) {
	rows, err := q.Query(ctx, `SELECT address, name, kind, person_id FROM participants
		WHERE case_id = $1 ORDER BY added_at, address`, caseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Participant, error) {
		var p Participant
		err := r.Scan(&p.Address, &p.Name, &p.Kind, &p.PersonID)
		return p, err
	})
}

// ParticipantKind returns how addr takes part in a case, or "" when it does not.
func ParticipantKind(ctx context.Context, q Querier, caseID int64, addr string) (Party, error) {
	var kind Party
	err := q.QueryRow(ctx, `SELECT kind FROM participants WHERE case_id = $1 AND address = lower($2)`,
		caseID, addr).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return kind, err
}

// AddEvent appends to a case's audit trail. data is stored as JSON.
func AddEvent(ctx context.Context, q Execer, caseID int64, at time.Time, actor, kind, reason string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding event %s: %w", kind, err)
	}
	if actor == "" {
		actor = "casemail"
	}
	if bt, ok := q.(*Batch); ok {
		e := &bt.events
		e.caseID, e.at, e.actor = append(e.caseID, caseID), append(e.at, at), append(e.actor, actor)
		e.kind, e.reason, e.data = append(e.kind, kind), append(e.reason, cleanText(reason)), append(e.data, b)
		return nil
	}
	_, err = q.Exec(ctx, `INSERT INTO events (case_id, at, actor, kind, reason, data) VALUES ($1,$2,$3,$4,$5,$6)`,
		caseID, at, actor, kind, reason, b)
	if err != nil {
		return fmt.Errorf("recording event %s: %w", kind, err)
	}
	return nil
}

// NewAttachment is an attachment to store with a message. Data nil means the
// body was not kept (over the size cap): only name, type and size are listed.
type NewAttachment struct {
	Filename    string
	ContentType string
	Size        int64
	Data        []byte
	Inline      bool
	// SHA256 is Data's, when the caller has it (the parser does); nil
	// computes it.
	SHA256 []byte
}

// NewMessage is what AddMessage records.
type NewMessage struct {
	ID          int64 // reserved with ReserveMessageIDs
	CaseID      int64
	Direction   string // in | out
	Kind        Party
	Mailbox     string
	MessageID   string
	InReplyTo   string
	References  []string
	From        string
	FromName    string
	To, Cc      []string
	Subject     string
	Text        string
	NewText     string
	Raw         []byte // kept once by hash
	RawSHA256   []byte // Raw's SHA-256 when the caller has it; nil computes it
	ContentHash []byte // identity across mailboxes
	SentAt      *time.Time
	CreatedAt   time.Time
	Attachments []NewAttachment
}

// ReserveMessageIDs takes n message ids from the sequence in one round
// trip, so that a message and its attachments can be written in a Batch.
func ReserveMessageIDs(ctx context.Context, q Querier, n int) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT nextval('messages_id_seq') FROM generate_series(1, $1)`, n)
	if err != nil {
		return nil, fmt.Errorf("reserving message ids: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// AddMessage stores a message with its raw mail and attachments under the
// id reserved in m.ID; without one, q must be a Querier to reserve it.
func AddMessage(ctx context.Context, q Execer, m NewMessage) (int64, error) {
	if m.ID == 0 {
		qq, ok := q.(Querier)
		if !ok {
			return 0, errors.New("storing message: no reserved id")
		}
		ids, err := ReserveMessageIDs(ctx, qq, 1)
		if err != nil {
			return 0, err
		}
		m.ID = ids[0]
	}
	rawHash := m.RawSHA256
	if m.Raw != nil {
		if rawHash == nil {
			h := sha256.Sum256(m.Raw)
			rawHash = h[:]
		}
		if _, err := q.Exec(ctx, `INSERT INTO raw_mails (sha256, size, data) VALUES ($1, $2, $3)
			ON CONFLICT (sha256) DO NOTHING`, rawHash, len(m.Raw), m.Raw); err != nil {
			return 0, fmt.Errorf("storing raw mail: %w", err)
		}
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	id := m.ID
	_, err := q.Exec(ctx, `INSERT INTO messages (id, case_id, direction, kind, mailbox, message_id, in_reply_to,
		refs, from_addr, from_name, to_addrs, cc_addrs, subject, text_body, new_text, raw_sha256, content_hash,
		sent_at, created_at)
		VALUES ($19,$1,$2,$3,$4,$5,$6,$7,lower($8),$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
		m.CaseID, m.Direction, m.Kind, m.Mailbox, m.MessageID, m.InReplyTo, nonNil(m.References), m.From,
		m.FromName, nonNil(m.To), nonNil(m.Cc), m.Subject, cleanText(m.Text), cleanText(m.NewText), rawHash,
		m.ContentHash, m.SentAt, m.CreatedAt, id)
	if err != nil {
		return 0, fmt.Errorf("storing message: %w", err)
	}
	for _, a := range m.Attachments {
		var blob []byte
		if a.Data != nil {
			if blob = a.SHA256; blob == nil {
				h := sha256.Sum256(a.Data)
				blob = h[:]
			}
			if _, err := q.Exec(ctx, `INSERT INTO blobs (sha256, size, data) VALUES ($1, $2, $3)
				ON CONFLICT (sha256) DO NOTHING`, blob, len(a.Data), a.Data); err != nil {
				return 0, fmt.Errorf("storing attachment %q: %w", a.Filename, err)
			}
		}
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if _, err := q.Exec(ctx, `INSERT INTO attachments (message_id, filename, content_type, size, sha256, inline)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, cleanText(a.Filename), ct, a.Size, blob, a.Inline); err != nil {
			return 0, fmt.Errorf("listing attachment %q: %w", a.Filename, err)
		}
	}
	return id, nil
}

// cleanText drops NUL bytes, which PostgreSQL text cannot hold; the raw mail
// keeps the original.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FindInbound returns the case and message row of an incoming mail already
// stored with this Message-ID and content hash (the same mail reaching a
// second mailbox).
func FindInbound(ctx context.Context, q Querier, messageID string, contentHash []byte) (caseID, msgRow int64, found bool, err error) {
	if messageID == "" || contentHash == nil {
		return 0, 0, false, nil
	}
	err = q.QueryRow(ctx, `SELECT case_id, id FROM messages WHERE direction = 'in' AND message_id = $1
		AND content_hash = $2`, messageID, contentHash).Scan(&caseID, &msgRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	return caseID, msgRow, err == nil, err
}

// CaseByMessageIDs returns the newest case that sent or received a mail
// with one of these Message-IDs, for threading by In-Reply-To/References.
func CaseByMessageIDs(ctx context.Context, q Querier, ids []string) (caseID int64, found bool, err error) {
	if len(ids) == 0 {
		return 0, false, nil
	}
	// One index probe a Message-ID in each table (the LATERAL join keeps
	// it so): with = ANY the planner may choose a scan while a table is
	// small, and a prepared statement keeps that plan as the table grows.
	err = q.QueryRow(ctx, `SELECT m.case_id FROM unnest($1::text[]) r(id) CROSS JOIN LATERAL (
			SELECT case_id, created_at FROM sent_message_ids s WHERE s.message_id = r.id
			UNION ALL
			SELECT case_id, created_at FROM messages m WHERE m.message_id = r.id AND m.message_id <> ''
		) m ORDER BY m.created_at DESC LIMIT 1`, ids).Scan(&caseID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return caseID, err == nil, err
}

// CasesNamed finds the cases a batch's mails may touch before they are
// applied, for intake to keep each case's mails in one transaction: the
// cases of Message-IDs (ours sent, or stored) and of case numbers, and
// every case those were merged into. It returns them keyed "id:" +
// Message-ID and "#" + number; keys that name nothing are left out.
func CasesNamed(ctx context.Context, q Querier, messageIDs []string, numbers []int64) (map[string][]int64, error) {
	out := map[string][]int64{}
	if len(messageIDs) == 0 && len(numbers) == 0 {
		return out, nil
	}
	// Index probes only (LATERAL … LIMIT 1, as in CaseByMessageIDs).
	rows, err := q.Query(ctx, `WITH RECURSIVE named(key, case_id, hops) AS (
			SELECT 'id:' || r.id, x.case_id, 0 FROM unnest($1::text[]) r(id) CROSS JOIN LATERAL (
				SELECT case_id FROM sent_message_ids s WHERE s.message_id = r.id
				UNION ALL
				SELECT case_id FROM messages m WHERE m.message_id = r.id AND m.message_id <> '') x
			UNION ALL
			SELECT '#' || n, c.id, 0 FROM unnest($2::bigint[]) n CROSS JOIN LATERAL (
				SELECT id FROM cases WHERE number = n LIMIT 1) c
			UNION ALL
			SELECT named.key, c.merged_into_id, named.hops + 1 FROM named CROSS JOIN LATERAL (
				SELECT merged_into_id FROM cases WHERE id = named.case_id LIMIT 1) c
			WHERE c.merged_into_id IS NOT NULL AND named.hops < $3)
		SELECT DISTINCT key, case_id FROM named`, messageIDs, numbers, maxMergeHops)
	if err != nil {
		return nil, fmt.Errorf("finding the cases a batch names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var id int64
		if err := rows.Scan(&key, &id); err != nil {
			return nil, err
		}
		out[key] = append(out[key], id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding the cases a batch names: %w", err)
	}
	return out, nil
}

// maxMergeHops bounds following merged_into from case to case (as
// casework does when it redirects a mail).
const maxMergeHops = 10

// SentTo returns the recipient a Message-ID of ours was sent to.
func SentTo(ctx context.Context, q Querier, messageID string) (recipient string, caseID int64, found bool, err error) {
	err = q.QueryRow(ctx, `SELECT recipient, case_id FROM sent_message_ids WHERE message_id = $1`,
		messageID).Scan(&recipient, &caseID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, false, nil
	}
	return recipient, caseID, err == nil, err
}

// The statements of the acknowledgement allowance (CreateCaseWithAck):
// two, so that the count runs after the sender's lock is held (its own
// snapshot sees a concurrent instance's committed ack). The mailbox's
// count takes no lock, so that parallel transactions never wait on one
// another for it: under a flood it may let a few more through than its
// cap, which it is there to bound, not to meter.
const (
	ackLock  = `SELECT pg_advisory_xact_lock(hashtextextended('ack:' || $1, 0))`
	ackCount = `WITH c AS (
			SELECT CASE WHEN $3 > 0 THEN (SELECT count(*) FROM ack_log WHERE address = $1 AND at > $4) END AS sender,
			       CASE WHEN $6 > 0 AND $7 >= 0 THEN $7
			            WHEN $6 > 0 THEN (SELECT count(*) FROM (SELECT FROM ack_log
			                WHERE address = $5 AND at > $4 LIMIT $6) l) END AS mailbox),
		ok AS (SELECT ($3 <= 0 OR c.sender < $3) AS sender_ok, ($6 <= 0 OR c.mailbox < $6) AS mailbox_ok,
			c.mailbox FROM c),
		ins AS (INSERT INTO ack_log (address, at)
			SELECT a, $2 FROM ok, unnest(CASE WHEN $6 > 0 THEN ARRAY[$1, $5] ELSE ARRAY[$1] END) a
			WHERE ok.sender_ok AND ok.mailbox_ok RETURNING 1)
		SELECT ok.sender_ok, ok.mailbox_ok, ok.mailbox FROM ok`
)

// mailboxAckKey is the ack_log address that counts a mailbox's
// acknowledgements (no mail address has this form).
func mailboxAckKey(mailbox string) string { return "mailbox:" + mailbox }

// queueAllowAck queues the allowance's statements on b and returns the
// address as recorded.
func queueAllowAck(b *pgx.Batch, addr string, lim AckLimits, now time.Time) string {
	addr = strings.ToLower(addr)
	counted := -1 // count in the database
	if n, ok := lim.Counts[lim.Mailbox]; ok {
		counted = n
	}
	b.Queue(ackLock, addr)
	b.Queue(ackCount, addr, now, lim.PerSender, now.Add(-time.Hour), mailboxAckKey(lim.Mailbox), lim.PerMailbox, counted)
	return addr
}

// allowAckResult reads the results of queueAllowAck's statements and
// keeps the mailbox's count in lim.Counts.
func allowAckResult(res pgx.BatchResults, addr string, lim AckLimits) (AckAllowance, error) {
	if _, err := res.Exec(); err != nil {
		return AckAllowance{}, fmt.Errorf("locking acknowledgements of %s: %w", addr, err)
	}
	var senderOK, mailboxOK bool
	var mailbox *int
	if err := res.QueryRow().Scan(&senderOK, &mailboxOK, &mailbox); err != nil {
		return AckAllowance{}, fmt.Errorf("counting acknowledgements: %w", err)
	}
	if lim.Counts != nil && mailbox != nil {
		n := *mailbox
		if senderOK && mailboxOK {
			n++ // this one
		}
		lim.Counts[lim.Mailbox] = n
	}
	switch {
	case !senderOK:
		return AckAllowance{Capped: "sender"}, nil
	case !mailboxOK:
		return AckAllowance{Capped: "mailbox"}, nil
	}
	return AckAllowance{Allowed: true}, nil
}

// LockAckAllowances takes, in tx, the locks of the acknowledgement
// allowances of addrs (CreateCaseWithAck takes each again, which is free),
// all in one round trip and in one global order: sorted by lock key. A
// transaction that acknowledges several senders takes them so first, and
// can then never wait on another transaction that holds one of them while
// wanting one it holds.
func LockAckAllowances(ctx context.Context, tx Querier, addrs []string) error {
	if len(addrs) < 2 {
		return nil // one lock cannot be taken out of order
	}
	lower := make([]string, len(addrs))
	for i, a := range addrs {
		lower[i] = strings.ToLower(a)
	}
	// The subquery's order is the order the locks are taken in.
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM (
		SELECT DISTINCT hashtextextended('ack:' || a, 0) AS k FROM unnest($1::text[]) a ORDER BY 1) s`, lower)
	if err != nil {
		return fmt.Errorf("locking acknowledgement allowances: %w", err)
	}
	return nil
}
