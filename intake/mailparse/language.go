package mailparse

import (
	"strings"
	"unicode"
)

// Language is the language the sender wrote in: the first tag of the
// mail's Content-Language header (lower-cased, "en-GB" → "en"), else the
// language DetectLanguage finds in the new text, else "".
func (m *Message) Language() string {
	if h := m.Header.Get("Content-Language"); h != "" {
		tag, _, _ := strings.Cut(h, ",")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if i := strings.IndexAny(tag, "-_"); i >= 0 {
			tag = tag[:i]
		}
		if tag != "" {
			return tag
		}
	}
	return DetectLanguage(m.NewText)
}

// The stop-word model: the commonest short words of each language, those
// that tell it from its neighbours weighing double. A text is read word by
// word once (linear in its length, and at most detectWords words).
var stopWords = map[string][2][]string{
	// language: {shared with a neighbour, telling}
	"sv": {{"och", "det", "är", "att", "för", "med", "har", "som", "på", "kan", "vi", "du", "en", "till", "men", "om", "när", "eller", "hej", "mig", "dig"},
		{"jag", "inte", "ett", "av", "hur", "vad", "från", "någon", "också", "tack", "fungerar", "skulle", "mitt", "min", "ni", "bara", "finns", "detta", "efter", "vill", "kunna", "hjälp", "ärende", "inget"}},
	"nb": {{"og", "det", "er", "for", "med", "har", "som", "på", "kan", "vi", "du", "en", "til", "men", "om", "når", "eller", "jeg", "ikke", "et", "av", "fra", "også", "bare", "dette", "etter", "vil", "meg", "deg"},
		{"hva", "hvordan", "noen", "takk", "hei", "fungerer", "finnes", "dere", "hjelp", "ingen", "kunne", "mitt", "sak", "får"}},
	"nn": {{"og", "det", "er", "for", "med", "har", "som", "på", "kan", "vi", "du", "til", "men", "om", "når", "eller", "av", "frå", "dette", "etter", "vil", "meg", "deg", "hei", "takk"},
		{"eg", "ikkje", "ein", "eit", "korleis", "kva", "nokon", "òg", "berre", "finst", "dykk", "hjelp", "ingen", "kunne", "mitt", "sak", "får", "me"}},
	"da": {{"og", "det", "er", "for", "med", "har", "som", "på", "kan", "vi", "du", "en", "til", "men", "om", "når", "eller", "jeg", "ikke", "et", "fra", "også", "bare", "efter", "vil", "hej", "mig", "dig"},
		{"af", "hvad", "nogen", "tak", "virker", "findes", "jer", "hjælp", "ingenting", "kunne", "min", "sag", "får", "være"}},
	"en": {{"i", "a", "in", "it", "is"},
		{"the", "and", "to", "of", "not", "you", "my", "that", "with", "have", "can", "please", "thanks", "hello", "hi", "this", "does", "work", "what", "how", "when", "from", "help", "are", "be", "would", "could", "there", "but", "your", "we"}},
	"fi": {{"en", "me"},
		{"ja", "on", "ei", "se", "että", "minä", "sinä", "ole", "kanssa", "mutta", "tai", "kun", "mitä", "miten", "hei", "kiitos", "toimi", "voi", "tämä", "olen", "ovat", "myös", "apua", "minun", "sinun", "voisitko", "pitäisi", "jos"}},
}

// detectIndex maps a word to each language's weight for it.
var detectIndex = func() map[string]map[string]int {
	idx := map[string]map[string]int{}
	for lang, lists := range stopWords {
		for weight, words := range lists {
			for _, w := range words {
				if idx[w] == nil {
					idx[w] = map[string]int{}
				}
				idx[w][lang] = weight + 1
			}
		}
	}
	return idx
}()

// detectLanguages is the order ties are broken in.
var detectLanguages = []string{"sv", "nb", "en", "da", "nn", "fi"}

const (
	detectWords    = 400 // words read at most
	detectMinScore = 4   // below this the text says too little
)

// DetectLanguage names the language of a text among sv, nb, nn, da, en and
// fi by the stop-word model above, or "" when the text is too short or
// too mixed to tell.
func DetectLanguage(text string) string {
	score := map[string]int{}
	words := 0
	for f := range strings.FieldsFuncSeq(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if words++; words > detectWords {
			break
		}
		for lang, w := range detectIndex[f] {
			score[lang] += w
		}
	}
	best, second := "", 0
	for _, lang := range detectLanguages {
		switch s := score[lang]; {
		case best == "" || s > score[best]:
			if best != "" {
				second = score[best]
			}
			best = lang
		case s > second:
			second = s
		}
	}
	if score[best] < detectMinScore || score[best] == second {
		return ""
	}
	return best
}
