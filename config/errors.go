package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a YAML file: 1-based line and column (in characters).
type Pos struct{ Line, Col int }

// IsZero reports whether p is unset.
func (p Pos) IsZero() bool { return p.Line == 0 }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is one problem found in a configuration file, at a position.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

// Error formats the problem as "file:line:col: message", the form editors
// and `casemail rules check` understand.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in one load, sorted by position. Loaders
// return it (as error) when it holds at least one problem.
type Errors []*Error

// Error joins the problems, one a line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find the individual problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// errs collects problems for one file.
type errs struct {
	file string
	list Errors
}

func (e *errs) at(p Pos, format string, args ...any) {
	if p.Line == 0 {
		p = Pos{1, 1}
	}
	e.list = append(e.list, &Error{File: e.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

// result returns nil or the sorted problems.
func (e *errs) result() error {
	if len(e.list) == 0 {
		return nil
	}
	e.list.sort()
	return e.list
}

// Closest returns the candidate nearest to s by edit distance, or "" when
// none is near enough to be a plausible typo: the one did-you-mean rule,
// for rules.yaml's names and agents' #commands alike.
func Closest(s string, candidates []string) string { return closest(s, candidates) }

func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := len([]rune(s))/3 + 1
	if limit < 2 {
		limit = 2
	}
	if bestD > limit {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// suggest formats " (did you mean "x"?)" or "".
func suggest(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
