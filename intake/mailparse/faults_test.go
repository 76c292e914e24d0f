package mailparse

import (
	"encoding/base64"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
)

// Minimal mails for each fault of issue 14 (Fidelity): each failed before
// the fix that names it.

func mustParse(t *testing.T, raw string) *Message {
	t.Helper()
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func hasProblem(m *Message, sub string) bool {
	return slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, sub) })
}

func TestHeaderJunkFirstLine(t *testing.T) {
	m := mustParse(t, "---- Original email message ----\r\nFrom: Anna <anna@example.org>\r\nSubject: Skrivaren\r\n\r\nHej\r\n")
	if m.From.Addr != "anna@example.org" || m.Subject != "Skrivaren" || strings.TrimSpace(m.Text) != "Hej" {
		t.Errorf("got From %+v Subject %q Text %q", m.From, m.Subject, m.Text)
	}
	if !hasProblem(m, "junk line before the header") {
		t.Errorf("repair not recorded: %q", m.Problems)
	}
}

func TestHeaderContinuationWithoutIndent(t *testing.T) {
	body := base64.StdEncoding.EncodeToString([]byte("Der Text."))
	m := mustParse(t, "Subject: Angebot für\r\nden Laser\r\nFrom: Martin <m@example.de>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"+body+"\r\n")
	if m.Subject != "Angebot für den Laser" || m.From.Addr != "m@example.de" || m.Text != "Der Text." {
		t.Errorf("got Subject %q From %+v Text %q", m.Subject, m.From, m.Text)
	}
	if !hasProblem(m, "joined to the field before") {
		t.Errorf("repair not recorded: %q", m.Problems)
	}
}

func TestHeaderDuplicateFromPrefersParsable(t *testing.T) {
	m := mustParse(t, "From: Helpdesk\r\nFrom: Ola Nordmann <ola@example.no>\r\nSubject: x\r\n\r\nb\r\n")
	if m.From.Addr != "ola@example.no" || m.From.Name != "Ola Nordmann" {
		t.Errorf("From = %+v", m.From)
	}
	if !hasProblem(m, "From") {
		t.Errorf("repair not recorded: %q", m.Problems)
	}
}

func TestAddressFaults(t *testing.T) {
	for _, tc := range []struct{ name, from, addr, display string }{
		{"mailer-daemon with comment", "MAILER-DAEMON (Mail Delivery System)", "mailer-daemon", "Mail Delivery System"},
		{"encoded word holding a comma", "=?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.de>", "andreas@example.de", "Bürling, Andreas"},
		{"first mailbox empty", `"X " <>, "LTD" <ly@example.cn>`, "ly@example.cn", "LTD"},
		{"name and address apart", `"anna@example.org" <anna@example.org>`, "anna@example.org", ""},
		{"encoded comma unquoted, lenient path", "=?utf-8?Q?M=C3=BCller,_Hans?= <hans@example.de> (Sales)", "hans@example.de", "Müller, Hans"},
	} {
		m := mustParse(t, "From: "+tc.from+"\r\nSubject: x\r\n\r\nb\r\n")
		if m.From.Addr != tc.addr || m.From.Name != tc.display {
			t.Errorf("%s: From = %+v, want %q %q", tc.name, m.From, tc.display, tc.addr)
		}
	}
	m := mustParse(t, "From: a@example.org\r\nTo: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.de>, b@example.org\r\nSubject: x\r\n\r\nb\r\n")
	if len(m.To) != 2 || m.To[0].Name != "Bürling, Andreas" || m.To[1].Addr != "b@example.org" {
		t.Errorf("To = %+v", m.To)
	}
}

func TestUndeclaredCharsetDetected(t *testing.T) {
	// GB2312 bytes of "你好，请帮忙处理打印机的问题。谢谢！" without any charset.
	gb := "\xc4\xe3\xba\xc3\xa3\xac\xc7\xeb\xb0\xef\xc3\xa6\xb4\xa6\xc0\xed\xb4\xf2\xd3\xa1\xbb\xfa\xb5\xc4\xce\xca\xcc\xe2\xa1\xa3\xd0\xbb\xd0\xbb\xa3\xa1"
	m := mustParse(t, "From: a@example.cn\r\nSubject: \xb4\xf2\xd3\xa1\xbb\xfa\xce\xca\xcc\xe2\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"+gb+"\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"\xb1\xa8\xb8\xe6.txt\"\r\n\r\nx\r\n--b--\r\n")
	if strings.TrimSpace(m.Text) != "你好，请帮忙处理打印机的问题。谢谢！" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.Subject != "打印机问题" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "报告.txt" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
}

