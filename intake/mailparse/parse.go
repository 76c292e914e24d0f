package mailparse

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"mime"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
)

// Address is one mailbox from an address header.
type Address struct {
	Name string // display name, decoded; may be empty
	Addr string // lower-cased addr-spec; may be empty for a malformed entry
}

// String formats the address for display ("Name <addr>" or "addr").
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return a.Name + " <" + a.Addr + ">"
}

// Attachment is a non-body part of a message: a file, an inline image, a
// forwarded message (message/rfc822, named after its subject + ".eml"), a
// TNEF winmail.dat, a delivery report.
type Attachment struct {
	Filename    string // decoded (RFC 2231 or 2047), without directories; never empty
	ContentType string // lower-case media type without parameters
	Size        int64  // decoded size in bytes
	Data        []byte // decoded content; nil when ParseLimited was told not to keep it
	SHA256      [32]byte
	Inline      bool   // Content-Disposition inline, or referenced by Content-ID
	ContentID   string // without <>
}

// Bounce describes a delivery failure report.
type Bounce struct {
	OriginalMessageID string   // Message-ID of the mail that bounced, without <>; "" if unknown
	Recipients        []string // failed recipients, lower-cased
	Action, Status    string   // from the delivery-status report: "failed", "5.1.1"; "" if absent
}

// Message is a parsed mail.
type Message struct {
	MessageID  string   // without <>; "" when absent
	InReplyTo  string   // first identifier of In-Reply-To, without <>
	References []string // without <>, oldest first

	From        Address
	Sender      Address
	ReplyTo     []Address
	To, Cc      []Address
	DeliveredTo []string // Delivered-To and X-Original-To values, lower-cased

	Subject string    // decoded
	Date    time.Time // zero when absent or unreadable
	Header  mail.Header

	Text string // the whole decoded text body; HTML turned into text where no text part exists
	HTML string // the decoded HTML body, "" if none
	// NewText is Text without quoted history (see SplitQuoted); "" when
	// the mail has no text of its own (QuotedOnly), never the quote.
	NewText    string
	QuotedOnly bool // Text holds only quoted history (and signature)

	Attachments []Attachment
	ListID      string // List-Id, without the description and <>; lower-cased

	Auto       AutoKind // automatic mail classification
	AutoReason string   // which header (or structure) decided Auto
	Bounce     *Bounce  // non-nil when Auto is AutoBounce

	Size   int      // of the raw mail
	SHA256 [32]byte // of the raw mail

	Problems []string // non-fatal decoding trouble and header repairs, in the order met
}

// ErrNoHeader is returned when the input has no header at all; such a mail
// cannot be read as a message and belongs in quarantine.
var ErrNoHeader = errors.New("no parsable mail header")

// Default limits of Parse.
const (
	DefaultMaxText = 1 << 20 // bytes of Text (and of HTML) kept

	maxDepth    = 30   // MIME nesting followed; deeper parts become attachments
	maxParts    = 2000 // MIME parts read; more are ignored (recorded)
	maxProblems = 50
	maxSubject  = 2000
)

// Parse parses a raw RFC 5322 message, keeping up to DefaultMaxText of text
// and all attachment data, within the default budget. It fails only when
// there is no header at all (ErrNoHeader) or the budget runs out
// (ErrBudget); any other damage is recorded in Message.Problems.
func Parse(raw []byte) (*Message, error) {
	return ParseWith(raw, Options{})
}

// ParseLimited is Parse for oversized mail: Text and HTML are each cut to
// maxText bytes (at a character boundary; maxText <= 0 means no limit), and
// when keepAttachments is false attachments are listed with name, type, size
// and hash but without Data.
func ParseLimited(raw []byte, maxText int, keepAttachments bool) (*Message, error) {
	if maxText <= 0 {
		maxText = -1
	}
	return ParseWith(raw, Options{MaxText: maxText, DropAttachmentData: !keepAttachments})
}

