package mailparse

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
)

// The fidelity report (issue 14): for every mail of every corpus source,
// the fields an agent sees (subject, sender address and name, text, text
// of the HTML part, attachment count, names and sizes) against the
// expected result, counted per source and field:
//
//	go test ./intake/mailparse -run Fidelity -v
//
// Expectations come, strongest first, from the mail's upstream project
// (stalwart's JSON, the Nordic .expect files, what the tests of enmime,
// php-mime-mail-parser, mailparser, postal-mime, MimeKit, Dovecot and
// Thunderbird assert, in each source's expected.json or upstream.json,
// transcribed by the scripts beside them), from Python's email package,
// from the corpus INDEX.tsv (subjects decoded by the corpus's own
// tooling), and for sources without any (rt, sisimai, most of mimekit)
// from expected.json files written by -update-golden from casemail's
// output and reviewed by hand: those guard against regressions rather
// than prove correctness, and each miss names where its expectation came
// from.
//
// A miss that is the corpus's fault, or a deliberate difference, is listed
// in fidelityErrata with its reason; it still counts as a miss.

var updateGolden = flag.Bool("update-golden", false, "rewrite the casemail-written expected.json of corpus sources without upstream expectations")

// goldenSources have no upstream expectations: expected.json is casemail's
// reviewed output.
var goldenSources = []string{"rt-request-tracker", "sisimai-set-of-emails", "mimekit-extras"}

// notMail are corpus files that are no mail at all: Parse refuses them
// with ErrNoHeader, as it must.
var notMail = append([]string{"rt-request-tracker/lorem-ipsum", "enmime/mail/erroneous.raw", "python-email/msg_19.txt"}, bodyOnly...)

// bodyOnly are bodies without any header that other parsers' tests read
// as text; casemail refuses them (ErrNoHeader: quarantined, since a mail
// without a sender cannot become a case). Their expectations count as
// misses, explained in fidelityErrata.
var bodyOnly = []string{
	"nodemailer-mailparser/tests/mail-parser--general-tests-body-only.eml",
	"nodemailer-mailparser/tests/mail-parser--text-encodings-plaintext-encoding-default.eml",
	"postal-mime/tests/postal-mime--edge-case-body-only-no-headers.eml",
	"thunderbird/data/basic4",
	"thunderbird/data/basic5",
}

// fidelityFloor is the share of mails that must match, per field, over all
// sources.
const fidelityFloor = 0.99

