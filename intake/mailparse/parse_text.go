package mailparse

import (
	"bytes"
	"mime"
	"path"
	"strings"
)

// decodeUU decodes the first uuencoded block in b ("begin MODE NAME" …
// "end"), returning its data and file name; ok is false when b holds no
// begin line. Damaged lines are decoded as far as they go. Linear in b.
func decodeUU(b []byte) (data []byte, name string, ok bool) {
	pos := 0
	for pos < len(b) {
		line, next := nextLine(b, pos)
		pos = next
		l := bytes.TrimRight(line, " \t\r\n")
		if bytes.HasPrefix(l, []byte("begin ")) {
			f := strings.Fields(string(l[len("begin "):]))
			if len(f) >= 2 {
				name = strings.Join(f[1:], " ")
			}
			ok = true
			break
		}
	}
	if !ok {
		return nil, "", false
	}
	out := make([]byte, 0, len(b)*3/4)
	for pos < len(b) {
		line, next := nextLine(b, pos)
		pos = next
		l := bytes.TrimRight(line, "\r\n")
		if bytes.Equal(bytes.TrimSpace(l), []byte("end")) {
			break
		}
		if len(l) == 0 {
			continue
		}
		n := int((l[0] - ' ') & 63)
		if n == 0 {
			continue
		}
		enc := l[1:]
		start := len(out)
		for i := 0; i < len(enc) && len(out)-start < n; i += 4 {
			var q [4]byte
			for j := range 4 {
				if i+j < len(enc) {
					q[j] = (enc[i+j] - ' ') & 63
				}
			}
			out = append(out, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
		}
		out = out[:min(len(out), start+n)]
	}
	return out, name, true
}

// unflow undoes format=flowed (RFC 3676): a line ending in a space joins
// the next line of the same quote depth (the space dropped too when delsp
// is yes), space-stuffing goes, and quoted lines come out as "> text".
// The signature separator "-- " is never flowed. Linear in s.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var out strings.Builder
	out.Grow(len(s))
	open := false // the last line written was flowed and waits for more
	openDepth := 0
	for _, l := range lines {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		text := l[depth:]
		if strings.HasPrefix(text, " ") {
			text = text[1:] // space-stuffing, or the space after quote marks
		}
		if open && depth != openDepth {
			// A quote depth change ends a paragraph (RFC 3676 4.5).
			out.WriteByte('\n')
			open = false
		}
		if !open {
			if depth > 0 {
				out.WriteString(strings.Repeat(">", depth) + " ")
			}
		}
		flowed := strings.HasSuffix(text, " ") && text != "-- "
		if flowed && delsp {
			text = text[:len(text)-1]
		}
		out.WriteString(text)
		if flowed {
			open, openDepth = true, depth
			continue
		}
		out.WriteByte('\n')
		open = false
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// partName names a part that has no file name: from its uuencoded begin
// line, its Content-Description, or its Content-ID ("image001.jpg@…"),
// with an extension from its type when the name has none. "" when none of
// them gives a name.
func (p *parser) partName(e *entity, uuName string) string {
	ext := extFor(e.ctype.value)
	named := func(n string) string {
		n = sanitizeFilename(n)
		if n == "" {
			return ""
		}
		if x := strings.ToLower(path.Ext(n)); x != "" && (x == ext || mime.TypeByExtension(x) != "" || len(x) <= 5 && knownExt[x]) {
			return n
		}
		return n + ext
	}
	if uuName != "" {
		return sanitizeFilename(uuName)
	}
	if d := cleanLine(p.decodeWords(e.header.Get("Content-Description"))); d != "" && len(d) <= 80 {
		if n := named(d); n != "" {
			return n
		}
	}
	if id := firstMsgID(e.header.Get("Content-Id")); id != "" {
		local, _, _ := strings.Cut(id, "@")
		if n := named(local); n != "" {
			return n
		}
	}
	return ""
}

// knownExt are file extensions mail clients give, beyond those of the
// mime package's table.
var knownExt = map[string]bool{
	".txt": true, ".doc": true, ".docx": true, ".xls": true, ".xlsx": true, ".ppt": true, ".pptx": true,
	".zip": true, ".eml": true, ".msg": true, ".ics": true, ".csv": true, ".jpg": true, ".jpeg": true,
	".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".pdf": true, ".dat": true,
	".bin": true, ".mp3": true, ".mp4": true, ".wav": true, ".odt": true, ".ods": true, ".rtf": true,
	".htm": true, ".html": true, ".xml": true, ".json": true, ".asc": true, ".p7s": true, ".vcf": true,
}