// ParseWith is Parse with Options. A parse that exceeds its budget returns
// a *BudgetError (errors.Is(err, ErrBudget)) and no message.
func ParseWith(raw []byte, o Options) (msg *Message, err error) {
	p := &parser{maxText: o.MaxText, keepData: !o.DropAttachmentData, b: newBudget(len(raw), o)}
	switch {
	case p.maxText == 0:
		p.maxText = DefaultMaxText
	case p.maxText < 0:
		p.maxText = 0
	}
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(budgetExceeded)
			if !ok {
				panic(r)
			}
			msg, err = nil, be.err
		}
	}()
	return p.parse(raw)
}

// entity is one node of the MIME tree.
type entity struct {
	parent   *entity
	path     string // "1.2" style, "" for the root
	fields   []rawField
	header   mail.Header
	body     []byte // still transfer-encoded
	ctype    mediaHeader
	disp     mediaHeader
	cte      string
	children []*entity
	preamble []byte // multipart only: text before the first delimiter

	dec     []byte // body with the transfer encoding undone, once decoded
	decDone bool
	uuName  string // the file name of an x-uuencode begin line
}

type parser struct {
	b        *budget
	maxText  int
	keepData bool
	problems []string
	nparts   int

	sample8bit []byte // undeclared 8-bit bytes of the mail, for the detector
	guessed    string // the detector's verdict on them, once asked
}

func (p *parser) problem(s string) {
	if len(p.problems) < maxProblems {
		for _, q := range p.problems {
			if q == s {
				return
			}
		}
		p.problems = append(p.problems, s)
	}
}

func (p *parser) parse(raw []byte) (*Message, error) {
	msg := &Message{Size: len(raw), SHA256: sha256.Sum256(raw)}
	if len(raw) > 0 && !containsLF(raw) && strings.IndexByte(string(raw[:min(len(raw), 1<<16)]), '\r') >= 0 {
		// Old Mac line ends (CR only): nothing else would find a line.
		raw = []byte(strings.ReplaceAll(string(raw), "\r", "\n"))
		p.problem("CR-only line ends")
	}
	p.b.enter("header")
	fields, body, probs := p.readHeader(raw, true)
	for _, s := range probs {
		p.problem(s)
	}
	if len(fields) == 0 {
		return nil, ErrNoHeader
	}
	root := &entity{fields: fields, body: body}
	p.b.enter("mime")
	p.build(root, 0, "text/plain")

	// Raw 8-bit header bytes are read in the body's charset when it has
	// one: the sending client used the same one for both. Else the
	// detector judges them together with undeclared 8-bit body text.
	p.collect8bit(root)
	fallback := normCharset(firstTextCharset(root))
	if len(p.sample8bit) > 0 && (isPassThroughCharset(fallback) || sevenBitCharset(fallback) || !knownCharset(fallback)) {
		fallback = p.guess8bit(nil)
	}
	p.rebuildHeaders(root, fallback)
	h := root.header
	msg.Header = h
	p.b.enter("addresses")

	msg.MessageID = firstMsgID(h.Get("Message-Id"))
	msg.InReplyTo = firstMsgID(h.Get("In-Reply-To"))
	msg.References = msgIDs(h.Get("References"))
	if len(msg.References) > 500 {
		msg.References = msg.References[len(msg.References)-500:]
	}
	msg.From = p.singleAddress(&h, "From")
	msg.Sender = p.singleAddress(&h, "Sender")
	msg.ReplyTo = p.addressList(&h, "Reply-To", false)
	msg.To = p.addressList(&h, "To", false)
	msg.Cc = p.addressList(&h, "Cc", false)
	msg.DeliveredTo = deliveredTo(&h)
	msg.Subject = p.headerText(&h, "Subject")
	if len(msg.Subject) > maxSubject {
		p.problem(fmt.Sprintf("Subject cut at %d of %d bytes", maxSubject, len(msg.Subject)))
		msg.Subject = truncateRunes(msg.Subject, maxSubject)
	}
	dates := h.Values("Date")
	if len(dates) == 0 {
		dates = []string{""}
	}
	for i, v := range dates {
		if d, ok := parseDate(v); ok {
			msg.Date = d
			if i > 0 {
				p.problem("several Date fields: used the first that parses")
			}
			break
		}
		if i == len(dates)-1 {
			p.problem("unreadable Date header " + strconv.Quote(truncate(dates[0], 80)))
		}
	}
	msg.ListID = listID(h.Get("List-Id"))

	p.bodies(root, msg)
	p.b.enter("quotes")
	var own bool
	msg.NewText, own = splitQuoted(msg.Text, p.b)
	msg.QuotedOnly = !own && strings.TrimSpace(msg.Text) != ""
	p.b.enter("classify")
	classify(p, root, msg)
	msg.Problems = p.problems
	return msg, nil
}

