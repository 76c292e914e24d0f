package routing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/casemail/casemail/config"
)

// Step is one line of a decision's trail: what was considered and why it
// did or did not apply.
type Step struct {
	Kind   string // rule | unit | service | rung | assignee | drop
	Name   string
	Result string
	Why    string
	// Rule names the rule that decided a unit, service or rung step ("":
	// no rule did); rules replay uses it to name the rule responsible.
	Rule string `json:",omitempty"`
	// Format and Args are Why in parts, Why being fmt.Sprintf(Format,
	// Args...): Args are data (rule names, ids, addresses, counts) and
	// roles (RoleID), so that a reader in another language can word
	// Format itself (notify does). A rule step's Why is its condition as
	// rules.yaml states it, and it has no Format. Not stored: a trail
	// decoded from JSON has only Why.
	Format string `json:"-"`
	Args   []any  `json:"-"`
	// At is the place on the chain a rung step is about (Name is its
	// English label); nil for other steps. Not stored either.
	At *Place `json:"-"`
}

// RoleID is a role's id among a step's Args: readers show it by the
// role's name in their language.
type RoleID string

// PersonID is a person's id among a step's Args, People several (shown
// as "anna, per"): readers show them by their names.
type (
	PersonID string
	People   []string
)

func (p People) String() string { return strings.Join(p, ", ") }

// Scope is a contract's scope among a step's Args, shown as
// config.Contract.Scope words it; readers word its parts
// (config.Contract.ScopeParts) in their language.
type Scope struct{ Contract *config.Contract }

func (s Scope) String() string { return s.Contract.Scope() }

// Place is a place on a service's chain as a trail names it: rung N of Of
// (0 when a rule named only a tier), its tier, and its role or supplier.
type Place struct {
	N, Of                int
	Tier, Role, Supplier string
}

// worded sets the step's Why from an English format and its arguments,
// keeping both (see Format).
func (s Step) worded(format string, args ...any) Step {
	s.Why, s.Format, s.Args = fmt.Sprintf(format, args...), format, args
	return s
}

// Trail is why a decision came out as it did: every rule considered, in
// order, and whether and why it matched; then how the unit and service
// were found, which rung and which person.
//
// Rule outcomes are recorded compactly (a rule index and a reason code),
// and only where a rule matched or failed for another reason than its
// usual one; the text is made by Steps, Explain and MarshalJSON. Recording
// the trail of a 500-rule set thus costs next to nothing per decision. A
// Trail decoded from JSON holds its steps as they were written.
type Trail struct {
	prog *program
	// considered rules 0..considered-1 were evaluated; stopped: the last
	// of them had stop: true and later rules were not.
	considered int32
	stopped    bool
	marks      []mark
	// steps follow the rule steps: unit, service, rung, assignee.
	steps []Step
}

// mark is a rule outcome that differs from "no match" for the rule's usual
// reason.
type mark struct {
	rule    int32
	why     int32 // index into program.reasons
	matched bool
}

// Add appends a step after the rule steps.
func (t *Trail) Add(s Step) { t.steps = append(t.steps, s) }

// Len is the number of steps Steps returns.
func (t Trail) Len() int {
	n := len(t.steps)
	if t.prog == nil {
		return n
	}
	n += int(t.considered)
	if t.stopped && int(t.considered) < len(t.prog.rules) {
		n++
	}
	return n
}

func (t Trail) matchedCount() int {
	n := 0
	for _, m := range t.marks {
		if m.matched {
			n++
		}
	}
	return n
}

// Steps renders the trail, one Step per rule considered (RouteMatched:
// per rule matched), a stop step where a rule ended the evaluation, then
// the unit, service, rung and assignee steps.
func (t Trail) Steps() []Step {
	out := make([]Step, 0, t.Len())
	t.ruleSteps(func(s Step) { out = append(out, s) }, true)
	return append(out, t.steps...)
}

