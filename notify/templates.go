package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

//go:embed all:templates
var embeddedTemplates embed.FS

// Mail kinds with embedded templates. Every kind file defines "subject" and
// "text", and may define "html".
const (
	KindAck        = "ack"
	KindAssignment = "assignment"
	KindReply      = "reply"
	KindForward    = "forward"
	KindResolved   = "resolved"
	KindError      = "error"
	KindEscalation = "escalation"
	KindReminder   = "reminder"
	KindDigest     = "digest"
	KindAlert      = "alert"

	// The conversation's: what a mail on a case means for the people on it.
	KindFollowup       = "followup"        // the requester or a participant wrote: to the owner
	KindNote           = "note"            // a colleague's or consultant's internal note: to the owner
	KindConsult        = "consult"         // #consult: to the consulted colleague
	KindSupplierAnswer = "supplier_answer" // the supplier answered: to the owner
	KindApproval       = "approval"        // a case waits for approval: to the approvers
	KindApproved       = "approved"        // #approve: to the requester
	KindRejected       = "rejected"        // #reject: to the requester
	KindMerged         = "merged"          // #merge: to the requester of the merged case
	KindBounceNotice   = "bounce_notice"   // a mail we sent on the case bounced: to the owner

	// The supplier's clock.
	KindSupplierReminder = "supplier_reminder" // the supplier is past their response time: to the supplier
	KindSupplierLate     = "supplier_late"     // the reminders are used up: to the owner

	// Answers to an agent's own question by mail.
	KindHistory = "history" // #history: the whole case, to the agent who asked
	KindMine    = "mine"    // #mine or a mail to a mine address: the agent's open cases
	KindHelp    = "help"    // #help: the commands and what stays internal
)

// Kinds lists every kind of mail, each with an embedded template in every
// language (templates_test.go holds them to it).
var Kinds = []string{KindAck, KindAssignment, KindReply, KindForward, KindResolved, KindError, KindEscalation,
	KindReminder, KindDigest, KindAlert, KindFollowup, KindNote, KindConsult, KindSupplierAnswer, KindApproval,
	KindApproved, KindRejected, KindMerged, KindBounceNotice, KindSupplierReminder, KindSupplierLate,
	KindHistory, KindMine, KindHelp}

// commonFile is parsed into every kind's template set of its language:
// blocks shared by several mails (signature, command list).
const commonFile = "_common.tmpl"

// DefaultLanguage is the language of last resort.
const DefaultLanguage = "en"

// Templates holds every mail template, parsed and checked at load.
// A Templates is immutable and safe for concurrent use.
type Templates struct {
	sets map[string]map[string]*templateSet // lang → kind
	// layout renders the HTML part of kinds without an html block of their
	// own, from the text part (html.go).
	layout *htmltemplate.Template
}

type templateSet struct {
	name string // file the kind came from, for error messages
	text *template.Template
	html *htmltemplate.Template // nil when the file defines no "html"
	// layout renders the text part as HTML when html is nil (html.go),
	// in lang.
	layout *htmltemplate.Template
	lang   string
}

// Recipient is the person a mail goes to.
type Recipient struct {
	Name     string
	Address  string
	Language string
}

// CaseView is a case as templates show it. Times are shown as they are
// (convert them to the configured timezone first); a zero time is not shown.
type CaseView struct {
	Number      int64
	Subject     string
	Service     string // service id
	ServiceName string
	Tier        string // "1", "2", "3", "external"
	Role        string // role id; templates show it with the "role" function
	// RoleNames and ServiceNames are rules.yaml's `names:` of the role and
	// the service by language; Render picks the recipient's.
	RoleNames     map[string]string
	ServiceNames  map[string]string
	RoleName      string // the role in the recipient's language, set by Render from RoleNames
	Unit          string // unit name (or id)
	Priority      string // low | normal | high | urgent
	Status        string // new | open | waiting | resolved | closed | dropped
	Requester     string // address: only ever in a body, never in a header of an agent's mail
	RequesterName string
	Assignee      string // assignee's name
	Created       time.Time
	Due           time.Time // next due time (first response or resolution); zero for none
	DueKind       string    // which deadline Due is: DueFirstResponse or DueResolution
	Routine       string    // link to or text of the service's routine
	// Route is why a new case was routed where it is (nil: not shown).
	Route   *RouteView
	Overdue bool
	// Supplier is the supplier's name while the case is with one;
	// SupplierRef their own reference for it, SupplierDue when their
	// answer is due under the contract (SupplierOverdue: past it), and
	// Reminders how many times they were reminded.
	Supplier        string
	SupplierRef     string
	SupplierDue     time.Time
	SupplierOverdue bool
	Reminders       int
	// Message is the message the mail is about: the requester's mail in an
	// assignment notice, the agent's reply in a public reply, and so on.
	Message MessageView
	// History is the case so far, newest first, for whoever takes it over
	// (hand-over notices, #history).
	History []HistoryEntry
	// HistoryLeft counts the entries left out of History to keep it short.
	HistoryLeft int
}