func TestEnclosingCharsetUsedFirst(t *testing.T) {
	// The multipart says koi8-r; its text part says nothing.
	m := mustParse(t, "From: a@example.ru\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b; charset=koi8-r\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n--b--\r\n")
	if strings.TrimSpace(m.Text) != "Привет" {
		t.Errorf("Text = %q", m.Text)
	}
}

func TestValidUTF8NeverRedecoded(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: Grüße\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGrüße aus Köln\r\n")
	// Declared Latin-1, but the bytes are valid UTF-8 with non-ASCII: the
	// label is wrong, the text is UTF-8.
	if strings.TrimSpace(m.Text) != "Grüße aus Köln" || m.Subject != "Grüße" {
		t.Errorf("Text %q Subject %q", m.Text, m.Subject)
	}
}

func TestShiftJISInsideISO2022JP(t *testing.T) {
	// "日本語のテキスト" in Shift_JIS, labelled ISO-2022-JP.
	sj := "\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x4c\x83\x58\x83\x67"
	m := mustParse(t, "From: a@example.jp\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n"+sj+"\r\n")
	if strings.TrimSpace(m.Text) != "日本語のテキスト" {
		t.Errorf("Text = %q", m.Text)
	}
}

func TestUUEncodedPart(t *testing.T) {
	// "Hello, uuencode!\n" uuencoded as hello.txt.
	uu := "begin 644 hello.txt\r\n12&5L;&\\L('5U96YC;V1E(0H`\r\n`\r\nend\r\n"
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"+uu+"--b--\r\n")
	if len(m.Attachments) != 1 {
		t.Fatalf("Attachments = %+v", m.Attachments)
	}
	a := m.Attachments[0]
	if string(a.Data) != "Hello, uuencode!\n" || a.Filename != "hello.txt" {
		t.Errorf("attachment %q %q", a.Filename, a.Data)
	}
}

func TestUnnamedPartsNamed(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"+
		"--b\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\nAction: failed\r\n"+
		"--b\r\nContent-Type: image/jpeg\r\nContent-ID: <image001.jpg@01D9A1B2.C3D4E5F0>\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/\r\n"+
		"--b\r\nContent-Type: image/png\r\nContent-ID: <part1.AB12@example.org>\r\n\r\nx\r\n--b--\r\n")
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
	}
	want := []string{"Delivery report.txt", "image001.jpg", "part1.AB12.png"}
	if !slices.Equal(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
}

func TestFormatFlowed(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\nDies ist ein langer \r\nAbsatz, der umbrochen \r\nwurde.\r\n> zitiert \r\n> weiter\r\n-- \r\nSig\r\n")
	want := "Dies ist ein langer Absatz, der umbrochen wurde.\n> zitiert weiter\n-- \nSig"
	if strings.TrimSpace(m.Text) != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	m = mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n\xe6\x97\xa5\xe6\x9c\xac \r\n\xe8\xaa\x9e\r\n")
	if strings.TrimSpace(m.Text) != "日本語" {
		t.Errorf("delsp=yes: Text = %q", m.Text)
	}
}

// tnefAttr encodes one TNEF attribute (checksum not checked by readers).
func tnefAttr(level byte, id uint32, data []byte) []byte {
	b := []byte{level}
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, 0, 0)
}

