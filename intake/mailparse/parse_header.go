package mailparse

import (
	"bytes"
	"mime"
	netmail "net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// rawField is one header field as it stands in the mail, folding included.
type rawField struct {
	raw []byte
}

// readHeader splits b into header fields and body. It tolerates what real
// mail does wrong: an mbox "From " line on top, LF or CRLF line ends, a
// header that runs into the body without a blank line, continuation lines
// without leading whitespace. top marks a whole message, where leading blank
// lines are skipped; in a MIME part a leading blank line means "no header".
func (p *parser) readHeader(b []byte, top bool) (fields []rawField, body []byte, problems []string) {
	return readHeaderBudget(b, top, p.b)
}

func readHeaderBudget(b []byte, top bool, bud *budget) (fields []rawField, body []byte, problems []string) {
	pos := 0
	if top {
		for pos < len(b) {
			line, next := nextLine(b, pos)
			if len(bytes.TrimSpace(line)) == 0 && next > pos {
				pos = next
				continue
			}
			break
		}
		if line, next := nextLine(b, pos); bytes.HasPrefix(line, []byte("From ")) || bytes.HasPrefix(line, []byte(">From ")) {
			pos = next
		}
		// A junk line or two before the first field ("---- Original
		// email message ----", a forwarding client's banner): skipped
		// when real fields follow, as the best parsers do.
		for skip, at := 0, pos; skip < 3 && at < len(b); skip++ {
			line, next := nextLine(b, at)
			content := trimEOL(line)
			if len(content) == 0 || isFieldLine(content) {
				break
			}
			l1, n1 := nextLine(b, next)
			l2, _ := nextLine(b, n1)
			if c1, c2 := trimEOL(l1), trimEOL(l2); isFieldLine(c1) && (isFieldLine(c2) || len(c2) > 0 && (c2[0] == ' ' || c2[0] == '\t')) {
				problems = append(problems, "junk line before the header skipped: "+strconv.Quote(string(truncateBytes(trimEOL(b[pos:next]), 60))))
				pos = next
				break
			}
			at = next
		}
	}
	for pos < len(b) {
		line, next := nextLine(b, pos)
		bud.spend(len(line))
		content := trimEOL(line)
		switch {
		case len(content) == 0:
			return fields, b[next:], problems
		case content[0] == ' ' || content[0] == '\t':
			if len(fields) == 0 {
				if top {
					// Leading folded junk: skip it.
					problems = append(problems, "header starts with a continuation line")
					pos = next
					continue
				}
				// A part whose header is missing: the body starts here.
				return fields, b[pos:], problems
			}
			f := &fields[len(fields)-1]
			f.raw = append(f.raw, line...)
		case isFieldLine(content):
			fields = append(fields, rawField{raw: append([]byte(nil), line...)})
		default:
			if len(fields) == 0 {
				return nil, b[pos:], problems
			}
			// Not a field. If the field before ends in ';' or ',' or
			// fields follow, it is a continuation line that lost its
			// leading whitespace; otherwise the body begins without the
			// blank line.
			nl, _ := nextLine(b, next)
			nc := trimEOL(nl)
			prev := bytes.TrimRight(fields[len(fields)-1].raw, " \t\r\n")
			openEnded := len(prev) > 0 && (prev[len(prev)-1] == ';' || prev[len(prev)-1] == ',') ||
				bytes.HasPrefix(content, []byte("=?")) || unbalanced(prev)
			if openEnded || next < len(b) && len(nc) > 0 && (nc[0] == ' ' || nc[0] == '\t' || isFieldLine(nc)) {
				f := &fields[len(fields)-1]
				f.raw = append(trimEOLRight(f.raw), append([]byte("\r\n "), line...)...)
				problems = append(problems, "header line without a field name joined to the field before it")
			} else {
				problems = append(problems, "header not ended by a blank line")
				return fields, b[pos:], problems
			}
		}
		pos = next
	}
	return fields, nil, problems
}

func truncateBytes(b []byte, n int) []byte {
	return []byte(truncate(string(b[:min(len(b), n+4)]), n))
}

// unbalanced reports a field value left inside quotes, angle brackets or
// a comment: the next line must continue it. Only the tail is looked at, so
// a long field costs nothing more.
func unbalanced(field []byte) bool {
	tail := field[max(0, len(field)-200):]
	quotes := bytes.Count(tail, []byte(`"`))
	return quotes%2 == 1 || bytes.Count(tail, []byte("<")) > bytes.Count(tail, []byte(">")) ||
		bytes.Count(tail, []byte("(")) > bytes.Count(tail, []byte(")"))
}

// nextLine returns the line starting at pos, with its line end, and the
// position after it.
func nextLine(b []byte, pos int) ([]byte, int) {
	if pos >= len(b) {
		return nil, pos
	}
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return b[pos:], len(b)
	}
	return b[pos : pos+i+1], pos + i + 1
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

func trimEOLRight(b []byte) []byte {
	return bytes.TrimRight(b, "\r\n")
}

// isFieldLine reports whether line starts with a usable "Name:".
func isFieldLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	key := bytes.TrimRight(line[:colon], " \t")
	if len(key) == 0 {
		return false
	}
	for _, c := range key {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// buildHeader turns fields into a go-message header, converting raw 8-bit
// bytes to UTF-8: as UTF-8 when valid, else in the fallback charset.
func buildHeader(fields []rawField, fallback string) mail.Header {
	var h textproto.Header
	// textproto.Header keeps fields in reverse order; adding them last to
	// first makes Get return the first occurrence, as ReadHeader does.
	for i := len(fields) - 1; i >= 0; i-- {
		raw := fields[i].raw
		if !utf8.Valid(raw) {
			raw = []byte(decodeRaw8bit(raw, fallback))
		}
		if bytes.IndexByte(raw, ':') < 0 {
			continue
		}
		h.AddRaw(raw)
	}
	return mail.Header{Header: message.Header{Header: h}}
}

// decodeRaw8bit decodes header bytes that are not UTF-8.
func decodeRaw8bit(raw []byte, fallback string) string {
	if fallback != "" && !isPassThroughCharset(normCharset(fallback)) {
		if s, err := decodeCharset(fallback, raw); err == nil {
			return s
		}
	}
	return decodeWindows1252(raw)
}

// headerText returns the decoded, single-line value of field key.
func (p *parser) headerText(h *mail.Header, key string) string {
	v := h.Get(key)
	if v == "" {
		return ""
	}
	return cleanLine(p.decodeWords(v))
}

// cleanLine makes a decoded header value one tidy line.
func cleanLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// cleanInvisible replaces what shows as nothing or as a blank with a
// space, as Thunderbird does with names and parameters (jsmime
// cleanToken): format characters (zero-width spaces and joiners, bidi
// controls, the soft hyphen), blank-looking marks and symbols, and unusual
// spaces. Runs of them could otherwise pad a display name until its real
// address scrolls out of view, or reverse a file name's extension on
// screen ("ABC\u202Etxt.exe"). A zero-width joiner between two visible
// characters (emoji sequences) and a variation selector after one stay;
// blank marks go without a trace.
func cleanInvisible(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return r >= 0xA0 && (blankMark(r) || r == 0x2800 || unicode.Is(unicode.Zs, r) || invisibleFormat(r) ||
			r == 0x200D || r == 0xFE0E || r == 0xFE0F)
	}) < 0 {
		return s
	}
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case blankMark(r):
			continue
		case r == 0x2800 || unicode.Is(unicode.Zs, r) || invisibleFormat(r):
			r = ' '
		}
		rs = append(rs, r)
	}
	visible := func(i int) bool { return i >= 0 && i < len(rs) && rs[i] != ' ' }
	out := make([]rune, 0, len(rs))
	for i, r := range rs {
		switch {
		case r == 0x200D && (!visible(i-1) || !visible(i+1)):
			r = ' '
		case r == 0xFE0E || r == 0xFE0F:
			prev := ' '
			if len(out) > 0 {
				prev = out[len(out)-1]
			}
			if prev == 0xFE0E || prev == 0xFE0F {
				continue // a repeated selector
			}
			if prev == ' ' {
				r = ' '
			}
		}
		out = append(out, r)
	}
	return string(out)
}