// RouteView is the routing decision of a new case, for its assignment
// notice: the values it came to and, step by step, why. Every fixed
// phrase is the templates' (and Phrase's) in the reader's language;
// what rules.yaml says (ids, names, a rule's condition) is shown as it is.
type RouteView struct {
	Service      string // id
	ServiceName  string // the catalogue's name, or ServiceNames' in the language (set by Render)
	ServiceNames map[string]string
	// Original is the service the mail was classified as, when it was
	// routed as another (Proposed: because Original is only proposed).
	Original string
	Proposed bool
	Unit     string // id; "" for none
	WorkArea string
	// Dropped: a rule dropped the mail (DropReason, its own words).
	Dropped    bool
	DropReason string
	// Rung is where on the chain the case starts; nil when dropped.
	Rung *RungView
	// Holders hold the rung's role and are not away (ids); Assignee is
	// the one chosen, by Strategy (only, first, round_robin, least_open,
	// rule).
	Holders  []string
	Assignee string
	Strategy string
	Priority string
	Tags     []string
	// Steps are the rules shown (those that matched, or all of them when
	// few did not), then how unit, service, rung and assignee were found;
	// Unlisted counts the rules that did not match and are not shown.
	Steps    []TrailStep
	Unlisted int
}

// TrailStep is one step of a RouteView.
type TrailStep struct {
	Kind string // rule, unit, service, rung, assignee, drop
	// Name is the rule's name, or the unit's, service's or person's id,
	// or the drop's reason; a rung step names its place in At instead.
	Name string
	At   *RungView
	// Result is what the step came to, a code the templates word: for a
	// rule matched, no match or stop; for the others how (member, domain,
	// alias, keyword, start, skipped, …) or the assignment strategy.
	Result string
	// Cond is a rule step's condition as rules.yaml states it; Why is
	// any other step's reason.
	Cond string
	Why  Phrase
}

// MoveView is a case's move between rungs of its service's chain.
type MoveView struct {
	Kind     string // escalate, breach, tier, assign; top: asked past the last rung, it stays
	From, To RungView
}

// RungView is a place on a service's chain as a notice names it.
type RungView struct {
	// N and Of place it on the chain ("rung 2 of 4"); 0 when unknown.
	N, Of     int
	Tier      string
	Role      string // role id
	RoleNames map[string]string
	RoleName  string // set by Render from RoleNames
	Holder    string // the person's or the supplier's name; "" for nobody
}

// Which deadline CaseView.Due is.
const (
	DueFirstResponse = "first_response"
	DueResolution    = "resolution"
)

// HistoryEntry is one message or event of a case's history.
type HistoryEntry struct {
	At time.Time
	// Kind: "in" (the requester's side wrote), "reply" (a public answer),
	// "note" (internal), "supplier" (the supplier's answer), "event".
	Kind        string
	From        string // a name, or an address
	Text        string // a message's text; an event's line in English
	Attachments []AttachmentView
	// Event is an event's line, worded in the reader's language; Move,
	// for a transfer, where it took the case (Event then says why).
	Event Phrase
	Move  *MoveView
}

// AttachmentView is one attachment as listed in a mail.
type AttachmentView struct {
	Name    string
	Type    string
	Size    int64
	Omitted bool // over the size cap: listed, not attached
}

// MessageView is a message as templates show it.
type MessageView struct {
	From        string
	FromName    string
	Text        string // without quoted history
	Attachments []AttachmentView
}

