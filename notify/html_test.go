package notify

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"golang.org/x/net/html"

	"github.com/casemail/casemail/store"
)

// hostile is text an attacker controls: a requester's name, a subject, a
// mail's text, a routine address in a badly kept catalogue.
const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`

func hostileData() Data {
	d := sampleData()
	d.Case.Subject = "Printer " + hostile
	d.Case.RequesterName = hostile
	d.Case.Message.FromName = hostile
	d.Case.Message.Text = "see javascript:alert(3) and " + hostile + "\n\n  <b>indented</b> " + hostile +
		"\n\n> quoted " + hostile + "\n\nhttps://evil.example/\"onmouseover=\"alert(4)"
	d.Case.Routine = "javascript:alert(5)"
	d.Recipient.Name = hostile
	d.Actor = hostile
	d.Reason = hostile
	d.Errors = []string{hostile}
	d.Cases = []CaseView{d.Case}
	d.Digest.Overdue = []CaseView{d.Case}
	return d
}

// htmlProblems tokenizes an HTML part as a mail client would and lists
// every element, attribute, link or style that the layout does not write
// itself: a hostile value that escaped its text would show up here.
func htmlProblems(doc string) []string {
	var out []string
	z := html.NewTokenizer(strings.NewReader(doc))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				out = append(out, "tokenizing: "+z.Err().Error())
			}
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if !allowedTags[tok.Data] {
				out = append(out, "element <"+tok.Data+">")
			}
			for _, a := range tok.Attr {
				switch a.Key {
				case "lang", "charset", "name", "content":
				case "href":
					if !strings.HasPrefix(a.Val, "https://") && !strings.HasPrefix(a.Val, "http://") {
						out = append(out, "link to "+a.Val)
					}
				case "style":
					for _, decl := range strings.Split(a.Val, ";") {
						prop, _, _ := strings.Cut(strings.TrimSpace(decl), ":")
						if prop == "color" || strings.HasPrefix(prop, "background") || strings.Contains(decl, "url(") {
							out = append(out, "style "+decl+" (a fixed colour fights dark mode; url() loads remotely)")
						}
					}
				default:
					out = append(out, "attribute "+a.Key+"="+a.Val+" on <"+tok.Data+">")
				}
			}
		}
	}
}

// allowedTags are the only elements the layout writes: plain, nothing that
// loads from elsewhere.
var allowedTags = map[string]bool{"html": true, "head": true, "meta": true, "title": true, "body": true,
	"div": true, "p": true, "pre": true, "blockquote": true, "br": true, "a": true}

// Every kind in every language gets an HTML part, and hostile names,
// subjects and texts come out escaped: no element, attribute or link of
// the attacker's, no script URL, nothing loaded from the network, and no
// colours that would fight a dark theme.
func TestHTMLPartEscapesHostileContent(t *testing.T) {
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range tm.Languages() {
		for _, kind := range Kinds {
			subject, text, html, err := tm.Render(kind, lang, hostileData())
			if err != nil {
				t.Fatalf("%s/%s: %v", lang, kind, err)
			}
			if html == "" {
				t.Errorf("%s/%s: no HTML part", lang, kind)
				continue
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, `<meta name="color-scheme" content="light dark">`) {
				t.Errorf("%s/%s: not the layout:\n%s", lang, kind, html)
			}
			for _, problem := range htmlProblems(html) {
				t.Errorf("%s/%s: %s", lang, kind, problem)
			}
			// What the text shows, the HTML shows escaped.
			if strings.Contains(text, "<script>") && !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s/%s: the hostile text is not in the HTML part, escaped", lang, kind)
			}
			if want := "<title>" + strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(subject) + "</title>"; !strings.Contains(html, want) {
				t.Errorf("%s/%s: no %s", lang, kind, want)
			}
		}
	}
}

func TestHTMLBlocksAndLinks(t *testing.T) {
	tm, err := loadLayout("")
	if err != nil {
		t.Fatal(err)
	}
	html, err := renderLayout(tm, "en", "s", "Hello,\nsecond line.\n\n  Case:   #12\n  Status: open\n\n> you wrote\n> this\n\n"+
		"See https://intranet.example.org/r?a=1&b=2. Or (https://x.example/y).")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<p style="margin:0 0 14px 0;">Hello,<br>` + "\nsecond line.</p>",
		">  Case:   #12\n  Status: open</pre>",
		">you wrote<br>\nthis</blockquote>",
		`See <a href="https://intranet.example.org/r?a=1&amp;b=2">https://intranet.example.org/r?a=1&amp;b=2</a>. Or (<a href="https://x.example/y">https://x.example/y</a>).`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q:\n%s", want, html)
		}
	}
}

