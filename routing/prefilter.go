package routing

import (
	"regexp/syntax"
	"sort"
	"strings"
	"unicode/utf8"
)

// requiredLiterals returns sets of folded strings such that, for each
// set, at least one of its strings occurs in the folded text of everything
// the expression matches; nil when nothing is known. A regular expression
// then runs only on text that passes every set, which is most of the speed
// of a large rule set: "(?i)order (no|number) 451" needs "order " and "451".
func requiredLiterals(src string) [][]string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	return required(re)
}

// literalPrefix returns the folded literal that every match of the
// expression starts with, or "".
func literalPrefix(src string) string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return ""
	}
	for {
		switch re.Op {
		case syntax.OpConcat:
			if len(re.Sub) == 0 {
				return ""
			}
			re = re.Sub[0]
		case syntax.OpCapture:
			re = re.Sub[0]
		case syntax.OpLiteral:
			return fold(string(re.Rune))
		default:
			return ""
		}
	}
}

const maxSets = 4

func required(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if s := fold(string(re.Rune)); s != "" {
			return [][]string{{s}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part is needed: keep the strongest sets of all parts.
		var all [][]string
		for _, sub := range re.Sub {
			all = append(all, required(sub)...)
		}
		sort.SliceStable(all, func(i, j int) bool { return shortest(all[i]) > shortest(all[j]) })
		if len(all) > maxSets {
			all = all[:maxSets]
		}
		return all
	case syntax.OpAlternate:
		// One branch is needed: any of each branch's strongest set.
		var union []string
		for _, sub := range re.Sub {
			sets := required(sub)
			if len(sets) == 0 {
				return nil
			}
			union = append(union, sets[0]...)
		}
		if len(union) > 16 {
			return nil
		}
		return [][]string{union}
	}
	return nil
}

func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if l := utf8.RuneCountInString(s); n < 0 || l < n {
			n = l
		}
	}
	return n
}

// containsAny reports whether text holds one of lits.
func containsAny(text string, lits []literal, b *bigramSet) bool {
	for i := range lits {
		if b != nil && !lits[i].mayOccur(b) {
			continue
		}
		if strings.Contains(text, lits[i].s) {
			return true
		}
	}
	return false
}

func anyMayOccur(lits []literal, b *bigramSet) bool {
	for i := range lits {
		if lits[i].mayOccur(b) {
			return true
		}
	}
	return false
}
