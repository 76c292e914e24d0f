package casework

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// Desk applies every change to a case: opening one for a new mail, a
// follow-up, an agent's reply and its #commands, transfers and escalation,
// the SLA clock (start, pause, wake, retarget, breach), reopening, merge,
// approval and the supplier. It holds only what every case shares; each
// call works in the caller's transaction.
type Desk struct {
	Config *config.Daemon
	Mailer *notify.Mailer
	Log    *slog.Logger
	// SLAWarning is the share of a target's business time after which the
	// holder is warned (0: DefaultSLAWarning; negative: no warnings).
	SLAWarning float64
	// MaxPerPass bounds the cases one SLA check handles; the rest wait for
	// the next (0: 5000).
	MaxPerPass int
	// Senders is what an agent's command and a participant's post need of
	// a mail's sender authentication (casemail.yaml's sender_auth).
	Senders senderauth.Policy
}

// Mail is what intake hands case work: a parsed mail, matched to a case or
// to none, with the identity and row it is stored under.
type Mail struct {
	Msg *mailparse.Message
	Raw []byte
	// Mailbox is the helpdesk mailbox it came through; UID its IMAP UID.
	Mailbox *config.Mailbox
	UID     uint32
	// Hash identifies the mail across mailboxes; Row is the reserved id
	// of the message row it becomes.
	Hash []byte
	Row  int64
	// Oversize: the mail was over its mailbox's size limit, so only its
	// text and its attachment list were kept.
	Oversize bool
	// Thread is the case the mail threads to, nil for none. Linked is a
	// case its subject named although its sender is not on it: a new case
	// is opened and linked to it.
	Thread *Thread
	Linked *store.Case
	// Sender is what the sender authentication found (senderauth).
	Sender senderauth.Verdict
	// Exposed are the reply tokens this mail showed to people other than
	// their holder (ExposedWhy says how): spent for commands from now on.
	Exposed    []string
	ExposedWhy string
	// Acks, when set, is the transaction's count of its mailboxes'
	// acknowledgements, kept across the mails it applies
	// (store.MailboxAcks); nil counts them for each new case.
	Acks store.MailboxAcks
}

// Thread is how a mail was matched to an existing case.
type Thread struct {
	Case *store.Case
	// How: reply token, expired reply token, references, subject tag,
	// bounce of our mail, HowSupplierReference with the reference; after a
	// redirect by a merge, howMerged with the way to the merged case
	// (howPhrase reads it back for a mail to word).
	How string
	// Proven: the sender showed a valid token or a Message-ID signed for
	// them.
	Proven bool
	// Token is the proving token (in the reply address or a signed
	// Message-ID) and Issued when the mail that carried it was sent.
	Token  string
	Issued time.Time
	// Spent says how Token was shown to others before ("": it was not); a
	// spent token still threads, but proves nothing more.
	Spent string
}

// Thread.How of a mail matched by its supplier's own reference, and of
// one that came to a case merged into another (formats in English, worded
// by notify).
const (
	HowSupplierReference = "supplier reference %s"
	howMerged            = "%s, case #%d merged into #%d"
)

// Applied says what Apply did with a mail.
type Applied struct {
	// Case is the case the mail now belongs to; Opened says it was opened
	// for this mail.
	Case   *store.Case
	Opened bool
	// Row is the message row the mail became.
	Row int64
	// Reason says why, for the ingest log: how it threaded, or the new
	// case's status.
	Reason string
	// Queued: mail to send was queued (wake the outbox sender after commit).
	Queued bool
	// Capped names the caps that bit (ack_sender, ack_mailbox,
	// ack_unauthenticated, relay), for metrics; each is an event on the case.
	Capped []string
}

// Apply applies one mail in tx under rules at now: to the case it threads
// to (following merges; a requester's mail to a closed case opens a new,
// linked one), else as a new case routed by rules. Writes that need no
// answer go to w, which the caller sends in tx; assigner picks assignees
// of a new case.
func (d *Desk) Apply(ctx context.Context, tx pgx.Tx, w *store.Batch, rules *config.Rules, m Mail,
	assigner store.Assigner, now time.Time) (Applied, error) {
	a := &applier{desk: d, tx: tx, w: w, row: m.Row, raw: m.Raw, uid: m.UID, mb: m.Mailbox, msg: m.Msg,
		oversize: m.Oversize, sender: m.Sender, now: now, rules: rules, assigner: assigner, acks: m.Acks}
	th, linked := m.Thread, m.Linked
	if th != nil {
		var err error
		if th, linked, err = a.redirect(ctx, th); err != nil {
			return Applied{}, err
		}
	}
	if th != nil {
		row, err := a.addToCase(ctx, th, m.Hash)
		if err != nil {
			return Applied{}, err
		}
		// Spent after the mail was applied: its own token proved it before
		// it showed the token to others.
		if len(m.Exposed) > 0 {
			if err := store.SpendTokens(ctx, a.w, m.Exposed, th.Case.ID, m.ExposedWhy, now); err != nil {
				return Applied{}, err
			}
			if err := store.AddEvent(ctx, a.w, th.Case.ID, now, a.msg.From.Addr, "token-spent",
				"a reply address was shown to others ("+m.ExposedWhy+"): it carries no command from now on",
				map[string]any{"tokens": len(m.Exposed)}); err != nil {
				return Applied{}, err
			}
		}
		return Applied{Case: th.Case, Row: row, Reason: "threaded by " + th.How, Queued: a.queued, Capped: a.capped}, nil
	}
	c, row, err := a.newCase(ctx, m.Hash, linked)
	if err != nil {
		return Applied{}, err
	}
	return Applied{Case: c, Opened: true, Row: row, Reason: string(c.Status), Queued: a.queued, Capped: a.capped}, nil
}

// applier carries one mail through Apply.
type applier struct {
	desk *Desk
	tx   pgx.Tx
	// w collects the writes that need no answer, sent in one round trip.
	w *store.Batch
	// row is the reserved id of the message row this mail becomes.
	row      int64
	raw      []byte
	uid      uint32
	mb       *config.Mailbox
	msg      *mailparse.Message
	oversize bool
	sender   senderauth.Verdict
	now      time.Time
	rules    *config.Rules
	queued   bool
	// linkWhy says why a mail that threaded to a case opened a new one
	// linked to it instead (see redirect).
	linkWhy string
	// assigner picks assignees for a new case.
	assigner store.Assigner
	acks     store.MailboxAcks
	// capped lists the caps that bit (see Applied.Capped).
	capped []string
	// fw is the supplier forward a supplier's mail was on, for the view.
	fw *store.SupplierForward
}

func (d *Desk) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// location is the zone dates in mails are shown in.
func (d *Desk) location() *time.Location {
	if d.Config != nil && d.Config.Location != nil {
		return d.Config.Location
	}
	return time.UTC
}
