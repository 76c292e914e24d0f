package notify

import (
	"context"
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
		if err := m.queuePlain(ctx, tx, KindReminder, rcp, Data{Cases: m.dueViews(rules, pl.cases, now)}, ""); err != nil {
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
// rules.yaml.
func (m *Mailer) QueueOwnCases(ctx context.Context, q store.Querier, rules *config.Rules, p *config.Person, to Recipient,
	inReplyTo string, now time.Time) error {
	cases, err := m.OwnCases(ctx, q, rules, p, now)
	if err != nil {
		return err
	}
	return m.queuePlain(ctx, q, KindMine, to, Data{Cases: cases}, inReplyTo)
}

// queuePlain queues a mail that belongs to no case (reminder, digest,
// alert, my cases): from the configured sender, without a reply token,
// straight to the outbox; in reply to inReplyTo when it is not "".
func (m *Mailer) queuePlain(ctx context.Context, q store.Querier, kind string, to Recipient, data Data, inReplyTo string) error {
	data.Recipient = to
	subject, text, html, err := m.Templates.RenderQueued(kind, to.Language, data)
	if err != nil {
		return err
	}
	from := m.Config.SMTP.From
	domain := DomainOf(from)
	if a, err := mail.ParseAddress(from); err == nil {
		domain = DomainOf(a.Address)
	}
	om := store.OutMail{Kind: kind, MessageID: NewMessageID("", domain), From: from,
		To: []string{FormatAddress(to.Name, to.Address)}, Subject: subject, Text: text, HTML: html,
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "Content-Language": Language(to.Language)}}
	if inReplyTo != "" {
		om.InReplyTo, om.References = inReplyTo, []string{inReplyTo}
	}
	_, err = store.EnqueueMail(ctx, q, om)
	return err
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
