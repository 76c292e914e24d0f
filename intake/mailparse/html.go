package mailparse

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText turns an HTML body into the text a reader sees: block elements
// break lines (paragraphs and headings by a blank line), table cells are
// separated, list items bulleted, links kept as "text <url>" once, and
// elements nobody sees (<head>, <style>, <script>, display:none, the hidden
// attribute, mso-hide:all) left out. Quoted history is marked the way text
// mail marks it, so SplitQuoted strips it like '>' quotes: <blockquote>
// content gets "> " in front, and Outlook's reply divider becomes the
// underscore line Outlook writes in its text part.
//
// It runs on x/net/html's HTML5 tokenizer (entities decoded as HTML5 does,
// raw-text elements, attributes across line breaks), not its tree builder:
// the tree builder's scope checks and formatting-element reconstruction
// are superlinear on hostile nesting. Open elements are tracked on a stack
// of at most maxHTMLStack, so each end tag costs a bounded search and the
// whole conversion is linear in the input.
func htmlToText(h string) string {
	return htmlToTextBudget(h, nil)
}

// maxHTMLStack bounds the open elements tracked; deeper ones still render,
// they only lose their own hiding or quoting.
const maxHTMLStack = 256

// maxQuoteMarks bounds the '>' marks (and list indents) written in front of
// a line, so that deep nesting cannot multiply the output.
const maxQuoteMarks = 10

type htmlElem struct {
	tag    atom.Atom
	name   string // for unknown tags
	hidden bool
	quote  bool
	pre    bool
	list   *htmlList
	href   string // <a>: the link target, "" when not shown
	start  int    // <a>: where its text began in the output
	cells  int    // <tr>: cells seen
}

type htmlList struct {
	ordered bool
	n       int
}

type htmlWriter struct {
	out       bytes.Buffer
	stack     []htmlElem
	overflow  int // elements opened beyond maxHTMLStack
	hidden    int
	quote     int
	pre       int
	lists     int
	inHead    bool
	newlines  int  // line breaks owed before the next text
	nlQuote   int  // quote depth of the blank lines among them
	space     bool // a space owed before the next text
	lineStart bool
	b         *budget
}

func htmlToTextBudget(h string, b *budget) string {
	w := &htmlWriter{lineStart: true, b: b}
	z := html.NewTokenizer(strings.NewReader(h))
	z.SetMaxBuf(0)
	for {
		tt := z.Next()
		w.b.spend(len(z.Raw()) + 1)
		switch tt {
		case html.ErrorToken:
			return w.finish()
		case html.TextToken:
			if w.hidden != 0 {
				break
			}
			text := z.Text()
			if w.inHead && len(bytes.TrimLeft(text, " \t\r\n\f")) > 0 {
				// Text ends <head> (HTML5's "in head" insertion mode): a
				// browser shows it.
				w.inHead = false
			}
			if !w.inHead {
				w.text(string(text))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			var attrs map[string]string
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "style", "hidden", "href", "id", "class", "type":
					if attrs == nil {
						attrs = map[string]string{}
					}
					attrs[string(k)] = string(v)
				}
			}
			w.start(string(name), attrs, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			w.end(string(name))
		}
	}
}

// voidTags never have content or an end tag.
var voidTags = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true, atom.Hr: true,
	atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true, atom.Source: true,
	atom.Track: true, atom.Wbr: true, atom.Param: true, atom.Keygen: true,
}

// hiddenTags are never shown; their content is not text.
var hiddenTags = map[atom.Atom]bool{
	atom.Head: true, atom.Style: true, atom.Script: true, atom.Title: true, atom.Template: true,
	atom.Object: true, atom.Select: true, atom.Iframe: true, atom.Svg: true, atom.Math: true,
}

// paragraphTags are set off by a blank line; blockTags by a line break.
var paragraphTags = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Dl: true,
}

