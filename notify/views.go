package notify

import (
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// The one place a case becomes template data, and the one rule for the
// language of a mail: every caller (case work, reminders, digests, alerts)
// goes through these.

// CaseView is a stored case as templates show it, dates in the case's zone.
// Callers add what only they know: the routing trail, the message shown.
func (m *Mailer) CaseView(rules *config.Rules, c *store.Case, now time.Time) CaseView {
	loc := m.Zone(rules, c.Unit)
	v := CaseView{Number: c.Number, Subject: c.Subject, Service: c.Service, Tier: c.Tier, Role: c.Role,
		Unit: c.Unit, Priority: c.Priority, Status: string(c.Status), Requester: c.Requester,
		RequesterName: c.RequesterName, Created: c.CreatedAt.In(loc)}
	if svc := rules.Service(c.Service); svc != nil {
		v.ServiceName, v.Routine, v.ServiceNames = svc.Name, svc.Routine, svc.Names
	} else {
		v.ServiceName = c.Service
	}
	if u := rules.Unit(c.Unit); u != nil {
		v.Unit = u.Name
	}
	if p := rules.Person(c.Assignee); p != nil {
		v.Assignee = p.Name
	} else if s := rules.Supplier(c.Supplier); s != nil && c.Assignee == "" {
		v.Assignee = s.Name
	}
	if r := rules.Role(c.Role); r != nil {
		v.RoleNames = r.Names
	}
	if s := rules.Supplier(c.Supplier); s != nil {
		v.Supplier = s.Name
	}
	if due, kind := NextDue(c); due != nil {
		v.Due, v.DueKind = due.In(loc), kind
		v.Overdue = due.Before(now)
	}
	return v
}

// AddForward adds a case's forward to its supplier to its view: the
// supplier, their reference, when their answer is due and whether that is
// past, and the reminders they got. f may be nil.
func (m *Mailer) AddForward(v *CaseView, rules *config.Rules, c *store.Case, f *store.SupplierForward, now time.Time) {
	if f == nil {
		return
	}
	v.Supplier = f.Supplier
	if s := rules.Supplier(f.Supplier); s != nil {
		v.Supplier = s.Name
	}
	v.SupplierRef, v.Reminders = f.Reference, f.Reminders
	if f.ResponseDue != nil {
		v.SupplierDue = f.ResponseDue.In(m.Zone(rules, c.Unit))
		v.SupplierOverdue = f.Overdue(now)
	}
}

// OpeningView is the requester's first mail as notices show it: its new
// text (all of it when nothing was new) and its attachments, those not
// kept marked as omitted.
func OpeningView(opening *store.ThreadMessage) MessageView {
	if opening == nil {
		return MessageView{}
	}
	text := opening.NewText
	if strings.TrimSpace(text) == "" {
		text = opening.Text
	}
	v := MessageView{From: opening.From, FromName: opening.FromName, Text: text}
	for _, a := range opening.Attachments {
		v.Attachments = append(v.Attachments, AttachmentView{Name: a.Filename, Type: a.ContentType,
			Size: a.Size, Omitted: a.SHA256 == nil})
	}
	return v
}

// NextDue is the due time a case is measured against now, and which
// deadline it is: the first response until there is one, then the
// resolution. Mails and the CLI both name the deadline they show.
func NextDue(c *store.Case) (*time.Time, string) {
	if c.FirstResponse == nil && c.FirstResponseD != nil {
		return c.FirstResponseD, DueFirstResponse
	}
	if c.ResolutionDue == nil {
		return nil, ""
	}
	return c.ResolutionDue, DueResolution
}

// Zone is where dates in a mail about a unit are shown. Units have no
// calendar of their own in rules.yaml yet, so it is casemail.yaml's
// timezone; this is the one place to change when they do.
func (m *Mailer) Zone(_ *config.Rules, _ string) *time.Location {
	if m.Config != nil && m.Config.Location != nil {
		return m.Config.Location
	}
	return time.UTC
}

// RecipientLanguage is the one rule for the language of a mail: the
// recipient's own stored language (rules.yaml's people, the case's), else
// the language of their own last mail (Content-Language, else detected
// from its text; see mailparse.Message.Language) when there are templates
// in it, else their unit's, else the default of the mailbox named, else
// casemail.yaml's language.
func (m *Mailer) RecipientLanguage(own, written, unitLang, mailbox string) string {
	var mbLang, cfgLang string
	if mailbox != "" {
		if mb := m.mailbox(mailbox); mb != nil {
			mbLang = mb.Defaults.Language
		}
	}
	if m.Config != nil {
		cfgLang = m.Config.Language
	}
	return Language(own, m.WrittenLanguage(written), unitLang, mbLang, cfgLang)
}

// WrittenLanguage is the language to answer a mail written in lang: lang
// when there are templates in it, Danish readers in Norwegian, else ""
// (Finnish, say: the unit's or the mailbox's language then).
func (m *Mailer) WrittenLanguage(lang string) string {
	if lang == "" {
		return ""
	}
	l := Language(lang)
	if l == "da" {
		l = "nb"
	}
	if m.Templates != nil && m.Templates.Has(l) {
		return l
	}
	if m.Templates == nil && (l == "sv" || l == "nb" || l == "en") {
		return l
	}
	return ""
}

// CaseLanguage is the language of a case's requester side: the language
// stored with the case (set at intake by RecipientLanguage, and again
// when the requester writes in another), else by RecipientLanguage.
func (m *Mailer) CaseLanguage(c *store.Case) string {
	return m.RecipientLanguage(c.Language, "", "", c.Mailbox)
}

// PersonRecipient addresses p about case c: their language, else the
// case's unit's, else the case's own.
func (m *Mailer) PersonRecipient(rules *config.Rules, c *store.Case, p *config.Person) Recipient {
	var unitLang string
	if u := rules.Unit(c.Unit); u != nil {
		unitLang = u.Language
	}
	return Recipient{Name: p.Name, Address: p.Email, Language: Language(p.Language, unitLang, m.CaseLanguage(c))}
}

// ActorName is how a mail names a person of rules.yaml (who did
// something, who holds a role): by name, else by id; any other actor (an
// address) as it is.
func ActorName(rules *config.Rules, actor string) string {
	if p := rules.Person(actor); p != nil && p.Name != "" {
		return p.Name
	}
	return actor
}

// localized gives the case views of d rules.yaml's names of their role
// and service in lang, where the rules name them in it.
func (d Data) localized(lang string) Data {
	d.Case = d.Case.localized(lang)
	if d.Move != nil {
		m := *d.Move
		m.From, m.To = m.From.localized(lang), m.To.localized(lang)
		d.Move = &m
	}
	if len(d.Cases) > 0 {
		cs := make([]CaseView, len(d.Cases))
		for i, c := range d.Cases {
			cs[i] = c.localized(lang)
		}
		d.Cases = cs
	}
	return d
}

func (v CaseView) localized(lang string) CaseView {
	if n := v.ServiceNames[lang]; n != "" {
		v.ServiceName = n
	}
	if n := v.RoleNames[lang]; n != "" {
		v.RoleName = n
	}
	if v.Route != nil {
		v.Route = v.Route.localized(lang)
	}
	if len(v.History) > 0 {
		h := make([]HistoryEntry, len(v.History))
		for i, e := range v.History {
			if e.Move != nil {
				m := *e.Move
				m.From, m.To = m.From.localized(lang), m.To.localized(lang)
				e.Move = &m
			}
			h[i] = e
		}
		v.History = h
	}
	return v
}

func (r *RouteView) localized(lang string) *RouteView {
	c := *r
	if n := c.ServiceNames[lang]; n != "" {
		c.ServiceName = n
	}
	if c.Rung != nil {
		at := c.Rung.localized(lang)
		c.Rung = &at
	}
	c.Steps = make([]TrailStep, len(r.Steps))
	for i, s := range r.Steps {
		if s.At != nil {
			at := s.At.localized(lang)
			s.At = &at
		}
		c.Steps[i] = s
	}
	return &c
}

func (v RungView) localized(lang string) RungView {
	v.RoleName = v.RoleNames[lang]
	return v
}
