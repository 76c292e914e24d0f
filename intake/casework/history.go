package casework

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// How much of a case's history a mail carries.
type historyMode struct {
	messages int  // newest messages shown (0: all)
	textCut  int  // runes of each message's text shown
	events   bool // the audit trail too
	// allFiles passes on every kept attachment (under passOnLimit), not
	// only the requester's.
	allFiles bool
	// skipOpening leaves out the first message, which the notice shows
	// already.
	skipOpening bool
}

var (
	// historyNotice is what a hand-over notice carries: the case so far,
	// trimmed, for the one who takes it over.
	historyNotice = historyMode{messages: 10, textCut: 1500, skipOpening: true}
	// historyFull answers #history: everything.
	historyFull = historyMode{textCut: 20000, events: true, allFiles: true}
)

type caseHistory struct {
	Entries []notify.HistoryEntry
	Left    int // entries not shown
}

// history is case c's history as mails show it, newest first, with the
// attachments to pass on: the requester side's (every kept one, with
// allFiles) up to passOnLimit in all; the rest are listed as not attached.
func (desk *Desk) history(ctx context.Context, q store.Querier, rules *config.Rules, c *store.Case, mode historyMode) (caseHistory, []store.OutAttachment, error) {
	limit := mode.messages
	if limit > 0 && mode.skipOpening {
		limit++
	}
	msgs, total, err := store.CaseHistory(ctx, q, c.ID, limit)
	if err != nil {
		return caseHistory{}, nil, err
	}
	loc := desk.location()
	shown := total
	if mode.skipOpening && total > 0 {
		shown-- // the oldest is the opening message, which the notice shows
		if len(msgs) == total {
			msgs = msgs[:len(msgs)-1]
		}
	}
	if mode.messages > 0 && len(msgs) > mode.messages {
		msgs = msgs[:mode.messages]
	}
	h := caseHistory{Left: shown - len(msgs)}
	var out []store.OutAttachment
	var size int64
	for _, m := range msgs {
		text := m.NewText
		if text == "" {
			text = m.Text
		}
		e := notify.HistoryEntry{At: m.At.In(loc), Kind: historyKind(m.Kind), From: fromName(rules, m.FromName, m.From),
			Text: cut(text, mode.textCut)}
		requesterSide := m.Kind == store.PartyRequester || m.Kind == store.PartyParticipant || m.Kind == store.PartyCc
		for _, at := range m.Attachments {
			if at.Inline {
				continue
			}
			v := notify.AttachmentView{Name: at.Filename, Type: at.ContentType, Size: at.Size, Omitted: true}
			if at.SHA256 != nil && (requesterSide || mode.allFiles) && size+at.Size <= passOnLimit {
				size += at.Size
				v.Omitted = false
				out = append(out, store.OutAttachment{SHA256: at.SHA256, Filename: at.Filename, ContentType: at.ContentType})
			}
			e.Attachments = append(e.Attachments, v)
		}
		if note, public, ok := splitStoredHandOver(m.Kind, text); ok {
			// A hand-over with a public part: its comment was internal.
			internal := e
			internal.Kind, internal.Text, internal.Attachments = "note", cut(note, mode.textCut), nil
			e.Text = cut(public, mode.textCut)
			h.Entries = append(h.Entries, e, internal)
			continue
		}
		h.Entries = append(h.Entries, e)
	}
	if mode.events {
		evs, err := store.Events(ctx, q, c.ID)
		if err != nil {
			return caseHistory{}, nil, err
		}
		var events []notify.HistoryEntry
		for i := len(evs) - 1; i >= 0; i-- {
			if e, ok := eventEntry(rules, loc, evs[i]); ok {
				events = append(events, e)
			}
		}
		h.Entries = mergeNewestFirst(h.Entries, events)
	}
	return h, out, nil
}

// mergeNewestFirst merges two lists that are each newest first.
func mergeNewestFirst(a, b []notify.HistoryEntry) []notify.HistoryEntry {
	out := make([]notify.HistoryEntry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].At.After(a[0].At) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// historyKind names a message's place in the conversation for templates.
func historyKind(k store.Party) string {
	switch k {
	case store.PartyRequester, store.PartyParticipant, store.PartyCc:
		return "in"
	case store.PartyAgent:
		return "reply"
	case store.PartySupplier:
		return "supplier"
	}
	return "note" // notes, consultants' answers
}

func fromName(rules *config.Rules, name, addr string) string {
	if p := rules.PersonByEmail(addr); p != nil {
		return p.Name
	}
	if s := rules.SupplierBySender(addr); s != nil {
		return s.Name
	}
	if name != "" {
		return name
	}
	return addr
}

// cut shortens s to at most n runes, marking the cut.
func cut(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + " […]"
}

// splitStoredHandOver splits an agent's stored public reply that carried a
// hand-over into what stayed internal (its command lines and comment) and
// what went to the requester, as splitHandOver did when it came in.
func splitStoredHandOver(kind store.Party, text string) (internal, public string, ok bool) {
	if kind != store.PartyAgent {
		return "", "", false
	}
	cmds, body := ParseCommands(text)
	if !slices.ContainsFunc(cmds, func(c Command) bool { return slices.Contains(handOvers, c.Name) }) {
		return "", "", false
	}
	cv := &conversation{body: body}
	cv.splitHandOver(cmds)
	lines := make([]string, 0, len(cmds)+1)
	for _, c := range cmds {
		lines = append(lines, c.Line)
	}
	return strings.TrimSpace(strings.Join(append(lines, cv.comment), "\n")), cv.body, true
}