var blockTags = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Center: true, atom.Dd: true,
	atom.Details: true, atom.Dialog: true, atom.Dir: true, atom.Div: true, atom.Dt: true,
	atom.Fieldset: true, atom.Figcaption: true, atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.Header: true, atom.Hr: true, atom.Li: true, atom.Main: true, atom.Menu: true, atom.Nav: true,
	atom.Section: true, atom.Summary: true, atom.Tr: true, atom.Caption: true, atom.Legend: true,
	atom.Tbody: true, atom.Thead: true, atom.Tfoot: true, atom.Body: true, atom.Html: true,
}

// headTags may stand in <head>; any other start tag ends it (HTML5's
// "in head" insertion mode).
var headTags = map[atom.Atom]bool{
	atom.Meta: true, atom.Link: true, atom.Title: true, atom.Style: true, atom.Script: true,
	atom.Base: true, atom.Noscript: true, atom.Template: true, atom.Head: true,
}

// outlookDivider is the underscore line Outlook puts above the header block
// of the message it replies to; SplitQuoted cuts there.
const outlookDivider = "________________________________"

func isHiddenStyle(style string) bool {
	s := strings.ToLower(strings.Join(strings.Fields(style), ""))
	return strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden") ||
		strings.Contains(s, "mso-hide:all")
}

// isOutlookReplyDivider recognises where Outlook (desktop and web) starts
// the quoted message: the top-bordered div around its From/Sent block
// (desktop) and the divRplyFwdMsg div (web).
func isOutlookReplyDivider(tag atom.Atom, attrs map[string]string) bool {
	if attrs["id"] == "divRplyFwdMsg" {
		return true
	}
	if tag == atom.Div {
		s := strings.ToLower(strings.Join(strings.Fields(attrs["style"]), ""))
		return strings.Contains(s, "border-top:solid") && strings.Contains(s, "border:none")
	}
	return false
}

// isQuoteContainer recognises the elements other clients wrap quoted
// history in instead of <blockquote>: Yahoo's yahoo_quoted div and
// Outlook for Mac's reference-message container.
func isQuoteContainer(attrs map[string]string) bool {
	return attrs["id"] == "mail-editor-reference-message-container" ||
		strings.Contains(attrs["class"], "yahoo_quoted")
}

func (w *htmlWriter) start(name string, attrs map[string]string, selfClosing bool) {
	tag := atom.Lookup([]byte(name))
	if w.inHead && (tag == atom.Body || !headTags[tag]) {
		w.inHead = false
	}
	if tag == atom.Head {
		w.inHead = true
		return
	}
	if tag == atom.Body {
		w.inHead = false
	}
	visible := w.hidden == 0 && !w.inHead
	if visible {
		switch {
		case tag == atom.Br:
			w.owe(w.newlines + 1)
		case isOutlookReplyDivider(tag, attrs):
			w.block(2)
			w.raw(outlookDivider)
			w.block(1)
		case paragraphTags[tag]:
			w.block(2)
		case blockTags[tag]:
			w.block(1)
		case tag == atom.Td || tag == atom.Th:
			if tr := w.find(atom.Tr); tr != nil {
				if tr.cells > 0 {
					w.space = true
				}
				tr.cells++
			}
		}
	}
	if voidTags[tag] || selfClosing && !hiddenTags[tag] {
		return
	}
	// Implied end tags of HTML5 that matter for hiding and quoting.
	switch tag {
	case atom.Li:
		w.closeImplied(atom.Li, atom.Ul, atom.Ol)
	case atom.Td, atom.Th:
		w.closeImplied(atom.Td, atom.Tr, atom.Table)
		w.closeImplied(atom.Th, atom.Tr, atom.Table)
	case atom.Tr:
		w.closeImplied(atom.Tr, atom.Table, 0)
	case atom.P, atom.Div, atom.Ul, atom.Ol, atom.Table, atom.Blockquote, atom.Pre,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		if n := len(w.stack); n > 0 && w.stack[n-1].tag == atom.P {
			w.pop()
		}
	}
	e := htmlElem{tag: tag}
	if tag == 0 {
		e.name = name
	}
	_, hasHidden := attrs["hidden"]
	e.hidden = hiddenTags[tag] || hasHidden || isHiddenStyle(attrs["style"])
	e.quote = tag == atom.Blockquote || isQuoteContainer(attrs)
	e.pre = tag == atom.Pre || tag == atom.Textarea || tag == atom.Listing || tag == atom.Plaintext
	switch tag {
	case atom.Ul, atom.Ol, atom.Menu, atom.Dir:
		e.list = &htmlList{ordered: tag == atom.Ol}
	case atom.Li:
		if visible {
			w.bullet()
		}
	case atom.A:
		if href := strings.TrimSpace(attrs["href"]); visible && showLink(href) {
			e.href = href
			e.start = w.out.Len()
		}
	}
	w.push(e)
}

