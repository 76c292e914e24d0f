package casework

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
)

// Command is one command line at the top of an agent's reply, such as
// "#assign per" or "#resolve the printer driver was reinstalled".
type Command struct {
	Name string // lower-cased, without '#': resolve, close, assign, …
	Arg  string // the rest of the line, trimmed
	Line string // the line as written, trimmed
}

// The commands of DESIGN.md, and what their argument must be.
const (
	argNone     = iota // nothing may follow
	argOptional        // free text may follow
	argRequired        // something must follow
)

var commandArgs = map[string]int{
	"resolve":      argOptional,
	"close":        argNone,
	"reopen":       argNone,
	"escalate":     argOptional,
	"assign":       argRequired,
	"tier":         argRequired,
	"service":      argRequired,
	"priority":     argRequired,
	"consult":      argRequired,
	"cc":           argRequired,
	"supplier":     argNone,
	"supplier-ref": argRequired,
	"wait":         argRequired,
	"note":         argNone,
	"merge":        argRequired,
	"approve":      argNone,
	"reject":       argOptional,
	"public":       argNone,
	"history":      argNone,
	"mine":         argNone,
	"help":         argNone,
}

// commandOrder is the order commands are applied in, whatever order they
// were written in: the approval gate first, then where the case goes,
// then what happens to it, a merge last.
var commandOrder = []string{"approve", "reject", "service", "tier", "escalate", "assign", "priority",
	"consult", "cc", "supplier", "supplier-ref", "wait", "reopen", "resolve", "close", "merge", "note", "public", "history", "mine", "help"}

// exclusive groups: at most one command of each in one reply.
var exclusive = [][]string{
	{"resolve", "close", "reopen", "wait", "merge", "reject"}, // the case's next status
	{"approve", "reject"},
	{"escalate", "tier", "assign"}, // where the case goes
	{"note", "public"},             // the whole reply internal, or a public part
}

// handOvers are the commands that give the case (or a question about it)
// to someone else. The rest of a reply with one of them is an internal
// comment to whoever receives the case, never sent to the requester; only
// the text under a line "#public" goes to the requester.
var handOvers = []string{"escalate", "assign", "tier", "consult", "supplier"}

// PublicMarker is the line that starts the public part of a reply with a
// hand-over command: the text above it is the internal comment, the text
// below it the answer to the requester.
const PublicMarker = "#public"

// splitPublic splits a reply's text (after its command lines) at the
// first line that is PublicMarker alone (any case, surrounding spaces
// allowed): the text above it and the text below it. found is false when
// there is no such line; above is then the whole text.
func splitPublic(text string) (above, below string, found bool) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.EqualFold(strings.TrimSpace(l), PublicMarker) {
			return strings.Trim(strings.Join(lines[:i], "\n"), "\n"),
				strings.Trim(strings.Join(lines[i+1:], "\n"), "\n"), true
		}
	}
	return text, "", false
}

