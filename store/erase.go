package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Erased replaces an erased address wherever it stood in text kept for
// others (a colleague's mail naming it, a routing trail, a Cc line).
const Erased = "[erased]"

// ErasureResult says what one erasure changed or removed, by kind. It
// never holds the address itself.
type ErasureResult struct {
	ID            int64  `json:"-"`
	AddressSHA256 string `json:"-"`
	// Cases the person opened: emptied of every text and mail, the
	// routing, status and times kept for statistics.
	Cases int64 `json:"cases"`
	// OtherCases the person took part in: their part removed.
	OtherCases   int64 `json:"other_cases"`
	Messages     int64 `json:"messages"`        // messages emptied (theirs, and all on their cases)
	Mentions     int64 `json:"mentions"`        // texts elsewhere in which the address was replaced
	RawMails     int64 `json:"raw_mails"`       // raw mails deleted (theirs, and any naming them)
	Attachments  int64 `json:"attachments"`     // attachments removed from emptied messages
	Blobs        int64 `json:"blobs"`           // attachment bodies deleted
	Participants int64 `json:"participants"`    // participant rows deleted
	Outbox       int64 `json:"outbox"`          // outgoing mails deleted (to them, or on their cases)
	SentIDs      int64 `json:"sent_ids"`        // Message-IDs recorded as sent to them
	AckLog       int64 `json:"ack_log"`         // acknowledgement-limit entries
	Quarantine   int64 `json:"quarantine"`      // quarantined mails naming them
	Events       int64 `json:"events_scrubbed"` // events whose actor, reason or data named them
}

// Erasure is one recorded erasure.
type Erasure struct {
	ID            int64
	AddressSHA256 string
	At            time.Time
	RequestedBy   string
	Counts        json.RawMessage
}

// AddressHash is the SHA-256 of the lower-cased address, as recorded for an
// erasure instead of the address.
func AddressHash(address string) []byte {
	h := sha256.Sum256([]byte(normalAddress(address)))
	return h[:]
}

func normalAddress(address string) string {
	return strings.ToLower(strings.TrimSpace(address))
}

// addressPattern matches address in text, case-insensitively, as a whole
// address: not the tail of a longer local part nor the head of a longer
// domain (ola@x.no must not hit pola@x.no or ola@x.no.example).
func addressPattern(address string) string {
	return `(?<![[:alnum:]._%+=-])` + regexp.QuoteMeta(address) + `(?![[:alnum:]_-]|\.[[:alnum:]])`
}

// EraseAddress removes the personal data of the person with address, for
// a GDPR erasure request, in one transaction:
//
//   - cases they opened keep their number, routing, status and times (the
//     statistics), but lose subject, requester, every message's text,
//     raw mail and attachments, and all their outgoing mail;
//   - on other cases their messages are emptied the same way, they stop
//     being a participant, mail to them is deleted;
//   - everywhere, raw mail and quarantined mail that name them are
//     deleted, and the address is replaced by [erased] in texts kept for
//     others; the acknowledgement log and sent Message-IDs forget them.
//
// It records the erasure in erasures (with the address's hash, never the
// address) and adds an "erasure" event to every case it touched. Message-IDs
// and content hashes stay, so that the same mail delivered again is
// recognised as already handled instead of opening a new case.
func (s *Store) EraseAddress(ctx context.Context, address, requestedBy string, now time.Time) (*ErasureResult, error) {
	addr := normalAddress(address)
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return nil, fmt.Errorf("erasing: %q is not a bare mail address", address)
	}
	hash := AddressHash(addr)
	r := &ErasureResult{AddressSHA256: hex.EncodeToString(hash)}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		return erase(ctx, tx, addr, requestedBy, now, r)
	})
	if err != nil {
		return nil, fmt.Errorf("erasing personal data: %w", err)
	}
	return r, nil
}

// errDryRun rolls a planned erasure back.
var errDryRun = errors.New("dry run")

// PlanErasure says what EraseAddress would change, without changing it:
// the same work, rolled back.
func (s *Store) PlanErasure(ctx context.Context, address string, now time.Time) (*ErasureResult, error) {
	addr := normalAddress(address)
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return nil, fmt.Errorf("erasing: %q is not a bare mail address", address)
	}
	r := &ErasureResult{AddressSHA256: hex.EncodeToString(AddressHash(addr))}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := erase(ctx, tx, addr, "", now, r); err != nil {
			return err
		}
		return errDryRun
	})
	if !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("planning the erasure: %w", err)
	}
	r.ID = 0
	return r, nil
}