// blankMark reports nonspacing marks that show as nothing.
func blankMark(r rune) bool {
	return r == 0x034F || r == 0x17B4 || r == 0x17B5 || 0x180B <= r && r <= 0x180D ||
		0xFE00 <= r && r <= 0xFE0D || 0xE0100 <= r && r <= 0xE01EF
}

// invisibleFormat reports format characters (Cf) that show as nothing,
// but for the Arabic number signs and the zero-width joiner.
func invisibleFormat(r rune) bool {
	switch {
	case r == 0xAD, r == 0x061C, r == 0x06DD, r == 0x070F, r == 0x08E2, r == 0x180E,
		r == 0x200B, r == 0x200C, r == 0x200E, r == 0x200F, 0x202A <= r && r <= 0x202E,
		0x2060 <= r && r <= 0x2064, 0x2066 <= r && r <= 0x206F, r == 0xFEFF, 0xFFF9 <= r && r <= 0xFFFB,
		r == 0x110BD, r == 0x110CD, 0x13430 <= r && r <= 0x13438, 0x1BCA0 <= r && r <= 0x1BCA3,
		0x1D173 <= r && r <= 0x1D17A, r == 0xE0001, 0xE0020 <= r && r <= 0xE007F:
		return true
	}
	return false
}

// decodeWords decodes RFC 2047 encoded words leniently: whitespace between
// encoded words goes, adjacent words in one charset are joined before
// charset decoding (senders split multibyte characters across words), and a
// word that cannot be decoded (unknown charset, broken base64) stays as it
// was written. Problems are recorded, never returned.
func (p *parser) decodeWords(s string) string {
	p.b.spend(len(s))
	if !strings.Contains(s, "=?") {
		return s
	}
	var out strings.Builder
	// Pending run of decoded-but-not-converted words of one charset.
	var runCS string
	var runBytes []byte
	var runRaw strings.Builder
	flush := func() {
		if runCS == "" {
			return
		}
		cs := runCS
		if has8bit(runBytes) && utf8.Valid(runBytes) && !multiByteCharset(cs) && !strings.HasPrefix(cs, "utf-") {
			// A single-byte label on bytes that are valid UTF-8: the label
			// is wrong (clients that always say iso-8859-1); valid UTF-8
			// is never re-decoded.
			cs = "utf-8"
		}
		text, err := decodeCharset(cs, runBytes)
		if err != nil {
			p.problem("header: encoded word: " + err.Error())
			out.WriteString(runRaw.String())
		} else {
			out.WriteString(text)
		}
		runCS, runBytes = "", runBytes[:0]
		runRaw.Reset()
	}
	prevWord := false // the last token was an encoded word
	w := wordScanner{s: s}
	pos := 0 // s[pos:] is still to be read
	for pos < len(s) {
		rel := strings.Index(s[pos:], "=?")
		if rel < 0 {
			break
		}
		start := pos + rel
		cs, enc, text, length, ok := w.word(start)
		if w.none {
			break // no word ends after this one
		}
		if !ok {
			flush()
			out.WriteString(s[pos : start+2])
			pos = start + 2
			prevWord = false
			continue
		}
		lit := s[pos:start]
		raw := s[start : start+length]
		pos = start + length
		// Whitespace between two encoded words is dropped (RFC 2047 6.2).
		if prevWord && strings.TrimSpace(lit) == "" {
			lit = ""
		}
		prevWord = true
		if lit != "" {
			flush()
			out.WriteString(lit)
		}
		data, good := decodeWordText(enc, text)
		cs = normCharset(cs)
		if !good || !knownCharset(cs) {
			flush()
			if !good {
				p.problem("header: undecodable encoded word kept as written")
			} else {
				p.problem("header: encoded word in unknown charset " + cs + " kept as written")
			}
			out.WriteString(raw)
			continue
		}
		if runCS != "" && runCS != cs {
			flush()
		}
		runCS = cs
		runBytes = append(runBytes, data...)
		runRaw.WriteString(raw)
	}
	flush()
	out.WriteString(s[pos:])
	return out.String()
}

