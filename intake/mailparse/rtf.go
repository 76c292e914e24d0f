package mailparse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Outlook's "rich text" body travels in a TNEF stream as compressed RTF
// (PR_RTF_COMPRESSED). Reading it takes three steps, each one pass over
// its input:
//
//  1. decompressRTF undoes the compression (MS-OXRTFCP: LZFu, or MELA
//     for uncompressed), checking the CRC;
//  2. rtfBody de-encapsulates (MS-OXRTFEX): RTF made from HTML
//     (\fromhtml1) gives back the HTML, RTF made from plain text
//     (\fromtext) the text;
//  3. other RTF, written in Outlook's editor, is read as text: the
//     characters of every group that is not a destination (font table,
//     pictures, fields' instructions), paragraphs as line breaks.
//
// The HTML then goes through htmlToText like any HTML body.

var (
	errRTFShort = errors.New("compressed RTF: header cut short")
	errRTFType  = errors.New("compressed RTF: unknown compression type")
	errRTFCRC   = errors.New("compressed RTF: CRC mismatch")
)

const (
	rtfLZFu = 0x75465A4C // "LZFu"
	rtfMELA = 0x414C454D // "MELA": stored uncompressed
)

// rtfPrebuf is the dictionary's initial content (MS-OXRTFCP 2.1.3.1.1).
const rtfPrebuf = "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript " +
	"\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par " +
	"\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"

// rtfCRC is MS-OXRTFCP's CRC-32: the IEEE polynomial, started at 0 and
// not inverted at the end (hash/crc32 inverts on both sides).
func rtfCRC(b []byte) uint32 {
	return ^crc32.Update(0xFFFFFFFF, crc32.IEEETable, b)
}

// decompressRTF returns the RTF of a PR_RTF_COMPRESSED value. The output
// is bounded by the declared size and by what the input can encode (eight
// bytes out per byte in at most), so it is linear in the input.
func decompressRTF(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, errRTFShort
	}
	compSize := binary.LittleEndian.Uint32(b)
	rawSize := binary.LittleEndian.Uint32(b[4:])
	typ := binary.LittleEndian.Uint32(b[8:])
	crc := binary.LittleEndian.Uint32(b[12:])
	data := b[16:]
	if compSize >= 12 && uint64(compSize-12) < uint64(len(data)) {
		data = data[:compSize-12] // padding after the stream
	}
	switch typ {
	case rtfMELA:
		return data[:min(uint64(len(data)), uint64(rawSize))], nil
	case rtfLZFu:
	default:
		return nil, errRTFType
	}
	if rtfCRC(data) != crc {
		return nil, errRTFCRC
	}
	limit := min(uint64(rawSize), 8*uint64(len(data)))
	out := make([]byte, 0, limit)
	var dict [4096]byte
	copy(dict[:], rtfPrebuf)
	w := len(rtfPrebuf)
	for i := 0; i < len(data); {
		ctrl := data[i]
		i++
		for bit := 0; bit < 8; bit++ {
			if uint64(len(out)) >= limit {
				return out, nil
			}
			if ctrl&(1<<bit) == 0 {
				if i >= len(data) {
					return out, nil
				}
				c := data[i]
				i++
				out = append(out, c)
				dict[w] = c
				w = (w + 1) & 4095
				continue
			}
			if i+1 >= len(data) {
				return out, nil
			}
			ref := int(data[i])<<8 | int(data[i+1])
			i += 2
			off, n := ref>>4, ref&15+2
			if off == w {
				return out, nil // the end marker
			}
			for k := range n {
				c := dict[(off+k)&4095]
				out = append(out, c)
				dict[w] = c
				w = (w + 1) & 4095
			}
		}
	}
	return out, nil
}

// rtfKind is what an RTF document encapsulates.
type rtfKind int

const (
	rtfNative   rtfKind = iota // written as RTF
	rtfFromHTML                // \fromhtml1: the HTML comes back out
	rtfFromText                // \fromtext: the plain text comes back out
)