// singleAddress returns the mailbox of a field that holds one (From,
// Sender): the first one with an address, over all the field's
// occurrences, else the first name. Picking past the first is a repair,
// recorded in the problems.
func (p *parser) singleAddress(h *mail.Header, key string) Address {
	list := p.addressList(h, key, true)
	for i, a := range list {
		if a.Addr != "" {
			if i > 0 {
				p.problem(key + ": the first mailbox has no address; used " + strconv.Quote(a.Addr))
			}
			return a
		}
	}
	if len(list) > 0 {
		return list[0]
	}
	return Address{}
}

func containsLF(b []byte) bool {
	for _, c := range b {
		if c == '\n' {
			return true
		}
	}
	return false
}

// build reads e's header and, for multiparts, its children. defType is the
// type a part without Content-Type has (message/rfc822 in a digest).
func (p *parser) build(e *entity, depth int, defType string) {
	p.nparts++
	e.header = buildHeader(e.fields, "windows-1252")
	if v := e.header.Get("Content-Type"); v != "" {
		var probs []string
		e.ctype, probs = parseMediaHeader(v)
		for _, s := range probs {
			p.problem(e.where() + s)
		}
		if !strings.Contains(e.ctype.value, "/") {
			// "text" alone and other type-less values.
			if e.ctype.value == "text" || e.ctype.value == "" {
				e.ctype.value = "text/plain"
			} else {
				p.problem(e.where() + "invalid Content-Type " + strconv.Quote(truncate(v, 60)))
				e.ctype.value = "application/octet-stream"
			}
		}
	} else {
		e.ctype = mediaHeader{value: defType, params: map[string]string{}}
	}
	if v := e.header.Get("Content-Disposition"); v != "" {
		e.disp, _ = parseMediaHeader(v)
	} else {
		e.disp = mediaHeader{params: map[string]string{}}
	}
	e.cte = normCTE(e.header.Get("Content-Transfer-Encoding"))

	if !strings.HasPrefix(e.ctype.value, "multipart/") {
		return
	}
	if depth >= maxDepth {
		p.problem(e.where() + "MIME nesting too deep; kept as an attachment")
		e.ctype.value = "application/octet-stream"
		return
	}
	boundary := e.ctype.params["boundary"]
	p.b.spend(len(e.body))
	parts, preamble, closed, found := splitMultipart(e.body, boundary)
	e.preamble = preamble
	if !found {
		// No delimiter at all: show the body rather than lose it.
		p.problem(e.where() + "multipart without its boundary; read as text")
		e.ctype = mediaHeader{value: "text/plain", params: map[string]string{}}
		return
	}
	if !closed {
		p.problem(e.where() + "multipart not closed (truncated mail?)")
	}
	childType := "text/plain"
	if e.ctype.value == "multipart/digest" {
		childType = "message/rfc822"
	}
	for i, pb := range parts {
		if p.nparts >= maxParts {
			p.problem("too many MIME parts; the rest ignored")
			break
		}
		fields, body, probs := p.readHeader(pb, false)
		c := &entity{parent: e, path: childPath(e.path, i+1), fields: fields, body: body}
		for _, s := range probs {
			p.problem(c.where() + s)
		}
		e.children = append(e.children, c)
		p.build(c, depth+1, childType)
	}
	if e.ctype.value == "multipart/related" {
		relatedRootFirst(e)
	}
}