// showLink reports whether a link target is worth writing beside its text.
func showLink(href string) bool {
	l := strings.ToLower(href)
	return href != "" && !strings.HasPrefix(href, "#") && !strings.HasPrefix(l, "javascript:") &&
		!strings.HasPrefix(l, "cid:") && !strings.HasPrefix(l, "data:")
}

func (w *htmlWriter) push(e htmlElem) {
	if len(w.stack) >= maxHTMLStack {
		w.overflow++
		return
	}
	w.stack = append(w.stack, e)
	if e.hidden {
		w.hidden++
	}
	if e.quote {
		w.quote++
	}
	if e.pre {
		w.pre++
	}
	if e.list != nil {
		w.lists++
	}
}

func (w *htmlWriter) pop() {
	n := len(w.stack) - 1
	e := w.stack[n]
	w.stack = w.stack[:n]
	if e.hidden {
		w.hidden--
	}
	if e.quote {
		w.quote--
		w.block(2)
	}
	if e.pre {
		w.pre--
	}
	if e.list != nil {
		w.lists--
	}
	if e.href != "" && w.hidden == 0 {
		w.linkEnd(e)
	}
	switch {
	case paragraphTags[e.tag]:
		w.block(2)
	case blockTags[e.tag]:
		w.block(1)
	}
}

// find returns the innermost open element tag, nil if none.
func (w *htmlWriter) find(tag atom.Atom) *htmlElem {
	for i := len(w.stack) - 1; i >= 0; i-- {
		if w.stack[i].tag == tag {
			return &w.stack[i]
		}
	}
	return nil
}

// closeImplied closes an open tag unless a boundary or stop element comes
// first (a new <li> ends the last one of the same list only).
func (w *htmlWriter) closeImplied(tag, boundary, stop atom.Atom) {
	for i := len(w.stack) - 1; i >= 0; i-- {
		switch w.stack[i].tag {
		case tag:
			for len(w.stack) > i {
				w.pop()
			}
			return
		case boundary, stop:
			return
		}
	}
}

func (w *htmlWriter) end(name string) {
	tag := atom.Lookup([]byte(name))
	if tag == atom.Head {
		w.inHead = false
		return
	}
	if tag == atom.Br {
		// "</br>" is read as <br> by HTML5.
		w.start(name, nil, true)
		return
	}
	for i := len(w.stack) - 1; i >= 0; i-- {
		e := w.stack[i]
		if e.tag == tag && (tag != 0 || e.name == name) {
			for len(w.stack) > i {
				w.pop()
			}
			return
		}
	}
	if w.overflow > 0 {
		w.overflow--
	}
}

// block asks for n line breaks (1: new line, 2: blank line) before the
// next text.
func (w *htmlWriter) block(n int) {
	if w.out.Len() == 0 {
		return
	}
	w.owe(max(w.newlines, n))
}

// owe sets the line breaks owed; blank lines among them are quoted only as
// deep as every element that asked for them.
func (w *htmlWriter) owe(n int) {
	if w.newlines == 0 {
		w.nlQuote = w.quote
	}
	w.nlQuote = min(w.nlQuote, w.quote)
	w.newlines = n
	w.space = false
}

