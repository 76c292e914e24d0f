package mailparse

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, is never slow, is
// deterministic, keeps its output invariants, and that a message rebuilt
// from valid output parses back to the same subject, sender, Message-ID and
// text. Slow means superlinear: an input that spends more work units than
// the default step budget allows for its size (counted, so the verdict
// does not depend on the machine), or, as a backstop for work no stage
// counts, one that takes longer than slowBound.
//
//	go test -run='^$' -fuzz=FuzzParse -fuzztime=20s -fuzzminimizetime=2s ./intake/mailparse
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"Subject: =?utf-8?B?w6U?= x\n\nbody",
		"Content-Type: multipart/mixed; boundary=a\n\n--a\n\ntext\n--a\nContent-Type: message/rfc822\n\nSubject: in\n\nx\n--a--",
		"From: =?x?Q?y?= <A@B>\nContent-Type: text/html; charset=utf-7\n\n<p>+AOU-</p>",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@y\nAction: failed\n--r",
	} {
		f.Add([]byte(s))
	}
	for _, shape := range pathological {
		f.Add(shape.make(4 << 10))
	}
	f.Add([]byte(tnefMailWithRTF(compressRTFForTest([]byte(`{\rtf1\ansi\fromhtml1 {\*\htmltag64 <p>}a\'e5\u8364?{\*\htmltag72 </p>}}`)))))
	f.Fuzz(func(t *testing.T, raw []byte) {
		start := time.Now()
		m, err := ParseWith(raw, Options{MaxTime: -1})
		if d := time.Since(start); d > slowBound(len(raw)) {
			t.Fatalf("slow input: %v for %d bytes", d, len(raw))
		}
		if errors.Is(err, ErrBudget) {
			t.Fatalf("input of %d bytes exceeds the step budget: %v", len(raw), err)
		}
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned both a message and %v", err)
			}
			return
		}
		checkInvariants(t, m)
		again, _ := Parse(raw)
		if !reflect.DeepEqual(m, again) {
			t.Fatal("Parse is not deterministic")
		}
		if lm, err := ParseLimited(raw, 7, false); err != nil || len(lm.Text) > 7 {
			t.Fatalf("ParseLimited: %v, text %q", err, lm.Text)
		}

		out := render(m)
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of rendered output %q: %v", out, err)
		}
		if m2.Subject != m.Subject {
			t.Errorf("Subject %q became %q", m.Subject, m2.Subject)
		}
		if m2.Text != m.Text {
			t.Errorf("Text %q became %q", m.Text, m2.Text)
		}
		if renderableAddr(m.From.Addr) && m2.From != m.From {
			t.Errorf("From %+v became %+v", m.From, m2.From)
		}
		if renderableID(m.MessageID) && m2.MessageID != m.MessageID {
			t.Errorf("Message-ID %q became %q", m.MessageID, m2.MessageID)
		}
	})
}

// slowBound is far above what a linear parse takes on any machine: a
// hang or a quadratic blow-up, not a speed check.
func slowBound(size int) time.Duration {
	return 2*time.Second + time.Duration(size)*20*time.Microsecond
}

func checkInvariants(t *testing.T, m *Message) {
	t.Helper()
	for what, s := range map[string]string{"Subject": m.Subject, "Text": m.Text, "HTML": m.HTML, "NewText": m.NewText, "From.Name": m.From.Name} {
		if !utf8.ValidString(s) {
			t.Fatalf("%s is not valid UTF-8: %q", what, s)
		}
	}
	if strings.ContainsAny(m.Text, "\x00\r") {
		t.Fatalf("Text holds NUL or CR: %q", m.Text)
	}
	if strings.ContainsFunc(m.Subject, func(r rune) bool { return r < 0x20 }) {
		t.Fatalf("Subject holds control characters: %q", m.Subject)
	}
	for _, a := range append(append([]Address{m.From}, m.To...), m.Cc...) {
		if a.Addr != strings.ToLower(a.Addr) {
			t.Fatalf("address not lower-cased: %q", a.Addr)
		}
	}
	for _, a := range m.Attachments {
		if a.Filename == "" || strings.ContainsAny(a.Filename, "/\\\x00") {
			t.Fatalf("bad attachment name %q", a.Filename)
		}
		if int64(len(a.Data)) != a.Size {
			t.Fatalf("attachment %q: %d bytes, Size %d", a.Filename, len(a.Data), a.Size)
		}
	}
	if (m.Bounce != nil) != (m.Auto == AutoBounce) {
		t.Fatalf("Bounce %v with Auto %v", m.Bounce, m.Auto)
	}
}

var (
	simpleAddrRE = regexp.MustCompile(`^[a-z0-9._%+=-]+@[a-z0-9.-]+$`)
	simpleIDRE   = regexp.MustCompile(`^[!-~]+$`)
)

func renderableAddr(a string) bool { return simpleAddrRE.MatchString(a) }

func renderableID(id string) bool {
	return simpleIDRE.MatchString(id) && !strings.ContainsAny(id, "<>()\"")
}

