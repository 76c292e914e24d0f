package notify

import (
	"fmt"
	"strings"
	"time"
)

// Phrase is a sentence made below notify (by routing, by the sender
// authentication) that a mail words in its reader's language: Format is
// its English wording and the key of its translation (Translate), Args
// what fills it in. An argument with an In method (a Phrase, Phrases, a
// RoleRef) is worded in the language too; any other is data (a domain, a
// rule's name, an id, a count) and shown as it is. A phrase without
// arguments is its Format worded, as it is.
type Phrase struct {
	Format string
	Args   []any
}

// In is the phrase in lang.
func (p Phrase) In(lang string) string {
	if len(p.Args) == 0 {
		return Translate(lang, p.Format) // no verbs to fill: a "%" stays
	}
	args := make([]any, len(p.Args))
	for i, a := range p.Args {
		if w, ok := a.(interface{ In(string) string }); ok {
			args[i] = w.In(lang)
		} else {
			args[i] = a
		}
	}
	return fmt.Sprintf(Translate(lang, p.Format), args...)
}

// String is the phrase in English, for logs and events.
func (p Phrase) String() string { return p.In(DefaultLanguage) }

// Phrases are worded one after the other, separated by "; ".
type Phrases []Phrase

// In is the phrases in lang.
func (ps Phrases) In(lang string) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.In(lang)
	}
	return strings.Join(out, "; ")
}

// RoleRef is a role among a phrase's arguments: it shows by rules.yaml's
// name for it in the language (Names), else its built-in name, else its id.
type RoleRef struct {
	ID    string
	Names map[string]string
}

// In is the role's name in lang.
func (r RoleRef) In(lang string) string {
	if n := r.Names[lang]; n != "" {
		return n
	}
	return wordIn(lang, "role", r.ID)
}

// Word is a word of the fixed vocabulary among a phrase's arguments:
// Kind "status", "priority", "result" (a routing strategy), with its key.
type Word struct{ Kind, Key string }

// In is the word in lang.
func (w Word) In(lang string) string { return wordIn(lang, w.Kind, w.Key) }

// wordIn is the fixed vocabulary's word for kind.key in lang (words),
// else English's, else key with underscores as spaces.
func wordIn(lang, kind, key string) string {
	if v, ok := words[lang][kind+"."+key]; ok {
		return v
	}
	if v, ok := words[DefaultLanguage][kind+"."+key]; ok {
		return v
	}
	return strings.ReplaceAll(key, "_", " ")
}

// Span is a length of time among a phrase's arguments (or a view's),
// worded in the reader's language to the minute: "2 days 3 h", "2 dagar
// 3 tim", "2 dager 3 t". Days are as given — working days, for business
// time — and Clock is never made into days: hours of business time do
// not add up to one. SpanOf makes one of a wall-clock duration.
type Span struct {
	Days  int
	Clock time.Duration
}

// SpanOf is d as a Span, its whole 24-hour days as days.
func SpanOf(d time.Duration) Span {
	d = d.Round(time.Minute)
	return Span{Days: int(d / (24 * time.Hour)), Clock: d % (24 * time.Hour)}
}

// In is the span in lang.
func (s Span) In(lang string) string {
	clock := s.Clock.Round(time.Minute)
	h, m := int(clock/time.Hour), int(clock%time.Hour/time.Minute)
	var parts []string
	switch {
	case s.Days == 1:
		parts = append(parts, "1 "+wordIn(lang, "span", "day"))
	case s.Days > 1:
		parts = append(parts, fmt.Sprintf("%d %s", s.Days, wordIn(lang, "span", "days")))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", h, wordIn(lang, "span", "h")))
	}
	if m > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d %s", m, wordIn(lang, "span", "min")))
	}
	return strings.Join(parts, " ")
}
