package mailparse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/transform"
)

func TestUTF7Decode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// RFC 2152 examples.
		{"A+ImIDkQ.", "A\u2262\u0391."},
		{"Hi Mom -+Jjo--!", "Hi Mom -\u263a-!"},
		{"+ZeVnLIqe-", "日本語"},
		{"Item 3 is +AKM-1.", "Item 3 is £1."},
		// "+-" is a literal plus; a shifted run may end without '-'.
		{"1 +- 1 = 2", "1 + 1 = 2"},
		{"+AOUA5AD2 slut", "åäö slut"},
		{"+AOUA5AD2", "åäö"},
		// Surrogate pair for U+1F600.
		{"+2D3eAA-", "😀"},
		// Lone high surrogate, 8-bit byte, lone '+': replaced or kept, never lost.
		{"a+2D0-b", "a\ufffdb"},
		{"a\xe5b", "a\ufffdb"},
		{"a+ b", "a+ b"},
		{"", ""},
	} {
		got, _, err := transform.String(UTF7.NewDecoder(), tc.in)
		if err != nil {
			t.Errorf("decode %q: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("decode %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUTF7RoundTripAndStreaming(t *testing.T) {
	for _, s := range []string{
		"plain ascii (with) punctuation: ok?",
		"Räksmörgås för 1+1 kronor – ja!",
		"日本語とEnglish混在 + 😀 emoji ~ \\ back",
		"++--++",
		"line1\r\nline2\ttab",
	} {
		enc, _, err := transform.String(UTF7.NewEncoder(), s)
		if err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		for _, c := range []byte(enc) {
			if c >= 0x80 {
				t.Fatalf("encode %q = %q: not 7-bit", s, enc)
			}
		}
		dec, _, err := transform.String(UTF7.NewDecoder(), enc)
		if err != nil || dec != s {
			t.Errorf("round trip %q -> %q -> %q (%v)", s, enc, dec, err)
		}
		// One byte at a time: decoder state must survive between calls.
		r := transform.NewReader(iotest.OneByteReader(strings.NewReader(enc)), UTF7.NewDecoder())
		got, err := io.ReadAll(r)
		if err != nil || string(got) != s {
			t.Errorf("streamed decode of %q = %q (%v), want %q", enc, got, err, s)
		}
	}
}

// The charsets the corpus README names must all decode through go-message's
// table, including the UTF-7 labels registered by this package.
func TestCharsetTable(t *testing.T) {
	for _, tc := range []struct {
		label string
		in    []byte
		want  string
	}{
		{"unicode-1-1-utf-7", []byte("+AOUA5AD2-"), "åäö"},
		{"UTF-7", []byte("+AOUA5AD2-"), "åäö"},
		{"iso-8859-1", []byte("R\xe4ksm\xf6rg\xe5s"), "Räksmörgås"},
		{"iso-8859-15", []byte("\xa4"), "€"},
		{"windows-1252", []byte("\x96 \x93x\x94"), "– “x”"},
		{"windows-1251", []byte("\xcf\xf0\xe8\xe2\xe5\xf2"), "Привет"},
		{"koi8-r", []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет"},
		{"iso-2022-jp", []byte("\x1b$BF|K\\8l\x1b(B"), "日本語"},
		{"shift_jis", []byte("\x93\xfa\x96\x7b\x8c\xea"), "日本語"},
		{"gb2312", []byte("\xb2\xe2\xca\xd4"), "测试"},
		{"gb18030", []byte("\xb2\xe2\xca\xd4"), "测试"},
		{"us-ascii", []byte("plain"), "plain"},
		// Mislabelled 8-bit under an ASCII label reads as windows-1252.
		{"us-ascii", []byte("f\xf6r"), "för"},
	} {
		got, err := decodeCharset(tc.label, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("decodeCharset(%q, %q) = %q, %v; want %q", tc.label, tc.in, got, err, tc.want)
		}
	}
	// go-message itself (message.CharsetReader) must see the registration.
	r, err := charset.Reader("unicode-1-1-utf-7", bytes.NewReader([]byte("+AOU-")))
	if err != nil {
		t.Fatalf("charset.Reader(unicode-1-1-utf-7): %v", err)
	}
	if b, _ := io.ReadAll(r); string(b) != "å" {
		t.Errorf("go-message UTF-7 reader gave %q", b)
	}
	// Unknown labels never lose the text.
	got, err := decodeCharset("x-no-such-charset", []byte("h\xe4j"))
	if err == nil || got != "häj" {
		t.Errorf("unknown charset: %q, %v; want windows-1252 reading and an error", got, err)
	}
}