func TestTNEFUnpacked(t *testing.T) {
	// A long file name in the attachment's MAPI properties (PT_UNICODE).
	longName := []byte{}
	for _, r := range "Tilbud 2026 – Bryne.xlsx" {
		longName = binary.LittleEndian.AppendUint16(longName, uint16(r))
	}
	longName = append(longName, 0, 0)
	props := binary.LittleEndian.AppendUint32(nil, 1)
	props = binary.LittleEndian.AppendUint16(props, 0x001F)
	props = binary.LittleEndian.AppendUint16(props, 0x3707)
	props = binary.LittleEndian.AppendUint32(props, 1)
	props = binary.LittleEndian.AppendUint32(props, uint32(len(longName)))
	props = append(props, longName...)
	for len(props)%4 != 0 {
		props = append(props, 0)
	}
	w := binary.LittleEndian.AppendUint32(nil, 0x223E9F78)
	w = append(w, 0x01, 0x00)
	w = append(w, tnefAttr(1, 0x0002800C, []byte("Hei, se vedlegg.\r\n\x00"))...)
	w = append(w, tnefAttr(2, 0x00069002, make([]byte, 14))...)
	w = append(w, tnefAttr(2, 0x00018010, []byte("TILBUD~1.XLS\x00"))...)
	w = append(w, tnefAttr(2, 0x0006800F, []byte("PK\x03\x04 sheet"))...)
	w = append(w, tnefAttr(2, 0x00069005, props)...)
	raw := "From: a@example.no\r\nSubject: Tilbud\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(w) + "\r\n--b--\r\n"
	m := mustParse(t, raw)
	if strings.TrimSpace(m.Text) != "Hei, se vedlegg." {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Tilbud 2026 – Bryne.xlsx" || string(m.Attachments[0].Data) != "PK\x03\x04 sheet" {
		t.Fatalf("Attachments = %+v", m.Attachments)
	}
	// Truncated: what was read so far is kept, nothing panics.
	for n := 0; n < len(w); n += 7 {
		if _, err := readTNEF(w[:n], nil); err != nil && err != errNotTNEF {
			t.Fatal(err)
		}
	}
}

func TestTNEFOutlookRichText(t *testing.T) {
	raw, err := os.ReadFile("testdata/corpus/mimekit-extras/tnef/rich-text.eml")
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, string(raw))
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
	}
	// The picture is unpacked; the RTF body reads, but two embedded
	// Outlook messages stay in winmail.dat, which is kept.
	if !slices.Equal(names, []string{"kitten-playing-with-a-christmas-tree.jpg", "winmail.dat"}) {
		t.Errorf("names = %q", names)
	}
}

// Lotus Notes and Outlook Express put uuencoded files into the text body:
// they become attachments and leave the text.
func TestUUEncodedInTextBody(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\n\r\nSee the file.\r\n\r\nbegin 644 hello.txt\r\n12&5L;&\\L('5U96YC;V1E(0H`\r\n`\r\nend\r\n\r\nThanks\r\n")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "hello.txt" || string(m.Attachments[0].Data) != "Hello, uuencode!\n" {
		t.Fatalf("Attachments = %+v", m.Attachments)
	}
	if strings.Contains(m.Text, "begin 644") || !strings.Contains(m.Text, "See the file.") || !strings.Contains(m.Text, "Thanks") {
		t.Errorf("Text = %q", m.Text)
	}
	// Without an end line it is text.
	m = mustParse(t, "From: a@example.org\r\nSubject: x\r\n\r\nbegin 644 not a file\r\nmore\r\n")
	if len(m.Attachments) != 0 || !strings.Contains(m.Text, "begin 644 not a file") {
		t.Errorf("no end line: %q %+v", m.Text, m.Attachments)
	}
}

func TestHeaderContinuationBeforeBlankLine(t *testing.T) {
	// The last field's continuation lost its indentation, right before the
	// blank line: an encoded word, and an address list left open.
	m := mustParse(t, "From: =?utf-8?q?J=C3=B6rg?=\r\n <joerg@example.de>\r\nSubject: =?utf-8?b?SW5mb3JtYXRpb24gw7xiZXIg?=\r\n=?utf-8?b?ZGVuIERydWNrZXI=?=\r\n\r\nText\r\n")
	if m.Subject != "Information über den Drucker" || strings.TrimSpace(m.Text) != "Text" {
		t.Errorf("Subject %q Text %q", m.Subject, m.Text)
	}
	m = mustParse(t, "Subject: x\r\nTo: \"Berg, Anna\r\n\" <anna@example.se>\r\n\r\nText\r\n")
	if len(m.To) != 1 || m.To[0].Addr != "anna@example.se" || strings.TrimSpace(m.Text) != "Text" {
		t.Errorf("To %+v Text %q", m.To, m.Text)
	}
}

// An encoded word labelled ISO-8859-1 that holds UTF-8 bytes is UTF-8.
func TestEncodedWordMislabelledUTF8(t *testing.T) {
	m := mustParse(t, "From: =?iso-8859-1?q?J=C3=B6rg_M=C3=BCller?= <j@example.de>\r\nSubject: =?ISO-8859-1?B?R3LDvMOfZQ==?=\r\n\r\nx\r\n")
	if m.Subject != "Grüße" || m.From.Name != "Jörg Müller" {
		t.Errorf("Subject %q From %+v", m.Subject, m.From)
	}
	// Real Latin-1 stays Latin-1.
	m = mustParse(t, "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n\r\nx\r\n")
	if m.Subject != "Grüße" {
		t.Errorf("Latin-1 subject %q", m.Subject)
	}
}

