package notify

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/notify/langtest"
)

// englishWords are English words no Swedish or Norwegian mail may show.
var englishWords = langtest.Words

// commandToken is a #command or a #case number: the same in every language.
var commandToken = regexp.MustCompile(`#\w+`)

// nordicSample is sampleData with every text that comes from outside the
// templates (names, subjects, the requester's words, reasons, the trail)
// in Norwegian, so that only the templates' own words can be English.
func nordicSample() Data {
	d := sampleData()
	d.Reason = "ingen svar innen fristen"
	d.Errors = []string{"#frobnicate: ukjent"}
	d.Comment = "Per, kan du se på dette?"
	d.Unverified = "kun saksnummeret"
	c := &d.Case
	c.ServiceName, c.Routine = "Utskrift", "https://intranett.example.no/rutiner/utskrift"
	c.Route.ServiceName, c.Route.Original = "Utskrift", "skrivare"
	c.Created = time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	c.Due = c.Created.Add(4 * time.Hour)
	for i := range c.History {
		c.History[i].Text = "Ringte Ola."
	}
	for i := range d.Cases {
		d.Cases[i] = *c
	}
	d.Digest.Overdue, d.Digest.Unassigned, d.Digest.DroppedCases, d.Digest.Oldest = d.Cases, d.Cases, d.Cases, d.Cases
	return d
}

// TestNoEnglishInNordicMail renders every template in Swedish and
// Norwegian, with every flag set and with none, and fails on an English
// word in what the templates themselves write.
func TestNoEnglishInNordicMail(t *testing.T) {
	tm := loadDefault(t)
	full := nordicSample()
	empty := Data{Case: CaseView{Number: 7, Subject: "Skrivar"}}
	variants := []Data{full, empty}
	for _, transfer := range []string{"assign", "tier", "breach", ""} {
		d := nordicSample()
		d.Transfer, d.Escalated, d.Consult, d.Expired = transfer, false, false, false
		if transfer == "" {
			d.Move = nil // a new case: its routing trail
		}
		variants = append(variants, d)
	}
	for _, lang := range []string{"sv", "nb"} {
		for _, kind := range Kinds {
			for i, d := range variants {
				subj, text, _, err := tm.Render(kind, lang, d)
				if err != nil {
					t.Fatalf("%s/%s: %v", lang, kind, err)
				}
				if w := englishIn(subj + "\n" + text); len(w) > 0 {
					t.Errorf("%s/%s (variant %d): English %q in:\n%s", lang, kind, i, w, subj+"\n"+text)
				}
			}
		}
	}
}

// TestEnglishWordsAreCaught: the check above finds an English sentence
// slipped into a Norwegian mail, and English in every English template
// (it can fail).
func TestEnglishWordsAreCaught(t *testing.T) {
	tm := loadDefault(t)
	for _, kind := range Kinds {
		subj, text, _, err := tm.Render(kind, "en", nordicSample())
		if err != nil {
			t.Fatal(err)
		}
		if !englishWords.MatchString(commandToken.ReplaceAllString(subj+"\n"+text, "")) {
			t.Errorf("en/%s: no English word found:\n%s", kind, text)
		}
	}
	for _, s := range []string{"Reply to this message", "Case 1003.", "escalated: rung 1 of 4", "Due: 2026-03-02",
		"the sender's authentication failed: DMARC failed for example.org", "Tags: skrivare", "Holders: anna"} {
		if !englishWords.MatchString(s) {
			t.Errorf("%q passes as Nordic", s)
		}
	}
	for _, s := range []string{"Svar på denne e-posten", "Ärende 1003 har eskalerats till dig", "Frist: 2026-03-02 (første svar)"} {
		if w := englishWords.FindAllString(s, -1); len(w) > 0 {
			t.Errorf("%q flagged as English: %v", s, w)
		}
	}
}

// englishIn lists the English words in a mail's subject and text, once
// each.
func englishIn(text string) []string { return langtest.English(text) }

// TestWordingsAreNordic: the wordings of command errors hold no English
// word either, and keep their fmt verbs.
func TestWordingsAreNordic(t *testing.T) {
	for _, lang := range []string{"sv", "nb"} {
		for en, w := range wordings[lang] {
			if bad := englishIn(regexp.MustCompile(`%[a-z]|rules\.yaml`).ReplaceAllString(w, "")); len(bad) > 0 {
				t.Errorf("%s wording of %q: English %q", lang, en, bad)
			}
			if Verbs(w) != Verbs(en) {
				t.Errorf("%s wording of %q changes the verbs: %q", lang, en, w)
			}
		}
	}
	if Translate("sv", "the case is already closed") != "ärendet är redan stängt" || Translate("en", "x %s") != "x %s" ||
		Translate("sv", "no such text") != "no such text" {
		t.Error("Translate")
	}
}