func erase(ctx context.Context, tx pgx.Tx, addr, requestedBy string, now time.Time, r *ErasureResult) error {
	pat := addressPattern(addr)
	ids := func(sql string, args ...any) ([]int64, error) {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	exec := func(n *int64, what, sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n != nil {
			*n += tag.RowsAffected()
		}
		return nil
	}
	// hasAddr is true when an address array holds addr (any case);
	// without(col) is the array without it.
	hasAddr := func(col string) string {
		return `EXISTS (SELECT 1 FROM unnest(` + col + `) x WHERE lower(x) = $1)`
	}
	without := func(col string) string {
		return `ARRAY(SELECT x FROM unnest(` + col + `) x WHERE lower(x) <> $1)`
	}

	own, err := ids(`SELECT id FROM cases WHERE lower(requester) = $1 ORDER BY id FOR UPDATE`, addr)
	if err != nil {
		return fmt.Errorf("finding their cases: %w", err)
	}
	if own == nil {
		own = []int64{} // an empty array, not NULL, in the queries below
	}
	other, err := ids(`SELECT id FROM cases WHERE NOT (id = ANY($2)) AND id IN (
			SELECT case_id FROM participants WHERE lower(address) = $1
			UNION SELECT case_id FROM messages WHERE lower(from_addr) = $1
				OR `+hasAddr("to_addrs")+` OR `+hasAddr("cc_addrs")+`
			UNION SELECT case_id FROM outbox WHERE case_id IS NOT NULL
				AND (`+hasAddr("to_addrs")+` OR `+hasAddr("cc_addrs")+`))
		ORDER BY id FOR UPDATE`, addr, own)
	if err != nil {
		return fmt.Errorf("finding cases they took part in: %w", err)
	}
	r.Cases, r.OtherCases = int64(len(own)), int64(len(other))

	// Mail on other cases that passed their words on (a follow-up to the
	// owner quotes their text and comes "NAME via Helpdesk") goes with
	// them; found before their messages are emptied.
	texts, err := strs(ctx, tx, `SELECT DISTINCT btrim(t) FROM messages m, LATERAL (VALUES (m.new_text), (m.text_body)) v(t)
		WHERE lower(m.from_addr) = $1 AND length(btrim(t)) >= 8`, addr)
	if err != nil {
		return fmt.Errorf("reading their texts: %w", err)
	}
	names, err := strs(ctx, tx, `SELECT from_name FROM messages WHERE lower(from_addr) = $1 AND length(from_name) >= 3
		UNION SELECT name FROM participants WHERE lower(address) = $1 AND length(name) >= 3
		UNION SELECT requester_name FROM cases WHERE lower(requester) = $1 AND length(requester_name) >= 3`, addr)
	if err != nil {
		return fmt.Errorf("reading their names: %w", err)
	}
	if err := exec(&r.Outbox, "deleting mail that passed their words on", `DELETE FROM outbox o
		WHERE o.case_id = ANY($1) AND (
			EXISTS (SELECT 1 FROM unnest($2::text[]) t WHERE strpos(o.text_body, t) > 0)
			OR EXISTS (SELECT 1 FROM unnest($3::text[]) n WHERE strpos(o.from_header, n || ' via ') > 0))`,
		other, texts, names); err != nil {
		return err
	}

	// Their messages, and every message on their cases: emptied.
	const theirs = `(m.case_id = ANY($2) OR lower(m.from_addr) = $1)`
	raws, blobs, err := mailHashes(ctx, tx, theirs, addr, own)
	if err != nil {
		return fmt.Errorf("listing their mail: %w", err)
	}
	if err := exec(&r.Attachments, "removing their attachments",
		`DELETE FROM attachments a USING messages m WHERE m.id = a.message_id AND `+theirs, addr, own); err != nil {
		return err
	}
	if err := exec(&r.Messages, "emptying their messages", `UPDATE messages m SET subject = '', text_body = '',
			new_text = '', raw_sha256 = NULL,
			from_name = CASE WHEN lower(from_addr) = $1 THEN '' ELSE from_name END,
			from_addr = CASE WHEN lower(from_addr) = $1 THEN '' ELSE from_addr END,
			to_addrs = `+without("to_addrs")+`, cc_addrs = `+without("cc_addrs")+`
		WHERE `+theirs, addr, own); err != nil {
		return err
	}
	// Elsewhere: the address out of address lists and texts.
	if err := exec(&r.Mentions, "removing the address from other messages", `UPDATE messages SET
			to_addrs = `+without("to_addrs")+`, cc_addrs = `+without("cc_addrs")+`,
			subject = regexp_replace(subject, $2, $3, 'gi'), text_body = regexp_replace(text_body, $2, $3, 'gi'),
			new_text = regexp_replace(new_text, $2, $3, 'gi'), from_name = regexp_replace(from_name, $2, $3, 'gi')
		WHERE `+hasAddr("to_addrs")+` OR `+hasAddr("cc_addrs")+` OR subject ~* $2 OR text_body ~* $2
			OR new_text ~* $2 OR from_name ~* $2`, addr, pat, Erased); err != nil {
		return err
	}

	// Raw mail: theirs, and any other that names them (a Cc header, a
	// quoted address). The parsed text of those stays, scrubbed above.
	named, err := tx.Query(ctx, `SELECT sha256 FROM raw_mails WHERE strpos(lower(encode(data, 'escape')), $1) > 0`, addr)
	if err != nil {
		return fmt.Errorf("searching raw mail: %w", err)
	}
	namedRaws, err := pgx.CollectRows(named, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("searching raw mail: %w", err)
	}
	if len(namedRaws) > 0 {
		if err := exec(nil, "detaching raw mail", `UPDATE messages SET raw_sha256 = NULL WHERE raw_sha256 = ANY($1)`,
			namedRaws); err != nil {
			return err
		}
		raws = append(raws, namedRaws...)
	}
	if r.RawMails, err = deleteUnusedRaw(ctx, tx, raws); err != nil {
		return fmt.Errorf("deleting raw mail: %w", err)
	}
	if err := exec(&r.Quarantine, "deleting quarantined mail", `DELETE FROM quarantine
		WHERE strpos(lower(encode(raw, 'escape')), $1) > 0 OR reason ~* $2`, addr, pat); err != nil {
		return err
	}

	if err := exec(&r.Participants, "removing them as participant",
		`DELETE FROM participants WHERE lower(address) = $1`, addr); err != nil {
		return err
	}
	// Outgoing mail on their cases (it carries their words) and to them.
	if err := exec(&r.Outbox, "deleting mail to them", `DELETE FROM outbox WHERE case_id = ANY($2)
		OR ((`+hasAddr("to_addrs")+` OR `+hasAddr("cc_addrs")+`)
			AND cardinality(`+without("to_addrs")+`) + cardinality(`+without("cc_addrs")+`) = 0)`,
		addr, own); err != nil {
		return err
	}
	if err := exec(&r.Mentions, "removing the address from outgoing mail", `UPDATE outbox SET
			to_addrs = `+without("to_addrs")+`, cc_addrs = `+without("cc_addrs")+`,
			subject = regexp_replace(subject, $2, $3, 'gi'), text_body = regexp_replace(text_body, $2, $3, 'gi'),
			html_body = regexp_replace(html_body, $2, $3, 'gi'),
			headers = regexp_replace(headers::text, $2, $3, 'gi')::jsonb
		WHERE `+hasAddr("to_addrs")+` OR `+hasAddr("cc_addrs")+` OR subject ~* $2 OR text_body ~* $2
			OR html_body ~* $2 OR headers::text ~* $2`, addr, pat, Erased); err != nil {
		return err
	}
	if err := exec(&r.SentIDs, "forgetting Message-IDs sent to them",
		`DELETE FROM sent_message_ids WHERE lower(recipient) = $1`, addr); err != nil {
		return err
	}
	if err := exec(&r.AckLog, "pruning the acknowledgement log",
		`DELETE FROM ack_log WHERE lower(address) = $1`, addr); err != nil {
		return err
	}
	if err := exec(&r.AckLog, "pruning the relay log",
		`DELETE FROM relay_log WHERE address = $1`, addr); err != nil {
		return err
	}
	if err := exec(&r.Events, "scrubbing events", `UPDATE events SET
			actor = CASE WHEN lower(actor) = $1 THEN $3 ELSE regexp_replace(actor, $2, $3, 'gi') END,
			reason = regexp_replace(reason, $2, $3, 'gi'),
			data = regexp_replace(data::text, $2, $3, 'gi')::jsonb
		WHERE lower(actor) = $1 OR actor ~* $2 OR reason ~* $2 OR data::text ~* $2`, addr, pat, Erased); err != nil {
		return err
	}
	if err := exec(nil, "emptying their cases", `UPDATE cases SET requester = '', requester_name = '', subject = '',
		updated_at = $2 WHERE id = ANY($1)`, own, now); err != nil {
		return err
	}
	if err := exec(&r.Mentions, "removing the address from case subjects", `UPDATE cases
		SET subject = regexp_replace(subject, $1, $2, 'gi') WHERE subject ~* $1`, pat, Erased); err != nil {
		return err
	}
	if r.Blobs, err = deleteUnusedBlobs(ctx, tx, nonNilHashes(blobs)); err != nil {
		return fmt.Errorf("deleting attachment bodies: %w", err)
	}

	counts, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `INSERT INTO erasures (address_sha256, at, requested_by, counts)
		VALUES ($1, $2, $3, $4) RETURNING id`, AddressHash(addr), now, requestedBy, counts).Scan(&r.ID); err != nil {
		return fmt.Errorf("recording the erasure: %w", err)
	}
	for _, set := range []struct {
		ids    []int64
		reason string
	}{
		{own, "the requester's personal data was erased on request (GDPR)"},
		{other, "a participant's personal data was erased on request (GDPR)"},
	} {
		for _, id := range set.ids {
			if err := AddEvent(ctx, tx, id, now, "casemail", "erasure", set.reason,
				map[string]any{"erasure": r.ID, "address_sha256": r.AddressSHA256}); err != nil {
				return fmt.Errorf("recording the erasure on the case: %w", err)
			}
		}
	}
	return nil
}