// HTML without a MIME charset says it in <meta>; that is read before any
// guess. (0x9A is "š" in windows-1250 and "š" in windows-1252 too; 0xB9
// is "ą" in windows-1250, "¹" in windows-1252.)
func TestHTMLMetaCharset(t *testing.T) {
	m := mustParse(t, "From: a@example.pl\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<html><head><meta charset=\"windows-1250\"></head><body><p>Prosz\xea o pomoc, dzi\xeakuj\xea \xb9</p></body></html>\r\n")
	if !strings.Contains(m.Text, "Proszę o pomoc, dziękuję ą") {
		t.Errorf("Text = %q", m.Text)
	}
}

// Found by php-mime-mail-parser's issue250: a line break inside an encoded
// file name separates words; dropping it glued "90466" to "Bedriftskonto".
func TestFilenameLineBreak(t *testing.T) {
	name := base64.StdEncoding.EncodeToString([]byte("Kontoutskrift for 1506.14.90466\nBedriftskonto.pdf"))
	m := mustParse(t, "Subject: x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"=?UTF-8?b?"+name+"?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Kontoutskrift for 1506.14.90466_Bedriftskonto.pdf" {
		t.Errorf("attachments = %+v", m.Attachments)
	}
}

// Found by postal-mime's tests: Microsoft code page names (cp932 is what
// Windows calls Shift_JIS) and common misspellings are charsets nobody's
// table lists; the text came out as windows-1252 mojibake.
func TestCharsetAliases(t *testing.T) {
	m := mustParse(t, "Content-Type: text/plain; charset=\"cp932\"\r\nSubject: =?cp932?B?k/qWe4zq?=\r\n\r\n\x93\xfa\x96\x7b\x8c\xea")
	if m.Subject != "日本語" || m.Text != "日本語" {
		t.Errorf("cp932: Subject %q Text %q", m.Subject, m.Text)
	}
	for _, tc := range []struct{ label, in, want string }{
		{"cp949", "\xc7\xd1", "한"}, {"cp950", "\xa4\xa4", "中"}, {"euc-cn", "\xd6\xd0", "中"},
		{"latin-1", "\xe5", "å"}, {"iso8859_1", "\xe5", "å"}, {"8859-15", "\xa4", "€"},
		{"win-1252", "\x80", "€"}, {"cp-1251", "\xc4", "Д"}, {"cp65001", "\xc3\xa5", "å"},
		{"iso-8859-2 (latin2)", "\xb1", "ą"}, // a comment after the value (postal-mime's tests)
	} {
		if got, err := decodeCharset(tc.label, []byte(tc.in)); got != tc.want || err != nil {
			t.Errorf("%s: %q, %v; want %q", tc.label, got, err, tc.want)
		}
	}
}

// Found by postal-mime's tests: a value of a token and a quoted string
// (filename=report "final") is the words, as in a phrase, not the quotes.
func TestParamTokenAndQuotedString(t *testing.T) {
	h, _ := parseMediaHeader(`attachment; filename=report "final"; size=3`)
	if h.params["filename"] != "report final" || h.params["size"] != "3" {
		t.Errorf("params = %q", h.params)
	}
}

// An RFC 2231 file name with an empty charset (filename*= two quotes,
// then %C4%E3…) is read like any undeclared 8-bit text: in the charsets
// the enclosing parts declare, else as the detector judges it with the
// mail's other undeclared bytes; valid UTF-8 as UTF-8.
func TestRFC2231EmptyCharset(t *testing.T) {
	att := func(param string) string {
		return "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=" + param + "\r\n\r\nx\r\n--b--\r\n"
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"the body's declared charset", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n\xc4\xe3\xba\xc3\r\n" +
			att("''%C4%E3%BA%C3.txt"), "你好.txt"},
		{"the enclosing multipart's charset", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b; charset=koi8-r\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHej\r\n" +
			att("''%F0%D2%C9%D7%C5%D4.txt"), "Привет.txt"},
		{"the detector, with the undeclared body", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" +
			"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\x81\x41\x90\xa2\x8a\x45\x81\x42\x8d\xa1\x93\xfa\x82\xcd\x82\xa2\x82\xa2\x93\x56\x8b\x43\x82\xc5\x82\xb7\x82\xcb\x81\x42\r\n" +
			att("''%8E%91%97%BF.pdf"), "資料.pdf"},
		{"valid UTF-8 never re-decoded", "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nHej\r\n" +
			att("''%C3%A5r.txt"), "år.txt"},
	} {
		m := mustParse(t, tc.raw)
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != tc.want {
			t.Errorf("%s: attachments %+v, want %q", tc.name, m.Attachments, tc.want)
		}
	}
}