// relatedRootFirst moves the root of a multipart/related to the front, as
// the body selection expects it there: the part named by the start
// parameter (RFC 2387), else the first part of the declared type.
func relatedRootFirst(e *entity) {
	root := -1
	if start := strings.Trim(strings.TrimSpace(e.ctype.params["start"]), "<>"); start != "" {
		for i, c := range e.children {
			if firstMsgID(c.header.Get("Content-Id")) == start {
				root = i
				break
			}
		}
	}
	if t := strings.ToLower(e.ctype.params["type"]); root < 0 && t != "" && len(e.children) > 0 && e.children[0].ctype.value != t {
		for i, c := range e.children {
			if c.ctype.value == t {
				root = i
				break
			}
		}
	}
	if root > 0 {
		r := e.children[root]
		copy(e.children[1:root+1], e.children[:root])
		e.children[0] = r
	}
}

func childPath(parent string, i int) string {
	if parent == "" {
		return strconv.Itoa(i)
	}
	return parent + "." + strconv.Itoa(i)
}

func (e *entity) where() string {
	if e.path == "" {
		return ""
	}
	return "part " + e.path + ": "
}

// normCTE maps Content-Transfer-Encoding spellings seen in the wild.
func normCTE(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.IndexAny(v, " \t;("); i >= 0 && v != "8 bit" {
		v = v[:i]
	}
	switch v {
	case "", "7bit", "7-bit", "7bits", "8bit", "8-bit", "8 bit", "8bits", "binary", "6bit":
		return ""
	case "quoted-printable", "quotedprintable", "qp":
		return "quoted-printable"
	case "base64", "base-64":
		return "base64"
	}
	return v
}

// firstTextCharset finds the charset of the first text part, for reading
// raw 8-bit header bytes.
func firstTextCharset(e *entity) string {
	if strings.HasPrefix(e.ctype.value, "text/") {
		return e.ctype.params["charset"]
	}
	for _, c := range e.children {
		if cs := firstTextCharset(c); cs != "" {
			return cs
		}
	}
	return ""
}

// rebuildHeaders re-reads headers that held raw 8-bit bytes, now that the
// fallback charset is known.
func (p *parser) rebuildHeaders(e *entity, fallback string) {
	if !utf8.Valid(flatten(e.fields)) {
		e.header = buildHeader(e.fields, fallback)
		if e.path == "" {
			p.problem("raw 8-bit bytes in header, read as " + fallbackName(fallback))
		}
		// Parameters (raw 8-bit file names) in the right charset; the
		// structure already decided stays.
		if v := e.header.Get("Content-Type"); v != "" {
			ct, _ := parseMediaHeader(v)
			e.ctype.params, e.ctype.undeclared = ct.params, ct.undeclared
		}
		if v := e.header.Get("Content-Disposition"); v != "" {
			e.disp, _ = parseMediaHeader(v)
		}
	}
	for _, c := range e.children {
		p.rebuildHeaders(c, fallback)
	}
}

func fallbackName(cs string) string {
	if cs == "" || isPassThroughCharset(normCharset(cs)) || !knownCharset(cs) {
		return "windows-1252"
	}
	return normCharset(cs)
}

func flatten(fields []rawField) []byte {
	var n int
	for _, f := range fields {
		n += len(f.raw)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = append(b, f.raw...)
	}
	return b
}

// collect8bit gathers, up to maxDetect, the 8-bit bytes no charset label
// covers: raw header fields that are not UTF-8 and text parts without a
// usable charset that are not UTF-8.
func (p *parser) collect8bit(e *entity) {
	if len(p.sample8bit) >= maxDetect {
		return
	}
	for _, f := range e.fields {
		if has8bit(f.raw) && !utf8.Valid(f.raw) {
			p.sample8bit = append(p.sample8bit, f.raw...)
		}
	}
	for _, h := range []*mediaHeader{&e.ctype, &e.disp} {
		if len(h.undeclared) == 0 {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(h.undeclared)) {
			p.sample8bit = append(p.sample8bit, h.undeclared[k]...)
		}
	}
	if strings.HasPrefix(e.ctype.value, "text/") {
		cs := normCharset(e.ctype.params["charset"])
		if isPassThroughCharset(cs) && cs != "utf-8" || sevenBitCharset(cs) {
			if b := p.decoded(e); has8bit(b) && !utf8.Valid(b) {
				p.sample8bit = append(p.sample8bit, b[:min(len(b), maxDetect)]...)
			}
		}
	}
	for _, c := range e.children {
		p.collect8bit(c)
	}
}

