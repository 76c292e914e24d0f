package casework

import (
	"context"
	"encoding/hex"
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
	// Queued: the answer was queued. Duplicate: this mail (by its
	// Message-ID) was answered before, through this mailbox or another:
	// nothing was sent again.
	Queued, Duplicate bool
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
// an hour are capped at ack_limit_per_hour. A mail is answered once
// however often it is delivered (to two mailboxes, say). It never opens
// a case.
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
	// The answer's Message-ID is the agent's and the mail's, so the
	// outbox holds one answer per mail: looked up first, so that another
	// delivery of it costs the agent no answer of the hour.
	var id string
	if key := mailIdentity(m); key != "" {
		id = d.Mailer.OwnCasesID(p, key)
		held, err := store.OutboxHolds(ctx, q, id)
		if err != nil {
			return MineAnswer{}, err
		}
		if held {
			return d.answeredBefore(p, mb), nil
		}
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
	queued, err := d.Mailer.QueueOwnCases(ctx, q, rules, p, to, msg.MessageID, id, now)
	if err != nil {
		return MineAnswer{}, err
	}
	if !queued { // another instance answered it a moment ago
		return d.answeredBefore(p, mb), nil
	}
	return MineAnswer{Agent: p.ID, Queued: true, Reason: "my cases mailed to " + p.ID}, nil
}

func (d *Desk) answeredBefore(p *config.Person, mb *config.Mailbox) MineAnswer {
	d.log().Info("my cases not mailed again: this mail was answered before", "mailbox", mb.Name, "agent", p.ID)
	return MineAnswer{Agent: p.ID, Duplicate: true, Reason: "my cases for " + p.ID + " mailed before for this mail"}
}

// mailIdentity names a mail the same in every mailbox it reaches: its
// Message-ID, else the hash of its identifying headers and body ("" when
// there is neither).
func mailIdentity(m Mail) string {
	if m.Msg.MessageID != "" {
		return m.Msg.MessageID
	}
	if len(m.Hash) > 0 {
		return hex.EncodeToString(m.Hash)
	}
	return ""
}