func TestBoundaryExtendingOuterBoundary(t *testing.T) {
	// Outer "a--", inner "a----": "--a----" opens the inner part and
	// "--a------" closes it; only the last "--a----" closes the outer
	// (Dovecot's and stalwart's reading). Before, casemail took the first
	// "--a----" for the outer close and lost the text.
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"a--\"\r\n\r\n--a--\r\n"+
		"Content-Type: multipart/mixed; boundary=\"a----\"\r\n\r\n--a----\r\nContent-Type: text/plain\r\n\r\nbody\r\n--a------\r\n"+
		"Content-Type: text/html\r\n\r\nbody2\r\n--a----\r\n")
	if strings.TrimSpace(m.Text) != "body" || m.HTML != "" {
		t.Errorf("Text %q HTML %q", m.Text, m.HTML)
	}
}

func TestBoundaryWithGarbageSuffix(t *testing.T) {
	// No line is exactly "--a": lines that start with it delimit (RFC
	// 2046 5.1.1), rather than the whole MIME source showing as text.
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--ab\r\n"+
		"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--ac\r\nContent-Type: text/plain\r\n\r\nbody\r\n")
	if strings.TrimSpace(m.Text) != "body" {
		t.Errorf("Text %q", m.Text)
	}
}

func TestBase64PaddingEndsItsLine(t *testing.T) {
	// Dovecot's decoder test: what follows the padding on its line is not
	// data (it was decoded into "\ufffd\t\ufffd" before); a block on the
	// next line still is.
	if got, _ := decodeBase64([]byte("ecO2dMOkIHZhYW4uCg== ignored\r\n")); string(got) != "yötä vaan.\n" {
		t.Errorf("decodeBase64 = %q", got)
	}
	if got, _ := decodeBase64([]byte("aGVsbG8=\r\nIHdvcmxk\r\n")); string(got) != "hello world" {
		t.Errorf("two blocks = %q", got)
	}
}