// ruleSteps calls f with each rule step in order; unmatched rules only
// when withNoMatch.
func (t Trail) ruleSteps(f func(Step), withNoMatch bool) {
	p := t.prog
	if p == nil {
		return
	}
	marks := t.marks
	for i := int32(0); i < t.considered; i++ {
		cr := &p.rules[i]
		if len(marks) > 0 && marks[0].rule == i {
			m := marks[0]
			marks = marks[1:]
			if m.matched {
				f(Step{Kind: "rule", Name: cr.rule.Name, Result: "matched", Why: p.reasons[m.why]})
				continue
			}
			if withNoMatch {
				f(Step{Kind: "rule", Name: cr.rule.Name, Result: "no match", Why: p.reasons[m.why]})
			}
			continue
		}
		if withNoMatch {
			f(Step{Kind: "rule", Name: cr.rule.Name, Result: "no match", Why: p.reasonText(cr.noWhy)})
		}
	}
	if rest := len(p.rules) - int(t.considered); t.stopped && rest > 0 {
		f(Step{Kind: "rule", Name: p.rules[t.considered-1].rule.Name, Result: "stop"}.
			worded("stop: true; %d later rule(s) not considered", rest))
	}
}

func (p *program) reasonText(id int32) string {
	if id < 0 {
		return ""
	}
	return p.reasons[id]
}

// Matched returns the names of the rules that matched, in order.
func (t Trail) Matched() []string {
	var out []string
	if t.prog == nil {
		for _, s := range t.steps {
			if s.Kind == "rule" && s.Result == "matched" {
				out = append(out, s.Name)
			}
		}
		return out
	}
	for _, m := range t.marks {
		if m.matched {
			out = append(out, t.prog.rules[m.rule].rule.Name)
		}
	}
	return out
}

// SetBy returns the rule that decided the step of a kind ("unit",
// "service", "rung" (the starting tier), "assignee" or "drop"), or ""
// when no rule did.
func (t Trail) SetBy(kind string) string {
	for _, s := range t.steps {
		if s.Kind == kind && s.Rule != "" {
			return s.Rule
		}
	}
	return ""
}

// MarshalJSON writes the trail as the list of its steps, as stored in a
// case's "routed" event. The steps of rules that failed for their usual
// reason, most of a large trail, are copied from text made at compile time.
func (t Trail) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256+len(t.steps)*128)
	b = append(b, '[')
	if p := t.prog; p != nil {
		b = slices.Grow(b, int(t.considered)*p.noMatchJSONLen/max(len(p.rules), 1))
		marks := t.marks
		for i := int32(0); i < t.considered; i++ {
			if len(marks) > 0 && marks[0].rule == i {
				m := marks[0]
				marks = marks[1:]
				res := "no match"
				if m.matched {
					res = "matched"
				}
				b = appendStepJSON(b, Step{Kind: "rule", Name: p.rules[i].rule.Name, Result: res, Why: p.reasons[m.why]})
				continue
			}
			b = append(b, p.noMatchJSON[i]...)
		}
		if rest := len(p.rules) - int(t.considered); t.stopped && rest > 0 {
			b = appendStepJSON(b, Step{Kind: "rule", Name: p.rules[t.considered-1].rule.Name, Result: "stop"}.
				worded("stop: true; %d later rule(s) not considered", rest))
		}
	}
	for _, s := range t.steps {
		b = appendStepJSON(b, s)
	}
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return append(b, ']'), nil
}