const maxWordText = 1000

// splitEncodedWord parses "=?charset?enc?text?=" at the start of s.
func splitEncodedWord(s string) (cs, enc, text string, length int, ok bool) {
	if !strings.HasPrefix(s, "=?") {
		return
	}
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1 > 75 || strings.ContainsAny(rest[:q1], " \t\r\n") {
		return
	}
	cs = rest[:q1]
	rest = rest[q1+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return
	}
	enc = strings.ToLower(rest[:1])
	if enc != "b" && enc != "q" {
		return
	}
	rest = rest[2:]
	// Words are at most 75 characters (RFC 2047); allow generously more,
	// but never scan the whole header for every "=?" in it.
	end := strings.Index(rest[:min(len(rest), maxWordText)], "?=")
	if end < 0 {
		return
	}
	text = rest[:end]
	if strings.ContainsAny(text, " \t\r\n") {
		// Broken producers put spaces in Q and B words; accept short ones,
		// which cannot swallow the rest of the line by mistake.
		if len(text) > 75 || strings.Contains(text, "=?") || strings.ContainsAny(text, "\r\n") && enc == "b" {
			return
		}
	}
	return cs, enc, text, 2 + q1 + 1 + 2 + end + 2, true
}

func decodeWordText(enc, text string) ([]byte, bool) {
	if enc == "b" {
		return decodeBase64Word(text)
	}
	b := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '_':
			b = append(b, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			b = append(b, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b, true
}

// decodeBase64Word decodes B-encoded text, forgiving missing, surplus or
// stray padding and spaces (producers in the wild put both in words), but
// not foreign characters.
func decodeBase64Word(text string) ([]byte, bool) {
	for i := 0; i < len(text); i++ {
		if c := text[i]; utf7Value[c] < 0 && c != '=' && c != ' ' && c != '\t' {
			return nil, false
		}
	}
	b, _ := base64Blocks([]byte(text), false)
	return b, true
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// addressList parses an address header leniently. Entries without an
// address (a bare name, garbage) are dropped unless keepNameOnly is set, as
// for From, where the name is still worth showing.
func (p *parser) addressList(h *mail.Header, key string, keepNameOnly bool) []Address {
	var out []Address
	for _, v := range h.Values(key) {
		p.b.spend(len(v))
		for _, a := range p.parseAddresses(v) {
			if a.Addr != "" || keepNameOnly {
				out = append(out, a)
			}
			if len(out) >= maxAddresses {
				p.problem(key + ": more than " + strconv.Itoa(maxAddresses) + " addresses; the rest ignored")
				return out
			}
		}
	}
	return out
}

const (
	maxAddresses = 500
	maxNameLen   = 200
)

func (p *parser) parseAddresses(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	ap := netmail.AddressParser{WordDecoder: wordDecoder}
	v = relabelUTF8Words(v)
	// net/mail tokenizes before it decodes: an encoded word holding a
	// special (=?utf-8?q?a@b.c,?=) would be cut into addresses.
	if list, err := ap.ParseList(v); err == nil && !specialInWord(v) {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, p.address(a.Name, a.Address))
		}
		return out
	}
	// The list is split first, with encoded words kept whole (a decoded
	// "Bürling, Andreas" must not split), then each mailbox is read on
	// its own: one broken mailbox does not spoil the others.
	var out []Address
	for _, item := range splitTopLevel(v) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := ap.Parse(item); err == nil && !specialInWord(item) {
			out = append(out, p.address(a.Name, a.Address))
			continue
		}
		out = append(out, p.lenientAddresses(item)...)
	}
	return out
}

