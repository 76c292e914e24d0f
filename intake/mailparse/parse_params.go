package mailparse

import (
	"regexp"
	"slices"
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

	// RFC 2231 sections of one parameter: once a section number repeats
	// or is not one (name*01, name*1a), the later ones are ignored, as
	// Thunderbird does; those read so far still count.
	type sections struct {
		pieces map[int]string
		enc0   bool // section 0 is name*0*= (charset'lang'value)
		bad    bool
	}
	multi := map[string]*sections{}
	plain := map[string]string{}
	star := map[string]string{}
	var order []string // parameter names, first seen first
	seen := map[string]bool{}

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

		base, suffix, starred := strings.Cut(name, "*")
		if !seen[base] {
			seen[base] = true
			order = append(order, base)
		}
		switch {
		case !starred:
			if _, dup := plain[name]; !dup {
				plain[name] = val
			}
		case suffix == "":
			// name*=charset'lang'value
			if _, dup := star[base]; !dup {
				star[base] = val
			}
		default:
			sec := multi[base]
			if sec == nil {
				sec = &sections{pieces: map[int]string{}}
				multi[base] = sec
			}
			if sec.bad {
				continue
			}
			enc := strings.HasSuffix(suffix, "*")
			idx, ok := sectionNumber(strings.TrimSuffix(suffix, "*"))
			if _, dup := sec.pieces[idx]; !ok || dup {
				problems = append(problems, "bad RFC 2231 parameter "+strconv.Quote(name))
				sec.bad = true
				continue
			}
			if enc {
				val = percentDecode(val)
			}
			if idx == 0 {
				sec.enc0 = enc
			}
			sec.pieces[idx] = val
		}
	}

	// Of the forms of one parameter, name*= wins, then the sections
	// name*0, name*1… (as many as run unbroken from 0), then name=: the
	// RFC 2231 forms are the precise spelling (RFC 6266 4.3 for
	// filename*). An RFC 2231 value whose bytes its charset cannot read
	// gives way to the next form; the last one left is read as undeclared
	// 8-bit text.
	for _, name := range order {
		type form struct{ cs, raw string }
		var forms []form
		if v, ok := star[name]; ok {
			cs, v := splitCharsetLang(v)
			forms = append(forms, form{cs, percentDecode(v)})
		}
		if sec := multi[name]; sec != nil {
			if _, ok := sec.pieces[0]; ok {
				var raw strings.Builder
				for i := 0; ; i++ {
					v, ok := sec.pieces[i]
					if !ok {
						break
					}
					raw.WriteString(v)
				}
				cs, v := "", raw.String()
				if sec.enc0 {
					cs, v = splitCharsetLang(v)
				}
				forms = append(forms, form{cs, v})
			}
		}
		if v, ok := plain[name]; ok {
			h.params[name] = v
		}
		if len(forms) == 0 {
			continue
		}
		chosen := slices.IndexFunc(forms, func(f form) bool { return charsetReads(f.cs, f.raw) })
		if chosen < 0 {
			if _, ok := plain[name]; ok {
				continue
			}
			chosen = 0 // read as undeclared
		}
		h.params[name] = h.decode2231(name, forms[chosen].cs, forms[chosen].raw, &problems)
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

// splitCharsetLang splits "charset'lang'value". With one quote, what
// precedes it is the charset (Thunderbird reads "UTF-8'foo" so); without
// any, the whole string is the value.
func splitCharsetLang(v string) (cs, rest string) {
	first := strings.IndexByte(v, '\'')
	if first < 0 {
		return "", v
	}
	second := strings.IndexByte(v[first+1:], '\'')
	if second < 0 {
		return v[:first], v[first+1:]
	}
	return v[:first], v[first+1+second+1:]
}

// sectionNumber reads an RFC 2231 section number: 0, or digits without a
// leading zero.
func sectionNumber(s string) (int, bool) {
	if s == "" || len(s) > 3 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// charsetReads says whether RFC 2231 bytes fit their declared charset:
// undeclared ones always do (they are read by the parser's rules), UTF-8
// only when valid, ASCII labels always (their 8-bit bytes are
// windows-1252, as browsers read them), others when the charset is known
// and decodes them without error.
func charsetReads(cs string, raw string) bool {
	cs = normCharset(cs)
	switch {
	case cs == "":
		return true
	case cs == "utf-8" || cs == "utf8":
		return utf8.ValidString(raw)
	case isPassThroughCharset(cs):
		return true
	}
	if !knownCharset(cs) {
		return false
	}
	out, err := decodeCharset(cs, []byte(raw))
	return err == nil && (!strings.ContainsRune(out, utf8.RuneError) || strings.ContainsRune(raw, utf8.RuneError))
}

// mixedUTF8 reads bytes labelled UTF-8 of which some are not: the valid
// sequences as UTF-8, each stray byte as windows-1252 (pieces of two
// charsets run together, as in a value continued in another charset).
func mixedUTF8(raw string) string {
	var b strings.Builder
	for len(raw) > 0 {
		r, n := utf8.DecodeRuneInString(raw)
		if r == utf8.RuneError && n <= 1 {
			b.WriteString(decodeWindows1252([]byte{raw[0]}))
			raw = raw[1:]
			continue
		}
		b.WriteString(raw[:n])
		raw = raw[n:]
	}
	return b.String()
}

// hasUTF8Sequence says whether s holds a valid multi-byte UTF-8 sequence.
func hasUTF8Sequence(s string) bool {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if n > 1 && r != utf8.RuneError {
			return true
		}
		s = s[n:]
	}
	return false
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
	fits := charsetReads(cs, raw)
	if !fits && (normCharset(cs) == "utf-8" || normCharset(cs) == "utf8") && hasUTF8Sequence(raw) {
		// Partly UTF-8: the label is right for those parts.
		return mixedUTF8(raw)
	}
	if cs == "" || !fits {
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