// strs runs a query returning one text column.
func strs(ctx context.Context, q Querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if out == nil {
		out = []string{}
	}
	return out, err
}

// nonNilHashes keeps an empty list empty (deleteUnusedBlobs reads nil as
// "every blob").
func nonNilHashes(h [][]byte) [][]byte {
	if h == nil {
		return [][]byte{}
	}
	return h
}

// Erasures lists the recorded erasures of address (all when address is
// ""), newest first.
func (s *Store) Erasures(ctx context.Context, address string) ([]Erasure, error) {
	var hash []byte
	if address != "" {
		hash = AddressHash(address)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, address_sha256, at, requested_by, counts FROM erasures
		WHERE $1::bytea IS NULL OR address_sha256 = $1 ORDER BY id DESC`, hash)
	if err != nil {
		return nil, fmt.Errorf("listing erasures: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Erasure, error) {
		var e Erasure
		var h []byte
		err := row.Scan(&e.ID, &h, &e.At, &e.RequestedBy, &e.Counts)
		e.AddressSHA256 = hex.EncodeToString(h)
		return e, err
	})
}

// Trace is a column in which a searched text occurs.
type Trace struct {
	Table, Column string
	Rows          int64
}

func (t Trace) String() string { return fmt.Sprintf("%s.%s (%d rows)", t.Table, t.Column, t.Rows) }

// Traces searches every text, text array, JSON and bytea column of every
// table for text (case-insensitively; bytea as escaped text, so it finds
// text stored as ASCII or 8-bit but not inside base64). It reads the whole
// database: it is for checking an erasure, not for daily use.
func (s *Store) Traces(ctx context.Context, text string) ([]Trace, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("searching traces: empty text")
	}
	rows, err := s.pool.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
			AND (c.data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')
				OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_text', '_varchar')))
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("listing columns: %w", err)
	}
	type column struct{ table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		err := r.Scan(&c.table, &c.name, &c.typ)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing columns: %w", err)
	}
	var out []Trace
	for _, c := range cols {
		expr := pgx.Identifier{c.name}.Sanitize()
		switch c.typ {
		case "bytea":
			expr = "encode(" + expr + ", 'escape')"
		case "json", "jsonb":
			expr += "::text"
		case "ARRAY":
			expr = "array_to_string(" + expr + ", ' ')"
		}
		var n int64
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{c.table}.Sanitize()+
			` WHERE strpos(lower(`+expr+`), lower($1)) > 0`, text).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("searching %s.%s: %w", c.table, c.name, err)
		}
		if n > 0 {
			out = append(out, Trace{Table: c.table, Column: c.name, Rows: n})
		}
	}
	return out, nil
}