// specialInWord says whether an encoded word in v holds a character that
// structures an address list.
func specialInWord(v string) bool {
	w := wordScanner{s: v}
	for i := strings.Index(v, "=?"); i >= 0 && i < len(v); {
		if _, _, text, n, ok := w.word(i); ok {
			if strings.ContainsAny(text, ",;:<>@\"()[]\\") {
				return true
			}
			i += n
		} else {
			i += 2
		}
		j := strings.Index(v[i:], "=?")
		if j < 0 {
			break
		}
		i += j
	}
	return false
}

// wordScanner finds encoded words in s, keeping the position of the next
// "?=" so that many "=?" without an end cost one scan, not one each.
type wordScanner struct {
	s     string
	endAt int  // index of the next "?=" after the last word's start
	none  bool // no "?=" after it: no word can start from here on
}

// word parses an encoded word at s[i:], which starts with "=?".
func (w *wordScanner) word(i int) (cs, enc, text string, n int, ok bool) {
	if w.none {
		return
	}
	if w.endAt < i+2 {
		e := strings.Index(w.s[i+2:], "?=")
		if e < 0 {
			w.none = true
			return
		}
		w.endAt = i + 2 + e
	}
	if w.endAt-i > maxWordText+80 {
		return
	}
	return splitEncodedWord(w.s[i:])
}

