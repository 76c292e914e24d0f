package mailparse

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The example of MS-OXRTFCP 4.1, which MimeKit's RtfCompressedToRtfTests
// use too.
var rtfSpecExample = []byte{'-', 0, 0, 0, '+', 0, 0, 0, 'L', 'Z', 'F', 'u', 0xf1, 0xc5, 0xc7, 0xa7, 0x03, 0x00, '\n', 0x00,
	'r', 'c', 'p', 'g', '1', '2', '5', 'B', '2', '\n', 0xf3, ' ', 'h', 'e', 'l', '\t', 0x00, ' ', 'b', 'w', 0x05, 0xb0,
	'l', 'd', '}', '\n', 0x80, 0x0f, 0xa0}

func TestDecompressRTF(t *testing.T) {
	got, err := decompressRTF(rtfSpecExample)
	if want := "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"; err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	// MimeKit's vectors: a CRC that does not match, an unknown type.
	if _, err := decompressRTF([]byte{0x10, 0, 0, 0, 0x11, 0, 0, 0, 'L', 'Z', 'F', 'u', 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, errRTFCRC) {
		t.Errorf("bad CRC: %v", err)
	}
	if _, err := decompressRTF([]byte{0x10, 0, 0, 0, 0x11, 0, 0, 0, 'A', 'B', 'C', 'D', 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, errRTFType) {
		t.Errorf("unknown type: %v", err)
	}
	// One changed byte of the stream fails the CRC.
	bad := bytes.Clone(rtfSpecExample)
	bad[20] ^= 1
	if _, err := decompressRTF(bad); !errors.Is(err, errRTFCRC) {
		t.Errorf("changed byte: %v", err)
	}
	// Stored uncompressed.
	mela := compressedRTFHeader(12+5, 5, rtfMELA, 0)
	if got, err := decompressRTF(append(mela, "{\\rtf"...)); err != nil || string(got) != "{\\rtf" {
		t.Errorf("MELA: %q, %v", got, err)
	}
	// Truncated streams end the output, never the program.
	for n := range len(rtfSpecExample) {
		_, _ = decompressRTF(rtfSpecExample[:n])
	}
}

func TestCompressRTFRoundTrip(t *testing.T) {
	for _, doc := range []string{
		"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n",
		"{\\rtf1 " + strings.Repeat("abcabcabd ", 500) + "}",
		strings.Repeat("x", 5000), // references that overlap what they write
		"",
	} {
		c := compressRTFForTest([]byte(doc))
		got, err := decompressRTF(c)
		if err != nil || string(got) != doc {
			t.Errorf("round trip of %.40q: %.40q, %v", doc, got, err)
		}
		if len(doc) > 1000 && len(c) > len(doc)/3 {
			t.Errorf("%.20q…: %d bytes compressed from %d: no references used", doc, len(c), len(doc))
		}
	}
}

func compressedRTFHeader(compSize, rawSize, typ, crc uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, compSize)
	b = binary.LittleEndian.AppendUint32(b, rawSize)
	b = binary.LittleEndian.AppendUint32(b, typ)
	return binary.LittleEndian.AppendUint32(b, crc)
}

// compressRTFForTest is a test-only LZFu encoder (MS-OXRTFCP 2.2): greedy,
// longest match in the dictionary, without references that overlap the
// bytes they write.
func compressRTFForTest(doc []byte) []byte {
	var dict [4096]byte
	copy(dict[:], rtfPrebuf)
	w := len(rtfPrebuf)
	put := func(c byte) {
		dict[w] = c
		w = (w + 1) & 4095
	}
	var out []byte
	for i, done := 0, false; !done; {
		ctrlAt := len(out)
		out = append(out, 0)
		for bit := 0; bit < 8; bit++ {
			if i >= len(doc) {
				out[ctrlAt] |= 1 << bit
				out = append(out, byte(w>>4), byte(w<<4)) // the end marker
				done = true
				break
			}
			bestOff, bestLen := 0, 0
			for off := range 4096 {
				if off == w {
					continue
				}
				n := 0
				for n < 17 && i+n < len(doc) && (w-off)&4095 > n && dict[(off+n)&4095] == doc[i+n] {
					n++
				}
				if n > bestLen {
					bestOff, bestLen = off, n
				}
			}
			if bestLen < 2 {
				out = append(out, doc[i])
				put(doc[i])
				i++
				continue
			}
			out[ctrlAt] |= 1 << bit
			ref := bestOff<<4 | (bestLen - 2)
			out = append(out, byte(ref>>8), byte(ref))
			for k := range bestLen {
				put(doc[i+k])
			}
			i += bestLen
		}
	}
	return append(compressedRTFHeader(uint32(len(out)+12), uint32(len(doc)), rtfLZFu, rtfCRC(out)), out...)
}

func TestRTFBodyFromHTML(t *testing.T) {
	doc := `{\rtf1\ansi\ansicpg1252\fromhtml1 \fbidis \deff0{\fonttbl
{\f0\fswiss Arial;}
{\f1\fmodern Courier New;}}
{\colortbl\red0\green0\blue0;\red0\green0\blue255;}
\uc1\pard\plain\deftab360 \f0\fs24 
{\*\htmltag19 <html>}
{\*\htmltag34 <head>}
{\*\htmltag161 <style>p \{margin:0\}</style>}
{\*\htmltag41 </head>}
{\*\htmltag50 <body>}\htmlrtf {\htmlrtf0 
{\*\htmltag64 <p>}\htmlrtf {\htmlrtf0 Hej d\'e5, 3 &gt; 2 \u8364?\htmlrtf }\htmlrtf0 
{\*\htmltag72 </p>}\htmlrtf\par\htmlrtf0
{\*\mhtmltag84 <img src="cid:image001.png">}{\*\htmltag84 <img src="image001.png">}
{\*\htmltag64 <p>}Rad tv\'e5{\*\htmltag116 <br>}\htmlrtf\line\htmlrtf0 tre{\*\htmltag72 </p>}
{\*\htmltag58 </body>}
{\*\htmltag27 </html>}}}`
	body, html := rtfBody([]byte(doc), nil)
	if !html {
		t.Fatal("not recognised as \\fromhtml1")
	}
	for _, want := range []string{"<html>", "<style>p {margin:0}</style>", "<p>Hej då, 3 &gt; 2 €</p>", `<img src="image001.png">`, "<p>Rad två<br>", "tre</p>"} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML %q lacks %q", body, want)
		}
	}
	if strings.Contains(body, "Arial") || strings.Contains(body, "cid:") {
		t.Errorf("HTML %q holds the font table or the MHTML tag", body)
	}
	if got := strings.TrimSpace(htmlToText(body)); got != "Hej då, 3 > 2 €\n\nRad två\ntre" {
		t.Errorf("its text = %q", got)
	}
}

