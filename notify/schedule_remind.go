package notify

import (
	"context"
	"crypto/sha256"
	"net/mail"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// maxReminderCases bounds the cases listed in one reminder.
const maxReminderCases = 200

// ReminderJob is the reminders job, on schedule.reminders.
func (m *Mailer) ReminderJob() Job {
	return Job{Name: JobReminders, Spec: func(r *config.Rules) string { return r.Schedule.Reminders },
		Run: func(ctx context.Context, tx pgx.Tx, rules *config.Rules, _ *time.Time, now time.Time) (any, error) {
			return nil, m.Remind(ctx, tx, rules, now)
		}}
}

// Remind sends each person with open cases one reminder listing them,
// overdue first. Cases without an assignee go to the coordinator of their
// unit's work area, else the support manager.
func (m *Mailer) Remind(ctx context.Context, tx pgx.Tx, rules *config.Rules, now time.Time) error {
	cases, err := store.OpenCases(ctx, tx)
	if err != nil {
		return err
	}
	type pile struct {
		person *config.Person
		cases  []store.ReminderCase
	}
	piles := map[string]*pile{}
	var order []string
	for _, rc := range cases {
		for _, p := range rules.Owners(rc.Case.Assignee, rc.Case.Unit) {
			pl := piles[p.ID]
			if pl == nil {
				pl = &pile{person: p}
				piles[p.ID] = pl
				order = append(order, p.ID)
			}
			pl.cases = append(pl.cases, rc)
		}
	}
	sort.Strings(order)
	for _, id := range order {
		pl := piles[id]
		// Overdue first (most overdue first), then by due time, then the rest
		// oldest first: the order OpenCases gives per assignee, merged here
		// for people who also get unassigned cases.
		sort.SliceStable(pl.cases, func(i, j int) bool { return remindBefore(pl.cases[i], pl.cases[j]) })
		rcp := Recipient{Name: pl.person.Name, Address: pl.person.Email, Language: m.RecipientLanguage(pl.person.Language, "", "", "")}
		if _, err := m.queuePlain(ctx, tx, KindReminder, rcp, Data{Cases: m.dueViews(rules, pl.cases, now)}, "", ""); err != nil {
			return err
		}
	}
	return nil
}

func remindBefore(a, b store.ReminderCase) bool {
	switch {
	case a.Due != nil && b.Due != nil && !a.Due.Equal(*b.Due):
		return a.Due.Before(*b.Due)
	case (a.Due == nil) != (b.Due == nil):
		return a.Due != nil
	case !a.CreatedAt.Equal(b.CreatedAt):
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Number < b.Number
}

// QueueOwnCases mails p their open cases, overdue first (OwnCases), in
// reply to inReplyTo ("" for none): the answer to a mail to a mine
// address. It goes to to, which the caller makes p's own address in
// rules.yaml. The answer's Message-ID is id (OwnCasesID): when the outbox
// holds it already, nothing is queued and queued is false.
func (m *Mailer) QueueOwnCases(ctx context.Context, q store.Querier, rules *config.Rules, p *config.Person, to Recipient,
	inReplyTo, id string, now time.Time) (queued bool, err error) {
	cases, err := m.OwnCases(ctx, q, rules, p, now)
	if err != nil {
		return false, err
	}
	return m.queuePlain(ctx, q, KindMine, to, Data{Cases: cases}, inReplyTo, id)
}

// OwnCasesID is the Message-ID of p's own cases mailed in answer to the
// mail whose identity is mail (its Message-ID): the same for every
// delivery of that mail, through any mailbox and on any instance, so that
// the outbox, whose Message-IDs are unique, holds one answer to it.
func (m *Mailer) OwnCasesID(p *config.Person, mail string) string {
	sum := sha256.Sum256([]byte("mine\x00" + p.ID + "\x00" + mail))
	return "mine." + tokenEncoding.EncodeToString(sum[:20]) + "@" + m.plainDomain()
}

// plainDomain is the domain of the Message-IDs of mails from the
// configured sender.
func (m *Mailer) plainDomain() string {
	from := m.Config.SMTP.From
	if a, err := mail.ParseAddress(from); err == nil {
		return DomainOf(a.Address)
	}
	return DomainOf(from)
}

// queuePlain queues a mail that belongs to no case (reminder, digest,
// alert, my cases): from the configured sender, without a reply token,
// straight to the outbox; in reply to inReplyTo when it is not "". With
// an id it is queued once (store.EnqueueMailOnce); without, it gets a new
// Message-ID. queued says whether it was queued.
func (m *Mailer) queuePlain(ctx context.Context, q store.Querier, kind string, to Recipient, data Data, inReplyTo, id string) (queued bool, err error) {
	data.Recipient = to
	subject, text, html, err := m.Templates.RenderQueued(kind, to.Language, data)
	if err != nil {
		return false, err
	}
	om := store.OutMail{Kind: kind, MessageID: id, From: m.Config.SMTP.From,
		To: []string{FormatAddress(to.Name, to.Address)}, Subject: subject, Text: text, HTML: html,
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": Language(to.Language)}}
	if inReplyTo != "" {
		om.InReplyTo, om.References = inReplyTo, []string{inReplyTo}
	}
	if id != "" {
		return store.EnqueueMailOnce(ctx, q, om)
	}
	om.MessageID = NewMessageID("", m.plainDomain())
	_, err = store.EnqueueMail(ctx, q, om)
	return err == nil, err
}

// dueViews shows a person's open cases, at most maxReminderCases of them,
// in the order given.
func (m *Mailer) dueViews(rules *config.Rules, cases []store.ReminderCase, now time.Time) []CaseView {
	if len(cases) > maxReminderCases {
		cases = cases[:maxReminderCases]
	}
	views := make([]CaseView, 0, len(cases))
	for _, rc := range cases {
		views = append(views, m.CaseView(rules, rc.Case, now))
	}
	return views
}

// OwnCases is what a reminder lists for p, on demand (#mine): the open
// cases p answers for (rules.Owners), overdue first.
func (m *Mailer) OwnCases(ctx context.Context, q store.Querier, rules *config.Rules, p *config.Person, now time.Time) ([]CaseView, error) {
	cases, err := store.OpenCases(ctx, q)
	if err != nil {
		return nil, err
	}
	var mine []store.ReminderCase
	for _, rc := range cases {
		for _, o := range rules.Owners(rc.Case.Assignee, rc.Case.Unit) {
			if o.ID == p.ID {
				mine = append(mine, rc)
				break
			}
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return remindBefore(mine[i], mine[j]) })
	return m.dueViews(rules, mine, now), nil
}
