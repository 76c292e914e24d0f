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
		v.ServiceName, v.Routine = svc.Name, svc.Routine
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
	if s := rules.Supplier(c.Supplier); s != nil {
		v.Supplier = s.Name
	}
	if due := nextDue(c); due != nil {
		v.Due = due.In(loc)
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

// nextDue is the due time a case is measured against now: the first
// response until there is one, then the resolution.
func nextDue(c *store.Case) *time.Time {
	if c.FirstResponse == nil && c.FirstResponseD != nil {
		return c.FirstResponseD
	}
	return c.ResolutionDue
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

// RecipientLanguage is the language of a mail (DESIGN.md): the
// recipient's own, else their unit's, else the default of the mailbox
// named, else casemail.yaml's language.
func (m *Mailer) RecipientLanguage(own, unitLang, mailbox string) string {
	var mbLang, cfgLang string
	if mailbox != "" {
		if mb := m.mailbox(mailbox); mb != nil {
			mbLang = mb.Defaults.Language
		}
	}
	if m.Config != nil {
		cfgLang = m.Config.Language
	}
	return Language(own, unitLang, mbLang, cfgLang)
}

// CaseLanguage is the language of a case's requester side: the language
// stored with the case at intake, else by RecipientLanguage.
func (m *Mailer) CaseLanguage(c *store.Case) string {
	return m.RecipientLanguage(c.Language, "", c.Mailbox)
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

// ActorName is how the person who did something is named in a mail.
func ActorName(rules *config.Rules, actor string) string {
	if p := rules.Person(actor); p != nil {
		return p.Name
	}
	return actor
}