func TestRTFBodyFromText(t *testing.T) {
	doc := `{\rtf1\ansi\ansicpg1251\fromtext \fbidis \deff0{\fonttbl
{\f0\fswiss Arial;}
{\f2\fnil\fcharset2 Symbol;}}
{\colortbl\red0\green0\blue0;\red0\green0\blue255;}
\uc1\pard\plain\deftab360 \f0\fs20 \'cf\'f0\'e8\'e2\'e5\'f2\par
{\*\htmltag0 ignored}Line two\tab end\par
}`
	body, html := rtfBody([]byte(doc), nil)
	if html || body != "Привет\nLine two\tend\n" {
		t.Errorf("got %q (html %v)", body, html)
	}
}

// Native RTF (Outlook's own editor), from MimeKit's rtf.tnef expectation.
func TestRTFBodyNative(t *testing.T) {
	doc, err := os.ReadFile("testdata/tnef/rtf/message.rtf")
	if err != nil {
		t.Fatal(err)
	}
	body, html := rtfBody(doc, nil)
	if html {
		t.Fatal("native RTF read as HTML")
	}
	for _, want := range []string{"aafgag'alga'kgk\n\nagka;kgag\n", "af;kafkk'g\n", "\\hge\n", "-- Greg\nGreg Allen\n", "gallen@numega.com\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("text %q lacks %q", body, want)
		}
	}
	if strings.Contains(body, "Arial") || strings.Contains(body, "red0") {
		t.Errorf("text %q holds the font or colour table", body)
	}
	// \u with its fallback character, \bin data, unbalanced groups.
	body, _ = rtfBody([]byte(`{\rtf1{\*\generator x;}A\u269?B\uc2\u8364\'80\'80C{\pict\bin3 }}}}D}}}`), nil)
	if body != "AčB€CD" {
		t.Errorf("got %q", body)
	}
}

