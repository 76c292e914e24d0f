package mailparse

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// mediaHeader is a parsed Content-Type or Content-Disposition value.
// mime.ParseMediaType is too strict for mail from the wild (duplicate or
// unquoted parameters with spaces, a missing ';') and decodes RFC 2231 only
// for UTF-8 and ASCII, so parameters are parsed here.
type mediaHeader struct {
	value  string            // "text/plain", "attachment"; lower-case
	params map[string]string // names lower-case; RFC 2231 already joined and decoded
	// undeclared holds the bytes of RFC 2231 values with an empty charset
	// (name*=''%C4%E3) that are not UTF-8: params has them as
	// windows-1252 until the parser, which knows the enclosing parts and
	// the rest of the mail, reads them (parser.undeclared8bit).
	undeclared map[string][]byte
}

var paramStartRE = regexp.MustCompile(`[\s;]+([A-Za-z0-9!#$%&'*+.^_{|}~-]+)\s*=`)

// parseMediaHeader parses "value; a=b; c*=utf-8”x" leniently; it never fails.
// Problems found are returned for the message's record.
func parseMediaHeader(s string) (mediaHeader, []string) {
	var problems []string
	s = strings.TrimSpace(s)
	h := mediaHeader{params: map[string]string{}}

	// The value runs to the first ';' or whitespace (a missing ';' before
	// the first parameter is a known producer bug).
	end := strings.IndexAny(s, "; \t\r\n")
	if end < 0 {
		end = len(s)
	}
	h.value = strings.ToLower(strings.TrimSpace(s[:end]))
	rest := s[end:]

	type piece struct {
		idx   int
		enc   bool
		value string
	}
	multi := map[string][]piece{}
	plain := map[string]string{}
	star := map[string]string{}

	for {
		loc := paramStartRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		name := strings.ToLower(rest[loc[2]:loc[3]])
		rest = rest[loc[1]:]
		rest = strings.TrimLeft(rest, " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			val, rest = readQuoted(rest)
		} else {
			// Token up to ';'. Unquoted values with spaces are common
			// (name=my file.pdf); stop early only where another
			// "name=" clearly begins.
			stop := strings.IndexByte(rest, ';')
			if stop < 0 {
				stop = len(rest)
			}
			if m := paramStartRE.FindStringIndex(rest[:stop]); m != nil && m[0] > 0 {
				stop = m[0]
			}
			val = strings.TrimSpace(rest[:stop])
			rest = rest[stop:]
			if strings.Contains(val, `"`) {
				// report "final": a token and a quoted string are
				// words, as in a phrase.
				val = unquoteWords(val)
			}
		}

		switch {
		case strings.Contains(name, "*"):
			base, idxStr, _ := strings.Cut(name, "*")
			enc := strings.HasSuffix(name, "*")
			idxStr = strings.TrimSuffix(idxStr, "*")
			if idxStr == "" {
				// name*=charset'lang'value
				if _, dup := star[base]; !dup {
					star[base] = val
				}
				continue
			}
			idx, err := strconv.Atoi(idxStr)
			if err != nil || idx < 0 || idx > 999 {
				problems = append(problems, "bad RFC 2231 parameter "+strconv.Quote(name))
				continue
			}
			multi[base] = append(multi[base], piece{idx, enc, val})
		default:
			if _, dup := plain[name]; !dup {
				plain[name] = val
			}
		}
	}

	for name, v := range plain {
		h.params[name] = v
	}
	// RFC 2231 forms win over plain ones: they are the precise spelling.
	for name, pieces := range multi {
		sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].idx < pieces[j].idx })
		var raw strings.Builder
		cs := ""
		for i, p := range pieces {
			v := p.value
			if p.enc {
				if i == 0 {
					cs, v = splitCharsetLang(v)
				}
				v = percentDecode(v)
			}
			raw.WriteString(v)
		}
		h.params[name] = h.decode2231(name, cs, raw.String(), &problems)
	}
	for name, v := range star {
		if _, ok := multi[name]; ok {
			continue
		}
		cs, v := splitCharsetLang(v)
		h.params[name] = h.decode2231(name, cs, percentDecode(v), &problems)
	}
	return h, problems
}

// readQuoted reads a quoted-string at the start of s (which begins with '"')
// and returns its content and the rest. An unterminated string runs to the end.
func readQuoted(s string) (string, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		case '\r', '\n':
			// folded inside the quotes
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// unquoteWords removes the quotes of the quoted strings in s, keeping
// their content (backslash escapes undone) and everything outside them.
func unquoteWords(s string) string {
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		var q string
		q, s = readQuoted(s[i:])
		b.WriteString(q)
	}
	return b.String()
}

// splitCharsetLang splits "charset'lang'value"; without two quotes the whole
// string is the value.
func splitCharsetLang(v string) (cs, rest string) {
	first := strings.IndexByte(v, '\'')
	if first < 0 {
		return "", v
	}
	second := strings.IndexByte(v[first+1:], '\'')
	if second < 0 {
		return "", v
	}
	return v[:first], v[first+1+second+1:]
}

func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func (h *mediaHeader) decode2231(name, cs, raw string, problems *[]string) string {
	if cs == "" {
		if !utf8.ValidString(raw) {
			if h.undeclared == nil {
				h.undeclared = map[string][]byte{}
			}
			h.undeclared[name] = []byte(raw)
		}
		return fallbackDecode([]byte(raw))
	}
	s, err := decodeCharset(cs, []byte(raw))
	if err != nil {
		*problems = append(*problems, "parameter: "+err.Error())
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
