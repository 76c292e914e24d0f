package notify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadDefault(t *testing.T) *Templates {
	t.Helper()
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestEmbeddedTemplatesRenderEverywhere(t *testing.T) {
	tm := loadDefault(t)
	if got := strings.Join(tm.Languages(), ","); got != "en,nb,sv" {
		t.Errorf("languages = %s", got)
	}
	caseKinds := map[string]bool{KindReminder: false, KindDigest: false, KindAlert: false, KindMine: false} // no case of their own
	for _, lang := range []string{"en", "sv", "nb"} {
		for _, kind := range Kinds {
			for _, data := range []Data{sampleData(), {}} {
				subj, text, _, err := tm.Render(kind, lang, data)
				if err != nil {
					t.Fatalf("%s/%s: %v", lang, kind, err)
				}
				if subj == "" || strings.TrimSpace(text) == "" {
					t.Errorf("%s/%s: empty subject or text", lang, kind)
				}
				if strings.Contains(text, "<no value>") {
					t.Errorf("%s/%s: <no value> in text:\n%s", lang, kind, text)
				}
				if _, ok := caseKinds[kind]; !ok && data.Case.Number != 0 && !strings.HasPrefix(subj, "[#1042] ") {
					t.Errorf("%s/%s: subject %q lacks the case tag", lang, kind, subj)
				}
			}
		}
	}
}

func TestTemplatesSpeakTheLanguage(t *testing.T) {
	tm := loadDefault(t)
	d := sampleData()
	for lang, want := range map[string][]string{
		"en": {"We have received your request", "case 1042", "superuser, level 1"},
		"sv": {"Vi har tagit emot ditt ärende", "nummer 1042", "superanvändare, nivå 1"},
		"nb": {"Vi har mottatt henvendelsen din", "sak 1042", "superbruker, nivå 1"},
	} {
		_, text, _, err := tm.Render(KindAck, lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s ack lacks %q:\n%s", lang, w, text)
			}
		}
		// The acknowledgement names the role, never a person's address.
		if strings.Contains(text, "anna@example.org") || strings.Contains(text, "Anna Berg <") {
			t.Errorf("%s ack leaks an agent address:\n%s", lang, text)
		}
	}
}

func TestAssignmentNoticeContent(t *testing.T) {
	tm := loadDefault(t)
	d := sampleData()
	d.Consult = false
	d.Escalated, d.Transfer, d.Move = false, "", nil // a new case: its routing trail
	subj, text, _, err := tm.Render(KindAssignment, "en", d)
	if err != nil {
		t.Fatal(err)
	}
	if subj != "[#1042] Skrivaren fungerar inte" {
		t.Errorf("subject = %q", subj)
	}
	for _, want := range []string{
		"Case 1042 has been assigned to you.",
		"Ola Nordmann <ola@example.no>", // requester in the body, as text
		"skriveren virker ikke.",        // the full text
		"bilde.png (121 kB)",            // attachments with sizes
		"big.zip (90 MB), too large: not attached",
		`rule "printing": matched — subject contains skrivar`, // routing trail
		"    rung 1 of 4 (superuser, level 1): start — held by anna, per",
		"    12 other rule(s) did not match",
		"https://intranet.example.org/routines/printing",
		"#note", "#resolve [text]", "#escalate", "#consult PERSON", "#wait DURATION",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("assignment lacks %q:\n%s", want, text)
		}
	}
	d.Consult = true
	_, text, _, _ = tm.Render(KindAssignment, "sv", d)
	if !strings.Contains(text, "Per Dahl ber om din hjälp med ärende 1042") {
		t.Errorf("consult notice:\n%s", text)
	}
}