// DigestView is the content of a periodic digest.
type DigestView struct {
	Period       string // e.g. "2026-03-02 – 2026-03-08"
	Scope        string // unit name, work area, or "" for everything
	Opened       int
	Resolved     int
	Open         int
	Transfers    int
	Dropped      int
	Overdue      []CaseView
	Unassigned   []CaseView
	DroppedCases []CaseView
	// Breakdowns: Kind is "unit", "service" or "tier".
	Breakdowns  []DigestBreakdown
	TierMoves   []DigestRow // Name is "FROM → TO", Open the number of moves
	SLAMet      int
	SLABreached int
	// MedianFirstResponse is nil when nobody was answered.
	MedianFirstResponse *Span
	Oldest              []CaseView
	// SupplierWaits are cases waiting on a supplier's answer, overdue first.
	SupplierWaits []CaseView
}

// DigestBreakdown is one table of a digest: counts per unit, service or tier.
type DigestBreakdown struct {
	Kind string
	Rows []DigestRow
}

// DigestRow is one line of a breakdown.
type DigestRow struct {
	Name                   string
	Opened, Resolved, Open int
}

// Data is what every template is executed with; a kind uses the fields it
// needs and ignores the rest.
type Data struct {
	Helpdesk  string // the helpdesk's display name, for the signature ("Helpdesk" when empty)
	Recipient Recipient
	Case      CaseView
	Actor     string   // who acted: the replying agent, the one who escalated or consulted
	Reason    string   // escalation reason, resolution text, rejection reason
	Errors    []string // command errors, one per line
	Consult   bool     // assignment: the recipient is consulted; ownership stays
	Escalated bool     // assignment: the case reached the recipient by escalation
	Expired   bool     // error: the reply token had expired
	Oversize  string   // ack: the mailbox's size limit ("25 MB") when the mail was over it
	// Unverified, on a follow-up or a supplier's answer: why the mail
	// proves nothing about its sender (it changed nothing on the case).
	Unverified string
	// Joined, on a note: the people a merge (of case Reason) added.
	Joined []string
	Cases  []CaseView // reminder: the recipient's open cases, overdue first
	Direct bool       // ack: the case went straight to the supplier (S2)
	// Comment is a hand-over's internal comment (the text under #escalate,
	// #assign, #tier, #consult, #supplier), for whoever receives the case.
	Comment string
	// Transfer is how the case moved to the recipient: escalate, breach,
	// tier, assign ("" for a new case).
	Transfer string
	// Move is where a transfer took the case from and to, worded by the
	// templates in the recipient's language (nil: no transfer).
	Move   *MoveView
	Digest DigestView
}

// LoadTemplates parses the embedded templates and, when overrideDir is
// not empty, the files in it (same layout: LANG/KIND.tmpl; a file there
// replaces the embedded one, a new LANG directory adds a language). Every
// template is parsed and trial-executed now, so a bad override is an error
// naming its file and line at start, never a failed mail later.
func LoadTemplates(overrideDir string) (*Templates, error) {
	files := map[string]map[string]source{} // lang → file name → source
	embedded, err := fs.Sub(embeddedTemplates, "templates")
	if err != nil {
		return nil, err
	}
	if err := collectTemplates(files, embedded, "templates"); err != nil {
		return nil, err
	}
	if overrideDir != "" {
		st, err := os.Stat(overrideDir)
		if err != nil {
			return nil, fmt.Errorf("reading templates directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("templates: %s is not a directory", overrideDir)
		}
		if err := collectTemplates(files, os.DirFS(overrideDir), overrideDir); err != nil {
			return nil, err
		}
	}

	layout, err := loadLayout(overrideDir)
	if err != nil {
		return nil, err
	}
	t := &Templates{sets: map[string]map[string]*templateSet{}}
	for lang, byName := range files {
		funcs := templateFuncs(lang)
		common := byName[commonFile]
		for name, src := range byName {
			if name == commonFile {
				continue
			}
			kind := strings.TrimSuffix(name, ".tmpl")
			set, err := parseSet(src, common, funcs)
			if err != nil {
				return nil, err
			}
			set.layout, set.lang, t.layout = layout, lang, layout
			if t.sets[lang] == nil {
				t.sets[lang] = map[string]*templateSet{}
			}
			t.sets[lang][kind] = set
		}
	}
	for _, kind := range Kinds {
		if _, ok := t.sets[DefaultLanguage][kind]; !ok {
			return nil, fmt.Errorf("templates: no %s/%s.tmpl (every kind needs an English fallback)", DefaultLanguage, kind)
		}
	}
	return t, nil
}

type source struct {
	display string // path shown in errors
	content string
}

func collectTemplates(into map[string]map[string]source, fsys fs.FS, display string) error {
	langs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("reading templates %s: %w", display, err)
	}
	for _, l := range langs {
		if !l.IsDir() || strings.HasPrefix(l.Name(), ".") {
			continue
		}
		lang := l.Name()
		entries, err := fs.ReadDir(fsys, lang)
		if err != nil {
			return fmt.Errorf("reading templates %s: %w", filepath.Join(display, lang), err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
				continue
			}
			data, err := fs.ReadFile(fsys, path.Join(lang, e.Name()))
			if err != nil {
				return fmt.Errorf("reading template %s: %w", filepath.Join(display, lang, e.Name()), err)
			}
			if into[lang] == nil {
				into[lang] = map[string]source{}
			}
			into[lang][e.Name()] = source{display: filepath.Join(display, lang, e.Name()), content: string(data)}
		}
	}
	return nil
}

