package mailparse

import (
	"bytes"
	"strings"
)

// splitMultipart cuts body at the delimiter lines of boundary. It returns
// the parts (without the line end before each delimiter), whether a closing
// delimiter was seen, and whether any delimiter was found at all.
// The epilogue is dropped; the preamble is returned. Delimiter lines may carry trailing
// whitespace; anything else after the boundary makes the line ordinary text,
// which is what keeps an inner boundary "a" from matching an outer "ab".
// Where no such line exists at all, a line that merely starts with the
// boundary delimits (RFC 2046 5.1.1: "it is sufficient that the boundary
// appear in its entirety following the CRLF"), as in Dovecot.
func splitMultipart(body []byte, boundary string) (parts [][]byte, preamble []byte, closed, found bool) {
	if boundary == "" {
		return nil, nil, false, false
	}
	parts, preamble, closed, found = splitAt(body, boundary, false)
	if !found {
		parts, preamble, closed, found = splitAt(body, boundary, true)
	}
	return parts, preamble, closed, found
}

// splitAt is splitMultipart with exact delimiter lines, or with lines
// that start with the delimiter (prefix).
func splitAt(body []byte, boundary string, prefix bool) (parts [][]byte, preamble []byte, closed, found bool) {
	dash := []byte("--" + boundary)
	start := -1 // start of the current part's content, -1 in the preamble
	// A part may open a multipart whose boundary is this one and "--"
	// ("a----" inside "a--"): its delimiter "--a----" reads as this
	// boundary's close "--a--". While it is open (until its own close
	// "--a------"), that line is its own, as Dovecot and stalwart read it.
	innerOf, innerOpen := -1, false
	pos := 0
	for pos < len(body) {
		i := bytes.Index(body[pos:], dash)
		if i < 0 {
			break
		}
		at := pos + i
		if at > 0 && body[at-1] != '\n' {
			pos = at + len(dash)
			continue
		}
		lineEnd := bytes.IndexByte(body[at:], '\n')
		next := len(body)
		if lineEnd >= 0 {
			next = at + lineEnd + 1
		}
		rest := bytes.TrimRight(body[at+len(dash):next], " \t\r\n")
		isClose := bytes.HasPrefix(rest, []byte("--"))
		if !prefix && start >= 0 && (bytes.Equal(rest, []byte("--")) || bytes.Equal(rest, []byte("----"))) {
			if innerOf != start {
				innerOf, innerOpen = start, opensMultipart(body[start:at], boundary+"--")
			}
			if innerOpen {
				innerOpen = len(rest) == 2 // "--a------" closes it
				pos = next
				continue
			}
		}
		if !prefix && len(rest) != 0 && !bytes.Equal(rest, []byte("--")) {
			pos = at + len(dash)
			continue
		}
		if !found {
			preamble = body[:at]
		}
		found = true
		if start >= 0 {
			end := at
			// The line end before the delimiter belongs to it.
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
		}
		if isClose {
			return parts, preamble, true, true
		}
		start = next
		pos = next
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts, preamble, false, found
}

// opensMultipart says whether part's header makes it a multipart with
// this boundary. Only a Content-Type that holds the boundary's text is
// parsed.
func opensMultipart(part []byte, boundary string) bool {
	var ct []byte
	for pos := 0; pos < len(part); {
		line, next := nextLine(part, pos)
		pos = next
		content := trimEOL(line)
		if len(content) == 0 {
			break
		}
		if ct != nil && (content[0] == ' ' || content[0] == '\t') {
			ct = append(ct, content...)
			continue
		}
		if ct != nil {
			break
		}
		if len(content) > 13 && strings.EqualFold(string(content[:13]), "content-type:") {
			ct = content[13:len(content):len(content)] // a later append copies
		}
	}
	if ct == nil || !bytes.Contains(ct, []byte(boundary)) {
		return false
	}
	h, _ := parseMediaHeader(string(ct))
	return strings.HasPrefix(h.value, "multipart/") && h.params["boundary"] == boundary
}

// decodeBase64 decodes base64 body text, skipping line breaks and stray
// characters and coping with padding in the middle (concatenated blocks).
// Padding ends the data of its line: the rest of that line is dropped
// ("Cg== ignored"), and the next line may start another block. An '='
// that cannot be padding (the first or second character of a quantum) is
// dropped, as Python's binascii does. clean is false when something had
// to be skipped or dropped.
func decodeBase64(b []byte) (out []byte, clean bool) {
	return base64Blocks(b, true)
}

// base64Blocks is decodeBase64; lineEnds says whether padding ends the
// rest of its line (bodies) or decoding goes on after it (encoded words).
func base64Blocks(b []byte, lineEnds bool) (out []byte, clean bool) {
	out = make([]byte, 0, len(b)*3/4+3)
	clean = true
	var acc uint32
	n := 0
	skip := false // after padding, to the end of the line
	for _, c := range b {
		if skip {
			switch c {
			case '\n':
				skip = false
			case '=', ' ', '\t', '\r':
			default:
				clean = false
			}
			continue
		}
		v := utf7Value[c]
		if v < 0 {
			switch c {
			case '=':
				// Padding ends a quantum; what follows may be another block.
				switch n {
				case 0, 1:
					clean = false
					continue
				case 2:
					out = append(out, byte(acc>>4))
				case 3:
					out = append(out, byte(acc>>10), byte(acc>>2))
				}
				acc, n = 0, 0
				skip = lineEnds
			case ' ', '\t', '\r', '\n':
			default:
				clean = false
			}
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 1:
		clean = false
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out, clean
}

// decodeQP decodes quoted-printable leniently: an '=' that starts no valid
// escape stays as it is, lower-case hex is accepted, trailing whitespace
// (which transport may add) is dropped, and line ends are kept as written.
func decodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for pos := 0; pos < len(b); {
		line, next := nextLine(b, pos)
		pos = next
		content := trimEOL(line)
		eol := line[len(content):]
		content = bytes.TrimRight(content, " \t")
		soft := false
		if len(content) > 0 && content[len(content)-1] == '=' {
			soft = true
			content = content[:len(content)-1]
		}
		for i := 0; i < len(content); i++ {
			c := content[i]
			if c == '=' && i+2 < len(content) && isHex(content[i+1]) && isHex(content[i+2]) {
				out = append(out, unhex(content[i+1])<<4|unhex(content[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if !soft {
			out = append(out, eol...)
		}
	}
	return out
}

// normalizeText gives decoded text LF line ends and no NUL characters
// (PostgreSQL text cannot hold them).
func normalizeText(s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}
