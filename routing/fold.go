package routing

import (
	"sort"
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
	f, _ := foldKeep(s)
	return f
}

// foldKeep folds s and reports whether every byte offset kept its place
// (true unless a rune's fold has another UTF-8 length, as for the Kelvin
// sign); the regular-expression search uses offsets found in folded text.
func foldKeep(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return foldSlow(s, i)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s, true
	}
	return strings.ToLower(s), true
}

// foldSlow folds s, whose first non-ASCII byte is at i.
func foldSlow(s string, i int) (string, bool) {
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for j, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[j] = c + 'a' - 'A'
		}
	}
	same := true
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if f := foldRune(r); f == r || r == utf8.RuneError && size == 1 {
			b = append(b, s[i:i+size]...) // unchanged, or an invalid byte kept as it is
		} else {
			n := len(b)
			b = utf8.AppendRune(b, f)
			same = same && len(b)-n == size
		}
		i += size
	}
	return string(b), same
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if r < rune(len(latinFold)) {
		return latinFold[r]
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// latinFold caches foldRune for Latin-1 and Latin Extended, where most
// non-ASCII letters of Nordic mail fall.
var latinFold = func() (t [0x250]rune) {
	for r := range t {
		t[r] = unicode.ToLower(unicode.ToUpper(rune(r)))
	}
	return t
}()

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
	first uint16   // the rarest pair, tested inline
	pairs []uint16 // the others
}

func newLiteral(s string) literal {
	l := literal{s: s}
	type pair struct {
		k    uint16
		rare bool
	}
	var pairs []pair
	seen := map[uint16]bool{}
	for i := 0; i+1 < len(s); i++ {
		k := pairHash(s[i], s[i+1])
		if !seen[k] {
			seen[k] = true
			pairs = append(pairs, pair{k, !isLower(s[i]) || !isLower(s[i+1])})
		}
	}
	// Pairs with digits, punctuation or non-ASCII bytes are rarer in mail
	// text than letter pairs, so they are checked first.
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].rare && !pairs[j].rare })
	for i, p := range pairs {
		switch {
		case i == 0:
			l.first = p.k
		case i < 16:
			l.pairs = append(l.pairs, p.k)
		}
	}
	return l
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// mayOccur reports false only when l certainly does not occur in the text
// whose bigrams are b.
func (l *literal) mayOccur(b *bigramSet) bool {
	if len(l.s) < 2 {
		return true
	}
	return b.has(l.first) && l.mayOccurRest(b)
}

func (l *literal) mayOccurRest(b *bigramSet) bool {
	for _, k := range l.pairs {
		if !b.has(k) {
			return false
		}
	}
	return true
}