func parseSet(src, common source, funcs template.FuncMap) (*templateSet, error) {
	// The root gets a name of its own: html/template loses the definitions
	// of a file parsed with New(root's name).
	text := template.New("casemail").Funcs(funcs).Option("missingkey=error")
	if common.content != "" {
		if _, err := text.New(common.display).Parse(common.content); err != nil {
			return nil, fmt.Errorf("parsing template: %w", err)
		}
	}
	if _, err := text.New(src.display).Parse(src.content); err != nil {
		return nil, fmt.Errorf("parsing template: %w", err)
	}
	for _, name := range []string{"subject", "text"} {
		if text.Lookup(name) == nil {
			return nil, fmt.Errorf("template %s: defines no %q", src.display, name)
		}
	}
	set := &templateSet{name: src.display, text: text}
	if text.Lookup("html") != nil {
		// HTML is parsed a second time with html/template so that case
		// content is escaped in it.
		h := htmltemplate.New("casemail").Funcs(htmltemplate.FuncMap(funcs)).Option("missingkey=error")
		if common.content != "" {
			if _, err := h.New(common.display).Parse(common.content); err != nil {
				return nil, fmt.Errorf("parsing template: %w", err)
			}
		}
		if _, err := h.New(src.display).Parse(src.content); err != nil {
			return nil, fmt.Errorf("parsing template: %w", err)
		}
		set.html = h
	}
	// Trial run with empty and with filled data: catches unknown fields and
	// bad calls at load time.
	for _, data := range []Data{{}, sampleData()} {
		if _, _, _, err := set.execute(data, false); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (s *templateSet) execute(data any, layout bool) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err := s.text.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", fmt.Errorf("rendering subject: %w", err)
	}
	subject = SanitizeHeader(b.String())
	b.Reset()
	if err := s.text.ExecuteTemplate(&b, "text", data); err != nil {
		return "", "", "", fmt.Errorf("rendering text: %w", err)
	}
	text = tidyText(b.String())
	if s.html != nil {
		b.Reset()
		if err := s.html.ExecuteTemplate(&b, "html", data); err != nil {
			return "", "", "", fmt.Errorf("rendering html: %w", err)
		}
		html = b.String()
	} else if s.layout != nil && layout {
		if html, err = renderLayout(s.layout, s.lang, subject, text); err != nil {
			return "", "", "", err
		}
	}
	return subject, text, html, nil
}

// Render executes the kind's template in lang (normalised with
// Language; English when the language or the kind in it is missing).
// The subject is a single sanitised line; html is "" when the template
// defines none. data is normally a Data.
func (t *Templates) Render(kind, lang string, data any) (subject, text, html string, err error) {
	return t.render(kind, lang, data, true)
}

// RenderQueued is Render for the outbox: the HTML part of a kind laid out
// by layout.html from its text part is left "" here, and the Sender lays
// it out when it sends the mail (LayoutHTML), so that the transaction that
// queues a mail does not pay for it. A kind with an html block of its own
// is rendered now.
func (t *Templates) RenderQueued(kind, lang string, data any) (subject, text, html string, err error) {
	return t.render(kind, lang, data, false)
}

// LayoutHTML lays out the text part of a mail as its HTML part.
func (t *Templates) LayoutHTML(lang, subject, text string) (string, error) {
	if t.layout == nil {
		return "", nil
	}
	return renderLayout(t.layout, Language(lang), subject, text)
}

