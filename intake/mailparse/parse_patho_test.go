package mailparse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// pathological builds hostile mails of about size bytes, one shape each.
// They are what the trust issue measured (a long line followed by
// thousands of '>' lines took 50 s at 60 KB) and the other ways to make a
// parser do more than a pass over its input.
var pathological = []struct {
	name string
	make func(size int) []byte
}{
	{"long-line-quotes", func(size int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nSubject: q\r\n\r\n")
		b.WriteString(strings.Repeat("On x wrote ", size/2/11))
		b.WriteString("\r\n")
		for b.Len() < size {
			b.WriteString("> q\r\n\r\n")
		}
		return []byte(b.String())
	}},
	{"deep-html", func(size int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nSubject: h\r\nContent-Type: text/html\r\n\r\n")
		n := size / 2 / 40
		for i := range n {
			fmt.Fprintf(&b, "<div><blockquote><b id=%d><table><td><li>", i)
		}
		b.WriteString("text")
		for range n {
			b.WriteString("</p></li></td></table></b></blockquote></div>")
		}
		for b.Len() < size {
			b.WriteString("<p>x<a href=y>z")
		}
		return []byte(b.String())
	}},
	{"many-parts", func(size int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nSubject: p\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "--b\r\nContent-Type: multipart/alternative; boundary=c%d\r\n\r\n--c%d\r\nContent-Type: text/plain\r\n\r\ntext %d\r\n--c%d\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--c%d--\r\n", i, i, i, i, i)
		}
		b.WriteString("--b--\r\n")
		return []byte(b.String())
	}},
	{"unended-encoded-words", func(size int) []byte {
		var b strings.Builder
		b.WriteString("From: a@example.org\r\nSubject: ")
		for b.Len() < size {
			b.WriteString("=?a?q?x")
		}
		b.WriteString("\r\n\r\nbody\r\n")
		return []byte(b.String())
	}},
	{"tnef-rtf", func(size int) []byte {
		// An Outlook body of RTF made from HTML, stored uncompressed
		// (MELA): nested groups, control words, escapes, HTML tags.
		var rtf strings.Builder
		rtf.WriteString(`{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}`)
		for i := 0; rtf.Len() < size/2; i++ {
			fmt.Fprintf(&rtf, `{\*\htmltag64 <p>}\htmlrtf {\b\htmlrtf0 Rad %d d\'e5 \u8364?{\*\htmltag84 <br>}\htmlrtf\par\htmlrtf0 }{{{{`, i)
		}
		rtf.WriteString(strings.Repeat("}", size/2/20) + "}")
		stored := append(compressedRTFHeader(uint32(rtf.Len()+12), uint32(rtf.Len()), rtfMELA, 0), rtf.String()...)
		return []byte(tnefMailWithRTF(stored))
	}},
	{"many-addresses", func(size int) []byte {
		var b strings.Builder
		b.WriteString("From: =?utf-8?q?B=FCrling,=20A?= <a@example.org>\r\nSubject: a\r\nTo: ")
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "=?utf-8?q?N=C3=A4me_%d?= <u%d@example.org>,\r\n ", i, i)
		}
		b.WriteString("last@example.org\r\n\r\nbody\r\n")
		return []byte(b.String())
	}},
	{"hostile-address", func(size int) []byte {
		// One mailbox of unclosed brackets, comments, domain literals and
		// encoded words: every token looks ahead for its end.
		var b strings.Builder
		b.WriteString("Subject: a\r\nFrom: ")
		for b.Len() < size/2 {
			b.WriteString("x[ <( =?u?q?y <z@[w a.b @ ")
		}
		b.WriteString("\r\nTo: ")
		for b.Len() < size {
			b.WriteString("a (b <c@d> \"e (")
		}
		b.WriteString("\r\n\r\nbody\r\n")
		return []byte(b.String())
	}},
}

var pathoSizes = []int{10 << 10, 100 << 10, 1 << 20, 10 << 20}

// BenchmarkParsePathological parses each hostile shape at 10 KB, 100 KB,
// 1 MB and 10 MB. ns/byte stays flat across the sizes when parsing is
// linear (it grew with the size before: quadratic quote stripping).
//
//	go test ./intake/mailparse -run '^$' -bench ParsePathological -benchtime 3x
func BenchmarkParsePathological(b *testing.B) {
	for _, shape := range pathological {
		for _, size := range pathoSizes {
			raw := shape.make(size)
			b.Run(fmt.Sprintf("%s/%dKB", shape.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				for b.Loop() {
					if _, err := ParseWith(raw, Options{MaxSteps: -1, MaxTime: -1}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(raw)), "ns/byte")
			})
		}
	}
}

// Every hostile shape parses within the default step budget at every size:
// the work counted grows linearly, never with the square of the size. The
// count is deterministic; no clock is read.
func TestPathologicalWithinBudget(t *testing.T) {
	for _, shape := range pathological {
		for _, size := range pathoSizes[:3] {
			raw := shape.make(size)
			bud := newBudget(len(raw), Options{MaxTime: -1})
			limit := bud.limit
			m, err := ParseWith(raw, Options{MaxSteps: limit, MaxTime: -1})
			if err != nil {
				t.Errorf("%s at %d bytes: %v", shape.name, len(raw), err)
				continue
			}
			if m.Text == "" && shape.name != "many-addresses" {
				t.Errorf("%s: no text", shape.name)
			}
		}
	}
}

func TestBudgetStopsAParse(t *testing.T) {
	raw := pathological[0].make(100 << 10)
	_, err := ParseWith(raw, Options{MaxSteps: 10_000})
	var be *BudgetError
	if !errors.Is(err, ErrBudget) || !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BudgetError", err)
	}
	if be.Stage == "" || be.Steps <= be.Limit || be.Timeout {
		t.Errorf("BudgetError = %+v", be)
	}
	if !strings.Contains(err.Error(), "budget") {
		t.Errorf("message %q does not name the budget", err)
	}
	// The same mail with the default budget parses, and quote stripping
	// keeps the long line that has no quote of its own.
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.NewText, "On x wrote On x wrote") {
		t.Errorf("NewText = %.60q…", m.NewText)
	}
}

// A budget of time: a deadline already passed stops the parse at its
// first clock reading (after timeCheckEvery units of work).
func TestBudgetTimeout(t *testing.T) {
	raw := pathological[2].make(1 << 20)
	_, err := ParseWith(raw, Options{MaxTime: 1})
	var be *BudgetError
	if !errors.As(err, &be) || !be.Timeout {
		t.Fatalf("err = %v, want a timeout BudgetError", err)
	}
}