// rtfKindOf looks for the encapsulation marker in the document's header,
// which precedes the font table (MS-OXRTFEX 2.1.3.1.1).
func rtfKindOf(rtf []byte) rtfKind {
	head := rtf[:min(len(rtf), 1024)]
	if i := bytes.IndexByte(head, '{'); i >= 0 {
		if j := bytes.IndexByte(head[i+1:], '{'); j >= 0 {
			head = head[:i+1+j]
		}
	}
	switch {
	case bytes.Contains(head, []byte(`\fromhtml`)):
		return rtfFromHTML
	case bytes.Contains(head, []byte(`\fromtext`)):
		return rtfFromText
	}
	return rtfNative
}

// rtfSkipDest are destinations whose content is no text of the document.
var rtfSkipDest = map[string]bool{
	"fonttbl": true, "colortbl": true, "stylesheet": true, "info": true, "pict": true, "object": true,
	"header": true, "headerl": true, "headerr": true, "headerf": true, "footer": true, "footerl": true,
	"footerr": true, "footerf": true, "listtable": true, "listoverridetable": true, "rsidtbl": true,
	"xmlnstbl": true, "themedata": true, "colorschememapping": true, "datastore": true, "latentstyles": true,
	"generator": true, "filetbl": true, "revtbl": true, "fldinst": true, "pntext": true, "pntxta": true,
	"pntxtb": true, "nonshppict": true, "shpinst": true, "bkmkstart": true, "bkmkend": true, "mmathPr": true,
}

// rtfSymbols are control words that stand for a character.
var rtfSymbols = map[string]string{
	"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "tab": "\t", "cell": "\t",
	"emdash": "—", "endash": "–", "bullet": "•", "lquote": "‘", "rquote": "’", "ldblquote": "“",
	"rdblquote": "”", "emspace": " ", "enspace": " ", "qmspace": " ",
}

// Bounds of the RTF reader: nested groups tracked (deeper ones share the
// state of the last tracked one), and the length of a control word and
// of its parameter, beyond which the rest reads as text.
const (
	maxRTFDepth = 1024
	maxRTFWord  = 32
	maxRTFParam = 10
)

type rtfGroup struct {
	skip     bool // a destination that is not text
	htmltag  bool // {\*\htmltag…}: HTML of a \fromhtml1 document
	suppress bool // \htmlrtf: RTF-only content of an encapsulating document
	uc       int  // characters that stand in for a \u character
	fresh    bool // no control word or text yet
	star     bool // began with \*: an ignorable destination
}

// rtfBody reads a decompressed RTF document: the HTML it encapsulates
// (html true) or its text. One pass, every byte read once; bud counts it.
func rtfBody(rtf []byte, bud *budget) (body string, html bool) {
	bud.spend(len(rtf))
	kind := rtfKindOf(rtf)
	r := rtfReader{kind: kind, charset: "windows-1252"}
	r.stack = append(r.stack, rtfGroup{uc: 1, fresh: true})
	for i := 0; i < len(rtf); {
		c := rtf[i]
		switch c {
		case '{':
			r.flush()
			if len(r.stack) < maxRTFDepth {
				g := r.top()
				g.fresh, g.star = true, false
				r.stack = append(r.stack, g)
			} else {
				r.overflow++
			}
			i++
		case '}':
			r.flush()
			switch {
			case r.overflow > 0:
				r.overflow--
			case len(r.stack) > 1:
				r.stack = r.stack[:len(r.stack)-1]
			}
			i++
		case '\\':
			i = r.control(rtf, i+1)
		case '\r', '\n', 0:
			i++
		default:
			r.char(c)
			i++
		}
	}
	r.flush()
	return r.out.String(), kind == rtfFromHTML
}

type rtfReader struct {
	kind     rtfKind
	stack    []rtfGroup
	overflow int
	charset  string // of \'hh bytes and 8-bit text: \ansicpg
	pending  []byte // bytes in charset, not yet decoded
	skipN    int    // fallback characters still to skip after \u
	out      strings.Builder
}

func (r *rtfReader) top() rtfGroup { return r.stack[len(r.stack)-1] }

func (r *rtfReader) set(f func(g *rtfGroup)) {
	f(&r.stack[len(r.stack)-1])
}

// active reports whether content at this point belongs to the output.
func (r *rtfReader) active() bool {
	g := r.top()
	if g.skip {
		return false
	}
	if r.kind == rtfNative {
		return true
	}
	return g.htmltag || !g.suppress
}