func (t *Templates) render(kind, lang string, data any, layout bool) (subject, text, html string, err error) {
	set := t.sets[Language(lang)][kind]
	if set == nil {
		set = t.sets[DefaultLanguage][kind]
	}
	if set == nil {
		return "", "", "", fmt.Errorf("rendering %s mail: %w", kind, ErrNoTemplate)
	}
	if d, ok := data.(Data); ok {
		data = d.localized(Language(lang))
	}
	subject, text, html, err = set.execute(data, layout)
	if err != nil {
		return "", "", "", fmt.Errorf("rendering %s mail (%s): %w", kind, set.name, err)
	}
	return subject, text, html, nil
}

// Has reports whether there are templates in lang.
func (t *Templates) Has(lang string) bool { return t.sets[lang] != nil }

// Languages lists the languages that have templates.
func (t *Templates) Languages() []string {
	var langs []string
	for l := range t.sets {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	return langs
}

// Language picks the language of a mail: the first non-empty candidate
// (recipient's, unit's, mailbox default, config default), normalised
// ("sv-SE" → "sv", "no"/"nn" → "nb"), else English.
func Language(candidates ...string) string {
	for _, c := range candidates {
		c = strings.ToLower(strings.TrimSpace(c))
		if i := strings.IndexAny(c, "-_"); i >= 0 {
			c = c[:i]
		}
		switch c {
		case "":
			continue
		case "no", "nn", "nob", "nno":
			return "nb"
		case "swe":
			return "sv"
		case "eng":
			return "en"
		}
		return c
	}
	return DefaultLanguage
}

var (
	// replyPrefix matches one reply prefix as mail clients write them in
	// English, German, the Nordic languages and Dutch, including counted
	// forms like "Re[2]:" and full-width colons.
	replyPrefix = regexp.MustCompile(`(?i)^(re|sv|aw|vs|antw|odp|ynt)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*`)
)

// Tag returns the subject with the case tag in front: "[#1042] subject".
// Tags of this case already in it and leading reply prefixes (Re:, SV:,
// AW:, VS:, …) are removed first, so tagging is idempotent. The result is
// a single line safe for a header.
func Tag(number int64, subject string) string {
	tag := "[#" + strconv.FormatInt(number, 10) + "]"
	s := SanitizeHeader(subject)
	s = strings.ReplaceAll(s, tag, " ")
	s = collapseSpaces(s)
	for {
		s = strings.TrimSpace(s)
		loc := replyPrefix.FindStringIndex(s)
		if loc == nil {
			break
		}
		s = s[loc[1]:]
	}
	if s == "" {
		return tag
	}
	return tag + " " + s
}

// maxHeaderRunes bounds a sanitised header value; a longer subject is cut.
const maxHeaderRunes = 400

// SanitizeHeader makes s safe for a header: every control character
// (CR and LF above all) becomes a space, runs of white space collapse, and
// the result is trimmed and at most 400 characters long. Use it on
// anything from mail content or config that reaches a header.
func SanitizeHeader(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.TrimSpace(collapseSpaces(s))
	if utf8.RuneCountInString(s) > maxHeaderRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxHeaderRunes]))
	}
	return s
}