// render writes a plain single-part mail carrying m's fields.
func render(m *Message) []byte {
	var b strings.Builder
	// Always encoded (a name may hold a comma), in words of at most 75
	// characters as RFC 2047 wants (the parser refuses a single word of
	// over 1,000), split between runes: 45 bytes make 72 characters.
	word := func(s string) string {
		var words []string
		for s != "" {
			n := 0
			for _, r := range s {
				if l := utf8.RuneLen(r); l > 0 && n+l <= 45 {
					n += l
					continue
				}
				break
			}
			n = max(n, min(len(s), 1)) // an invalid byte goes on its own
			words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
			s = s[n:]
		}
		return strings.Join(words, " ")
	}
	if renderableAddr(m.From.Addr) {
		b.WriteString("From: ")
		if m.From.Name != "" {
			b.WriteString(word(m.From.Name) + " ")
		}
		b.WriteString("<" + m.From.Addr + ">\r\n")
	}
	if renderableID(m.MessageID) {
		b.WriteString("Message-ID: <" + m.MessageID + ">\r\n")
	}
	b.WriteString("Subject: ")
	if m.Subject != "" {
		b.WriteString(word(m.Subject))
	}
	b.WriteString("\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(m.Text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return []byte(b.String())
}

// FuzzRTF checks the compressed RTF reader and the RTF reader on their
// own: no panic, output bounded by the input (a byte decompresses to at
// most eight, an RTF byte reads as at most three of UTF-8), valid UTF-8,
// and the work counted linear.
//
//	go test -run='^$' -fuzz=FuzzRTF -fuzztime=20s -fuzzminimizetime=2s ./intake/mailparse
func FuzzRTF(f *testing.F) {
	f.Add(rtfSpecExample)
	f.Add(compressRTFForTest([]byte(`{\rtf1\ansi\ansicpg1251\fromtext {\fonttbl{\f0 Arial;}}\'cf\u8364?\par}`)))
	f.Add(append(compressedRTFHeader(17, 5, rtfMELA, 0), "{\\rtf"...))
	tnefs, _ := filepath.Glob(filepath.Join("testdata", "tnef", "*.tnef"))
	for _, name := range tnefs {
		if b, err := os.ReadFile(name); err == nil {
			if res, err := readTNEF(b, nil); err == nil && res.rtfCompressed != nil {
				f.Add(res.rtfCompressed)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		out, err := decompressRTF(data)
		if err == nil && len(out) > 8*len(data) {
			t.Fatalf("%d bytes decompressed to %d", len(data), len(out))
		}
		for _, doc := range [][]byte{data, out} {
			b := newBudget(len(doc), Options{MaxTime: -1})
			body, _ := rtfBody(doc, b)
			if !utf8.ValidString(body) {
				t.Fatalf("not UTF-8: %q", body)
			}
			if len(body) > 3*len(doc) {
				t.Fatalf("%d bytes of RTF read as %d", len(doc), len(body))
			}
			if b.steps > int64(len(doc)) {
				t.Fatalf("%d work units for %d bytes", b.steps, len(doc))
			}
		}
		if d := time.Since(start); d > slowBound(len(data)) {
			t.Fatalf("slow input: %v for %d bytes", d, len(data))
		}
	})
}

// FuzzHeaderFields checks the header readers on their own, which FuzzParse
// reaches only through whole mails: the address list, a parameter header,
// encoded words. No panic, no hang, valid UTF-8, and no control character
// in an address (it would reach the database).
//
//	go test -run='^$' -fuzz=FuzzHeaderFields -fuzztime=20s -fuzzminimizetime=2s ./intake/mailparse
func FuzzHeaderFields(f *testing.F) {
	for _, s := range []string{
		`"Spoofed" <a@x>: b@y`, `<@route,@r2:user@domain> (c)`, `a) b <c@d>`, `(c3)a(c4)@(c5)b(c6).(c7)d(c8)(c9(c10)c11)`,
		`=?UTF-8?Q?a@b.c,?= <b@b.c>`, `x[ <( =?u?q?y <z@[w a.b @ `, "\"a\x00b\"@example.org",
		`attachment; filename*0*=utf-8''foo%C3%A5-; filename*1*=iso-8859-1''%E5; filename=x`,
		`=?us-ascii?B?Y=WJj==ZA==?= =?UTF-8?B?Q29uc2lndW Ug dG9k?=`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		p := &parser{}
		for _, a := range p.parseAddresses(s) {
			if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Addr) {
				t.Fatalf("not UTF-8: %+v", a)
			}
			if strings.IndexFunc(a.Addr, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				t.Fatalf("control character in address %q", a.Addr)
			}
		}
		// Header values reach parseMediaHeader decoded (raw 8-bit bytes
		// read by then): from valid UTF-8 it makes valid UTF-8.
		h, _ := parseMediaHeader("attachment; " + s)
		for _, v := range h.params {
			if !utf8.ValidString(v) && utf8.ValidString(s) {
				t.Fatalf("parameter not UTF-8: %q", v)
			}
		}
		if d := p.decodeWords(s); !utf8.ValidString(d) && utf8.ValidString(s) {
			t.Fatalf("decodeWords made invalid UTF-8: %q", d)
		}
		if d := time.Since(start); d > slowBound(len(s)) {
			t.Fatalf("slow input: %v for %d bytes", d, len(s))
		}
	})
}
