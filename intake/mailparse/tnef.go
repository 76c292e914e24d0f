package mailparse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
)

// TNEF (winmail.dat, MS-OXTNEF) is how Outlook sends "rich text" mail: the
// body and the real attachments travel inside one application/ms-tnef
// part. readTNEF unpacks its attachments (long file name where Outlook
// gives one, else the 8.3 title) and its body: the text or HTML property,
// else the compressed RTF (rtf.go), de-encapsulated to the HTML or text it
// was made from, or read as text. Mails with embedded Outlook messages
// (nested TNEF), which are not unpacked, keep winmail.dat beside what
// could be unpacked, and so do those whose RTF cannot be read.
//
// github.com/teamwork/tnef, the maintained Go library for this, is not
// served by this build's module proxy, so this is a small reader of the
// parts of the format casemail needs. Every length is checked against the
// input and every loop advances through it: linear, and a damaged file
// ends the reading with what was found so far.

type tnefAttachment struct {
	title, longName, mimeType string
	data                      []byte
	hasData                   bool
}

type tnefResult struct {
	text, html  string
	attachments []tnefAttachment
	rtfErr      error // the body is only compressed RTF, and it cannot be read
	// rtfCompressed is the PR_RTF_COMPRESSED value, a window on the input.
	rtfCompressed []byte
	embedded      bool // it holds embedded Outlook messages, not unpacked
}

// tnefEmbedded is what attAttachData holds for an embedded message, whose
// real content is a nested TNEF stream in the attachment's properties.
var tnefEmbedded = []byte("This attachment is a MAPI 1.0 embedded message")

var errNotTNEF = errors.New("not TNEF")

const tnefSignature = 0x223E9F78

// TNEF attribute ids (the low 16 bits of the attribute identifier).
const (
	attBody           = 0x800C
	attAttachData     = 0x800F
	attAttachTitle    = 0x8010
	attAttachRendData = 0x9002
	attMsgProps       = 0x9003
	attAttachment     = 0x9005
	attOemCodepage    = 0x9007
)

// MAPI property ids read from the property streams.
const (
	prBody            = 0x1000
	prRTFCompressed   = 0x1009
	prBodyHTML        = 0x1013
	prAttachDataBin   = 0x3701
	prAttachFilename  = 0x3704
	prAttachLongName  = 0x3707
	prAttachMimeTag   = 0x370E
	prDisplayName     = 0x3001
	maxTNEFProperties = 1 << 16
)

// readTNEF reads a TNEF stream; bud counts the work of reading its RTF
// body (nil: not counted).
func readTNEF(b []byte, bud *budget) (*tnefResult, error) {
	if len(b) < 6 || binary.LittleEndian.Uint32(b) != tnefSignature {
		return nil, errNotTNEF
	}
	res := &tnefResult{}
	var cur *tnefAttachment
	pos := 6
	codepage := "windows-1252"
	var rtf []byte
	for pos+9 <= len(b) {
		level := b[pos]
		id := binary.LittleEndian.Uint32(b[pos+1:])
		size := int(binary.LittleEndian.Uint32(b[pos+5:]))
		pos += 9
		if size < 0 || size > len(b)-pos {
			break // truncated: keep what was read
		}
		data := b[pos : pos+size]
		pos += size + 2 // and the checksum
		switch id & 0xFFFF {
		case attOemCodepage:
			if len(data) >= 4 {
				if cs := codepageCharset(binary.LittleEndian.Uint32(data)); cs != "" {
					codepage = cs
				}
			}
		case attBody:
			if level == 1 {
				res.text, _ = decodeCharset(codepage, bytes.TrimRight(data, "\x00"))
			}
		case attMsgProps:
			props := readMAPIProps(data)
			if v, ok := props[prBodyHTML]; ok && res.html == "" {
				res.html, _ = decodeCharset(codepage, bytes.TrimRight(v.data, "\x00"))
			}
			if v, ok := props[prBody]; ok && res.text == "" {
				res.text = v.text(codepage)
			}
			if v, ok := props[prRTFCompressed]; ok && rtf == nil {
				rtf = v.data
				res.rtfCompressed = rtf
			}
		case attAttachRendData:
			res.attachments = append(res.attachments, tnefAttachment{})
			cur = &res.attachments[len(res.attachments)-1]
		case attAttachTitle:
			if cur != nil {
				cur.title, _ = decodeCharset(codepage, bytes.TrimRight(data, "\x00"))
			}
		case attAttachData:
			if cur != nil {
				cur.data, cur.hasData = data, true
			}
		case attAttachment:
			if cur == nil {
				continue
			}
			props := readMAPIProps(data)
			if v, ok := props[prAttachLongName]; ok {
				cur.longName = v.text(codepage)
			} else if v, ok := props[prDisplayName]; ok && cur.title == "" {
				cur.title = v.text(codepage)
			}
			if v, ok := props[prAttachMimeTag]; ok {
				cur.mimeType = strings.ToLower(v.text(codepage))
			}
			if v, ok := props[prAttachDataBin]; ok && !cur.hasData {
				cur.data, cur.hasData = v.data, true
			}
		}
	}
	if res.text == "" && res.html == "" && rtf != nil {
		if doc, err := decompressRTF(rtf); err != nil {
			res.rtfErr = err
		} else if body, html := rtfBody(doc, bud); html {
			res.html = body
		} else {
			res.text = body
		}
	}
	kept := res.attachments[:0]
	for _, a := range res.attachments {
		if bytes.HasPrefix(a.data, tnefEmbedded) {
			res.embedded = true
			continue
		}
		kept = append(kept, a)
	}
	res.attachments = kept
	if res.text == "" && res.html == "" && len(res.attachments) == 0 && res.rtfErr == nil && !res.embedded && rtf == nil {
		return nil, errNotTNEF
	}
	return res, nil
}