// collapseSpaces turns every control character and line or paragraph
// separator into a space and every run of spaces into one. (It runs for
// every subject rendered: a hand loop, not a regexp.)
func collapseSpaces(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FormatAddress returns a header address "Name <addr>" with the name
// sanitised and encoded as needed; just the address when name is empty.
func FormatAddress(name, addr string) string {
	a := mail.Address{Name: SanitizeHeader(name), Address: SanitizeHeader(addr)}
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// tidyText normalises a rendered body: no trailing spaces, at most one
// blank line in a row, a single final newline. Templates can then be
// written for readability.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := true // drops leading blank lines
	for _, l := range lines {
		if l != "-- " { // the signature delimiter keeps its space
			l = strings.TrimRight(l, " \t")
		}
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

func templateFuncs(lang string) template.FuncMap {
	lookup := func(kind, key string) string { return wordIn(lang, kind, key) }
	return template.FuncMap{
		"tag":      Tag,
		"size":     humanSize,
		"role":     func(id string) string { return lookup("role", id) },
		"status":   func(s string) string { return lookup("status", s) },
		"priority": func(p string) string { return lookup("priority", p) },
		"due":      func(k string) string { return lookup("due", k) },
		"histkind": func(k string) string { return lookup("history", k) },
		"movekind": func(k string) string { return lookup("move", k) },
		"stepkind": func(k string) string { return lookup("step", k) },
		"result":   func(r string) string { return lookup("result", r) },
		"say":      func(p Phrase) string { return p.In(lang) },
		"span":     func(s *Span) string { return s.In(lang) },
		"when":     formatTime,
		"join":     strings.Join,
		"indent":   indent,
		"header":   SanitizeHeader,
	}
}

// words translates the fixed vocabulary of roles, statuses and priorities.
// Roles not listed show their id with underscores as spaces.
var words = map[string]map[string]string{
	"en": {
		"move.escalate": "escalated", "move.breach": "SLA breached", "move.tier": "moved", "move.assign": "handed over",
		"move.top":           "at the top of its chain: the support manager is told, the case stays",
		"move.nobody":        "nobody available on that level: unassigned",
		"due.first_response": "first response", "due.resolution": "resolution",
		"span.day": "day", "span.days": "days", "span.h": "h", "span.min": "min",
		"history.in": "from the requester's side", "history.reply": "public answer", "history.note": "internal note",
		"history.supplier": "supplier's answer", "history.event": "event",
		"role.superuser": "superuser", "role.coordinator": "coordinator",
		"role.system_responsible": "system responsible", "role.system_owner": "system owner",
		"role.central_support": "central support", "role.support_manager": "support manager",
		"role.expert": "expert group",
		"status.new":  "new", "status.open": "open", "status.waiting": "waiting",
		"status.resolved": "resolved", "status.closed": "closed", "status.dropped": "dropped",
		"priority.low": "low", "priority.normal": "normal", "priority.high": "high", "priority.urgent": "urgent",
		"step.rule": "rule", "step.unit": "unit", "step.service": "service", "step.rung": "rung",
		"step.assignee": "assignee", "step.drop": "drop",
		"result.round_robin": "round robin", "result.least_open": "fewest open cases",
	},
	"sv": {
		"move.escalate": "eskalerat", "move.breach": "SLA-fristen passerad", "move.tier": "flyttat", "move.assign": "överlämnat",
		"move.top":           "redan på den högsta nivån: supportansvarig får veta, ärendet ligger kvar",
		"move.nobody":        "ingen ledig på den nivån: inte tilldelat",
		"due.first_response": "första svar", "due.resolution": "lösning",
		"span.day": "dag", "span.days": "dagar", "span.h": "tim", "span.min": "min",
		"history.in": "från anmälarens sida", "history.reply": "svar till anmälaren", "history.note": "intern anteckning",
		"history.supplier": "leverantörens svar", "history.event": "händelse",
		"role.superuser": "superanvändare", "role.coordinator": "samordnare",
		"role.system_responsible": "systemansvarig", "role.system_owner": "systemägare",
		"role.central_support": "central support", "role.support_manager": "supportansvarig",
		"role.expert": "expertgrupp",
		"status.new":  "ny", "status.open": "pågående", "status.waiting": "väntar",
		"status.resolved": "löst", "status.closed": "stängd", "status.dropped": "avvisad",
		"priority.low": "låg", "priority.normal": "normal", "priority.high": "hög", "priority.urgent": "akut",
		"step.rule": "regel", "step.unit": "enhet", "step.service": "tjänst", "step.rung": "steg",
		"step.assignee": "handläggare", "step.drop": "avvisning",
		"result.matched": "träffade", "result.no match": "träffade inte", "result.stop": "stopp",
		"result.set by rule": "satt av regel", "result.member": "medlem", "result.domain": "domän", "result.none": "ingen",
		"result.proposed": "föreslagen", "result.dropped": "avvisat", "result.no such tier": "nivån finns inte",
		"result.no holder": "ingen rollinnehavare", "result.unassigned": "inte tilldelat",
		"result.owner of record": "ansvarig ägare", "result.moved": "flyttat", "result.rule": "utsedd av regel",
		"result.direct": "direkt", "result.alias": "alias", "result.keyword": "nyckelord",
		"result.mailbox default": "brevlådans standard", "result.unknown": "okänd", "result.default": "standard",
		"result.start": "start", "result.skipped": "hoppades över", "result.only": "ende kandidaten",
		"result.first": "först i listan", "result.round_robin": "turordning", "result.least_open": "minst antal öppna ärenden",
	},
	"nb": {
		"move.escalate": "eskalert", "move.breach": "SLA-fristen overskredet", "move.tier": "flyttet", "move.assign": "overlevert",
		"move.top":           "allerede på det høyeste nivået: brukerstøtteansvarlig får beskjed, saken blir liggende",
		"move.nobody":        "ingen ledig på det nivået: ikke tildelt",
		"due.first_response": "første svar", "due.resolution": "løsning",
		"span.day": "dag", "span.days": "dager", "span.h": "t", "span.min": "min",
		"history.in": "fra innmelders side", "history.reply": "svar til innmelder", "history.note": "internt notat",
		"history.supplier": "leverandørens svar", "history.event": "hendelse",
		"role.superuser": "superbruker", "role.coordinator": "koordinator",
		"role.system_responsible": "systemansvarlig", "role.system_owner": "systemeier",
		"role.central_support": "sentral brukerstøtte", "role.support_manager": "brukerstøtteansvarlig",
		"role.expert": "ekspertgruppe",
		"status.new":  "ny", "status.open": "under arbeid", "status.waiting": "venter",
		"status.resolved": "løst", "status.closed": "lukket", "status.dropped": "avvist",
		"priority.low": "lav", "priority.normal": "normal", "priority.high": "høy", "priority.urgent": "akutt",
		"step.rule": "regel", "step.unit": "enhet", "step.service": "tjeneste", "step.rung": "trinn",
		"step.assignee": "saksbehandler", "step.drop": "avvisning",
		"result.matched": "traff", "result.no match": "traff ikke", "result.stop": "stopp",
		"result.set by rule": "satt av regel", "result.member": "medlem", "result.domain": "domene", "result.none": "ingen",
		"result.proposed": "foreslått", "result.dropped": "avvist", "result.no such tier": "nivået finnes ikke",
		"result.no holder": "ingen rolleinnehaver", "result.unassigned": "ikke tildelt",
		"result.owner of record": "ansvarlig eier", "result.moved": "flyttet", "result.rule": "utpekt av regel",
		"result.direct": "direkte", "result.alias": "alias", "result.keyword": "nøkkelord",
		"result.mailbox default": "postkassens standard", "result.unknown": "ukjent", "result.default": "standard",
		"result.start": "start", "result.skipped": "hoppet over", "result.only": "eneste kandidat",
		"result.first": "først i listen", "result.round_robin": "etter tur", "result.least_open": "færrest åpne saker",
	},
}

// formatTime shows a time to the minute in its own location, with the
// zone (CET, CEST, UTC) so that no reader has to guess; "" for zero.
// The CLI shows times the same way (TimeLayout).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(TimeLayout)
}

// TimeLayout is how casemail shows a time, in mails and on the CLI.
const TimeLayout = "2006-01-02 15:04 MST"

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 {
		return fmt.Sprintf("%.0f %cB", v, "kMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTPE"[exp])
}

func indent(prefix, s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// sampleData fills every field, so a trial run reaches every branch a
// template is likely to take.
func sampleData() Data {
	c := CaseView{
		Number: 1042, Subject: "Skrivaren fungerar inte", Service: "printing", ServiceName: "Printing",
		Tier: "1", Role: "superuser", Unit: "Bryne skole", Priority: "high", Status: "open",
		Requester: "ola@example.no", RequesterName: "Ola Nordmann", Assignee: "Anna Berg",
		Created: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Due: time.Date(2026, 3, 2, 13, 30, 0, 0, time.UTC), Routine: "https://intranet.example.org/routines/printing",
		Route: sampleRoute(), Overdue: true, DueKind: DueFirstResponse,
		History: []HistoryEntry{{At: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), Kind: "note", From: "Anna Berg",
			Text: "Ringt Ola.", Attachments: []AttachmentView{{Name: "logg.txt", Size: 120}}},
			{At: time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC), Kind: "event", From: "Anna Berg",
				Move: &MoveView{Kind: "escalate", From: RungView{Tier: "1", Role: "superuser", Holder: "Anna Berg"},
					To: RungView{Tier: "2", Role: "coordinator", Holder: "Per Dahl"}},
				Event: Phrase{Format: "reason: %s", Args: []any{"Trenger koordinator"}}},
			{At: time.Date(2026, 3, 2, 10, 6, 0, 0, time.UTC), Kind: "event", From: "Per Dahl",
				Event: Phrase{Format: "status %s → %s: %s", Args: []any{Word{Kind: "status", Key: "open"}, Word{Kind: "status", Key: "waiting"},
					Phrase{Format: "waiting until %s", Args: []any{"2026-03-04 10:00"}}}}}}, HistoryLeft: 2,
		Supplier: "Qm+ vendor", SupplierRef: "INC0012345", SupplierDue: time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC),
		SupplierOverdue: true, Reminders: 2,
		Message: MessageView{From: "ola@example.no", FromName: "Ola Nordmann", Text: "Hei,\nskriveren virker ikke.",
			Attachments: []AttachmentView{{Name: "bilde.png", Type: "image/png", Size: 123456}, {Name: "big.zip", Size: 90 << 20, Omitted: true}}},
	}
	return Data{
		Helpdesk:  "Helpdesk",
		Recipient: Recipient{Name: "Anna Berg", Address: "anna@example.org", Language: "sv"},
		Case:      c,
		Actor:     "Per Dahl", Reason: "no answer within 4h", Errors: []string{"#frobnicate: unknown command"},
		Consult: true, Escalated: true, Expired: true, Direct: true, Unverified: "it came with only the case tag",
		Joined: []string{"kari@example.no"}, Comment: "Per, kan du se på dette?", Transfer: "escalate",
		Move: &MoveView{Kind: "escalate", From: RungView{Tier: "1", Role: "superuser", Holder: "Anna Berg"},
			To: RungView{Tier: "2", Role: "coordinator", Holder: "Per Dahl"}},
		Cases: []CaseView{c},
		Digest: DigestView{Period: "2026-03-02 – 2026-03-08", Scope: "Bryne skole", Opened: 3, Resolved: 2, Open: 4,
			Transfers: 1, Dropped: 1, Overdue: []CaseView{c}, Unassigned: []CaseView{c}, DroppedCases: []CaseView{c},
			Breakdowns: []DigestBreakdown{{Kind: "unit", Rows: []DigestRow{{Name: "Bryne skole", Opened: 3, Resolved: 2, Open: 4}}},
				{Kind: "service", Rows: []DigestRow{{Name: "Printing", Opened: 3}}}, {Kind: "tier", Rows: []DigestRow{{Name: "1", Open: 4}}}},
			TierMoves: []DigestRow{{Name: "1 → 2", Open: 1}}, SLAMet: 2, SLABreached: 1, MedianFirstResponse: &Span{Clock: 2*time.Hour + 15*time.Minute},
			Oldest: []CaseView{c}, SupplierWaits: []CaseView{c}},
	}
}

