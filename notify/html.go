package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// layoutFile is the HTML layout of mails whose kind template defines no
// "html": at the top of the embedded templates, and of an override
// directory.
const layoutFile = "layout.html"

// htmlView is what layout.html renders: the text part cut into blocks.
type htmlView struct {
	Lang, Subject string
	Blocks        []htmlBlock
}

// htmlBlock is a paragraph ("p"), an indented block kept as it is, such
// as a table of fields ("pre"), or quoted lines ("quote").
type htmlBlock struct {
	Kind  string
	Lines [][]htmlSpan
}

// htmlSpan is a run of text, a link when URL is set.
type htmlSpan struct{ Text, URL string }

// loadLayout parses layout.html from the override directory when it has
// one, else the embedded one, and trial-renders it.
func loadLayout(overrideDir string) (*htmltemplate.Template, error) {
	name := filepath.Join("templates", layoutFile)
	data, err := fs.ReadFile(embeddedTemplates, "templates/"+layoutFile)
	if err != nil {
		return nil, err
	}
	if overrideDir != "" {
		p := filepath.Join(overrideDir, layoutFile)
		if b, err := os.ReadFile(p); err == nil {
			data, name = b, p
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("reading template %s: %w", p, err)
		}
	}
	t, err := htmltemplate.New(name).Option("missingkey=error").Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("parsing template: %w", err)
	}
	if _, err := renderLayout(t, "en", "subject", "text\n\n  field: value\n\n> quoted\n\nhttps://example.org/x"); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}

// renderLayout renders the text part of a mail as HTML.
func renderLayout(t *htmltemplate.Template, lang, subject, text string) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, htmlView{Lang: lang, Subject: subject, Blocks: textBlocks(text)}); err != nil {
		return "", fmt.Errorf("rendering html: %w", err)
	}
	return b.String(), nil
}

// blankLines separates the paragraphs of a text part.
var blankLines = regexp.MustCompile(`\n[ \t]*\n+`)

// textBlocks cuts a text part at blank lines into blocks: all lines quoted
// ("> ") make a quote, any line indented by two spaces keeps the block as
// it is (tables of fields, lists of cases), the rest is a paragraph.
func textBlocks(text string) []htmlBlock {
	var out []htmlBlock
	for _, para := range blankLines.Split(strings.Trim(text, "\n"), -1) {
		lines := strings.Split(para, "\n")
		kind := "p"
		quoted, indented := true, false
		for _, l := range lines {
			quoted = quoted && strings.HasPrefix(l, ">")
			indented = indented || strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "\t")
		}
		switch {
		case quoted:
			kind = "quote"
			for i, l := range lines {
				lines[i] = strings.TrimPrefix(strings.TrimPrefix(l, ">"), " ")
			}
		case indented:
			kind = "pre"
		}
		b := htmlBlock{Kind: kind}
		for _, l := range lines {
			b.Lines = append(b.Lines, linkify(l))
		}
		out = append(out, b)
	}
	return out
}

// urlRE finds web addresses in text; a trailing full stop, comma or
// closing bracket belongs to the sentence, not the address.
var urlRE = regexp.MustCompile(`https?://[^\s<>"']*[^\s<>"'.,;:!?)\]]`)

// linkify splits a line into text and links. html/template escapes both
// and vets each href; only http and https addresses become links.
func linkify(line string) []htmlSpan {
	var out []htmlSpan
	last := 0
	for _, m := range urlRE.FindAllStringIndex(line, -1) {
		if m[0] > last {
			out = append(out, htmlSpan{Text: line[last:m[0]]})
		}
		out = append(out, htmlSpan{Text: line[m[0]:m[1]], URL: line[m[0]:m[1]]})
		last = m[1]
	}
	if last < len(line) || len(out) == 0 {
		out = append(out, htmlSpan{Text: line[last:]})
	}
	return out
}
