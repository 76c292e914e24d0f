package notify

import (
	"context"
	"fmt"
	"net/mail"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Mailer queues the mail casemail sends about a case. It is the one path
// for every kind (acknowledgement, notices, replies, escalations): each
// mail is rendered for one recipient in their language, carries that
// recipient's reply token in its Reply-To and Message-ID, and is written to
// the outbox in the caller's transaction, with an event on the case.
type Mailer struct {
	Config    *config.Daemon
	Keys      *Keys
	Templates *Templates
}

// CaseMail is one mail about a case to one person.
type CaseMail struct {
	Case *store.Case
	Kind string // KindAck, KindAssignment, …
	To   Recipient
	// Data is the template data; its Recipient is set from To.
	Data Data
	// Mailbox is the helpdesk mailbox replies come back to; nil means the
	// case's own.
	Mailbox *config.Mailbox
	// AutoSubmitted is the Auto-Submitted value: auto-replied for
	// acknowledgements, auto-generated (the default) for the rest.
	AutoSubmitted string
	InReplyTo     string
	References    []string
	Attachments   []store.OutAttachment
	// Via is the name of the person the mail speaks for: it then comes
	// from "Via via Helpdesk" at the helpdesk's own address.
	Via string
}

// Queue renders and queues cm and records a mail-queued event. It returns
// the Message-ID, without angle brackets.
func (m *Mailer) Queue(ctx context.Context, e store.Execer, cm CaseMail, now time.Time) (string, error) {
	c := cm.Case
	mb := cm.Mailbox
	if mb == nil {
		mb = m.mailbox(c.Mailbox)
	}
	if mb == nil {
		return "", fmt.Errorf("case %d: no mailbox %q to send from", c.Number, c.Mailbox)
	}
	data := cm.Data
	data.Recipient = cm.To
	subject, text, html, err := m.Templates.RenderQueued(cm.Kind, cm.To.Language, data)
	if err != nil {
		return "", fmt.Errorf("rendering %s for case %d: %w", cm.Kind, c.Number, err)
	}
	tok := m.Keys.Sign(c.Number, cm.To.Address, now.Add(time.Duration(m.Config.TokenTTL)))
	auto := cm.AutoSubmitted
	if auto == "" {
		auto = "auto-generated"
	}
	om := store.OutMail{
		CaseID: c.ID, Kind: cm.Kind, MessageID: NewMessageID(tok, DomainOf(mb.Address)),
		From: ViaFrom(m.Config.SMTP.From, cm.Via), ReplyTo: ReplyAddress(mb.Address, tok),
		To: []string{FormatAddress(cm.To.Name, cm.To.Address)}, Subject: subject, Text: text, HTML: html,
		InReplyTo: cm.InReplyTo, References: cm.References, Attachments: cm.Attachments,
		Headers:   map[string]string{"Auto-Submitted": auto, "Content-Language": Language(cm.To.Language)},
		Recipient: cm.To.Address,
	}
	if err := store.QueueMail(ctx, e, om); err != nil {
		return "", err
	}
	err = store.AddEvent(ctx, e, c.ID, now, "", "mail-queued", cm.Kind+" to "+cm.To.Address,
		map[string]any{"kind": cm.Kind, "to": cm.To.Address, "message_id": om.MessageID})
	return om.MessageID, err
}

// ViaFrom returns the From header of a mail sent for a person: the
// helpdesk's address with "NAME via HELPDESK" as display name (HELPDESK
// being from's display name, "Helpdesk" when it has none). An empty name
// or an unparsable from returns from unchanged.
func ViaFrom(from, name string) string {
	name = SanitizeHeader(name)
	if name == "" {
		return from
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return from
	}
	desk := a.Name
	if desk == "" {
		desk = "Helpdesk"
	}
	return FormatAddress(name+" via "+desk, a.Address)
}

func (m *Mailer) mailbox(name string) *config.Mailbox {
	for i := range m.Config.Mailboxes {
		if m.Config.Mailboxes[i].Name == name {
			return &m.Config.Mailboxes[i]
		}
	}
	if len(m.Config.Mailboxes) > 0 {
		return &m.Config.Mailboxes[0]
	}
	return nil
}