// sampleRoute is a routing decision with a step of every shape.
func sampleRoute() *RouteView {
	rung := &RungView{N: 1, Of: 4, Tier: "1", Role: "superuser"}
	return &RouteView{Service: "printing", ServiceName: "Printing", Original: "printers", Proposed: true,
		Unit: "bryne", WorkArea: "schools", Rung: rung, Holders: []string{"anna", "per"}, Assignee: "anna",
		Strategy: "round_robin", Priority: "high", Tags: []string{"skrivare"}, Unlisted: 12,
		Steps: []TrailStep{
			{Kind: "rule", Name: "printing", Result: "matched", Cond: "subject contains skrivar"},
			{Kind: "rule", Name: "printing", Result: "stop", Why: Phrase{"stop: true; %d later rule(s) not considered", []any{3}}},
			{Kind: "unit", Name: "bryne", Result: "domain", Why: Phrase{"sender domain %s belongs to the unit", []any{"bryne.example.no"}}},
			{Kind: "service", Name: "printing", Result: "set by rule", Why: Phrase{"rule %q", []any{"printing"}}},
			{Kind: "rung", At: &RungView{N: 2, Of: 4, Tier: "2", Role: "coordinator"}, Result: "skipped",
				Why: Phrase{"nobody holds %s for unit %s", []any{RoleRef{ID: "coordinator"}, "bryne"}}},
			{Kind: "rung", At: rung, Result: "start", Why: Phrase{"held by %s", []any{"anna, per"}}},
			{Kind: "assignee", Name: "anna", Result: "round_robin", Why: Phrase{"among %s", []any{"anna, per"}}},
		}}
}

// ErrNoTemplate is returned by Render for a kind without any template.
var ErrNoTemplate = errors.New("no such template")