// ParseCommands splits a reply's text into the command lines at its top
// and the rest. Command lines start with '#' and a letter; blank lines
// between them are allowed; the first other line ends them. "#1042 …" is
// text, not a command.
func ParseCommands(text string) (cmds []Command, rest string) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(strings.TrimPrefix(lines[i], "\ufeff"))
		if l == "" {
			continue
		}
		if len(l) < 2 || l[0] != '#' || !isASCIILetter(l[1]) {
			break
		}
		name, arg, _ := strings.Cut(l[1:], " ")
		if j := strings.IndexAny(name, "\t:"); j >= 0 { // "#note:" and "#tier\t3" as people type them
			arg = name[j+1:] + " " + arg
			name = name[:j]
		}
		cmds = append(cmds, Command{Name: strings.ToLower(name), Arg: strings.TrimSpace(arg), Line: l})
	}
	return cmds, strings.Trim(strings.Join(lines[i:], "\n"), "\n")
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// checkSyntax returns what is wrong with a reply's commands taken
// together, without looking at the case: unknown names, missing or
// unexpected arguments, repeats and conflicts.
func checkSyntax(cmds []Command) []commandError {
	var errs []commandError
	seen := map[string]bool{}
	for _, c := range cmds {
		want, ok := commandArgs[c.Name]
		switch {
		case !ok:
			if near := config.Closest(c.Name, knownCommands()); near != "" {
				errs = append(errs, commandError{c.Line, "unknown command (did you mean #%s?)", []any{near}})
				continue
			}
			errs = append(errs, commandError{c.Line, "unknown command (known: #%s)", []any{strings.Join(knownCommands(), ", #")}})
			continue
		case seen[c.Name]:
			errs = append(errs, commandError{c.Line, "#%s given twice", []any{c.Name}})
		case want == argNone && c.Arg != "":
			errs = append(errs, commandError{c.Line, "#%s takes no argument", []any{c.Name}})
		case want == argRequired && c.Arg == "":
			errs = append(errs, commandError{c.Line, "#%s needs an argument (%s)", []any{c.Name, phrase(argHelp[c.Name])}})
		}
		seen[c.Name] = true
	}
	for _, group := range exclusive {
		var both []string
		for _, n := range group {
			if seen[n] {
				both = append(both, "#"+n)
			}
		}
		if len(both) > 1 {
			errs = append(errs, commandError{"", "%s: only one of them at a time", []any{strings.Join(both, " + ")}})
		}
	}
	return errs
}

var argHelp = map[string]string{
	"assign":       "a person's id, name or address",
	"consult":      "a person's id, name or address",
	"tier":         "a level of the service's chain, e.g. #tier 2",
	"service":      "a service id from the catalogue",
	"priority":     "low, normal, high or urgent",
	"wait":         "a duration such as 2d or 4h",
	"merge":        "a case number, e.g. #merge 1042",
	"cc":           "an address, e.g. #cc kari@example.no",
	"supplier-ref": "the supplier's own reference, e.g. #supplier-ref INC0012345",
}

// knownCommands lists the commands in DESIGN.md's order, for error replies.
func knownCommands() []string {
	return []string{"resolve", "close", "reopen", "escalate", "assign", "tier", "service", "priority",
		"consult", "cc", "supplier", "supplier-ref", "wait", "note", "public", "merge", "approve", "reject", "history", "mine", "help"}
}

// sortCommands returns cmds in the order they are applied.
func sortCommands(cmds []Command) []Command {
	out := make([]Command, 0, len(cmds))
	for _, n := range commandOrder {
		for _, c := range cmds {
			if c.Name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// findPerson resolves "#assign X": a person id, an address or a full name,
// ignoring case.
func findPerson(r *config.Rules, s string) *config.Person {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "<>"))
	if p := r.Person(s); p != nil {
		return p
	}
	if p := r.PersonByEmail(s); p != nil {
		return p
	}
	for _, p := range r.People {
		if strings.EqualFold(p.ID, s) || strings.EqualFold(p.Name, s) {
			return p
		}
	}
	return nil
}

// parseWait reads "#wait 2d": calendar time, at most a year.
func parseWait(s string) (time.Duration, error) {
	d, err := config.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("%q is not a positive duration", s)
	case d.Std() > 366*24*time.Hour:
		return 0, fmt.Errorf("%s is more than a year", d)
	}
	return d.Std(), nil
}

// parseCaseNumber reads "#merge 1042" or "#merge #1042".
func parseCaseNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "#"), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a case number", s)
	}
	return n, nil
}

var priorities = map[string]bool{"low": true, "normal": true, "high": true, "urgent": true}

func chainTiers(svc *config.Service) string {
	var ts []string
	for _, r := range svc.Chain {
		ts = append(ts, r.Tier)
	}
	return strings.Join(ts, ", ")
}

// chainSupplier is the supplier of a service's external rung.
func chainSupplier(svc *config.Service) string {
	for _, r := range svc.Chain {
		if r.Supplier != "" {
			return r.Supplier
		}
	}
	return ""
}
