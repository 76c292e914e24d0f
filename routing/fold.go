package routing

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold maps s to a canonical case so that case-insensitive comparisons are
// plain byte comparisons: ASCII is lower-cased, and other letters are mapped
// to the lower case of their upper case, which puts every member of a
// Unicode case-folding orbit (as regexp's (?i) uses them: s, S and ſ; σ and
// ς; k, K and the Kelvin sign) on the same rune. Folding is per rune, so if
// a string contains another, their folds do too; the regular-expression
// prefilter relies on that.
func fold(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.Map(foldRune, s)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s
	}
	return strings.ToLower(s)
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// isWordRune reports whether r is part of a word for keyword matching.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// bigramSet records which byte pairs occur in a text, hashed into 4096
// bits: a cheap test that rules out most literals before a substring
// search runs. A hash collision can only let a literal through, never
// reject one that occurs.
type bigramSet [4096 / 64]uint64

func (b *bigramSet) reset() { *b = bigramSet{} }

func pairHash(x, y byte) uint16 {
	return uint16((uint32(x)<<8 | uint32(y)) * 2654435761 >> 20)
}

func (b *bigramSet) add(s string) {
	for i := 0; i+1 < len(s); i++ {
		k := pairHash(s[i], s[i+1])
		b[k>>6] |= 1 << (k & 63)
	}
}

func (b *bigramSet) has(k uint16) bool { return b[k>>6]&(1<<(k&63)) != 0 }

// literal is a folded string searched for in folded text, with the byte
// pairs to check first.
type literal struct {
	s     string
	pairs []uint16
}

func newLiteral(s string) literal {
	l := literal{s: s}
	seen := map[uint16]bool{}
	for i := 0; i+1 < len(s) && len(l.pairs) < 6; i++ {
		k := pairHash(s[i], s[i+1])
		if !seen[k] {
			seen[k] = true
			l.pairs = append(l.pairs, k)
		}
	}
	return l
}

// mayOccur reports false only when l certainly does not occur in the text
// whose bigrams are b.
func (l *literal) mayOccur(b *bigramSet) bool {
	for _, k := range l.pairs {
		if !b.has(k) {
			return false
		}
	}
	return true
}