func TestRenderLanguageFallback(t *testing.T) {
	tm := loadDefault(t)
	d := sampleData()
	_, en, _, _ := tm.Render(KindAck, "en", d)
	for _, lang := range []string{"de", "", "xx-YY"} {
		_, text, _, err := tm.Render(KindAck, lang, d)
		if err != nil || text != en {
			t.Errorf("Render(ack, %q) did not fall back to English (%v)", lang, err)
		}
	}
	_, sv, _, _ := tm.Render(KindAck, "sv", d)
	if _, text, _, _ := tm.Render(KindAck, "sv-SE", d); text != sv {
		t.Error("sv-SE did not render Swedish")
	}
	if _, _, _, err := tm.Render("nonesuch", "en", d); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestLanguage(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"", "nb", "sv"}, "nb"},
		{[]string{"sv-SE"}, "sv"},
		{[]string{"  ", "", "NO"}, "nb"},
		{[]string{"nn"}, "nb"},
		{[]string{"", ""}, "en"},
		{nil, "en"},
		{[]string{"en_GB", "sv"}, "en"},
	} {
		if got := Language(c.in...); got != c.want {
			t.Errorf("Language(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTag(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Skrivaren fungerar inte", "[#1042] Skrivaren fungerar inte"},
		{"[#1042] Skrivaren", "[#1042] Skrivaren"},
		{"Re: [#1042] Skrivaren", "[#1042] Skrivaren"},
		{"SV: RE: AW: VS: Skrivaren", "[#1042] Skrivaren"},
		{"Re[2]: Antw: Skrivaren", "[#1042] Skrivaren"},
		{"sv:re:  Skrivaren", "[#1042] Skrivaren"},
		{"Fwd: [#1042] Skrivaren", "[#1042] Fwd: Skrivaren"},
		{"Re: [#999] other case", "[#1042] [#999] other case"},
		{"", "[#1042]"},
		{"Re: ", "[#1042]"},
		{"Svar på fråga", "[#1042] Svar på fråga"}, // "Sv" as a word is not a prefix
		{"Line one\r\nBcc: evil@example.com", "[#1042] Line one Bcc: evil@example.com"},
	} {
		got := Tag(1042, c.in)
		if got != c.want {
			t.Errorf("Tag(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := Tag(1042, got); again != got {
			t.Errorf("Tag not idempotent: %q → %q", got, again)
		}
	}
}

func TestNoHeaderInjection(t *testing.T) {
	tm := loadDefault(t)
	d := sampleData()
	d.Case.Subject = "Hej\r\nBcc: evil@example.com\nX-Evil: 1\u2028more"
	d.Digest.Scope = "Unit\r\nBcc: evil@example.com"
	for _, kind := range Kinds {
		for _, lang := range []string{"en", "sv", "nb"} {
			subj, _, _, err := tm.Render(kind, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(subj, "\r\n\u2028") {
				t.Errorf("%s/%s subject carries a line break: %q", lang, kind, subj)
			}
		}
	}
	for _, c := range []struct{ in, want string }{
		{"a\r\nb", "a b"},
		{"  a\t\tb \x00 c\x7f", "a b c"},
		{"a\u0085b", "a b"},
		{"ok", "ok"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	} {
		if got := SanitizeHeader(c.in); got != c.want {
			t.Errorf("SanitizeHeader(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := SanitizeHeader(strings.Repeat("x", 1000)); len(got) != 400 {
		t.Errorf("long header kept %d chars", len(got))
	}
	if got := FormatAddress("Anna\r\nBcc: evil@example.com", "anna@example.org"); strings.ContainsAny(got, "\r\n") {
		t.Errorf("FormatAddress = %q", got)
	}
	if got := FormatAddress("Åsa Öberg", "asa@example.org"); got != "=?utf-8?q?=C3=85sa_=C3=96berg?= <asa@example.org>" {
		t.Errorf("FormatAddress non-ASCII = %q", got)
	}
	if got := FormatAddress("", "asa@example.org"); got != "asa@example.org" {
		t.Errorf("FormatAddress without name = %q", got)
	}
}

func writeTemplate(t *testing.T, dir, rel, content string) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTemplateOverrides(t *testing.T) {
	dir := t.TempDir()
	writeTemplate(t, dir, "sv/ack.tmpl", `{{define "subject"}}{{tag .Case.Number .Case.Subject}}{{end}}
{{define "text"}}Tack! Ärende {{.Case.Number}}.{{template "signature" .}}{{end}}
{{define "html"}}<p>Ärende {{.Case.Number}}: {{.Case.Subject}}</p>{{end}}`)
	writeTemplate(t, dir, "da/ack.tmpl", `{{define "subject"}}[#{{.Case.Number}}] Tak{{end}}{{define "text"}}Vi har modtaget din henvendelse.{{end}}`)
	writeTemplate(t, dir, "sv/README", "not a template")
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := sampleData()
	d.Case.Subject = `<script>alert("x")</script>`
	_, text, html, err := tm.Render(KindAck, "sv", d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "Tack! Ärende 1042.") || !strings.Contains(text, "-- \nHelpdesk") {
		t.Errorf("override text (with the embedded signature) = %q", text)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("html not escaped: %q", html)
	}
	// Kinds not overridden stay embedded.
	if _, text, _, _ := tm.Render(KindReminder, "sv", d); !strings.Contains(text, "Du har 1 öppet ärende") {
		t.Errorf("embedded Swedish reminder lost: %q", text)
	}
	// A new language from the override directory, English for its missing kinds.
	if subj, text, _, _ := tm.Render(KindAck, "da", d); subj != "[#1042] Tak" || text != "Vi har modtaget din henvendelse.\n" {
		t.Errorf("da ack = %q %q", subj, text)
	}
	if _, text, _, _ := tm.Render(KindAssignment, "da", d); !strings.Contains(text, "asks for your help with case 1042") {
		t.Errorf("da assignment did not fall back to English: %q", text)
	}
}

func TestBadOverrideNamesFileAndLine(t *testing.T) {
	for name, c := range map[string]struct{ content, want string }{
		"syntax":     {"{{define \"subject\"}}x{{end}}\n{{define \"text\"}}\n{{if .Case.Number}}\n{{end}", "sv/ack.tmpl:4"},
		"field":      {"{{define \"subject\"}}x{{end}}\n{{define \"text\"}}\n\n{{.Case.Nummer}}{{end}}", "sv/ack.tmpl:4"},
		"func":       {"{{define \"subject\"}}{{nosuchfunc}}{{end}}{{define \"text\"}}x{{end}}", "sv/ack.tmpl:1"},
		"no subject": {"{{define \"text\"}}x{{end}}", `sv/ack.tmpl: defines no "subject"`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeTemplate(t, dir, "sv/ack.tmpl", c.content)
			_, err := LoadTemplates(dir)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.want)) {
				t.Errorf("err = %v, want it to name %s", err, filepath.Join(dir, c.want))
			}
		})
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing override directory accepted")
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1536: "1.5 kB", 123456: "121 kB", 90 << 20: "90 MB", 3 << 30: "3.0 GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestHandOverNotice: a hand-over names how the case came (an #assign is
// no escalation), carries the comment as internal, the case so far, and
// the names rules.yaml gives the role and the service in the language.
func TestHandOverNotice(t *testing.T) {
	tm := loadDefault(t)
	d := sampleData()
	d.Consult, d.Escalated, d.Transfer, d.Move.Kind = false, false, "assign", "assign"
	d.Move.To.Role, d.Move.To.RoleNames = "local_support", map[string]string{"sv": "lokal support"}
	d.Case.Role = "local_support"
	d.Case.RoleNames = map[string]string{"sv": "lokal support", "nb": "lokal brukerstøtte"}
	d.Case.ServiceNames = map[string]string{"sv": "Utskrift"}
	_, text, _, err := tm.Render(KindAssignment, "sv", d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Per Dahl har lämnat över ärende 1042 till dig.",
		"Intern kommentar från Per Dahl (skickas aldrig till anmälaren):\n  Per, kan du se på dette?",
		"Ärendet hittills, senaste först:", "intern anteckning: Anna Berg", "  Ringt Ola.", "logg.txt (120 B)",
		"2 tidigare meddelanden visas inte",
		"lokal support, nivå 1", "Tjänst:        Utskrift",
		"Senast:        2026-03-02 13:30 UTC (första svar)",
		"Därför kom ärendet till dig:\n  överlämnat: superanvändare, nivå 1, Anna Berg → lokal support, nivå 2, Per Dahl",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("sv hand-over notice lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "eskalerats") {
		t.Errorf("an #assign is worded as an escalation:\n%s", text)
	}
	_, text, _, _ = tm.Render(KindEscalation, "nb", d)
	if !strings.Contains(text, "Sak 1042 er overlevert til Anna Berg av Per Dahl.") || !strings.Contains(text, "Intern kommentar fra Per Dahl") {
		t.Errorf("nb notice to the previous holder of an #assign:\n%s", text)
	}
	_, text, _, _ = tm.Render(KindAssignment, "en", d)
	if !strings.Contains(text, "local support, level 1") || !strings.Contains(text, "Service:     Printing") {
		t.Errorf("without an English name the role and service fall back:\n%s", text)
	}
}