func (w *htmlWriter) bullet() {
	w.block(1)
	depth := 0
	var l *htmlList
	for i := len(w.stack) - 1; i >= 0; i-- {
		if w.stack[i].list != nil {
			if l == nil {
				l = w.stack[i].list
			}
			depth++
		}
	}
	marker := "- "
	if l != nil {
		l.n++
		if l.ordered {
			marker = strconv.Itoa(l.n) + ". "
		}
	}
	w.raw(strings.Repeat("  ", min(max(depth-1, 0), maxQuoteMarks)) + marker)
}

// linkEnd writes " <url>" after a link's text unless the text already says
// it (a bare URL, a mail address).
func (w *htmlWriter) linkEnd(e htmlElem) {
	text := strings.TrimSpace(string(w.out.Bytes()[min(e.start, w.out.Len()):]))
	target := e.href
	if l := strings.ToLower(target); strings.HasPrefix(l, "mailto:") {
		target = target[len("mailto:"):]
		if i := strings.IndexByte(target, '?'); i >= 0 {
			target = target[:i]
		}
	}
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		return strings.TrimSuffix(strings.TrimPrefix(s, "www."), "/")
	}
	if text != "" && (norm(text) == norm(target) || norm(text) == norm(e.href)) {
		return
	}
	if text == "" {
		// An image link: the address alone says where it goes.
		w.text(e.href)
		return
	}
	w.space = false
	w.out.WriteString(" <" + e.href + ">")
}

// raw writes s as it is, after owed line breaks.
func (w *htmlWriter) raw(s string) {
	w.flushBreaks()
	w.linePrefix()
	w.out.WriteString(s)
	w.lineStart = false
}

func (w *htmlWriter) flushBreaks() {
	if w.newlines > 0 && w.out.Len() > 0 {
		for i := 0; i < w.newlines; i++ {
			if i > 0 && w.nlQuote > 0 {
				w.out.WriteString(strings.Repeat(">", min(w.nlQuote, maxQuoteMarks)))
			}
			w.out.WriteByte('\n')
		}
		w.lineStart = true
	}
	w.newlines = 0
}

func (w *htmlWriter) linePrefix() {
	if w.lineStart && w.quote > 0 {
		w.out.WriteString(strings.Repeat(">", min(w.quote, maxQuoteMarks)) + " ")
	}
	w.lineStart = false
}

func (w *htmlWriter) flushSpace() {
	if w.space && !w.lineStart && w.newlines == 0 {
		w.out.WriteByte(' ')
	}
	w.space = false
}

// text writes character data: whitespace collapsed outside <pre>.
func (w *htmlWriter) text(s string) {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	// A soft hyphen only says where a word may break: it is not text
	// (and would split the word for a search).
	s = strings.ReplaceAll(s, "\u00ad", "")
	if w.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				w.owe(w.newlines + 1)
			}
			if line != "" {
				w.flushBreaks()
				w.linePrefix()
				w.out.WriteString(strings.TrimRight(line, "\r"))
			}
		}
		return
	}
	first := true
	for _, f := range strings.FieldsFunc(s, isHTMLSpace) {
		if first {
			if isHTMLSpace(rune(s[0])) {
				w.space = true
			}
			first = false
		} else {
			w.space = true
		}
		w.flushBreaks()
		if w.lineStart {
			w.space = false
		}
		w.flushSpace()
		w.linePrefix()
		w.out.WriteString(f)
	}
	if first && s != "" {
		w.space = true // whitespace only
	} else if s != "" && isHTMLSpace(rune(s[len(s)-1])) {
		w.space = true
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

func (w *htmlWriter) finish() string {
	t := w.out.String()
	lines := strings.Split(t, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	// At most one blank line (or empty quote line) in a row.
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		if strings.Trim(l, "> ") == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