// An Outlook mail whose only body is compressed RTF made from HTML: the
// body becomes the case's text and winmail.dat is unpacked, not kept.
func TestTNEFCompressedRTFBody(t *testing.T) {
	doc := `{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}{\*\htmltag50 <body>}{\*\htmltag64 <p>}Skrivaren p\'e5 plan 3 skriver inte.{\*\htmltag72 </p>}{\*\htmltag58 </body>}}`
	c := compressRTFForTest([]byte(doc))
	m := mustParse(t, tnefMailWithRTF(c))
	if strings.TrimSpace(m.Text) != "Skrivaren på plan 3 skriver inte." {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "SCHEMA.PDF" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
	// A damaged stream fails its CRC: winmail.dat is kept, with the reason.
	c[len(c)-3] ^= 0xff
	m = mustParse(t, tnefMailWithRTF(c))
	if len(m.Attachments) != 2 || m.Attachments[1].Filename != "winmail.dat" || !hasProblem(m, "CRC") {
		t.Errorf("damaged: Attachments = %+v, problems %q", m.Attachments, m.Problems)
	}
}

// tnefMailWithRTF is a mail whose winmail.dat holds the compressed RTF c
// as its body and one attachment.
func tnefMailWithRTF(c []byte) string {
	props := binary.LittleEndian.AppendUint32(nil, 1)
	props = binary.LittleEndian.AppendUint16(props, 0x0102)
	props = binary.LittleEndian.AppendUint16(props, prRTFCompressed)
	props = binary.LittleEndian.AppendUint32(props, 1)
	props = binary.LittleEndian.AppendUint32(props, uint32(len(c)))
	props = append(props, c...)
	for len(props)%4 != 0 {
		props = append(props, 0)
	}
	w := binary.LittleEndian.AppendUint32(nil, tnefSignature)
	w = append(w, 0x01, 0x00)
	w = append(w, tnefAttr(1, 0x00069003, props)...)
	w = append(w, tnefAttr(2, 0x00069002, make([]byte, 14))...)
	w = append(w, tnefAttr(2, 0x00018010, []byte("SCHEMA.PDF\x00"))...)
	w = append(w, tnefAttr(2, 0x0006800F, []byte("%PDF-1.4"))...)
	return "From: a@example.se\r\nSubject: Skrivare\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(w) + "\r\n"
}

// The TNEF samples of MimeKit's test suite (testdata/tnef, see its
// README): every attachment its .list names is unpacked with the expected
// content, and the RTF decompresses to exactly the expected message.rtf.
func TestTNEFSamples(t *testing.T) {
	data, err := os.ReadFile("testdata/tnef/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]struct {
		Attachments []struct {
			Name, SHA256 string
			Size         *int
			TextSHA256LF string `json:"text_sha256_lf"`
		}
		Bodies []string
	}
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	for name, e := range exp {
		b, err := os.ReadFile(filepath.Join("testdata/tnef", name))
		if err != nil {
			t.Fatal(err)
		}
		res, err := readTNEF(b, nil)
		if err != nil {
			if len(e.Attachments) > 0 || len(e.Bodies) > 0 {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		for _, a := range e.Attachments {
			i := slices.IndexFunc(res.attachments, func(x tnefAttachment) bool { return cmp.Or(x.longName, x.title) == a.Name })
			if i < 0 {
				t.Errorf("%s: no attachment %q", name, a.Name)
				continue
			}
			d := res.attachments[i].data
			sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
			if a.SHA256 != "" && (sum(d) != a.SHA256 || len(d) != *a.Size) {
				t.Errorf("%s: %s: %d bytes, not the expected %d", name, a.Name, len(d), *a.Size)
			}
			if a.TextSHA256LF != "" && sum(bytes.ReplaceAll(d, []byte("\r\n"), []byte("\n"))) != a.TextSHA256LF {
				t.Errorf("%s: %s: other content", name, a.Name)
			}
		}
		base := strings.TrimSuffix(name, ".tnef")
		for _, body := range e.Bodies {
			want, err := os.ReadFile(filepath.Join("testdata/tnef", base, body))
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch body {
			case "message.rtf":
				if got, err = decompressRTF(res.rtfCompressed); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case "message.html":
				got = []byte(res.html)
			case "message.txt":
				got = []byte(res.text)
			}
			dos2unix := func(b []byte) []byte {
				return bytes.TrimRight(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), "\x00")
			}
			if !bytes.Equal(dos2unix(got), dos2unix(want)) {
				t.Errorf("%s: %s differs: got %d bytes %.80q, want %d bytes %.80q", name, body, len(got), got, len(want), want)
			}
		}
	}
}
