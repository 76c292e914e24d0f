package casework

import (
	"context"
	"fmt"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// MineAnswer says what AnswerMine did with a mail to a mine address.
type MineAnswer struct {
	// Agent is the person in rules.yaml the mail came from ("" for none).
	Agent string
	// Refused says why the mail was not answered; the caller quarantines
	// it with that reason ("" when it was answered or capped).
	Refused string
	// Capped: the agent had their answers for the hour already
	// (ack_limit_per_hour); nothing was sent.
	Capped bool
	// Queued: the answer was queued.
	Queued bool
	// Reason says what happened, for the ingest log.
	Reason string
}

// AnswerMine answers a mail to the mailbox's mine address (which threads
// to no case) with its sender's open cases, overdue first, the #mine
// list. Only an agent is answered (someone in rules.yaml's people, by the
// From address), and only at their own address from rules.yaml, never at
// the mail's From or Reply-To: a forged From can only have the real agent
// receive their own list. A sender whose authentication failed is not
// answered, nor is automatic mail or anyone else: their mail is refused,
// for the caller to quarantine with the reason. The answers an agent gets
// an hour are capped at ack_limit_per_hour. It never opens a case.
func (d *Desk) AnswerMine(ctx context.Context, q store.Querier, rules *config.Rules, m Mail, now time.Time) (MineAnswer, error) {
	msg, mb := m.Msg, m.Mailbox
	from := msg.From.Addr
	p := rules.PersonByEmail(from)
	switch {
	case msg.Auto != mailparse.AutoNone:
		return MineAnswer{Refused: fmt.Sprintf("automatic mail (%s) to the mine address %s: not answered", msg.Auto, mb.MineAddress)}, nil
	case p == nil || p.Email == "":
		return MineAnswer{Refused: fmt.Sprintf("%q is not one of the people in rules.yaml: a mail to the mine address %s "+
			"answers only an agent with their cases, and never opens a case", from, mb.MineAddress)}, nil
	case m.Sender.Result == senderauth.Fail:
		return MineAnswer{Agent: p.ID, Refused: fmt.Sprintf("the sender's authentication failed (%s): a mail to the mine address %s "+
			"from %s was not answered", m.Sender.Reason(), mb.MineAddress, from)}, nil
	}
	limit := d.Config.AckLimitPerHour
	ok, err := store.AllowAnswer(ctx, q, "mine:"+p.ID, limit, now)
	if err != nil {
		return MineAnswer{}, err
	}
	if !ok {
		d.log().Info("my cases not mailed: the agent had their answers for the hour (ack_limit_per_hour)",
			"mailbox", mb.Name, "agent", p.ID, "limit", limit)
		return MineAnswer{Agent: p.ID, Capped: true,
			Reason: fmt.Sprintf("my cases for %s not mailed: %d answers this hour already (ack_limit_per_hour)", p.ID, limit)}, nil
	}
	to := notify.Recipient{Name: p.Name, Address: p.Email, Language: d.Mailer.RecipientLanguage(p.Language, "", "", mb.Name)}
	if err := d.Mailer.QueueOwnCases(ctx, q, rules, p, to, msg.MessageID, now); err != nil {
		return MineAnswer{}, err
	}
	return MineAnswer{Agent: p.ID, Queued: true, Reason: "my cases mailed to " + p.ID}, nil
}