// relabelUTF8Words relabels as UTF-8 the encoded words whose bytes are
// valid UTF-8 under a single-byte label, so that net/mail, which decodes
// ISO-8859-1 itself, reads them as decodeWords does. One pass over v.
func relabelUTF8Words(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	var out strings.Builder
	w := wordScanner{s: v}
	pos := 0 // v[pos:] is still to be copied
	for pos < len(v) {
		rel := strings.Index(v[pos:], "=?")
		if rel < 0 {
			break
		}
		start := pos + rel
		cs, enc, text, n, ok := w.word(start)
		if w.none {
			break
		}
		if !ok {
			n = 2
		} else if c := normCharset(cs); !strings.HasPrefix(c, "utf-") && !multiByteCharset(c) {
			if b, good := decodeWordText(enc, text); good && has8bit(b) && utf8.Valid(b) {
				out.WriteString(v[pos:start] + "=?utf-8?" + enc + "?" + text + "?=")
				pos = start + n
				continue
			}
		}
		out.WriteString(v[pos : start+n])
		pos = start + n
	}
	out.WriteString(v[pos:])
	return out.String()
}

// address makes an Address of a parsed mailbox: the name decoded and
// tidied, and dropped when it only repeats the address. addr is
// "local@domain" with the local part unquoted (as net/mail gives it).
func (p *parser) address(name, addr string) Address {
	// Parse hands over decoded headers, but nothing that leaves here may
	// be invalid UTF-8: PostgreSQL refuses it, and the mail with it.
	name, addr = strings.ToValidUTF8(name, "\uFFFD"), strings.ToValidUTF8(addr, "\uFFFD")
	if strings.Contains(name, "=?") {
		name = p.decodeWords(name)
	}
	name = truncateRunes(strings.Join(strings.Fields(cleanInvisible(cleanLine(name))), " "), maxNameLen)
	addr = normAddr(canonicalAddr(addr))
	if n := strings.Trim(name, `'" <>`); addr != "" && strings.EqualFold(n, addr) {
		name = ""
	}
	return Address{Name: name, Addr: addr}
}

