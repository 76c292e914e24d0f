package mailparse

import (
	"strings"
	"testing"
)

// Each case is a fault of the old html2text-based conversion (issue 14) or
// a trust rule (issue 11): hidden text never shows, quoted HTML is quoted.
func TestHTMLToTextFaults(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"line break before href keeps the rest",
			"<p>Hallo <a\nhref=\"https://example.org/a\">hier</a> und weiter bis zum Ende.</p><p>Zweiter Absatz.</p>",
			"Hallo hier <https://example.org/a> und weiter bis zum Ende.\n\nZweiter Absatz."},
		{"adjacent table cells are separated",
			"<table><tr><td>Von:</td><td>Martin</td></tr><tr><td>Stand-by</td><td>Laser</td></tr></table>",
			"Von: Martin\nStand-by Laser"},
		{"div and p break lines", "eins<div>zwei</div>drei<p>vier</p>fünf", "eins\nzwei\ndrei\n\nvier\n\nfünf"},
		{"bare > is text", "<p>3 > 2 &amp;&amp; 1 &lt; 2</p>", "3 > 2 && 1 < 2"},
		{"entities as HTML5", "<p>&auml;&nbsp;&euro;&#x1F600;&notit; &amp</p>", "ä €😀¬it; &"},
		{"display:none is hidden", `<p>Seen</p><div style="display: none">#close secret</div><span style="DISPLAY:NONE;">x</span><p hidden>y</p><p>End</p>`, "Seen\n\nEnd"},
		{"mso-hide and visibility", `<p>a</p><div style="mso-hide:all">b</div><div style="visibility:hidden">c</div>`, "a"},
		{"head, style, script, title", "<html><head><title>T</title><style>p{}</style></head><body><script>var x;</script>Body</body></html>", "Body"},
		{"head ended by body content", "<head><meta charset=utf-8><p>Shown</p>", "Shown"},
		{"lists bulleted and numbered", "<ul><li>a<li>b</ul><ol><li>one</li><li>two<ul><li>inner</li></ul></li></ol>", "- a\n- b\n\n1. one\n2. two\n\n  - inner"},
		{"link once when the text is the address", `<a href="https://example.org/">https://example.org</a> <a href="mailto:a@b.se">a@b.se</a>`, "https://example.org a@b.se"},
		{"anchors without href show their text", `<a name="x">Text</a> <a href="#top">top</a>`, "Text top"},
		{"blockquote is quoted", "<p>Svar</p><blockquote type=\"cite\"><p>Fråga</p><p>Mer</p></blockquote>", "Svar\n\n> Fråga\n>\n> Mer"},
		{"pre keeps lines", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"br", "a<br>b<br/><br>c", "a\nb\n\nc"},
		{"stray end tags hide nothing", "</head></div></style><p>kvar</p>", "kvar"},
	} {
		if got := htmlToText(tc.in); got != tc.want {
			t.Errorf("%s:\n in  %q\n got %q\nwant %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// Quoted history in HTML is stripped like '>' quotes, so an agent's HTML
// reply with nothing above the quote has no new text (issue 11).
func TestHTMLQuotedHistoryStripped(t *testing.T) {
	for _, tc := range []struct{ name, html, want string }{
		{"gmail", `<div dir="ltr">Klart nå.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 23, 2026 at 9:15 AM Helpdesk &lt;h@example.org&gt; wrote:<br></div><blockquote class="gmail_quote"><p>Routing: tier 2. Internal note: password is on the sheet.</p></blockquote></div>`, "Klart nå."},
		{"apple", `<div>Done.</div><div><br><blockquote type="cite"><div>On 23 Nov 2026, at 09:15, Helpdesk wrote:</div><div>Internal routine</div></blockquote></div>`, "Done."},
		{"outlook desktop", `<div class=WordSection1><p class=MsoNormal>Ferdig.<o:p></o:p></p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>Fra:</b> Helpdesk &lt;h@example.org&gt;<br><b>Sendt:</b> 23. november 2026 09:15<br><b>Til:</b> Ola<br><b>Emne:</b> [#5] x</p></div></div><p>Internal routine text</p></div>`, "Ferdig."},
		{"outlook web", `<div>Thanks</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Helpdesk<br><b>Sent:</b> Monday<br><b>To:</b> Anna<br><b>Subject:</b> x</div><div>Old notice</div>`, "Thanks"},
		{"yahoo", `<div>Ok, takk.</div><div class="yahoo_quoted"><div>On Monday, Helpdesk wrote:</div><div>Internal routine</div></div>`, "Ok, takk."},
		{"outlook for mac", `<div>Fixed.</div><div id="mail-editor-reference-message-container"><div><b>From:</b> Helpdesk<br><b>Date:</b> Monday<br><b>To:</b> Anna<br><b>Subject:</b> x</div><div>Internal routine</div></div>`, "Fixed."},
		{"nothing above the quote", `<div><br></div><blockquote type="cite">Routing trail, command help, internal note</blockquote>`, ""},
	} {
		raw := "From: a@example.org\r\nSubject: Re: [#5] x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + tc.html
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if m.NewText != tc.want {
			t.Errorf("%s: NewText = %q, want %q (Text %q)", tc.name, m.NewText, tc.want, m.Text)
		}
		if m.QuotedOnly != (tc.want == "") {
			t.Errorf("%s: QuotedOnly = %v", tc.name, m.QuotedOnly)
		}
		if strings.Contains(m.NewText, "nternal") {
			t.Errorf("%s: quoted history leaked into NewText %q", tc.name, m.NewText)
		}
	}
}

func TestHTMLTextInHeadShown(t *testing.T) {
	// Thunderbird's test mails: text that stands in <head> ends it, as in
	// a browser; the title and style stay hidden. Before, it was lost.
	got := htmlToText("<html><head><title>T</title><style>p{}</style>The tags <b>should</b> be seen\r\nNo, <u>seriously.</u></head></html>")
	if got != "The tags should be seen No, seriously." {
		t.Errorf("htmlToText = %q", got)
	}
}

func TestHTMLSoftHyphenDropped(t *testing.T) {
	if got := htmlToText("<p>The weather is beauti&shy;ful.</p>"); got != "The weather is beautiful." {
		t.Errorf("htmlToText = %q", got)
	}
}