// codepageCharset names a Windows code page's charset.
func codepageCharset(cp uint32) string {
	switch cp {
	case 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258:
		return "windows-" + strconv.Itoa(int(cp))
	case 932:
		return "shift_jis"
	case 936:
		return "gbk"
	case 949:
		return "euc-kr"
	case 950:
		return "big5"
	case 65001:
		return "utf-8"
	case 20866:
		return "koi8-r"
	case 28591:
		return "iso-8859-1"
	}
	return ""
}

type mapiValue struct {
	typ  uint16
	data []byte
}

// text reads a string property: UTF-16LE for PT_UNICODE, the code page for
// PT_STRING8.
func (v mapiValue) text(codepage string) string {
	if v.typ == 0x001F {
		u := make([]uint16, 0, len(v.data)/2)
		for i := 0; i+1 < len(v.data); i += 2 {
			c := binary.LittleEndian.Uint16(v.data[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return string(utf16.Decode(u))
	}
	s, _ := decodeCharset(codepage, bytes.TrimRight(v.data, "\x00"))
	return s
}

// readMAPIProps reads a MAPI property stream, keeping the first value of
// each property that casemail asks for by id (named properties skipped).
func readMAPIProps(b []byte) map[uint16]mapiValue {
	props := map[uint16]mapiValue{}
	if len(b) < 4 {
		return props
	}
	count := int(binary.LittleEndian.Uint32(b))
	pos := 4
	u32 := func() (int, bool) {
		if pos+4 > len(b) {
			return 0, false
		}
		v := int(binary.LittleEndian.Uint32(b[pos:]))
		pos += 4
		return v, v >= 0
	}
	for n := 0; n < count && n < maxTNEFProperties && pos+4 <= len(b); n++ {
		typ := binary.LittleEndian.Uint16(b[pos:])
		id := binary.LittleEndian.Uint16(b[pos+2:])
		pos += 4
		if id >= 0x8000 {
			// Named property: GUID, kind, then an id or a name.
			pos += 16
			kind, ok := u32()
			if !ok {
				return props
			}
			if kind == 0 {
				pos += 4
			} else {
				l, ok := u32()
				if !ok || l > len(b) {
					return props
				}
				pos += (l + 3) &^ 3
			}
		}
		multi := typ&0x1000 != 0
		base := typ &^ 0x1000
		values := 1
		if multi || base == 0x001E || base == 0x001F || base == 0x0102 || base == 0x000D {
			var ok bool
			if values, ok = u32(); !ok || values > len(b) {
				return props
			}
		}
		for range values {
			var data []byte
			switch base {
			case 0x0002, 0x0003, 0x0004, 0x000A, 0x000B:
				if pos+4 > len(b) {
					return props
				}
				data = b[pos : pos+4]
				pos += 4
			case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040:
				if pos+8 > len(b) {
					return props
				}
				data = b[pos : pos+8]
				pos += 8
			case 0x0048:
				if pos+16 > len(b) {
					return props
				}
				data = b[pos : pos+16]
				pos += 16
			case 0x001E, 0x001F, 0x0102, 0x000D:
				l, ok := u32()
				if !ok || l > len(b)-pos {
					return props
				}
				data = b[pos : pos+l]
				pos += (l + 3) &^ 3
				if base == 0x000D && len(data) >= 16 {
					data = data[16:] // the object's interface id
				}
			default:
				return props // unknown type: the rest cannot be found
			}
			if _, seen := props[id]; !seen && id < 0x8000 {
				props[id] = mapiValue{typ: base, data: data}
			}
		}
	}
	return props
}
