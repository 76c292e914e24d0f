package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/jackc/pgx/v5"
)

// identityHash identifies a mail across mailboxes: the same mail delivered
// to two aliases differs only in trace headers (Received, Delivered-To), so
// the hash covers the identifying headers and the body, not the raw bytes.
func identityHash(m *mailparse.Message, raw []byte) []byte {
	h := sha256.New()
	for _, s := range []string{m.MessageID, m.From.Addr, m.Date.UTC().Format(time.RFC3339), m.Subject} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body(raw))
	return h.Sum(nil)
}

// body returns the raw mail after its header.
func body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[i+2:]
	}
	return nil
}

// findThread matches a mail to a case: the reply token first, then
// In-Reply-To/References against every Message-ID we stored or sent, then
// a supplier's own reference from the supplier's own addresses, then the
// [#N] subject tag, which counts only from someone already on the case.
// A tag from anyone else returns the tagged case as linked: a new case is
// opened and linked to it, never the old one changed by a stranger.
func (p *Processor) findThread(ctx context.Context, tx pgx.Tx, msg *mailparse.Message, now time.Time) (*casework.Thread, *store.Case, error) {
	from := msg.From.Addr
	var expired *casework.Thread
	for _, addr := range recipients(msg) {
		tok, ok := p.tokenIn(addr)
		if !ok {
			continue
		}
		t, err := p.Keys.Verify(tok, from, now)
		switch {
		case err == nil:
			c, err := store.CaseByNumber(ctx, tx, t.Case)
			if err == nil {
				return p.provenThread(ctx, tx, &casework.Thread{Case: c, How: "reply token", Proven: true}, tok, t)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return nil, nil, err
			}
		case errors.Is(err, notify.ErrExpired):
			if c, err := store.CaseByNumber(ctx, tx, t.Case); err == nil && expired == nil {
				expired = &casework.Thread{Case: c, How: "expired reply token"}
			}
		}
	}
	if msg.Bounce != nil && msg.Bounce.OriginalMessageID != "" {
		if _, caseID, found, err := store.SentTo(ctx, tx, msg.Bounce.OriginalMessageID); err != nil {
			return nil, nil, err
		} else if found {
			c, err := store.CaseByID(ctx, tx, caseID)
			if err != nil {
				return nil, nil, err
			}
			return &casework.Thread{Case: c, How: "bounce of our mail"}, nil, nil
		}
	}
	refs := append([]string{}, msg.References...)
	if msg.InReplyTo != "" {
		refs = append(refs, msg.InReplyTo)
	}
	if len(refs) > 0 {
		caseID, found, err := store.CaseByMessageIDs(ctx, tx, refs)
		if err != nil {
			return nil, nil, err
		}
		if found {
			c, err := store.CaseByID(ctx, tx, caseID)
			if err != nil {
				return nil, nil, err
			}
			th := &casework.Thread{Case: c, How: "references"}
			if tok, t, ok := p.provenByReferences(msg, refs, c, now); ok {
				th.Proven = true
				return p.provenThread(ctx, tx, th, tok, t)
			}
			return th, nil, nil
		}
	}
	if expired != nil {
		return expired, nil, nil
	}
	if th, err := p.bySupplierReference(ctx, tx, msg); th != nil || err != nil {
		return th, nil, err
	}
	if n, ok := mailparse.CaseTag(msg.Subject); ok {
		c, err := store.CaseByNumber(ctx, tx, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		kind, err := store.ParticipantKind(ctx, tx, c.ID, from)
		if err != nil {
			return nil, nil, err
		}
		if kind != "" {
			return &casework.Thread{Case: c, How: "subject tag"}, nil, nil
		}
		return nil, c, nil
	}
	return nil, nil, nil
}

// bySupplierReference threads a supplier's mail that carries only their
// own reference (their ticket system writes anew, without our tag or
// References) to the case whose forward holds it. Only mail from the
// supplier's own addresses or domains counts: anyone else quoting the
// reference opens a case of their own. The patterns run over the subject
// and a bounded start of the body (config.MaxReferenceScan; RE2, linear).
func (p *Processor) bySupplierReference(ctx context.Context, tx pgx.Tx, msg *mailparse.Message) (*casework.Thread, error) {
	if p.Rules == nil {
		return nil, nil
	}
	s := p.Rules().SupplierBySender(msg.From.Addr)
	if s == nil {
		return nil, nil
	}
	ref := s.FindReference(msg.Subject, msg.Text)
	if ref == "" {
		return nil, nil
	}
	c, found, err := store.CaseBySupplierReference(ctx, tx, s.ID, ref)
	if err != nil || !found {
		return nil, err
	}
	return &casework.Thread{Case: c, How: fmt.Sprintf(casework.HowSupplierReference, ref)}, nil
}

// provenByReferences finds in the references a Message-ID we signed for
// this sender about case c, and returns its token.
func (p *Processor) provenByReferences(msg *mailparse.Message, refs []string, c *store.Case, now time.Time) (string, notify.Token, bool) {
	for _, ref := range refs {
		tok, ok := notify.TokenFromMessageID(ref)
		if !ok {
			continue
		}
		if t, err := p.Keys.Verify(tok, msg.From.Addr, now); err == nil && t.Case == c.Number {
			return tok, t, true
		}
	}
	return "", notify.Token{}, false
}

// provenThread completes a thread proven by tok: when the mail that
// carried it was sent, and whether it was spent (shown to others).
func (p *Processor) provenThread(ctx context.Context, tx pgx.Tx, th *casework.Thread, tok string, t notify.Token) (*casework.Thread, *store.Case, error) {
	th.Token, th.Issued = tok, t.Expires.Add(-time.Duration(p.Config.TokenTTL))
	spent, why, err := store.TokenSpent(ctx, tx, tok)
	if err != nil {
		return nil, nil, err
	}
	if spent {
		th.Spent = why
	}
	return th, nil, nil
}

// exposedTokens are the reply tokens a mail shows to people other than
// their holder: those in our reply addresses among its recipients and in
// signed Message-IDs of its references, when it also goes to someone who
// is not casemail (its mailboxes and the catalogue's service addresses),
// or to a list. reason says how.
func (p *Processor) exposedTokens(m *mailparse.Message) (tokens []string, reason string) {
	var others []string
	for _, ad := range append(append([]mailparse.Address{}, m.To...), m.Cc...) {
		if ad.Addr != "" && !notify.OwnAddress(p.Config.Mailboxes, ad.Addr) && p.Rules().ServiceByAddress(ad.Addr) == nil {
			others = append(others, ad.Addr)
		}
	}
	switch {
	case m.ListID != "":
		reason = "sent to the list " + m.ListID
	case len(others) > 0:
		reason = "sent to " + strings.Join(others, ", ") + " too"
	default:
		return nil, ""
	}
	for _, addr := range recipients(m) {
		if tok, ok := p.tokenIn(addr); ok {
			tokens = append(tokens, tok)
		}
	}
	for _, ref := range append(append([]string{}, m.References...), m.InReplyTo) {
		if tok, ok := notify.TokenFromMessageID(ref); ok {
			tokens = append(tokens, tok)
		}
	}
	return tokens, reason
}

// recipients are the addresses m was sent to, trace headers included (a
// Bcc'd alias shows only in Delivered-To / X-Original-To).
func recipients(m *mailparse.Message) []string {
	var out []string
	for _, ad := range m.To {
		out = append(out, ad.Addr)
	}
	for _, ad := range m.Cc {
		out = append(out, ad.Addr)
	}
	return append(out, m.DeliveredTo...)
}

// tokenIn finds a reply token in addr, a plus address of one of our mailboxes.
func (p *Processor) tokenIn(addr string) (string, bool) {
	return notify.TokenIn(p.Config.Mailboxes, addr)
}