func TestBase64WordsWithStrayPaddingAndSpaces(t *testing.T) {
	// jsmime's tests: an '=' that cannot be padding is dropped (it made the
	// word undecodable before), and spaces inside a B word are skipped.
	p := &parser{}
	for in, want := range map[string]string{
		"=?us-ascii?B?Y=WJjZA==?=":   "abcd",
		"=?us-ascii?B?Y=WJj==ZA==?=": "abcd",
		"=?UTF-8?B?Q29uc2lndW Ug dG9kbyBlbCBmw7p0Ym9sIA==?= =?iso-8859-1?B?Y2 9uI EZVU0nTTiBjb24g?=": "Consigue todo el fútbol con FUSIÓN con ",
	} {
		if got := p.decodeWords(in); got != want {
			t.Errorf("decodeWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRFC2231Precedence(t *testing.T) {
	// Thunderbird's (jsmime) and Dovecot's tests: filename* wins over the
	// sections, the sections over filename=; sections run from 0 without a
	// gap, a repeated or malformed one ends them; a value its charset
	// cannot read gives way to the next form.
	for in, want := range map[string]string{
		"attachment; filename*0=first; filename*0=wrong; filename=basic":                                  "first",
		"attachment; filename*0=first; filename*1=second; filename*0=wrong":                               "firstsecond",
		"attachment; filename*0=foo; filename*2=bar":                                                      "foo",
		"attachment; filename*0=foo; filename*01=bar":                                                     "foo",
		"attachment; filename=basic; filename*1=foo; filename*2=bar":                                      "basic",
		"attachment; filename=basic; filename*=UTF-8''extended; filename*0=foo; filename*1=bar":           "extended",
		"attachment; filename*0*=ISO-8859-15''euro-sign%3d%a4; filename*=ISO-8859-1''currency-sign%3d%a4": "currency-sign=¤",
		"attachment; filename*=UTF-8''A%e4B; filename=fallback":                                           "fallback",
		"attachment; filename=basic; filename**=UTF-8''0;":                                                "basic",
		"attachment; filename*=UTF-8'foo-%41":                                                             "foo-A",
		"attachment; filename*0*=utf-8''foo%C3%A5%C3%A4-; filename*1*=iso-8859-1''foo%E5%E4":              "fooåä-iso-8859-1''fooåä",
	} {
		h, _ := parseMediaHeader(in)
		if got := h.params["filename"]; got != want {
			t.Errorf("%s: filename %q, want %q", in, got, want)
		}
	}
}

func TestInvisibleCharactersInNamesAndFileNames(t *testing.T) {
	// jsmime's tests: blanks that are not spaces cannot pad a display name
	// or break up its words, and a right-to-left override cannot turn a
	// file name's extension around; an emoji sequence stays whole.
	for from, want := range map[string]string{
		"Foe \u00a0\u00a0\u2003 A <foe@example.com>":                                   "Foe A",
		"invisiblespaceA@friend.example.com B \u200b\u00ad \u200b \u200b A. <f@x.org>": "invisiblespaceA@friend.example.com B A.",
		"Before\u200b\u200dAfter\u200d\u200bBoth <b@x.org>":                            "Before After Both",
		"Emojis are complicated \U0001F926\u200d\u2642\ufe0f <e@x.org>":                "Emojis are complicated \U0001F926\u200d\u2642\ufe0f",
		"\ufe0e\u200b\ufe0f\ufe0f\u200bSneaky <s@x.org>":                               "Sneaky",
	} {
		m := mustParse(t, "From: "+from+"\r\nSubject: x\r\n\r\nb\r\n")
		if m.From.Name != want {
			t.Errorf("From %q: name %q, want %q", from, m.From.Name, want)
		}
	}
	m := mustParse(t, "From: a@example.org\r\nSubject: x\r\nContent-Type: application/zip\r\n"+
		"Content-Disposition: attachment; filename*=UTF-8''%41%42%43%E2%80%AE%2E%74%78%74%2E%7A%69%70\r\n\r\nx\r\n")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "ABC .txt.zip" {
		t.Errorf("Attachments = %+v", m.Attachments)
	}
}

func TestAddressesAsDovecotAndThunderbirdReadThem(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Address
	}{
		// The addr-spec as a reply must write it: the local part quoted
		// where it needs quotes, not "user name@domain".
		{`"user name"@domain`, Address{"", `"user name"@domain`}},
		{`<"user\"name"@domain>`, Address{"", `"user\"name"@domain`}},
		{`"me"@a.com`, Address{"", "me@a.com"}},
		// Obsolete routes and comments inside an address go.
		{`<@route,@route2:user@domain>`, Address{"", "user@domain"}},
		{`Display Name <@route:user@domain>`, Address{"Display Name", "user@domain"}},
		{`<user-from (comment)@ (comment) domain.org>`, Address{"", "user-from@domain.org"}},
		{`(c3)a(c4)@(c5)b(c6).(c7)d(c8)(c9(c10)c11)`, Address{"c9(c10)c11", "a@b.d"}},
		{`so . many . spaces @ here . invalid`, Address{"", "so.many.spaces@here.invalid"}},
		// A phrase of quoted words is one name.
		{`Display "Name"`, Address{"Display Name", ""}},
		{`"Display" "Name"`, Address{"Display Name", ""}},
		// A group's name is not the mailbox's, even where it holds an
		// address (CVE-2024-49040); a bracket inside quotes or a comment
		// is no address.
		{`"Spoofed" <slonser.bugbounty@example.com>: spoofed@example.com`, Address{"", "spoofed@example.com"}},
		{`<else@example.com>:<actual@example.com>`, Address{"", "actual@example.com"}},
		{`My "XX ><<friend2@example.com>" YY <fake@example.com> <real@example.com> ("mr ><x")`,
			Address{"My XX ><<friend2@example.com> YY <fake@example.com>", "real@example.com"}},
		// An encoded word is one token, whatever it holds.
		{`=?UTF-8?Q?a@b.c,?= <b@b.c>`, Address{"a@b.c,", "b@b.c"}},
		// A stray ')' is passed over (the tokenizer looped on it).
		{`a) b <c@d>`, Address{"a b", "c@d"}},
		// No address holds a NUL.
		{"\"a\x00b\"@example.org", Address{"", "a\ufffdb@example.org"}},
	} {
		p := &parser{}
		got := p.parseAddresses(tc.in)
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("parseAddresses(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