// appendStepJSON appends s as a JSON object and a comma.
func appendStepJSON(b []byte, s Step) []byte {
	b = append(b, `{"Kind":`...)
	b = appendJSONString(b, s.Kind)
	b = append(b, `,"Name":`...)
	b = appendJSONString(b, s.Name)
	b = append(b, `,"Result":`...)
	b = appendJSONString(b, s.Result)
	b = append(b, `,"Why":`...)
	b = appendJSONString(b, s.Why)
	if s.Rule != "" {
		b = append(b, `,"Rule":`...)
		b = appendJSONString(b, s.Rule)
	}
	return append(b, '}', ',')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON reads a list of steps written by MarshalJSON.
func (t *Trail) UnmarshalJSON(b []byte) error {
	var steps []Step
	if err := json.Unmarshal(b, &steps); err != nil {
		return err
	}
	*t = Trail{steps: steps}
	return nil
}

// explainListLimit is how many rules that did not match Explain lists one
// by one; beyond it, it counts them.
const explainListLimit = 10

// Explain renders the decision for the people it is sent to (the
// assignment notice): where the case went, the rules that matched and the
// facts that decided unit, service, rung and assignee. When more than a
// few rules did not match, they are counted rather than listed; the full
// trail is in the case's events and in ExplainAll.
func (d Decision) Explain() string { return d.explain(false) }

// ExplainAll renders the decision with every rule considered and why it
// matched or not (`casemail rules explain`).
func (d Decision) ExplainAll() string { return d.explain(true) }

func (d Decision) explain(all bool) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-10s %s\n", k+":", v)
		}
	}
	svc := d.Service
	if d.ServiceName != "" {
		svc += " (" + d.ServiceName + ")"
	}
	if d.Original != "" {
		svc += ", classified as " + d.Original
		if d.Proposed {
			svc += " (proposed)"
		}
	}
	line("service", svc)
	line("routine", d.Routine)
	unit := d.Unit
	if unit == "" {
		unit = "(none)"
	} else if d.WorkArea != "" {
		unit += ", work area " + d.WorkArea
	}
	line("unit", unit)
	if d.Drop {
		line("dropped", d.DropReason)
	} else if d.Rung > 0 {
		r := fmt.Sprintf("%d of %d: tier %s", d.Rung, d.Rungs, d.Tier)
		if d.Supplier != "" {
			r += ", supplier " + d.Supplier
		} else {
			r += ", role " + d.Role
		}
		line("rung", r)
		line("holders", strings.Join(d.Candidates, ", "))
		if d.Assignee != "" {
			line("assignee", d.Assignee+" ("+d.Strategy+")")
		} else {
			line("assignee", "(none)")
		}
	}
	line("priority", d.Priority)
	line("tags", strings.Join(d.Tags, ", "))
	b.WriteString("why:\n")
	steps, unlisted := d.Trail.Shown(all)
	// The count stands where the rule steps end.
	count := func() {
		if unlisted > 0 {
			fmt.Fprintf(&b, "  %d other rule(s) did not match (`casemail rules explain` and the case's events list each)\n", unlisted)
			unlisted = 0
		}
	}
	for _, s := range steps {
		if s.Kind != "rule" {
			count()
		}
		writeStep(&b, s)
	}
	count()
	return b.String()
}

// Shown is the trail as a notice shows it: every step with all, or when
// at most a few rules did not match; else the rules that matched (and a
// stop) without those that did not, which it counts in unlisted. Rule
// steps come first, then the unit, service, rung and assignee steps.
func (t Trail) Shown(all bool) (steps []Step, unlisted int) {
	noMatch := 0
	if t.prog != nil {
		noMatch = int(t.considered) - t.matchedCount()
	} else {
		for _, s := range t.steps {
			if s.Kind == "rule" && s.Result == "no match" {
				noMatch++
			}
		}
	}
	list := all || noMatch <= explainListLimit
	if !list {
		unlisted = noMatch
	}
	steps = make([]Step, 0, 8)
	t.ruleSteps(func(s Step) { steps = append(steps, s) }, list)
	for _, s := range t.steps {
		if !list && s.Kind == "rule" && s.Result == "no match" {
			continue
		}
		steps = append(steps, s)
	}
	return steps, unlisted
}

func writeStep(b *strings.Builder, s Step) {
	b.WriteString("  ")
	b.WriteString(s.Kind)
	if s.Name != "" {
		b.WriteByte(' ')
		if s.Kind == "rule" {
			b.WriteString(strconv.Quote(s.Name))
		} else {
			b.WriteString(s.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(s.Result)
	if s.Why != "" {
		b.WriteString(" — ")
		b.WriteString(s.Why)
	}
	b.WriteByte('\n')
}