// A layout.html in the templates directory replaces the embedded layout;
// a broken one is an error at load naming it.
func TestHTMLLayoutOverride(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "layout.html")
	if err := os.WriteFile(p, []byte(`<!DOCTYPE html><html lang="{{.Lang}}"><body><h1>{{.Subject}}</h1>{{range .Blocks}}<p>{{range .Lines}}{{range .}}{{.Text}}{{end}}{{end}}</p>{{end}}</body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, _, html, err := tm.Render(KindAck, "en", sampleData())
	if err != nil || !strings.Contains(html, "<h1>[#1042] Skrivaren fungerar inte</h1>") {
		t.Errorf("override not used: %v\n%s", err, html)
	}
	if err := os.WriteFile(p, []byte(`{{.Nope}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("broken layout: %v, want an error naming %s", err, p)
	}
}

// The sent mail is multipart/alternative: the text part first, then the
// HTML part, both UTF-8.
func TestSentMailHasTextAndHTML(t *testing.T) {
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html, err := tm.Render(KindAck, "sv", sampleData())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SMTPConfig{Host: "127.0.0.1", Security: "none"}, nil)
	_, types, bodies := sentParts(t, s, store.OutMail{From: "Helpdesk <helpdesk@example.org>",
		To: []string{"ola@example.no"}, Subject: subject, Text: text, HTML: html, MessageID: "<x@example.org>"})
	if len(types) != 2 || types[0] != "text/plain;UTF-8" || types[1] != "text/html;UTF-8" {
		t.Fatalf("parts %v, want text/plain then text/html", types)
	}
	norm := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	if norm(bodies[0]) != norm(text) || norm(bodies[1]) != norm(html) {
		t.Error("the parts are not the rendered text and HTML")
	}
}

// htmlProblems itself catches what the layout must never let through.
func TestHTMLProblemsCatchesInjection(t *testing.T) {
	got := htmlProblems(`<p onclick="x">a</p><img src="http://tracker.example/p.png"><a href="javascript:alert(1)">b</a><div style="color:#000">c</div>`)
	if len(got) != 5 {
		t.Errorf("problems %q, want the onclick, the img and its src, the script link, the colour", got)
	}
}

// A mail queued with RenderQueued carries no HTML in the outbox; the Sender
// lays it out when it sends, the same HTML Render gives, in the language
// the mail was queued in.
func TestHTMLLaidOutWhenSent(t *testing.T) {
	tm, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html, err := tm.RenderQueued(KindAck, "sv", sampleData())
	if err != nil || html != "" {
		t.Fatalf("RenderQueued: html %q, err %v; want no HTML yet", html, err)
	}
	_, _, want, err := tm.Render(KindAck, "sv", sampleData())
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SMTPConfig{Host: "127.0.0.1", Security: "none"}, nil)
	s.HTML = tm.LayoutHTML
	h, types, bodies := sentParts(t, s, store.OutMail{From: "Helpdesk <helpdesk@example.org>",
		To: []string{"ola@example.no"}, Subject: subject, Text: text, MessageID: "<x@example.org>",
		Headers: map[string]string{"Content-Language": "sv"}})
	if got := h.Get("Content-Language"); got != "sv" {
		t.Errorf("Content-Language %q, want sv", got)
	}
	var htmlPart string
	for k, ty := range types {
		if strings.HasPrefix(ty, "text/html;") {
			htmlPart = bodies[k]
		}
	}
	norm := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	if htmlPart == "" || norm(htmlPart) != norm(want) {
		t.Errorf("the HTML laid out at send differs from Render's:\n%s\nwant:\n%s", htmlPart, want)
	}
}

// sentParts builds om as the Sender would send it and returns its header
// and its parts' types ("type;charset") and bodies.
func sentParts(t *testing.T, s *Sender, om store.OutMail) (mail.Header, []string, []string) {
	t.Helper()
	m, err := s.build(t.Context(), store.OutboxRow{OutMail: om, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var types, bodies []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, params, _ := p.Header.(*mail.InlineHeader).ContentType()
		b, _ := io.ReadAll(p.Body)
		types = append(types, ct+";"+params["charset"])
		bodies = append(bodies, string(b))
	}
	return r.Header, types, bodies
}
