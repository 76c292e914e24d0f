package mailparse

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func parseFixture(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	if m.Size != len(raw) || m.SHA256 != sha256.Sum256(raw) {
		t.Errorf("%s: Size/SHA256 do not describe the raw bytes", name)
	}
	return m
}

func TestParseAttachments(t *testing.T) {
	m := parseFixture(t, "attachments.eml")
	if m.From != (Address{Name: "Berg, Anna", Addr: "anna.berg@example.org"}) {
		t.Errorf("From = %+v", m.From)
	}
	if got := joinAddrs(m.To); got != "helpdesk@example.org, per@example.org" {
		t.Errorf("To = %q", got)
	}
	if len(m.Cc) != 0 {
		t.Errorf("Cc of an empty group = %+v, want none", m.Cc)
	}
	if m.Subject != "Bilagor och en vidarebudan förfrågan" {
		t.Errorf("Subject = %q", m.Subject)
	}
	// HTML only (inside multipart/related): text comes from the HTML.
	if m.Text != "Se bilden:\n\nMvh\nAnna" {
		t.Errorf("Text = %q", m.Text)
	}
	if !strings.Contains(m.HTML, `<img src="cid:logo@x">`) {
		t.Errorf("HTML = %q", m.HTML)
	}
	type att struct {
		name, typ string
		size      int64
		inline    bool
		cid       string
	}
	var got []att
	for _, a := range m.Attachments {
		got = append(got, att{a.Filename, a.ContentType, a.Size, a.Inline, a.ContentID})
		if int64(len(a.Data)) != a.Size || a.SHA256 != sha256.Sum256(a.Data) {
			t.Errorf("%s: Data/Size/SHA256 disagree", a.Filename)
		}
	}
	want := []att{
		{"logo.png", "image/png", 68, true, "logo@x"},
		{"Räkning för hösten.pdf", "application/pdf", 19, false, ""}, // RFC 2231 continuations, latin-1
		{"lösenord.txt", "text/plain", 12, false, ""},                // RFC 2047 in name=
		{"Frågan om licenser.eml", "message/rfc822", 131, false, ""}, // forwarded: subject + .eml
		{"winmail.dat", "application/ms-tnef", 7, false, ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("attachments:\n got %+v\nwant %+v", got, want)
	}
	if len(m.Attachments) == 5 {
		if d := string(m.Attachments[2].Data); d != "hemligt=1234" {
			t.Errorf("QP attachment data = %q", d)
		}
		if d := string(m.Attachments[3].Data); !strings.Contains(d, "Den inre texten.") {
			t.Errorf("forwarded message data = %q", d)
		}
	}
	if len(m.Problems) != 0 {
		t.Errorf("Problems = %q", m.Problems)
	}
}

func TestParseBrokenHeaders(t *testing.T) {
	m := parseFixture(t, "broken-headers.eml")
	// Raw windows-1252 bytes in From and Subject.
	if m.From.Name != "Jörgen Åkesson" {
		t.Errorf("From.Name = %q", m.From.Name)
	}
	// Unknown charset and bad base64 stay as written; the good word decodes.
	want := "=?x-klingon?Q?qapla=21?= and =?utf-8?B?@@@?= and okå – slut"
	if m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if m.MessageID != "broken-1@example.se" {
		t.Errorf("MessageID without brackets = %q", m.MessageID)
	}
	if !slices.Equal(m.References, []string{"a@x", "b@x", "c@x"}) {
		t.Errorf("References = %q", m.References)
	}
	if !m.Date.Equal(time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("Date = %v", m.Date)
	}
	// The indentation-less line joins X-Folded; X-After is still a field.
	if got := m.Header.Get("X-Folded"); got != "one this line lost its indentation" {
		t.Errorf("X-Folded = %q", got)
	}
	if m.Header.Get("X-After") != "yes" {
		t.Errorf("X-After lost")
	}
	if m.Text != "Hej, här är texten på svenska.\n" {
		t.Errorf("Text = %q", m.Text)
	}
	for _, p := range []string{"raw 8-bit", "x-klingon", "undecodable encoded word", "x-unknown-charset-42"} {
		if !slices.ContainsFunc(m.Problems, func(s string) bool { return strings.Contains(s, p) }) {
			t.Errorf("no problem recorded about %q: %q", p, m.Problems)
		}
	}
}

func TestParseBounceUTF7(t *testing.T) {
	m := parseFixture(t, "dsn-utf7.eml")
	if m.Auto != AutoBounce || m.Bounce == nil {
		t.Fatalf("Auto = %v (%s), Bounce = %+v", m.Auto, m.AutoReason, m.Bounce)
	}
	want := Bounce{
		OriginalMessageID: "case-77-2@helpdesk.example.org",
		Recipients:        []string{"nils.ek@example.se", "other@example.se"},
		Action:            "failed",
		Status:            "5.1.1",
	}
	b := *m.Bounce
	if b.OriginalMessageID != want.OriginalMessageID || !slices.Equal(b.Recipients, want.Recipients) ||
		b.Action != want.Action || b.Status != want.Status {
		t.Errorf("Bounce = %+v, want %+v", b, want)
	}
	if !strings.Contains(m.Text, "åäö mottagaren finns inte. 1+1=2") {
		t.Errorf("UTF-7 text = %q", m.Text)
	}
	if n, ok := CaseTag(m.Subject); !ok || n != 77 {
		t.Errorf("CaseTag(%q) = %d, %v", m.Subject, n, ok)
	}
}

func TestParseOutlookNorwegianCRLF(t *testing.T) {
	m := parseFixture(t, "outlook-nb.crlf.eml")
	if m.NewText != "Takk, nå virker det." {
		t.Errorf("NewText = %q", m.NewText)
	}
	if strings.Contains(m.Text, "\r") || !strings.Contains(m.Text, "Emne: [#1042] Passordet virker ikke") {
		t.Errorf("Text must keep the history with LF line ends: %q", m.Text)
	}
	if n, ok := CaseTag(m.Subject); !ok || n != 1042 {
		t.Errorf("CaseTag(%q) = %d, %v", m.Subject, n, ok)
	}
	if m.To[0].Addr != "helpdesk+abc@example.org" {
		t.Errorf("To = %+v", m.To)
	}
}

func TestParseGmailReply(t *testing.T) {
	m := parseFixture(t, "gmail-reply.eml")
	if m.NewText != "#resolve Bytt toner" {
		t.Errorf("NewText = %q", m.NewText)
	}
	if m.Auto != AutoNone {
		t.Errorf("Auto-Submitted: no classified %v", m.Auto)
	}
	if m.InReplyTo != "case-9-1@helpdesk.example.org" || len(m.References) != 2 {
		t.Errorf("threading: %q %q", m.InReplyTo, m.References)
	}
	// The text alternative wins over the HTML one.
	if !strings.HasPrefix(m.Text, "#resolve Bytt toner\n\nDen tis") {
		t.Errorf("Text = %q", m.Text)
	}
	if !strings.Contains(m.HTML, "<blockquote>") {
		t.Errorf("HTML = %q", m.HTML)
	}
}

func TestParseNoHeader(t *testing.T) {
	for _, raw := range []string{
		"",
		"\r\n\r\n",
		"Lorem ipsum dolor sit amet, consectetur\nadipisicing elit.\n",
		"   indented junk\n",
	} {
		m, err := Parse([]byte(raw))
		if !errors.Is(err, ErrNoHeader) || m != nil {
			t.Errorf("Parse(%q) = %v, %v; want ErrNoHeader", raw, m, err)
		}
	}
	// A header and nothing else is a message.
	m, err := Parse([]byte("Subject: only"))
	if err != nil || m.Subject != "only" || m.Text != "" {
		t.Errorf("header-only mail: %+v, %v", m, err)
	}
}

func TestParseLimited(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "attachments.eml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseLimited(raw, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Se bil" {
		t.Errorf("Text = %q, want the first 6 bytes", m.Text)
	}
	if len(m.Attachments) != 5 {
		t.Fatalf("attachments listed: %d, want 5", len(m.Attachments))
	}
	for _, a := range m.Attachments {
		if a.Data != nil || a.Size == 0 || a.SHA256 == ([32]byte{}) || a.Filename == "" {
			t.Errorf("%+v: want name, size and hash without data", a)
		}
	}
	if !slices.ContainsFunc(m.Problems, func(s string) bool { return strings.HasPrefix(s, "text cut at") }) {
		t.Errorf("no problem recorded for the cut: %q", m.Problems)
	}
	// A cut never splits a UTF-8 character.
	m, _ = ParseLimited([]byte("Subject: x\n\nåäö"), 3, true)
	if m.Text != "å" {
		t.Errorf("cut inside a character: %q", m.Text)
	}
}

func TestParseMediaHeader(t *testing.T) {
	for _, tc := range []struct {
		in     string
		value  string
		params map[string]string
	}{
		{`text/plain; charset="utf-8"; format=flowed`, "text/plain", map[string]string{"charset": "utf-8", "format": "flowed"}},
		{`attachment; filename=my file.pdf`, "attachment", map[string]string{"filename": "my file.pdf"}},
		{`multipart/mixed  boundary="b1"`, "multipart/mixed", map[string]string{"boundary": "b1"}},
		{`Multipart/Mixed; BOUNDARY="----=_Part_0"; boundary="dup"`, "multipart/mixed", map[string]string{"boundary": "----=_Part_0"}},
		{`attachment; filename*=utf-8''sk%C3%A4rm%20dump.png; filename="fallback.png"`, "attachment", map[string]string{"filename": "skärm dump.png"}},
		{`attachment; filename*0*=iso-8859-1'sv'f%F6r; filename*2="c"; filename*1=" b "`, "attachment", map[string]string{"filename": "för b c"}},
		{`text/plain; name="a \"quoted\" name"`, "text/plain", map[string]string{"name": `a "quoted" name`}},
		{`;`, "", map[string]string{}},
		{`image/png; name="unterminated`, "image/png", map[string]string{"name": "unterminated"}},
	} {
		h, _ := parseMediaHeader(tc.in)
		if h.value != tc.value || len(h.params) != len(tc.params) {
			t.Errorf("%q: got %q %q", tc.in, h.value, h.params)
			continue
		}
		for k, v := range tc.params {
			if h.params[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, h.params[k], v)
			}
		}
	}
}

func TestDecodeWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=?utf-8?q?hello?= =?utf-8?q?_world?=", "hello world"},
		{"=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-1?Q?b?=", "ab"},
		{"pre =?utf-8?B?w6U=?= post", "pre å post"},
		// A character split across two words is joined before decoding.
		{"=?utf-8?B?w6Tw?= =?utf-8?B?n5iA?=", "ä😀"},
		{"=?gb18030?B?suLK1A===?=", "测试"},          // surplus padding
		{"=?utf-8?B?w6U?=", "å"},                   // missing padding
		{"=?utf-8*sv?Q?=C3=A5?=", "å"},             // RFC 2231 language suffix
		{"=?koi8-r?B?8NLJ18XU?=", "Привет"},        // go-message charset table
		{"=?x-klingon?Q?x?=", "=?x-klingon?Q?x?="}, // kept as written
		{"=?unknown-8bit?Q?x=E5?=", "xå"},          // "unknown" labels: best reading
		{"=?utf-8?B?!!!?=", "=?utf-8?B?!!!?="},     // bad base64 kept
		{"=?utf-8?Q?no end", "=?utf-8?Q?no end"},   // unterminated
		{"a =?", "a =?"},
	} {
		p := &parser{}
		if got := p.decodeWords(tc.in); got != tc.want {
			t.Errorf("decodeWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{`"Öberg, Åsa" <Asa@Example.SE>`, []Address{{"Öberg, Åsa", "asa@example.se"}}},
		{`=?utf-8?q?=C3=85sa?= <a@x.se>, b@y.se`, []Address{{"Åsa", "a@x.se"}, {"", "b@y.se"}}},
		// net/mail refuses these; the lenient reader does not.
		{`Dr. A. Berg <a@x.se>`, []Address{{"Dr. A. Berg", "a@x.se"}}},
		{`MAILER-DAEMON <>`, []Address{{"MAILER-DAEMON", ""}}},
		{`Whomever`, []Address{{"Whomever", ""}}},
		{`a@x.se (Anna Berg)`, []Address{{"Anna Berg", "a@x.se"}}},
		{`=?x-klingon?Q?y?= <c@z.se>`, []Address{{"=?x-klingon?Q?y?=", "c@z.se"}}},
	} {
		p := &parser{}
		got := p.parseAddresses(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseAddresses(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestSplitMultipart(t *testing.T) {
	body := "preamble\r\n--b\r\nA\r\n--bx\r\nstill A\r\n--b  \r\nB\n--b--\r\nepilogue"
	parts, pre, closed, found := splitMultipart([]byte(body), "b")
	if !found || !closed || string(pre) != "preamble\r\n" {
		t.Fatalf("found=%v closed=%v preamble=%q", found, closed, pre)
	}
	var got []string
	for _, p := range parts {
		got = append(got, string(p))
	}
	if !slices.Equal(got, []string{"A\r\n--bx\r\nstill A", "B"}) {
		t.Errorf("parts = %q", got)
	}
	// Unclosed: the last part runs to the end.
	parts, _, closed, _ = splitMultipart([]byte("--b\nA\n--b\nB"), "b")
	if closed || len(parts) != 2 || string(parts[1]) != "B" {
		t.Errorf("unclosed: %q closed=%v", parts, closed)
	}
}

func TestDecodeTransfer(t *testing.T) {
	b64, clean := decodeBase64([]byte("aGVs\r\nbG8=\r\nIHdv\ncmxk"))
	if string(b64) != "hello world" || !clean {
		t.Errorf("base64 with padding in the middle = %q clean=%v", b64, clean)
	}
	if _, clean := decodeBase64([]byte("aGVsbG8*")); clean {
		t.Error("foreign characters not reported")
	}
	qp := decodeQP([]byte("a=3Db =C3=A5=\r\nx=ZZ=\ny  \r\nend=c3=a5"))
	if string(qp) != "a=b åx=ZZy\r\nendå" {
		t.Errorf("QP = %q", qp)
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><title>T</title><style>p{color:red}</style></head><body>
<!--[if mso]><xml>junk</xml><![endif]-->
<p>Hej&nbsp;Anna,</p><div>rad 1</div><div>rad 2<br />rad 3</div>
<a name="top"></a><p>Se <a href="https://example.org/x">länken</a>.</p>
<ul><li>ett</li><li>två</li></ul></body></html>`
	got := htmlToText(in)
	for _, want := range []string{"Hej Anna,", "rad 1\nrad 2\nrad 3", "Se länken <https://example.org/x>.", "- ett", "- två"} {
		if !strings.Contains(got, want) {
			t.Errorf("htmlToText: %q missing in %q", want, got)
		}
	}
	for _, bad := range []string{"junk", "color:red", "<p", "<li", "<!", "T\n"} {
		if strings.Contains(got, bad) {
			t.Errorf("htmlToText: %q leaked into %q", bad, got)
		}
	}
	// A stray closing tag must not hide the rest.
	if got := htmlToText("</head><p>kvar</p>"); got != "kvar" {
		t.Errorf("stray </head>: %q", got)
	}
}

func TestParseRaw8BitHeaderUsesBodyCharset(t *testing.T) {
	raw := "Subject: \xf0\xd2\xc9\xd7\xc5\xd4\nContent-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Привет" || m.Text != "Привет\n" {
		t.Errorf("Subject %q Text %q: want KOI8-R reading", m.Subject, m.Text)
	}
}

func TestParseMacLineEndsAndMbox(t *testing.T) {
	raw := "From MAILER-DAEMON Mon Jan  1 00:00:00 2026\rSubject: cr\rFrom: a@b.se\r\rbody line 1\rbody line 2\r"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "cr" || m.From.Addr != "a@b.se" || m.Text != "body line 1\nbody line 2\n" {
		t.Errorf("CR-only mail: %q %q %q", m.Subject, m.From.Addr, m.Text)
	}
}

func TestParseDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: deep\nContent-Type: multipart/mixed; boundary=b000\n\n")
	const depth = 200
	for i := 0; i < depth; i++ {
		b.WriteString("--b" + itoa(i) + "\nContent-Type: multipart/mixed; boundary=b" + itoa(i+1) + "\n\n")
	}
	b.WriteString("--b" + itoa(depth) + "\n\ninnermost\n")
	m, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(m.Problems, func(s string) bool { return strings.Contains(s, "nesting too deep") }) {
		t.Errorf("no problem recorded for deep nesting: %q", m.Problems)
	}
}

func itoa(i int) string {
	return string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

func TestParseRaw8BitFilename(t *testing.T) {
	raw := "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n" +
		"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"\xf0\xd2\xc9\xd7\xc5\xd4.txt\"\n\nx\n--b--\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Привет.txt" {
		t.Errorf("attachments = %+v", m.Attachments)
	}
}
