package mailparse

import (
	"strings"
	"testing"
)

// TestDetectLanguage: the stop-word model tells the six languages apart on
// the short mails people send a helpdesk, and says nothing when a text
// tells too little.
func TestDetectLanguage(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"Hej, jag kan inte logga in på min dator. Kan ni hjälpa mig? Tack!", "sv"},
		{"Skrivaren på tredje våningen fungerar inte och jag vet inte vad jag ska göra.", "sv"},
		{"Hei, jeg finner ikke rutinen for avvik i e-håndboka. Kan dere hjelpe meg? Takk!", "nb"},
		{"Skriveren virker ikke, og jeg vet ikke hva jeg skal gjøre. Hvordan får jeg hjelp?", "nb"},
		{"Hei, eg finn ikkje rutinen for avvik. Kva skal eg gjere, og korleis får eg hjelp?", "nn"},
		{"Hej, jeg kan ikke logge ind. Hvad skal jeg gøre? Printeren virker ikke. Tak!", "da"},
		{"Hello, I cannot log in to my computer. Could you please help? Thanks", "en"},
		{"The printer on the third floor does not work and I have no idea what to do.", "en"},
		{"Hei, en pääse kirjautumaan koneelle. Voisitko auttaa? Tulostin ei toimi. Kiitos!", "fi"},
		{"ok", ""},
		{"", ""},
		{"https://example.org/x 12345 ####", ""},
	} {
		if got := DetectLanguage(tc.text); got != tc.want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestMessageLanguage: Content-Language wins over the text.
func TestMessageLanguage(t *testing.T) {
	raw := "From: a@example.com\r\nTo: b@example.org\r\nSubject: x\r\nContent-Language: en-GB, sv\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHej, jag kan inte logga in på min dator. Kan ni hjälpa mig?\r\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Language(); got != "en" {
		t.Errorf("with Content-Language: en-GB: %q", got)
	}
	m, _ = Parse([]byte(strings.Replace(raw, "Content-Language: en-GB, sv\r\n", "", 1)))
	if got := m.Language(); got != "sv" {
		t.Errorf("without the header, a Swedish text: %q", got)
	}
}

func BenchmarkDetectLanguage(b *testing.B) {
	text := strings.Repeat("Hei, jeg finner ikke rutinen for avvik i e-håndboka. Kan dere hjelpe meg? ", 50)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		DetectLanguage(text)
	}
}