// undeclared8bit reads 8-bit bytes of part e that declare no charset (an
// RFC 2231 value with an empty one), as undeclared text is read: in the
// charset e or an enclosing part declares, else in the body's, else as
// the detector judges the mail's undeclared bytes.
func (p *parser) undeclared8bit(e *entity, b []byte) string {
	root := e
	for a := e; a != nil; a = a.parent {
		root = a
		if s, ok := declaredFits(normCharset(a.ctype.params["charset"]), b); ok {
			return s
		}
	}
	if s, ok := declaredFits(normCharset(firstTextCharset(root)), b); ok {
		return s
	}
	s, _ := decodeCharset(p.guess8bit(b), b)
	return s
}

// decoded returns e's body with the transfer encoding undone.
func (p *parser) decoded(e *entity) []byte {
	if !e.decDone {
		e.dec, e.decDone = p.decode(e), true
	}
	return e.dec
}

func (p *parser) decode(e *entity) []byte {
	p.b.spend(len(e.body))
	switch e.cte {
	case "":
		return e.body
	case "base64":
		out, clean := decodeBase64(e.body)
		if !clean {
			if strings.HasPrefix(e.ctype.value, "text/") && notBase64(e.body) {
				p.problem(e.where() + "text labelled base64 is not base64; kept as written")
				return e.body
			}
			p.problem(e.where() + "damaged base64 (decoded what was readable)")
		}
		return out
	case "quoted-printable":
		return decodeQP(e.body)
	case "x-uuencode", "uuencode", "x-uue":
		data, name, ok := decodeUU(e.body)
		if !ok {
			p.problem(e.where() + "x-uuencode without a begin line; kept as written")
			return e.body
		}
		e.uuName = name
		return data
	default:
		p.problem(e.where() + "unknown Content-Transfer-Encoding " + strconv.Quote(e.cte) + ", read as 8bit")
		return e.body
	}
}

// notBase64 reports a body with many bytes outside the base64 alphabet.
func notBase64(b []byte) bool {
	foreign, total := 0, 0
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c == '=' || utf7Value[c] >= 0:
			total++
		default:
			foreign++
			total++
		}
	}
	return foreign*10 > total
}

// text decodes a text part to UTF-8.
func (p *parser) text(e *entity) string {
	b := p.decoded(e)
	p.b.spend(len(b))
	s, used, err := p.decodeText(e, b)
	if err != nil {
		p.problem(e.where() + err.Error())
	}
	if used != "" {
		label := e.ctype.params["charset"]
		if label == "" {
			label = "none"
		}
		p.problem(e.where() + "8-bit text read as " + used + " (charset declared: " + label + ")")
	}
	if strings.EqualFold(strings.TrimSpace(e.ctype.params["format"]), "flowed") {
		return unflow(normalizeText(s), strings.EqualFold(strings.TrimSpace(e.ctype.params["delsp"]), "yes"))
	}
	return normalizeText(s)
}

// htmlToText converts within the parse's budget.
func (p *parser) htmlToText(h string) string {
	stage := p.b.stage
	p.b.enter("html")
	defer p.b.enter(stage)
	return htmlToTextBudget(h, p.b)
}

