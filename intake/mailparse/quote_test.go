package mailparse

import "testing"

func TestSplitQuoted(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Hej!\n\nMvh Åsa\n", "Hej!\n\nMvh Åsa"},
		{"gmail top-post", "Tack!\n\nOn Mon, Nov 23, 2026 at 9:15 AM Helpdesk <helpdesk@example.org> wrote:\n> Prova igen.\n> /H\n", "Tack!"},
		{"wrapped attribution", "Ok.\n\nOn Mon, Nov 23, 2026 at 9:15 AM Helpdesk <\nhelpdesk@example.org> wrote:\n\n> Prova igen.\n", "Ok."},
		{"swedish apple", "Fixat.\n\n23 nov. 2026 kl. 09:15 skrev Helpdesk <helpdesk@example.org>:\n\n> Prova igen.\n", "Fixat."},
		{"swedish den skrev", "Fixat.\n\nDen 23 nov 2026 kl 09:15 skrev Helpdesk <helpdesk@example.org>\n> Prova igen.\n", "Fixat."},
		{"norwegian skrev følgende", "Takk.\n\nHelpdesk skrev følgende:\n> Prøv igjen.\n", "Takk."},
		{"bottom post keeps the answer", "At 14:56, you wrote:\n>> old\n> question?\n\nThe answer.\n", "The answer."},
		{"interleaved", "> q1\na1\n> q2\na2\n", "a1\na2"},
		{"outlook english", "Done.\n\nFrom: Helpdesk <h@example.org>\nSent: Monday, November 23, 2026 9:15 AM\nTo: Anna <a@example.org>\nSubject: [#5] x\n\nOld text\n", "Done."},
		{"outlook swedish bold", "Klart.\n\n*Från:* Helpdesk <h@example.org>\n*Skickat:* den 23 november 2026 09:15\n*Till:* Anna\n*Ämne:* [#5] x\n\nGammal text\n", "Klart."},
		{"outlook norwegian underscores", "Ferdig.\n\n________________________________\nFra: Helpdesk <h@example.org>\nSendt: 23. november 2026 09:15\nTil: Ola\nEmne: [#5] x\n\nGammel tekst\n", "Ferdig."},
		{"original message", "Ja.\n\n-----Original Message-----\nFrom: x\nold\n", "Ja."},
		{"ursprungligt meddelande", "Ja.\n\n-----Ursprungligt meddelande-----\nold\n", "Ja."},
		{"opprinnelig melding", "Ja.\n\n-----Opprinnelig melding-----\nold\n", "Ja."},
		{"signature", "Svar här.\n\n-- \nAnna Berg\nIT-avdelningen\n", "Svar här."},
		{"underscores alone are text", "A\n____________________\nB\n", "A\n____________________\nB"},
		{"forward is content", "FYI\n\n---------- Forwarded message ---------\nFrom: Eva <e@x.se>\nDate: Mon\nSubject: Skrivare\nTo: anna@x.se\n\nSkrivaren är trasig.\n", "FYI\n\n---------- Forwarded message ---------\nFrom: Eva <e@x.se>\nDate: Mon\nSubject: Skrivare\nTo: anna@x.se\n\nSkrivaren är trasig."},
		{"only quote: no new text", "> all quoted\n> text\n", ""},
		{"attribution and quote only", "On Mon, Nov 23, 2026 Helpdesk <h@example.org> wrote:\n> notice\n", ""},
		{"signature only", "\n-- \nAnna\n", ""},
		{"from line alone is text", "From: me, with love\nThanks\n", "From: me, with love\nThanks"},
		{"crlf", "Ok\r\n\r\n> q\r\n", "Ok"},
	} {
		got, ok := SplitQuoted(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: SplitQuoted(%q)\n got %q, %v\nwant %q", tc.name, tc.in, got, ok, tc.want)
		}
	}
}

func TestCaseTag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"[#1042] Re: x", 1042, true},
		{"Re: [#1042] x", 1042, true},
		{"SV: [#1042] Lösenordet", 1042, true},
		{"AW: VS: Fwd: RE: [#7] x", 7, true},
		{"Re[2]: [#9] x", 9, true},
		{"Automatisk svar: [#1043] Feil i e-håndboken", 1043, true},
		{"Undeliverable: [#77] Skrivaren", 77, true},
		{"[rt-users] Re: [#12] x", 12, true},
		{"  [#5]", 5, true},
		{"Re：[#6] full-width colon", 6, true},
		{"Question about [#1042] in the middle", 0, false},
		{"Re: #1042 without brackets", 0, false},
		{"[#0] zero", 0, false},
		{"[#99999999999999999999] too big", 0, false},
		{"", 0, false},
		{"Re: Re: Re:", 0, false},
	} {
		got, ok := CaseTag(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CaseTag(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