// canonicalAddr writes "local@domain" (local part unquoted) as an
// addr-spec: the local part quoted where it holds more than atext and
// dots ("user name"@domain, ""@domain), as Dovecot and Thunderbird write
// it and as a reply must address it. Control characters, which no
// address can hold (and PostgreSQL text cannot store as NUL), become
// U+FFFD.
func canonicalAddr(a string) string {
	if strings.IndexFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		a = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return utf8.RuneError
			}
			return r
		}, a)
	}
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return a
	}
	local := a[:at]
	if local != "" && strings.IndexFunc(local, func(r rune) bool { return r < utf8.RuneSelf && r != '.' && !isAtext(byte(r)) }) < 0 {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if local[i] == '"' || local[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String() + a[at:]
}

// isAtext reports the ASCII characters of an RFC 5322 atom.
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// commentMailboxRE matches a local part with only a comment:
// "MAILER-DAEMON (Mail Delivery System)".
var commentMailboxRE = regexp.MustCompile(`^([^\s()<>@,;:"\[\]]+)\s*\(([^()]*)\)$`)

// lenientAddresses reads what net/mail refuses: unquoted specials in names,
// unknown charsets, missing brackets, obsolete routes and comments inside
// addresses, stray garbage. Each item of the list is read as RFC 5322
// tokens (quoted strings, comments, encoded words kept whole), so that no
// bracket inside a quote or comment is taken for the address.
func (p *parser) lenientAddresses(v string) []Address {
	var out []Address
	for _, item := range splitTopLevel(v) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if m := commentMailboxRE.FindStringSubmatch(item); m != nil {
			out = append(out, p.address(m[2], m[1]))
			continue
		}
		name, addr := lenientMailbox(addrTokens(item))
		a := p.address(name, addr)
		if a.Addr == "" && a.Name == "" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// addrToken is a token of an address field: an atom (or an encoded word,
// or a domain literal), a quoted string's content, a comment's content,
// the inside of <…>, or a special character.
type addrToken struct {
	kind byte // 'a', 'q', 'c', '<', 's' (a stray '<' or ')'), or the special itself ('@', ':', '.'…)
	text string
	ws   bool // white space before it
}

func addrTokens(s string) []addrToken {
	var toks []addrToken
	ws := false
	words := wordScanner{s: s}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			ws = true
			i++
			continue
		case c == '"':
			q, rest := readQuoted(s[i:])
			toks = append(toks, addrToken{'q', q, ws})
			i = len(s) - len(rest)
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
				} else if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			end := min(j, len(s))
			toks = append(toks, addrToken{'c', unescapePairs(s[i+1 : end]), ws})
			i = min(j+1, len(s))
		case c == '<':
			// An angle address runs to its '>'; a '<' met first makes this
			// one a stray character ("a < <a@b.c>"), and without a '>' it
			// runs to the end.
			j, quoted, depth := i+1, false, 0
			for ; j < len(s); j++ {
				switch d := s[j]; {
				case d == '\\':
					j++
				case quoted:
					quoted = d != '"'
				case d == '"':
					quoted = true
				case d == '(':
					depth++
				case d == ')' && depth > 0:
					depth--
				case depth == 0 && (d == '<' || d == '>'):
					goto found
				}
			}
		found:
			if j < len(s) && s[j] == '<' {
				toks = append(toks, addrToken{'s', "<", ws}) // stray
				i++
				break
			}
			toks = append(toks, addrToken{'<', s[i+1 : min(j, len(s))], ws})
			i = min(j+1, len(s))
		case c == '=' && i+1 < len(s) && s[i+1] == '?':
			if _, _, _, n, ok := words.word(i); ok {
				toks = append(toks, addrToken{'a', s[i : i+n], ws})
				i += n
				break
			}
			fallthrough
		default:
			if strings.IndexByte("@:;,>.", c) >= 0 {
				toks = append(toks, addrToken{c, string(c), ws})
				i++
				break
			}
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n\"()<>@:;,.", s[j]) < 0 {
				if s[j] == '[' {
					// A domain literal runs to its ']' (or the end).
					k := strings.IndexByte(s[j:], ']')
					if k < 0 {
						k = len(s) - j - 1
					}
					j += k
				}
				if s[j] == '=' && j+1 < len(s) && s[j+1] == '?' && j > i {
					break
				}
				j++
			}
			if j == i {
				// A stray ')': no token, but it must be passed.
				toks = append(toks, addrToken{'s', s[i : i+1], ws})
				j++
			} else {
				toks = append(toks, addrToken{'a', s[i:j], ws})
			}
			i = j
		}
		ws = false
	}
	return toks
}