// bodies picks the text, HTML and attachments as JMAP (RFC 8621 4.1.4)
// does, and decodes them.
func (p *parser) bodies(root *entity, msg *Message) {
	p.b.enter("decode")
	var textB, htmlB, atts []*entity
	p.structure([]*entity{root}, "mixed", false, &textB, &htmlB, &atts)

	var text, html strings.Builder
	var uuFiles []Attachment
	for _, e := range textB {
		var s string
		if e.ctype.value == "text/html" {
			s = p.htmlToText(p.text(e))
		} else {
			s = p.text(e)
			var files []Attachment
			s, files = p.extractUU(s)
			uuFiles = append(uuFiles, files...)
		}
		appendPart(&text, s)
	}
	for _, e := range htmlB {
		if e.ctype.value == "text/html" {
			appendPart(&html, p.text(e))
		}
	}
	msg.HTML = p.capText(html.String(), "HTML")
	t := text.String()
	if strings.TrimSpace(t) == "" && strings.TrimSpace(msg.HTML) != "" {
		// An empty text alternative beside a real HTML one: senders do
		// that; the HTML is what the person wrote.
		t = p.htmlToText(msg.HTML)
	}
	if strings.TrimSpace(t) == "" && root.ctype.value == "multipart/report" && len(bytes.TrimSpace(root.preamble)) > 0 {
		// Some bounce generators put the human-readable text before the
		// first delimiter. Show it rather than nothing. (Elsewhere the
		// preamble is "This is a multi-part message in MIME format.")
		s, _ := decodeCharset(root.ctype.params["charset"], root.preamble)
		t = strings.TrimSpace(normalizeText(s))
	}
	for _, e := range atts {
		a := p.attachment(e)
		if isTNEF(a) {
			if res, err := readTNEF(p.decoded(e), p.b); err == nil {
				p.b.spend(int(a.Size))
				msg.Attachments = append(msg.Attachments, p.tnefAttachments(res)...)
				if strings.TrimSpace(t) == "" {
					if res.text != "" {
						t = normalizeText(res.text)
					} else if res.html != "" {
						t = p.htmlToText(res.html)
					}
				}
				switch {
				case res.rtfErr != nil:
					p.problem(e.where() + "winmail.dat: " + res.rtfErr.Error() + ": kept as it is")
				case res.embedded:
					p.problem(e.where() + "winmail.dat holds embedded Outlook messages: kept as it is")
				default:
					continue // unpacked: winmail.dat itself says nothing more
				}
			}
		}
		msg.Attachments = append(msg.Attachments, a)
	}
	msg.Attachments = append(msg.Attachments, uuFiles...)
	msg.Text = p.capText(t, "text")
}

// uuBeginRE matches the first line of a uuencoded file in a text body.
var uuBeginRE = regexp.MustCompile(`^begin [0-7]{3,4} \S`)

// extractUU takes the uuencoded files that old clients (Lotus Notes,
// Outlook Express) put into the text body out of it, as attachments. It
// looks only where "begin " starts a line, and each search goes on from
// where the last stopped: linear.
func (p *parser) extractUU(s string) (string, []Attachment) {
	var files []Attachment
	var out strings.Builder
	done := 0 // s[:done] is written to out or taken out
	for from := 0; ; {
		i := strings.Index(s[from:], "begin ")
		if i < 0 {
			break
		}
		i += from
		from = i + len("begin ")
		if i > 0 && s[i-1] != '\n' {
			continue
		}
		lineEnd := strings.IndexByte(s[i:], '\n')
		if lineEnd < 0 || !uuBeginRE.MatchString(s[i:i+lineEnd]) {
			continue
		}
		end := strings.Index(s[i+lineEnd:], "\nend")
		if end < 0 {
			break // no end line: text after all
		}
		blockEnd := i + lineEnd + end + len("\nend")
		data, name, ok := decodeUU([]byte(s[i:blockEnd]))
		from = blockEnd
		if !ok || len(data) == 0 {
			continue
		}
		a := Attachment{Filename: cmp.Or(sanitizeFilename(name), "attachment.bin"), Size: int64(len(data)), SHA256: sha256.Sum256(data)}
		a.ContentType, _, _ = strings.Cut(mime.TypeByExtension(strings.ToLower(path.Ext(a.Filename))), ";")
		a.ContentType = cmp.Or(a.ContentType, "application/octet-stream")
		if p.keepData {
			a.Data = data
		}
		files = append(files, a)
		out.WriteString(s[done:i])
		done = blockEnd
		if done < len(s) && s[done] == '\n' {
			done++
		}
	}
	if files == nil {
		return s, nil
	}
	out.WriteString(s[done:])
	return out.String(), files
}