// char takes one character of text (a byte in charset).
func (r *rtfReader) char(c byte) {
	r.set(func(g *rtfGroup) { g.fresh = false })
	if r.skipN > 0 {
		r.skipN--
		return
	}
	if r.active() {
		r.pending = append(r.pending, c)
	}
}

func (r *rtfReader) text(s string) {
	if r.active() {
		r.flush()
		r.out.WriteString(s)
	}
}

func (r *rtfReader) flush() {
	if len(r.pending) == 0 {
		return
	}
	if has8bit(r.pending) {
		s, _ := decodeCharset(r.charset, r.pending)
		r.out.WriteString(s)
	} else {
		r.out.Write(r.pending)
	}
	r.pending = r.pending[:0]
}

// control reads the control word or symbol after a backslash at rtf[i]
// and returns the position after it.
func (r *rtfReader) control(rtf []byte, i int) int {
	if i >= len(rtf) {
		return i
	}
	c := rtf[i]
	if !isASCIILetter(c) {
		switch c {
		case '\'':
			if i+2 < len(rtf) && isHex(rtf[i+1]) && isHex(rtf[i+2]) {
				r.char(unhex(rtf[i+1])<<4 | unhex(rtf[i+2]))
				return i + 3
			}
			return i + 1
		case '*':
			r.set(func(g *rtfGroup) { g.star = true })
		case '{', '}', '\\':
			r.char(c)
		case '~':
			r.text("\u00a0")
		case '_':
			r.text("-")
		case '\r', '\n':
			r.text("\n")
		}
		return i + 1
	}
	start := i
	for i < len(rtf) && i-start < maxRTFWord && isASCIILetter(rtf[i]) {
		i++
	}
	word := string(rtf[start:i])
	param, hasParam := 0, false
	ps := i
	if i < len(rtf) && rtf[i] == '-' {
		i++
	}
	for i < len(rtf) && i-ps < maxRTFParam && rtf[i] >= '0' && rtf[i] <= '9' {
		i++
	}
	if i > ps && rtf[i-1] != '-' {
		param, _ = strconv.Atoi(string(rtf[ps:i]))
		hasParam = true
	} else {
		i = ps
	}
	if i < len(rtf) && rtf[i] == ' ' {
		i++ // the delimiter belongs to the control word
	}
	return r.word(rtf, i, word, param, hasParam)
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// word acts on one control word; i is the position after it.
func (r *rtfReader) word(rtf []byte, i int, word string, param int, hasParam bool) int {
	g := r.top()
	if g.fresh {
		r.set(func(g *rtfGroup) { g.fresh = false })
		switch {
		case word == "htmltag" && g.star && r.kind == rtfFromHTML:
			r.flush()
			r.set(func(g *rtfGroup) { g.htmltag = true })
			return i
		case g.star || rtfSkipDest[word]:
			// An ignorable destination ({\*\mhtmltag…} too: it repeats
			// the following htmltag with cid: links) or one that holds
			// no text.
			r.flush()
			r.set(func(g *rtfGroup) { g.skip = true })
			return i
		}
	}
	switch word {
	case "htmlrtf":
		r.flush()
		on := !hasParam || param != 0
		r.set(func(g *rtfGroup) { g.suppress = on })
	case "ansicpg":
		if cs := codepageCharset(uint32(max(param, 0))); cs != "" && hasParam {
			r.flush()
			r.charset = cs
		}
	case "uc":
		if hasParam && param >= 0 {
			r.set(func(g *rtfGroup) { g.uc = min(param, 8) })
		}
	case "u":
		if hasParam {
			if param < 0 {
				param += 65536
			}
			ru := rune(param)
			if !utf8.ValidRune(ru) || ru == 0 {
				ru = utf8.RuneError
			}
			r.text(string(ru))
			r.skipN = g.uc
		}
	case "bin":
		// Binary data follows: skip it whole.
		if hasParam && param > 0 {
			return min(len(rtf), i+param)
		}
	default:
		if s, ok := rtfSymbols[word]; ok {
			r.text(s)
		}
	}
	return i
}