// TestReword: a text made from a wording's format is read back and worded
// anew, a nested sentence and a status too; any other text stays as it is.
func TestReword(t *testing.T) {
	for _, tc := range []struct{ en, sv, nb string }{
		{"the case is already resolved", "ärendet är redan löst", "saken er allerede løst"},
		{"the sender's authentication failed: DMARC failed for example.org",
			"avsändarens autentisering misslyckades: DMARC underkänd för example.org",
			"avsenderens autentisering mislyktes: DMARC underkjent for example.org"},
		{"a reply address was shown to others (sent to the list staff.example.org): it carries no command from now on",
			"en svarsadress visades för andra (skickat till listan staff.example.org): den bär inga kommandon från och med nu",
			"en svaradresse ble vist til andre (sendt til listen staff.example.org): den bærer ingen kommandoer fra nå av"},
		{`nobody called "Bo Ek" in rules.yaml`, `ingen som heter "Bo Ek" i rules.yaml`, `ingen som heter "Bo Ek" i rules.yaml`},
		{"reminder 2 of 3 to qm-vendor", "påminnelse 2 av 3 till qm-vendor", "påminnelse 2 av 3 til qm-vendor"},
		{"#resolve Löst, se rutinen 100%", "#resolve Löst, se rutinen 100%", "#resolve Löst, se rutinen 100%"},
	} {
		p := Reword(tc.en)
		if got := p.In("en"); got != tc.en {
			t.Errorf("%q in English: %q", tc.en, got)
		}
		if got := p.In("sv"); got != tc.sv {
			t.Errorf("%q in Swedish: %q, want %q", tc.en, got, tc.sv)
		}
		if got := p.In("nb"); got != tc.nb {
			t.Errorf("%q in Norwegian: %q, want %q", tc.en, got, tc.nb)
		}
	}
}

// TestSpan: a length of time reads the same way in every language, to the
// minute; days are as given, so business hours never turn into days.
func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		s          Span
		en, sv, nb string
	}{
		{SpanOf(5 * time.Hour), "5 h", "5 tim", "5 t"},
		{SpanOf(51 * time.Hour), "2 days 3 h", "2 dagar 3 tim", "2 dager 3 t"},
		{SpanOf(48 * time.Hour), "2 days", "2 dagar", "2 dager"},
		{SpanOf(24*time.Hour + 90*time.Minute), "1 day 1 h 30 min", "1 dag 1 tim 30 min", "1 dag 1 t 30 min"},
		{SpanOf(59*time.Minute + 40*time.Second), "1 h", "1 tim", "1 t"},
		{SpanOf(0), "0 min", "0 min", "0 min"},
		{Span{Clock: 30 * time.Hour}, "30 h", "30 tim", "30 t"}, // business time
		{Span{Days: 3}, "3 days", "3 dagar", "3 dager"},
	} {
		for lang, want := range map[string]string{"en": tc.en, "sv": tc.sv, "nb": tc.nb} {
			if got := tc.s.In(lang); got != want {
				t.Errorf("%+v in %s: %q, want %q", tc.s, lang, got, want)
			}
		}
	}
}

// TestRewordSpan: a length of time in a stored English text, as Go
// (2h0m0s) or rules.yaml (14d) wrote it, is worded for the reader.
func TestRewordSpan(t *testing.T) {
	for _, tc := range []struct {
		en   string
		want map[string]string
	}{
		{"waited 2h30m0s of business time: SLA due times moved on by as much", map[string]string{
			"en": "waited 2 h 30 min of business time: SLA due times moved on by as much",
			"sv": "väntade 2 tim 30 min arbetstid: SLA-tiderna flyttades fram lika mycket",
			"nb": "ventet 2 t 30 min arbeidstid: SLA-fristene ble flyttet like mye"}},
		{"ola@example.no wrote to case #1001, resolved more than 14d ago: opened a new case linked to it",
			map[string]string{"sv": "14 dagar", "nb": "14 dager", "en": "14 days"}},
	} {
		p := Reword(tc.en)
		for lang, want := range tc.want {
			if got := p.In(lang); !strings.Contains(got, want) {
				t.Errorf("%q in %s: %q, want %q in it", tc.en, lang, got, want)
			}
			if w := langtest.English(p.In(lang)); lang != "en" && len(w) > 0 {
				t.Errorf("%q in %s: English %q", tc.en, lang, w)
			}
		}
	}
}