func isTNEF(a Attachment) bool {
	return a.ContentType == "application/ms-tnef" || a.ContentType == "application/vnd.ms-tnef" ||
		strings.EqualFold(a.Filename, "winmail.dat")
}

// tnefAttachments turns what a winmail.dat held into attachments.
func (p *parser) tnefAttachments(res *tnefResult) []Attachment {
	var out []Attachment
	for i, ta := range res.attachments {
		if !ta.hasData {
			continue
		}
		name := sanitizeFilename(cmp.Or(ta.longName, ta.title))
		if name == "" {
			name = "attachment-" + strconv.Itoa(i+1) + ".bin"
		}
		ct := ta.mimeType
		if ct == "" {
			ct, _, _ = strings.Cut(mime.TypeByExtension(strings.ToLower(path.Ext(name))), ";")
		}
		a := Attachment{Filename: name, ContentType: cmp.Or(ct, "application/octet-stream"),
			Size: int64(len(ta.data)), SHA256: sha256.Sum256(ta.data)}
		if p.keepData {
			a.Data = bytes.Clone(ta.data)
		}
		out = append(out, a)
	}
	return out
}

func appendPart(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	if b.Len() > 0 {
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	b.WriteString(s)
}

func (p *parser) capText(s, what string) string {
	if p.maxText <= 0 || len(s) <= p.maxText {
		return s
	}
	cut := p.maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	p.problem(fmt.Sprintf("%s cut at %d of %d bytes", what, cut, len(s)))
	return s[:cut]
}

func isInlineMedia(t string) bool {
	return strings.HasPrefix(t, "image/") || strings.HasPrefix(t, "audio/") || strings.HasPrefix(t, "video/")
}

// structure is RFC 8621's parseStructure, except that inline images and
// other media always count as attachments (the text never shows them).
// A nil textBody or htmlBody is JMAP's null: that list takes no more parts
// at this level and below.
func (p *parser) structure(parts []*entity, multipartType string, inAlternative bool, textBody, htmlBody, atts *[]*entity) {
	textLen, htmlLen := -1, -1
	if textBody != nil {
		textLen = len(*textBody)
	}
	if htmlBody != nil {
		htmlLen = len(*htmlBody)
	}
	for i, e := range parts {
		t := e.ctype.value
		hasName := strings.TrimSpace(e.disp.params["filename"]) != "" || strings.TrimSpace(e.ctype.params["name"]) != ""
		isInline := e.disp.value != "attachment" &&
			(t == "text/plain" || t == "text/html" || isInlineMedia(t)) &&
			(i == 0 || (multipartType != "related" && (isInlineMedia(t) || !hasName)))
		switch {
		case strings.HasPrefix(t, "multipart/"):
			sub := strings.TrimPrefix(t, "multipart/")
			p.structure(e.children, sub, inAlternative || sub == "alternative", textBody, htmlBody, atts)
		case isInline && isInlineMedia(t):
			*atts = append(*atts, e)
		case isInline:
			if multipartType == "alternative" {
				switch t {
				case "text/plain":
					if textBody != nil {
						*textBody = append(*textBody, e)
					}
				case "text/html":
					if htmlBody != nil {
						*htmlBody = append(*htmlBody, e)
					}
				}
				continue
			} else if inAlternative {
				if t == "text/plain" {
					htmlBody = nil
				}
				if t == "text/html" {
					textBody = nil
				}
			}
			if textBody != nil {
				*textBody = append(*textBody, e)
			}
			if htmlBody != nil {
				*htmlBody = append(*htmlBody, e)
			}
		default:
			*atts = append(*atts, e)
		}
	}
	if multipartType == "alternative" && textBody != nil && htmlBody != nil {
		if textLen == len(*textBody) && htmlLen != len(*htmlBody) {
			// Only HTML was found: it serves as text too.
			*textBody = append(*textBody, (*htmlBody)[htmlLen:]...)
		}
		if htmlLen == len(*htmlBody) && textLen != len(*textBody) {
			*htmlBody = append(*htmlBody, (*textBody)[textLen:]...)
		}
	}
}

// attachment decodes e into an Attachment.
func (p *parser) attachment(e *entity) Attachment {
	data := p.decoded(e)
	a := Attachment{
		ContentType: e.ctype.value,
		Size:        int64(len(data)),
		SHA256:      sha256.Sum256(data),
		ContentID:   firstMsgID(e.header.Get("Content-Id")),
	}
	a.Inline = e.disp.value == "inline" || (e.disp.value == "" && a.ContentID != "")
	if p.keepData {
		if len(data) > 0 && len(e.body) > 0 && &data[0] == &e.body[0] {
			// Not transfer-encoded: data is a window on the caller's raw
			// bytes. Hand out a copy that does not pin or alias them.
			data = bytes.Clone(data)
		}
		a.Data = data
	}
	a.Filename = p.filename(e, data)
	return a
}

func (p *parser) filename(e *entity, data []byte) string {
	var name string
	// The standard parameters, then non-standard spellings some mailers
	// use.
	for _, at := range []struct {
		h   *mediaHeader
		key string
	}{{&e.disp, "filename"}, {&e.ctype, "name"}, {&e.ctype, "file"}, {&e.ctype, "filename"}, {&e.disp, "name"}} {
		if name = at.h.params[at.key]; name != "" {
			if b, ok := at.h.undeclared[at.key]; ok {
				name = p.undeclared8bit(e, b)
			}
			break
		}
	}
	if strings.Contains(name, "=?") {
		name = p.decodeWords(name)
	}
	name = sanitizeFilename(name)
	switch e.ctype.value {
	case "message/rfc822", "message/global":
		// A forwarded message keeps the name its sender gave it, else
		// is named after its subject.
		if name != "" {
			if path.Ext(name) == "" {
				name += ".eml"
			}
			return name
		}
		fields, _, _ := p.readHeader(data, true)
		h := buildHeader(fields, "windows-1252")
		if subj := sanitizeFilename(strings.ReplaceAll(p.headerText(&h, "Subject"), "/", "-")); subj != "" {
			return truncateRunes(subj, 120) + ".eml"
		}
		return "message.eml"
	}
	if name != "" {
		return name
	}
	if n := p.partName(e, e.uuName); n != "" {
		return n
	}
	switch e.ctype.value {
	case "application/ms-tnef", "application/vnd.ms-tnef":
		return "winmail.dat"
	}
	base := "attachment"
	if e.path != "" {
		base = "part-" + e.path
	}
	return base + extFor(e.ctype.value)
}

var extByType = map[string]string{
	"text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/csv": ".csv",
	"text/rfc822-headers": ".txt", "message/delivery-status": ".txt", "message/disposition-notification": ".txt",
	"message/feedback-report": ".txt", "message/global-delivery-status": ".txt",
	"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
	"image/tiff": ".tif", "image/svg+xml": ".svg", "application/pdf": ".pdf", "application/zip": ".zip",
	"application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s", "application/x-pkcs7-signature": ".p7s",
	"application/json": ".json", "application/xml": ".xml", "text/xml": ".xml", "audio/mpeg": ".mp3",
	"video/mp4": ".mp4",
}

func extFor(t string) string {
	if e, ok := extByType[t]; ok {
		return e
	}
	return ".bin"
}

// sanitizeFilename drops directories and control characters from a name.
// A line break inside a name separated words: it becomes "_", as other
// parsers make it, rather than gluing them.
func sanitizeFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if strings.ContainsAny(name, "\r\n") {
		name = lineBreaksRE.ReplaceAllString(strings.TrimSpace(name), "_")
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(cleanInvisible(name))
	if name == "." || name == ".." {
		return ""
	}
	return truncateRunes(name, 200)
}

var lineBreaksRE = regexp.MustCompile(`[\r\n]+`)

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateRunes(s, n) + "…"
}

func deliveredTo(h *mail.Header) []string {
	var out []string
	seen := map[string]bool{}
	for _, key := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(key) {
			a := normAddr(v)
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// listID extracts the identifier from "Description <list.example.org>".
func listID(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.ToLower(strings.TrimSpace(v[i+1 : i+j]))
		}
	}
	return strings.ToLower(v)
}