// unescapePairs undoes quoted pairs ("\x" is "x").
func unescapePairs(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lenientMailbox reads one mailbox from its tokens: name and
// "local@domain" (local part unquoted). A ':' outside brackets, quotes and
// comments ends a group's name, which is not the mailbox's
// ("Spoofed" <a@x>: b@y is b@y, as Thunderbird reads it). The address is
// the last <…>, else the addr-spec around an '@' (comments and folding
// inside it dropped: "so . many @ here . invalid"); the name is the words
// outside it, else the comment after it, else one before ("addr (Name)").
func lenientMailbox(toks []addrToken) (name, addr string) {
	for i, t := range toks {
		if t.kind == ':' {
			toks = toks[i+1:]
			break
		}
	}
	for len(toks) > 0 && (toks[len(toks)-1].kind == ';' || toks[len(toks)-1].kind == ',') {
		toks = toks[:len(toks)-1]
	}
	angle := -1
	for i, t := range toks {
		if t.kind == '<' {
			angle = i
		}
	}
	var words []string
	word := func(t addrToken, i int) {
		switch t.kind {
		case 'a', '@', '.':
			// Touching atoms, dots and '@' are one word.
			if prev := i - 1; prev >= 0 && !t.ws && len(words) > 0 && strings.IndexByte("a@.", toks[prev].kind) >= 0 {
				words[len(words)-1] += t.text
			} else {
				words = append(words, t.text)
			}
		case 'q':
			words = append(words, t.text)
		case '<':
			words = append(words, "<"+t.text+">")
		}
	}
	var comments []string
	if angle >= 0 {
		for i, t := range toks[:angle] {
			word(t, i)
			if t.kind == 'c' {
				comments = append(comments, t.text)
			}
		}
		for _, t := range toks[angle+1:] {
			if t.kind == 'c' {
				comments = append(comments, t.text)
			}
		}
		addr = angleAddr(toks[angle].text)
	} else {
		at := -1
		for i, t := range toks {
			if t.kind == '@' {
				at = i
				break
			}
		}
		first, last := len(toks), -1
		if at >= 0 {
			first, last = addrSpan(toks, at)
			addr = addrSpec(toks[first:last+1], false)
		}
		var after, before []string
		for i, t := range toks {
			switch {
			case i >= first && i <= last:
				continue
			case t.kind == 'c' && i > last:
				after = append(after, t.text)
			case t.kind == 'c':
				before = append(before, t.text)
			default:
				word(t, i)
			}
		}
		comments = append(before, after...)
		if len(after) > 0 {
			comments = after[len(after)-1:]
		} else if len(before) > 0 {
			comments = before[len(before)-1:]
		}
	}
	name = strings.Join(words, " ")
	if strings.TrimSpace(name) == "" && len(comments) > 0 {
		name = comments[len(comments)-1]
	}
	return name, addr
}

// addrSpan finds the tokens of the addr-spec around the '@' at toks[at]:
// atoms, quoted strings, dots and '@' that touch, or meet at a dot or an
// '@' across white space ("so . many @ here"); comments among them are
// skipped.
func addrSpan(toks []addrToken, at int) (first, last int) {
	part := func(k byte) bool { return k == 'a' || k == 'q' || k == '.' || k == '@' }
	joins := func(x, y addrToken) bool {
		return !y.ws || x.kind == '.' || y.kind == '.' || x.kind == '@' || y.kind == '@'
	}
	first, last = at, at
	for i := at - 1; i >= 0; i-- {
		if toks[i].kind == 'c' {
			continue
		}
		if !part(toks[i].kind) || !joins(toks[i], toks[first]) {
			break
		}
		first = i
	}
	for i := at + 1; i < len(toks); i++ {
		if toks[i].kind == 'c' {
			continue
		}
		if !part(toks[i].kind) || toks[i].kind == 'q' || !joins(toks[last], toks[i]) {
			break
		}
		last = i
	}
	return first, last
}

// addrSpec joins addr-spec tokens into "local@domain" (split at the last
// '@'), comments and white space dropped; inside <…> (inAngle) words of
// the local part keep one space between them ("space here"@example.com).
func addrSpec(toks []addrToken, inAngle bool) string {
	at := -1
	for i, t := range toks {
		if t.kind == '@' {
			at = i
		}
	}
	var b strings.Builder
	for i, t := range toks {
		switch t.kind {
		case 'a', 'q', '.', '@':
			if inAngle && i < at && t.ws && b.Len() > 0 && t.kind != '.' && toks[i-1].kind != '.' && t.kind != '@' {
				b.WriteByte(' ')
			}
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// angleAddr reads the inside of <…>: an obsolete route ("@a,@b:") goes,
// and so do comments and folding; a ',' or ';' ends it (a '>' was
// missing).
func angleAddr(s string) string {
	toks := addrTokens(s)
	for len(toks) > 0 && toks[0].kind == 'c' {
		toks = toks[1:]
	}
	routed := false
	if len(toks) > 0 && toks[0].kind == '@' {
		colon := slices.IndexFunc(toks, func(t addrToken) bool { return t.kind == ':' })
		if colon < 0 {
			return "" // only a route
		}
		toks, routed = toks[colon+1:], true
	}
	if end := slices.IndexFunc(toks, func(t addrToken) bool { return t.kind == ',' || t.kind == ';' }); end >= 0 {
		toks = toks[:end]
	}
	if !routed && !slices.ContainsFunc(toks, func(t addrToken) bool { return t.kind == '@' }) && !strings.ContainsAny(s, ",;") {
		// No addr-spec at all ("not an email"): as written.
		return strings.TrimSpace(s)
	}
	return addrSpec(toks, true)
}

// splitTopLevel splits an address list on commas outside quotes, angle
// brackets and comments.
func splitTopLevel(s string) []string {
	var parts []string
	depth, angle, quoted, start := 0, false, false, 0
	words := wordScanner{s: s}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '=' && !quoted && depth == 0 && i+1 < len(s) && s[i+1] == '?':
			// An encoded word is one token: a comma in it is text.
			if _, _, _, n, ok := words.word(i); ok {
				i += n - 1
			}
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<' && depth == 0:
			angle = true
		case c == '>' && depth == 0:
			angle = false
		case (c == ',' || c == ';') && depth == 0 && !angle:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func normAddr(a string) string {
	a = strings.TrimSpace(a)
	a = strings.TrimPrefix(a, "<")
	a = strings.TrimSuffix(a, ">")
	return strings.ToLower(strings.TrimSpace(a))
}

var commentRE = regexp.MustCompile(`\([^()]*\)`)

// parseDate reads a Date header, trying net/mail first and then the shapes
// that mailers actually send.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, true
	}
	if t, err := netmail.ParseDate(v); err == nil {
		return t, true
	}
	s := strings.TrimSpace(commentRE.ReplaceAllString(v, ""))
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.IndexByte(s, ','); i >= 0 && i <= 10 {
		s = strings.TrimSpace(s[i+1:])
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var dateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700 MST",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04:05 MST",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05Z07:00",
	"2 January 2006 15:04:05 -0700",
}

var msgIDRE = regexp.MustCompile(`<([^<>]*)>`)

// msgIDs returns the message identifiers in v, without brackets; a value
// with no brackets at all is read as whitespace-separated identifiers that
// contain '@'.
func msgIDs(v string) []string {
	var ids []string
	for _, m := range msgIDRE.FindAllStringSubmatch(v, -1) {
		id := stripSpace(m[1])
		if id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		for _, f := range strings.Fields(commentRE.ReplaceAllString(v, " ")) {
			if strings.Contains(f, "@") {
				ids = append(ids, strings.Trim(f, "<>,;"))
			}
		}
	}
	return ids
}

// firstMsgID returns the first identifier in v, or the bare value when it
// holds a single token without brackets.
func firstMsgID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	f := strings.Fields(v)
	if len(f) == 1 {
		return strings.Trim(f[0], "<>")
	}
	return ""
}

func stripSpace(s string) string {
	if strings.IndexAny(s, " \t\r\n") < 0 {
		return s
	}
	return strings.Join(strings.Fields(s), "")
}