type expectAtt struct {
	Name string `json:"name"`
	Size *int64 `json:"size,omitempty"` // nil: not checked
	// Hex digests of the content, where upstream checks it ("": not
	// checked); they count with the sizes.
	MD5    string `json:"md5,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	md5    string // of the parsed attachment
	sha256 string
}

// expectation is what a mail must parse to; nil fields are not checked.
// Where an upstream test asserts only part of a field, so does the
// expectation: text_contains and text_count (a substring occurs, or
// occurs exactly n times), html, html_contains and html_count (on the
// HTML as received rather than its text), attachment_count alone, and
// attachments_include (these attachments are among the mail's, in any
// order, whatever else it has).
type expectation struct {
	Subject   *string        `json:"subject,omitempty"`
	FromAddr  *string        `json:"from_addr,omitempty"`
	FromName  *string        `json:"from_name,omitempty"`
	Text      *string        `json:"text,omitempty"`
	TextHas   []string       `json:"text_contains,omitempty"`
	TextCount map[string]int `json:"text_count,omitempty"`
	// TextSearch is what a body search (case-insensitive, substrings)
	// finds: true, the text or the text of the HTML holds the string;
	// false, neither does.
	TextSearch  map[string]bool `json:"text_search,omitempty"`
	HTMLText    *string         `json:"html_text,omitempty"`
	HTMLTextHas []string        `json:"html_text_contains,omitempty"`
	HTML        *string         `json:"html,omitempty"`
	HTMLHas     []string        `json:"html_contains,omitempty"`
	HTMLCount   map[string]int  `json:"html_count,omitempty"`
	Attachments *[]expectAtt    `json:"attachments,omitempty"`
	AttCount    *int            `json:"attachment_count,omitempty"`
	AttInclude  []expectAtt     `json:"attachments_include,omitempty"`
	origin      map[string]string
	rawHTML     string // of the parsed mail
}

func ptr[T any](v T) *T { return &v }

var fidelityFields = []string{"subject", "from address", "from name", "text", "html text", "attachment count", "attachment names", "attachment sizes"}

type fieldTally struct{ n, ok int }

func TestFidelity(t *testing.T) {
	root := corpusDir(t)
	files := corpusMails(t, root)
	exps := map[string]*expectation{}
	get := func(rel string) *expectation {
		if exps[rel] == nil {
			exps[rel] = &expectation{origin: map[string]string{}}
		}
		return exps[rel]
	}
	if !*updateGolden {
		for _, src := range goldenSources {
			loadExpected(t, root, src, "casemail (reviewed)", get)
		}
	}
	// What MimeKit's own tests assert about some of its mails, over the
	// golden values.
	loadExpectedFile(t, root, "mimekit-extras", "upstream.json", "MimeKit tests", get)
	loadIndexSubjects(t, root, get)
	loadStalwart(t, root, get)
	loadNordic(t, root, get)
	loadExpected(t, root, "enmime", "enmime tests", get)
	loadExpected(t, root, "python-email", "Python's email package", get)
	loadExpected(t, root, "php-mime-mail-parser", "php-mime-mail-parser tests", get)
	loadExpected(t, root, "nodemailer-mailparser", "mailparser tests", get)
	loadExpected(t, root, "postal-mime", "postal-mime tests", get)
	loadExpected(t, root, "dovecot", "Dovecot tests", get)
	loadExpected(t, root, "thunderbird", "Thunderbird tests", get)
	var corrected []string
	for key, c := range fidelityCorrections {
		rel, field, _ := strings.Cut(key, " ")
		e := exps[rel]
		if e == nil || field != "subject" {
			t.Fatalf("correction %q: no such expectation", key)
		}
		e.Subject = ptr(c.value)
		e.origin[field] += ", corrected"
		corrected = append(corrected, key+": "+c.why)
	}
	sort.Strings(corrected)

	tally := map[string]map[string]*fieldTally{}
	explained := map[string]int{} // field → misses in fidelityErrata
	usedErrata := map[string]bool{}
	var misses []string
	golden := map[string]map[string]expectation{}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		src := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw)
		if err != nil {
			if !slices.Contains(notMail, filepath.ToSlash(rel)) {
				t.Errorf("%s: %v", rel, err)
			}
			if !slices.Contains(bodyOnly, filepath.ToSlash(rel)) {
				continue
			}
			m = &Message{} // refused: every expectation is a miss
		}
		got := actualOf(m)
		if *updateGolden && slices.Contains(goldenSources, src) {
			if golden[src] == nil {
				golden[src] = map[string]expectation{}
			}
			name := strings.TrimPrefix(filepath.ToSlash(rel), src+"/")
			golden[src][name] = got
			continue
		}
		e := exps[filepath.ToSlash(rel)]
		if e == nil {
			continue
		}
		if tally[src] == nil {
			tally[src] = map[string]*fieldTally{}
		}
		for _, c := range compare(e, got) {
			ft := tally[src][c.field]
			if ft == nil {
				ft = &fieldTally{}
				tally[src][c.field] = ft
			}
			ft.n++
			if c.ok {
				ft.ok++
				continue
			}
			key := filepath.ToSlash(rel) + " " + c.field
			why := fidelityErrata[key]
			if why == "" && strings.HasPrefix(c.field, "attachment") {
				key = filepath.ToSlash(rel) + " attachments"
				why = fidelityErrata[key]
			}
			usedErrata[key] = true
			if why == "" {
				why = "NOT EXPLAINED"
			} else {
				explained[c.field]++
			}
			misses = append(misses, fmt.Sprintf("%s %s (expected by %s): %s\n      got  %.200q\n      want %.200q", rel, c.field, e.origin[c.field], why, c.got, c.want))
		}
	}
	if *updateGolden {
		for src, g := range golden {
			data, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, src, "expected.json"), append(data, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s/expected.json (%d mails): review it before committing", src, len(g))
		}
		return
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "source\t%s\t\n", strings.Join(fidelityFields, "\t"))
	srcs := make([]string, 0, len(tally))
	for s := range tally {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	total := map[string]*fieldTally{}
	for _, s := range srcs {
		row := []string{s}
		for _, f := range fidelityFields {
			ft := tally[s][f]
			if ft == nil {
				row = append(row, "-")
				continue
			}
			if total[f] == nil {
				total[f] = &fieldTally{}
			}
			total[f].n += ft.n
			total[f].ok += ft.ok
			row = append(row, fmt.Sprintf("%d/%d", ft.ok, ft.n))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	row := []string{"all"}
	for _, f := range fidelityFields {
		ft := total[f]
		if ft == nil {
			row = append(row, "-")
			continue
		}
		row = append(row, fmt.Sprintf("%.1f%%", 100*float64(ft.ok)/float64(ft.n)))
	}
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	row = []string{"all but explained"}
	for _, f := range fidelityFields {
		ft := total[f]
		if ft == nil {
			row = append(row, "-")
			continue
		}
		row = append(row, fmt.Sprintf("%.1f%%", 100*float64(ft.ok)/float64(ft.n-explained[f])))
	}
	fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	tw.Flush()
	t.Logf("fidelity per source and field (matched/expected):\n%s", b.String())
	sort.Strings(misses)
	t.Logf("%d misses:\n  %s", len(misses), strings.Join(misses, "\n  "))
	t.Logf("%d expectations corrected:\n  %s", len(corrected), strings.Join(corrected, "\n  "))
	for _, f := range fidelityFields {
		if ft := total[f]; ft != nil && float64(ft.ok) < fidelityFloor*float64(ft.n-explained[f]) {
			t.Errorf("%s: %d of %d match (%d explained differences left out), below %.0f%%", f, ft.ok, ft.n, explained[f], 100*fidelityFloor)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(fidelityErrata)) {
		if !usedErrata[key] {
			t.Errorf("fidelityErrata[%q] explains no miss: drop it", key)
		}
	}
	for _, m := range misses {
		if strings.Contains(m, "NOT EXPLAINED") {
			t.Errorf("unexplained miss: %s", m)
		}
	}
}

// actualOf is a parsed mail in the expectation's shape.
func actualOf(m *Message) expectation {
	atts := []expectAtt{}
	for _, a := range m.Attachments {
		sum := md5.Sum(a.Data)
		atts = append(atts, expectAtt{Name: a.Filename, Size: ptr(a.Size), md5: hex.EncodeToString(sum[:]), sha256: hex.EncodeToString(a.SHA256[:])})
	}
	e := expectation{
		Subject: ptr(m.Subject), FromAddr: ptr(m.From.Addr), FromName: ptr(m.From.Name),
		Text: ptr(m.Text), Attachments: &atts, rawHTML: m.HTML,
	}
	if m.HTML != "" {
		e.HTMLText = ptr(htmlToText(m.HTML))
	}
	return e
}

type fieldResult struct {
	field     string
	ok        bool
	got, want string
}

func compare(e *expectation, got expectation) []fieldResult {
	var out []fieldResult
	// check is one field's verdict over all its expectations.
	type check struct {
		ok        bool
		got, want []string
	}
	var cur *check
	begin := func() { cur = &check{ok: true} }
	add := func(ok bool, got, want string) {
		cur.ok = cur.ok && ok
		cur.got, cur.want = append(cur.got, got), append(cur.want, want)
	}
	end := func(field string) {
		if len(cur.want) > 0 {
			out = append(out, fieldResult{field, cur.ok, strings.Join(slices.Compact(cur.got), " … "), strings.Join(cur.want, " … ")})
		}
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	str := func(want *string, have string) {
		if want != nil {
			add(normWS(have) == normWS(*want), have, *want)
		}
	}
	has := func(subs []string, have string) {
		for _, s := range subs {
			add(strings.Contains(normWS(have), normWS(s)), have, s)
		}
	}
	count := func(subs map[string]int, have string) {
		for _, s := range slices.Sorted(maps.Keys(subs)) {
			n := strings.Count(normWS(have), normWS(s))
			add(n == subs[s], have, fmt.Sprintf("%dx %s", subs[s], s))
		}
	}
	for _, f := range []struct {
		name       string
		want, have *string
	}{{"subject", e.Subject, got.Subject}, {"from address", e.FromAddr, got.FromAddr}, {"from name", e.FromName, got.FromName}} {
		begin()
		str(f.want, deref(f.have))
		end(f.name)
	}
	begin()
	str(e.Text, deref(got.Text))
	has(e.TextHas, deref(got.Text))
	count(e.TextCount, deref(got.Text))
	// A body search reads every text part, HTML without its tags: here
	// the text and the text of the HTML, both of which the agent sees.
	body := strings.ToLower(normWS(deref(got.Text) + "\n" + deref(got.HTMLText)))
	if len(e.TextSearch) > 0 {
		var wrong []string
		for _, s := range slices.Sorted(maps.Keys(e.TextSearch)) {
			if strings.Contains(body, strings.ToLower(normWS(s))) != e.TextSearch[s] {
				wrong = append(wrong, fmt.Sprintf("search %q finds: %v", s, e.TextSearch[s]))
			}
		}
		add(len(wrong) == 0, body, fmt.Sprintf("%d searches as expected%s", len(e.TextSearch), strings.Join(append([]string{""}, wrong...), "; but ")))
	}
	end("text")
	begin()
	str(e.HTMLText, deref(got.HTMLText))
	str(e.HTML, got.rawHTML)
	has(e.HTMLTextHas, deref(got.HTMLText))
	has(e.HTMLHas, got.rawHTML)
	count(e.HTMLCount, got.rawHTML)
	end("html text")

	g := *got.Attachments
	var gn, gs []string
	for _, a := range g {
		gn = append(gn, a.Name)
		gs = append(gs, strconv.FormatInt(*a.Size, 10))
	}
	begin()
	if e.Attachments != nil {
		add(len(*e.Attachments) == len(g), strconv.Itoa(len(g)), strconv.Itoa(len(*e.Attachments)))
	}
	if e.AttCount != nil {
		add(*e.AttCount == len(g), strconv.Itoa(len(g)), strconv.Itoa(*e.AttCount))
	}
	end("attachment count")
	if e.Attachments != nil {
		w := *e.Attachments
		var wn, ws []string
		sized := true
		for i, a := range w {
			if a.Name == "*" && i < len(g) {
				a.Name = g[i].Name // any name will do
			}
			wn = append(wn, a.Name)
			switch {
			case a.Size == nil:
				sized = false
			case (a.MD5 != "" || a.SHA256 != "") && i < len(g):
				ws = append(ws, strconv.FormatInt(*a.Size, 10))
				if a.MD5 != "" && g[i].md5 != a.MD5 || a.SHA256 != "" && g[i].sha256 != a.SHA256 {
					ws[len(ws)-1] += " (other content)"
				}
			default:
				ws = append(ws, strconv.FormatInt(*a.Size, 10))
			}
		}
		begin()
		add(slices.Equal(wn, gn), strings.Join(gn, " | "), strings.Join(wn, " | "))
		end("attachment names")
		if sized {
			begin()
			add(slices.Equal(ws, gs), strings.Join(gs, " "), strings.Join(ws, " "))
			end("attachment sizes")
		}
	}
	if len(e.AttInclude) > 0 {
		// Each expected attachment matches a different one of the mail's.
		names, sizes := check{ok: true}, check{ok: true}
		used := make([]bool, len(g))
		for _, a := range e.AttInclude {
			found := -1
			anyName := a.Name == "*"
			for i, h := range g {
				if !used[i] && (anyName || h.Name == a.Name) && (a.Size == nil || *h.Size == *a.Size) &&
					(a.MD5 == "" || h.md5 == a.MD5) && (a.SHA256 == "" || h.sha256 == a.SHA256) {
					found = i
					break
				}
			}
			if !anyName {
				names.ok = names.ok && slices.Contains(gn, a.Name)
				names.want = append(names.want, a.Name)
			}
			if a.Size != nil || a.MD5 != "" || a.SHA256 != "" {
				sizes.ok = sizes.ok && found >= 0
				sizes.want = append(sizes.want, strings.TrimSpace(fmt.Sprintf("%s: %d %s %s", a.Name, deref64(a.Size), a.MD5, a.SHA256)))
			}
			if found >= 0 {
				used[found] = true
			}
		}
		if len(names.want) > 0 {
			out = append(out, fieldResult{"attachment names", names.ok, strings.Join(gn, " | "), "among them: " + strings.Join(names.want, " | ")})
		}
		if len(sizes.want) > 0 {
			out = append(out, fieldResult{"attachment sizes", sizes.ok, strings.Join(gs, " "), "among them: " + strings.Join(sizes.want, ", ")})
		}
	}
	return out
}

func deref64(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// loadExpected reads SOURCE/expected.json: file name under the source →
// expectation.
func loadExpected(t *testing.T, root, src, origin string, get func(string) *expectation) {
	t.Helper()
	loadExpectedFile(t, root, src, "expected.json", origin, get)
}

func loadExpectedFile(t *testing.T, root, src, file, origin string, get func(string) *expectation) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, src, file))
	if err != nil {
		t.Fatalf("expectations of %s: %v", src, err)
	}
	var m map[string]expectation
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s/%s: %v", src, file, err)
	}
	for name, x := range m {
		e := get(src + "/" + name)
		merge(e, x, origin)
	}
}

func merge(e *expectation, x expectation, origin string) {
	str := func(dst **string, src *string, field string) {
		if src != nil {
			*dst = src
			e.origin[field] = origin
		}
	}
	str(&e.Subject, x.Subject, "subject")
	str(&e.FromAddr, x.FromAddr, "from address")
	str(&e.FromName, x.FromName, "from name")
	str(&e.Text, x.Text, "text")
	str(&e.HTMLText, x.HTMLText, "html text")
	str(&e.HTML, x.HTML, "html text")
	if len(x.TextHas) > 0 || len(x.TextCount) > 0 || len(x.TextSearch) > 0 {
		e.TextHas, e.TextCount, e.TextSearch = x.TextHas, x.TextCount, x.TextSearch
		if x.Text == nil {
			e.Text = nil
		}
		e.origin["text"] = origin
	}
	if len(x.HTMLHas) > 0 || len(x.HTMLCount) > 0 || len(x.HTMLTextHas) > 0 {
		e.HTMLHas, e.HTMLCount, e.HTMLTextHas = x.HTMLHas, x.HTMLCount, x.HTMLTextHas
		e.origin["html text"] = origin
	}
	if x.Attachments != nil || x.AttCount != nil || x.AttInclude != nil {
		e.Attachments, e.AttCount, e.AttInclude = x.Attachments, x.AttCount, x.AttInclude
		for _, f := range []string{"attachment count", "attachment names", "attachment sizes"} {
			e.origin[f] = origin
		}
	}
}

// loadIndexSubjects takes the subject column of every INDEX.tsv.
func loadIndexSubjects(t *testing.T, root string, get func(string) *expectation) {
	t.Helper()
	idx, _ := filepath.Glob(filepath.Join(root, "*", "INDEX.tsv"))
	for _, f := range idx {
		src := filepath.Base(filepath.Dir(f))
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			cols := strings.Split(line, "\t")
			if i == 0 || len(cols) < 5 || cols[0] == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, src, cols[0])); err != nil {
				continue
			}
			merge(get(src+"/"+cols[0]), expectation{Subject: ptr(cols[4])}, src+" INDEX.tsv")
		}
	}
}

func loadNordic(t *testing.T, root string, get func(string) *expectation) {
	t.Helper()
	exps, _ := filepath.Glob(filepath.Join(root, "nordic", "*.expect"))
	for _, f := range exps {
		name := strings.TrimSuffix(filepath.Base(f), ".expect")
		var x expectation
		var atts []expectAtt
		count := -1
		for _, kv := range readExpect(t, f) {
			key, v := kv[0], kv[1]
			switch key {
			case "from":
				x.FromAddr = ptr(v)
			case "from_name":
				x.FromName = ptr(v)
			case "subject":
				x.Subject = ptr(v)
			case "body_contains":
				x.TextHas = append(x.TextHas, v)
			case "attachments":
				count, _ = strconv.Atoi(v)
			case "attachment":
				// "NAME TYPE SIZE": the name may hold spaces.
				f := strings.Fields(v)
				size, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
				atts = append(atts, expectAtt{Name: strings.Join(f[:len(f)-2], " "), Size: &size})
			}
		}
		if count >= 0 && count == len(atts) {
			x.Attachments = &atts
		}
		merge(get("nordic/"+name+".eml"), x, "nordic .expect")
	}
}

// loadStalwart reads the upstream parser's JSON: subject, From, the text
// of text_body, html_body's HTML as text, and the attachments' names and
// decoded sizes.
func loadStalwart(t *testing.T, root string, get func(string) *expectation) {
	t.Helper()
	dir := filepath.Join(root, "stalwart-mail-parser")
	jsons, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	for _, jf := range jsons {
		rel, _ := filepath.Rel(root, strings.TrimSuffix(jf, ".json")+".eml")
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			continue
		}
		data, err := os.ReadFile(jf)
		if err != nil {
			t.Fatal(err)
		}
		var exp stalwartFull
		if err := json.Unmarshal(data, &exp); err != nil {
			t.Fatalf("%s: %v", jf, err)
		}
		subj, from, name := stalwartHeaders(exp.stalwartJSON)
		x := expectation{Subject: ptr(subj), FromAddr: ptr(strings.ToLower(from)), FromName: ptr(name),
			Text: ptr(strings.ReplaceAll(stalwartText(exp.stalwartJSON), "\x00", "")), Attachments: stalwartAttachments(exp), HTMLText: stalwartHTMLText(exp)}
		merge(get(filepath.ToSlash(rel)), x, "stalwart JSON")
	}
}

type stalwartFull struct {
	stalwartJSON
	Attachments []int `json:"attachments"`
	HTMLBody    []int `json:"html_body"`
}

// stalwartHTMLText is the text of html_body when all of it is HTML (JMAP
// puts text/plain parts there too when there is no HTML alternative; those
// are not casemail's HTML). nil when not comparable.
func stalwartHTMLText(exp stalwartFull) *string {
	var parts []string
	for _, i := range exp.HTMLBody {
		if i < 0 || i >= len(exp.Parts) {
			return nil
		}
		raw, ok := exp.Parts[i].Body["Html"]
		if !ok {
			return nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return nil
	}
	return ptr(htmlToText(strings.Join(parts, "\n")))
}

// stalwartAttachments lists the upstream attachments: the name when the
// part has one ("*", any name, when not: casemail names unnamed parts
// itself), the size of binary bodies (text bodies are sized after charset
// conversion upstream, so theirs is not compared).
func stalwartAttachments(exp stalwartFull) *[]expectAtt {
	atts := []expectAtt{}
	for _, i := range exp.Attachments {
		if i < 0 || i >= len(exp.Parts) {
			continue
		}
		part := exp.Parts[i]
		a := expectAtt{Name: "*"}
		for _, h := range part.Headers {
			if n, _ := h.Name.(string); n != "content_type" && n != "content_disposition" {
				continue
			}
			var v struct {
				ContentType struct {
					Attributes []struct{ Name, Value string } `json:"attributes"`
				}
			}
			if json.Unmarshal(h.Value, &v) != nil {
				continue
			}
			for _, at := range v.ContentType.Attributes {
				if at.Name == "filename" || at.Name == "name" && a.Name == "*" {
					a.Name = at.Value
				}
			}
		}
		for _, k := range []string{"Binary", "InlineBinary"} {
			if raw, ok := part.Body[k]; ok {
				var b []byte
				var ints []int
				if json.Unmarshal(raw, &ints) == nil {
					b = make([]byte, len(ints))
				}
				a.Size = ptr(int64(len(b)))
			}
		}
		atts = append(atts, a)
	}
	return &atts
}

// fidelityCorrections replace expectations that are themselves wrong
// ("SOURCE/FILE FIELD"): the value the mail really encodes, and why. The
// report lists each.
var fidelityCorrections = map[string]struct{ value, why string }{
	"rt-request-tracker/russian-subject-no-content-type subject": {"тест тест",
		"INDEX.tsv shows U+FFFD: its tooling could not read the undeclared 8-bit subject; the bytes D4 C5 D3 D4 are KOI8-R for \"тест\""},
	"rt-request-tracker/very-long-subject subject": {strings.Repeat("0123456789", 30),
		"INDEX.tsv cuts subjects at 80 characters; the mail's subject is 300 digits"},
	"sisimai-set-of-emails/maildir/bsd/lhost-kddi-01.eml subject": {"メールエラー通知",
		"INDEX.tsv shows U+FFFD for raw UTF-8 in the header; the bytes are UTF-8 for \"メールエラー通知\""},
	"sisimai-set-of-emails/maildir/bsd/lhost-mailru-01.eml subject": {"Ваше сообщение не доставлено. Mail failure.",
		"the encoded word is followed directly by \".\" in the mail; INDEX.tsv adds a space"},
}

// fidelityErrata explains misses that remain ("SOURCE/FILE FIELD" → why):
// casemail differs from the corpus's expectation on purpose. They count
// as misses; the report's last line leaves them out.
var fidelityErrata = map[string]string{
	"enmime/mail/mime-alternative.raw text": "RFC 8621 (JMAP) shows every text/plain part of a multipart/alternative, and stalwart's corpus " +
		"(thirdparty/000, 001) expects that; enmime shows only the first. casemail follows RFC 8621.",
	"enmime/mail/mime-mixed.raw text":              enmimeJoin,
	"enmime/mail/mime-signed.raw text":             enmimeJoin,
	"enmime/mail/mime-mixed-related.raw html text": "two HTML bodies in a multipart/mixed: RFC 8621 shows both, enmime only the first",
	"stalwart-mail-parser/malformed/001.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/002.eml text":  "a multipart without its boundary: casemail shows the body as text rather than lose it; stalwart shows nothing",
	"stalwart-mail-parser/malformed/003.eml text":  "a multipart without its boundary: casemail shows the body as text rather than lose it; stalwart shows nothing",
	"stalwart-mail-parser/malformed/004.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/006.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/008.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/009.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/011.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/016.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/019.eml text":  stalwartUnclosed,
	"stalwart-mail-parser/malformed/020.eml text": "a part with two Content-Type fields: stalwart takes the last (text/plain), casemail the first " +
		"(multipart/alternative), as go-message and most parsers do",
	"stalwart-mail-parser/malformed/021.eml text": "a part with two Content-Type fields: stalwart takes the last (text/plain), casemail the first " +
		"(multipart/alternative), as go-message and most parsers do",
	"stalwart-mail-parser/thirdparty/002.eml text":        "a base64 text part that is \"?garbage\": casemail shows it as written (nothing lost), stalwart drops it",
	"stalwart-mail-parser/malformed/001.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/002.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/003.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/004.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/006.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/007.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/008.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/009.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/011.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/016.eml attachments":  stalwartTextAsAttachment,
	"stalwart-mail-parser/malformed/012.eml attachments":  stalwartUnclosed,
	"stalwart-mail-parser/thirdparty/002.eml attachments": stalwartTextAsAttachment,
	"stalwart-mail-parser/rfc/001.eml attachments":        "the part names \"/u/nsb/writing/rfcs/RFC-MIME.ps\": casemail never keeps directories in a file name (path traversal), so it is \"RFC-MIME.ps\"",
	"stalwart-mail-parser/thirdparty/015.eml attachments": "the first forwarded message's header runs into the outer delimiter without a blank line; stalwart lets that message swallow the other two, casemail ends it at the outer delimiter and finds all three",
	"python-email/msg_01.txt from name":                   pythonComment,
	"python-email/msg_03.txt from name":                   pythonComment,
	"python-email/msg_04.txt from name":                   pythonComment,
	"python-email/msg_06.txt from name":                   pythonComment,
	"python-email/msg_14.txt from name":                   pythonComment,
	"python-email/msg_20.txt from name":                   pythonComment,
	"python-email/msg_27.txt from name":                   pythonComment,
	"python-email/msg_29.txt from name":                   pythonComment,
	"python-email/msg_44.txt from name":                   pythonComment,
	"stalwart-mail-parser/thirdparty/005.eml text":        "stalwart accepts a boundary in the middle of a line (\"invalid--1--\"); RFC 2046 delimiters start a line",

	"php-mime-mail-parser/mails/failure.eml text": "labelled gb2312, the text uses GBK's extensions (A9 60 \"ー\", 94 A1 \"敗\"); the library's strict " +
		"GB2312 decoder turns them into \"?\" and its test expects the \"?\"; casemail reads GB2312 as GBK/GB18030, as browsers do, " +
		"and shows \"グループへの配信に失敗\"",
	"php-mime-mail-parser/mails/issue133 attachments": keepBaseName,
	"php-mime-mail-parser/mails/m0027 attachments":    keepBaseName,
	"php-mime-mail-parser/mails/m0014 attachments":    phpInlineText,
	"php-mime-mail-parser/mails/m0016 attachments":    phpInlineText,

	"postal-mime/tests/comprehensive-coverage--edge-case-text-enriched-content-type.eml text":                                    "text/enriched is not a body type in RFC 8621 (text/plain and text/html are): casemail keeps the part as an attachment; postal-mime shows its words as text",
	"postal-mime/tests/header-parsing--a-backslash-outside-a-quoted-string-is-an-ordinary-character.eml attachments":             keepBaseName,
	"postal-mime/tests/header-parsing--a-content-type-cannot-be-smuggled-in-on-a-unicode-whitespace-line.eml text":               "a part whose header starts with a line that is neither a field nor a folded line (U+00A0, then text): casemail reads the part as having no header, so its lines show as text, nothing hidden and nothing taken as a field; postal-mime drops the line and reads the rest as the header",
	"postal-mime/tests/header-parsing--an-unparseable-date-in-a-forwarded-message-does-not-reject-the-parse.eml text":            postalRFC822,
	"postal-mime/tests/header-parsing--group-syntax-in-a-forwarded-from-does-not-reject-the-parse.eml html text":                 postalRFC822,
	"postal-mime/tests/header-parsing--the-join-marker-can-not-be-injected-through-a-header.eml subject":                         "the subject holds NUL characters: casemail never keeps control characters in a subject (each becomes a space; PostgreSQL text cannot hold NUL); postal-mime keeps them",
	"postal-mime/tests/mime-node--mimenode-message-rfc822-nesting-at-exactly-the-default-limit-is-parsed-inline.eml text":        postalRFC822,
	"postal-mime/tests/mime-node--mimenode-message-rfc822-nesting-at-exactly-the-default-limit-is-parsed-inline.eml attachments": postalRFC822,
	"postal-mime/tests/mime-node--mimenode-moderate-message-rfc822-nesting-is-still-parsed-inline.eml text":                      postalRFC822,
	"postal-mime/tests/mime-node--mimenode-nesting-limits-apply-inside-an-inline-message-rfc822.eml text":                        postalRFC822,
	"postal-mime/tests/mime-node--mimenode-parse-message-rfc822-inline.eml text":                                                 postalRFC822,
	"postal-mime/tests/postal-mime--parse-multipart-digest-with-default-message-rfc822-rfc-2046-section-5-1-5.eml text":          postalRFC822,
	bodyOnly[0] + " text": bodyOnlyWhy,
	bodyOnly[1] + " text": bodyOnlyWhy,
	bodyOnly[2] + " text": bodyOnlyWhy,
	bodyOnly[3] + " text": bodyOnlyWhy,
	bodyOnly[4] + " text": bodyOnlyWhy,
	"nodemailer-mailparser/fixtures/delivery-status.eml text": "mailparser shows a message/delivery-status part as text; casemail keeps it " +
		"as an attachment (RFC 8621) and reads it into Message.Bounce, so the bounce's human-readable part is the text",
	"nodemailer-mailparser/fixtures/mixed.eml html text":                                        mailparserHTML,
	"nodemailer-mailparser/fixtures/nested.eml html text":                                       mailparserHTML,
	"nodemailer-mailparser/tests/mail-parser--multipart-content-different-levels.eml html text": mailparserHTML,
	"nodemailer-mailparser/fixtures/outofmemory.eml text": "mailparser gives up on this 1 MB HTML body and its test expects its error " +
		"text \"Invalid HTML content (too long)\"; casemail's converter is linear and shows the text",
	"nodemailer-mailparser/tests/address-security--should-decode-and-reject-encoded-words-in-addr-spec-that-produce-invalid-addresses.eml from address": "" +
		"RFC 2047 forbids encoded words in an addr-spec, so casemail never decodes one there: it reads " +
		"\"=?utf-8?q?=40attacker.com?=@microsoft.com\" literally, a valid local part at microsoft.com (which is what " +
		"senderauth checks), never \"@attacker.com@microsoft.com\"; mailparser decodes it and then drops the address",
	"nodemailer-mailparser/tests/mail-parser--text-encodings-punycode-address.eml from address": "mailparser turns an IDN domain's " +
		"A-label (xn--mnchen-ost-9db) into Unicode; casemail keeps the address as the mail carries it, the form DNS, DKIM " +
		"and the directory compare, so that a look-alike Unicode domain cannot pass for it",
	"nodemailer-mailparser/tests/rfc822-headers-only--general-tests-simple-with-part-as-rfc822-of-headers-only.eml text": "" +
		"a message/rfc822 part (here only a header): mailparser writes its lines into the body text; casemail keeps a " +
		"forwarded message as an attachment (RFC 8621)",

	// Dovecot: HTML to text. Dovecot's converter feeds the search index;
	// casemail's renders what a browser shows (HTML5).
	"dovecot/core/mail-html2text-00.eml html text":  html5Ampersand,
	"dovecot/core/mail-html2text-02.eml html text":  html5Ampersand,
	"dovecot/core/mail-html2text-03.eml html text":  html5Ampersand,
	"dovecot/core/mail-html2text-20.eml html text":  "\"&#deee;\" is no character reference (no digit follows \"&#\"): HTML5, and a browser, show it as written; Dovecot drops it",
	"dovecot/core/mail-html2text-04.eml html text":  dovecotTagSpace,
	"dovecot/core/mail-html2text-05.eml html text":  dovecotTagSpace,
	"dovecot/core/mail-html2text-07.eml html text":  dovecotTagSpace,
	"dovecot/core/mail-html2text-08.eml html text":  dovecotTagSpace,
	"dovecot/core/mail-html2text-10.eml html text":  html5CDATA,
	"dovecot/core/mail-html2text-15.eml html text":  html5CDATA,
	"dovecot/core/mail-html2text-16.eml html text":  html5CDATA,
	"dovecot/core/mail-html2text-14.eml html text":  "\"a<\" at the end: HTML5 emits the \"<\" that starts no tag as text (a browser shows \"a<\"); Dovecot drops it",
	"dovecot/core/mail-html2text-bq0.eml html text": dovecotQuoteDepth,
	"dovecot/core/mail-html2text-bq1.eml html text": dovecotQuoteDepth,

	// Dovecot: addresses.
	"dovecot/core/message-address-06.eml from name": "\"From: user\", a bare word: Dovecot takes it for a local part without a domain (and flags it invalid); " +
		"casemail shows it as the name, as jsmime and mailparser do with a word without '@' (it cannot be replied to either way)",
	"dovecot/core/message-address-47.eml from name":                   "\"a(aa\", a word and an unclosed comment: Dovecot reads no name, casemail shows the word \"a\" rather than nothing",
	"dovecot/core/message-address-nuls.eml from name":                 dovecotNUL,
	"dovecot/core/message-address-nuls.eml from address":              dovecotNUL,
	"dovecot/core/message-address-nuls-display-name.eml from name":    dovecotNUL,
	"dovecot/core/message-address-nuls-display-name.eml from address": dovecotNUL,

	// Dovecot: bodies.
	"dovecot/core/message-decoder-invalid-cte.eml text": "the parts' transfer encodings are misspellings of identity ones (6bit, 7bits, \"8 bit\", 7-bit, 8-bit) or empty: " +
		"RFC 2045 6.4 has a reader treat an unknown one as application/octet-stream, and Dovecot then indexes no text; casemail reads " +
		"them as 7bit (normCTE) and shows the text, which the agent can read, and no byte is lost either way",
	"dovecot/core/message-decoder-multipart.eml text": "a base64 text part that is \"?garbage\": casemail shows it as written (nothing lost), Dovecot's decoder yields nothing " +
		"(the same as stalwart's thirdparty/002)",
	"dovecot/core/message-decoder-part-change.eml text": "two text parts, one byte each (C3, A4), that would be \"ä\" together: both keep them apart; Dovecot drops the " +
		"sequence cut off at the end of the first part, casemail marks each stray byte U+FFFD, as a WHATWG decoder does",
	"dovecot/core/message-search-11.eml text": "four undeclared bytes FF in a part without a charset: no charset is declared, so casemail's detector reads them " +
		"(issue 14: undeclared 8-bit text is detected); Dovecot reads them as UTF-8 and shows U+FFFD",
	"dovecot/core/message-header-decode-9.eml subject": "an encoded word in an unknown charset (\"utf-9\"): casemail keeps it as written, as jsmime's " +
		"tests ask (\"We don't decode unrecognized charsets\"); Dovecot reads its bytes as UTF-8 where they are",

	// Dovecot: RFC 2231 parameters.
	"dovecot/core/rfc2231-parser-encodings-key2.eml attachments": dovecotASCII8bit,
	"dovecot/core/rfc2231-parser-encodings-key4.eml attachments": dovecotASCII8bit,
	"dovecot/core/rfc2231-parser-encodings-key7.eml attachments": dovecotASCII8bit,
	"dovecot/core/rfc2231-parser-encodings-key5.eml attachments": "a value without a charset (''foo%C3%A5%C3%A4): Dovecot shows the %-escapes; casemail reads undeclared " +
		"bytes as it reads any (issue 14): valid UTF-8, so \"fooåä\"",
	"dovecot/core/rfc2231-parser-utf8-encoding-key1.eml attachments":   dovecotBadUTF8,
	"dovecot/core/rfc2231-parser-utf8-encoding-key3.eml attachments":   dovecotBadUTF8,
	"dovecot/core/rfc2231-parser-utf8-encoding-key5.eml attachments":   dovecotBadUTF8,
	"dovecot/core/rfc2231-parser-multi-encodings-key2.eml attachments": dovecotBadUTF8,
	"dovecot/core/rfc2231-parser-key.eml attachments": "a NUL inside the file name: casemail drops control characters from names, Dovecot shows U+FFFD; " +
		"the rest is the same (sections 0, 1, 2 joined, \"ba%\" kept)",
	"dovecot/core/rfc2231-parser-redundant-keys-key3.eml attachments": "filename=foobar and filename*=us-ascii''foo: Dovecot keeps the first; casemail " +
		"takes filename*, as jsmime's tests ask and RFC 6266 4.3 says of filename*",
	"dovecot/core/rfc2231-parser-redundant-single-and-multisegment-keys-key2.eml attachments": "filename*0*, filename*1* and filename=: Dovecot takes " +
		"the plain value; casemail the sections, as jsmime's tests ask (\"filename=basic; filename*0=foo; filename*1=bar\" is \"foobar\")",

	// Thunderbird.
	"thunderbird/data/HTML-with-split-tag1.eml text": tbLinkTarget,
	"thunderbird/data/HTML-with-split-tag2.eml text": tbLinkTarget,
	"thunderbird/data/html-entities-and-styles.eml text": "\"co&zwnj;worker\": Thunderbird's search deletes the zero-width non-joiner; " +
		"casemail keeps it in the text, where it is invisible, because in Persian and Indic scripts it changes how a word is written",
	"thunderbird/data/multipart-message-1.eml text":  tbAttachedMessage,
	"thunderbird/data/multipart-message-2.eml text":  tbAttachedMessage,
	"thunderbird/data/multipart-message-3.eml text":  tbAttachedMessage,
	"thunderbird/data/multipart-message-4.eml text":  tbAttachedMessage,
	"thunderbird/tests/address-007.eml from address": tbBang,
	"thunderbird/tests/address-008.eml from address": tbBang,
	"thunderbird/tests/address-010.eml from name":    tbComment,
	"thunderbird/tests/address-018.eml from name":    tbComment,
	"thunderbird/tests/address-048.eml from name":    tbComment,
	"thunderbird/tests/address-062.eml from name":    tbComment,
	"thunderbird/tests/address-063.eml from name":    tbComment,
	"thunderbird/tests/address-065.eml from name":    tbComment,
	"thunderbird/tests/address-066.eml from name":    tbComment,
	"thunderbird/tests/address-072.eml from name":    tbComment,
	"thunderbird/tests/address-074.eml from name":    tbComment,
	"thunderbird/tests/address-086.eml from name":    tbComment,
	"thunderbird/tests/address-087.eml from name":    tbComment,
	"thunderbird/tests/address-034.eml from address": tbSpaceDomain,
	"thunderbird/tests/address-034.eml from name":    tbSpaceDomain,
	"thunderbird/tests/address-081.eml from address": "\"Simple =?UTF-8?Q?<?= a@b.c>\": jsmime makes the words before the '@' one local part (\"Simple < a\"); " +
		"casemail reads the addr-spec a@b.c and the words before it as the name",
	"thunderbird/tests/address-081.eml from name": "\"Simple =?UTF-8?Q?<?= a@b.c>\": jsmime makes the words before the '@' one local part (\"Simple < a\"); " +
		"casemail reads the addr-spec a@b.c and the words before it as the name",
	"thunderbird/tests/address-082.eml from address": "RFC 2047 5 forbids encoded words in an addr-spec, so casemail never decodes one there " +
		"(\"<=?UTF-8?Q?email?=@b.c>\" stays as written, as for mailparser's test); jsmime decodes it",
	"thunderbird/tests/subject-054.eml subject": "\"YWJjZA=\", a word whose last group lacks a padding character: casemail decodes " +
		"its whole byte (\"abcd\"), so nothing is lost; jsmime drops the group (\"abc\")",
	"thunderbird/tests/subject-024.eml subject": "six bytes that are no UTF-8 (a CESU-8 surrogate pair): jsmime's decoder marks each with U+FFFD, " +
		"casemail marks the run with one, as Dovecot's tests ask (\"=?utf-8?b?////?=\" is one U+FFFD)",
}

const (
	html5Ampersand = "an '&' that starts no character reference (\"&\", \"&&a…\", \"&amp\" without ';' is one in HTML5): HTML5, and a " +
		"browser, show it; Dovecot's converter drops it"
	dovecotTagSpace = "\"a<style>…</style>b\" and unknown tags: Dovecot writes a space where an element was; a browser shows \"ab\" " +
		"(style, script and unknown inline elements break no word), and so does casemail"
	html5CDATA = "a CDATA section outside SVG and MathML: HTML5 reads \"<![CDATA[…>\" as a bogus comment that ends at the first '>' " +
		"(a browser shows \"a]] >b]]>c\", or nothing for an unclosed one); Dovecot shows its content"
	dovecotQuoteDepth = "nested <blockquote>: Dovecot marks every quoted line with one '>'; casemail marks each level, as mail " +
		"clients do (\">>> c\"), and sets quotes off by blank lines"
	dovecotNUL = "a NUL in the address and name: casemail turns control characters in a name into spaces and in an address into " +
		"U+FFFD, and undoes the quoted pair of a backslash and a NUL (RFC 5322 obs-qp); Dovecot shows U+FFFD and keeps the backslash"
	dovecotASCII8bit = "8-bit bytes under us-ascii (us-ascii''foo%E5%E4): Dovecot shows the %-escapes; casemail reads them as " +
		"windows-1252, as browsers read us-ascii (WHATWG Encoding)"
	dovecotBadUTF8 = "bytes that are no UTF-8 under utf-8 (utf-8''foo%E5%E4): Dovecot shows the %-escapes; casemail reads them as " +
		"undeclared bytes (issue 14; the UTF-8 of a partly-UTF-8 value stays UTF-8), so the name shows letters, not escapes"
	tbLinkTarget = "casemail writes a link as \"text <url>\" (issue 14), so the agent sees where it goes; Thunderbird's search " +
		"does not look into href"
	tbAttachedMessage = "Thunderbird's search reads the body of an attached message (message/rfc822); casemail keeps a forwarded " +
		"message as an attachment (RFC 8621, issue 14: \"keep message/rfc822 as today\"), so its words are not in the text"
	tbBang = "'!' is atext (RFC 5322 3.2.3): \"!\"@a.com needs no quotes, and casemail writes the address without them; jsmime " +
		"keeps them"
	tbComment = "a comment beside a display name or address: jsmime shows it with the name; casemail follows RFC 5322 3.2.2 " +
		"(a comment is no part of the name) and shows a comment, without its parentheses, only where there is no name " +
		"(\"addr (Name)\"), as its tests have it (TestAddressFaults)"
	tbSpaceDomain = "'\" \"@a a;b': jsmime takes \"a a\", with a space, for the domain; no domain holds a space, so casemail " +
		"reads the address \" \"@a and the second word as the name"
	postalRFC822 = "postal-mime writes an inline message/rfc822 part's text into the body (a digest's messages too); " +
		"casemail keeps a forwarded message as an attachment named after its subject, as RFC 8621 does and as issue 14 " +
		"asks (\"keep message/rfc822 as today\")"
	bodyOnlyWhy = "input without any header (\"\\r\\n===\"): the other parser reads it as a body; casemail refuses it " +
		"(ErrNoHeader), so intake quarantines it: a mail without a sender or subject cannot become a case"
	keepBaseName = "a file name with a directory (\"attach/01\", \"1234/../../1234.txt\", \"C:\\Users\\me\\a.txt\"): the " +
		"other parser keeps it or replaces \"/\" by \"_\"; casemail keeps the base name only, as it does for the full " +
		"Windows and Unix paths old clients send, so no name ever holds a path"
	phpInlineText = "the mail's only body part is text/plain, inline, with a file name: RFC 8621 makes the first part of a " +
		"multipart/mixed the body, and casemail shows it as the text (stalwart does the same); the library lists every " +
		"part with a file name as an attachment"
	mailparserHTML = "mailparser's html is every body part joined: text/plain parts turned into <p>…</p> and glued with " +
		"<br/>; casemail's HTML is the HTML parts only (their text, and the text parts, are in Text)"
	pythonComment = "\"addr (Name)\", RFC 822's old form: Python's email package keeps no name, casemail shows the comment " +
		"as the name, as mail clients do"
	stalwartTextAsAttachment = "text that stalwart files as an attachment of broken MIME is shown as text by casemail " +
		"(see the text miss of the same mail), so there is no attachment"
	enmimeJoin = "enmime joins text parts with a \"--\" line; casemail with a blank line, since a \"--\" line would read " +
		"as a signature delimiter to quote stripping"
	stalwartUnclosed = "broken nesting (an unclosed inner multipart, or text parts without a delimiter): stalwart files the text " +
		"as attachments or lets the inner multipart run past the outer boundary; casemail ends the inner multipart at the " +
		"outer boundary (RFC 2046) and shows the text, so nothing visible is lost"
)
