package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// Processor applies delivered mail to cases. It implements Handler: each
// Deliver runs in one transaction that claims the IMAP UID, stores the mail
// as a case, a message or a quarantine record, queues the mail casemail
// sends in reply, and advances the mailbox cursor — all or nothing.
type Processor struct {
	Store     *store.Store
	Config    *config.Daemon
	Rules     func() *config.Rules // the rules in force; swapped on reload
	Keys      *notify.Keys
	Templates *notify.Templates
	// Desk applies mail to cases; nil builds one from Config, Keys and
	// Templates.
	Desk     *casework.Desk
	deskOnce sync.Once
	// Senders checks each mail's sender authentication (sender_auth);
	// nil builds one from Config with the system resolver.
	Senders     *senderauth.Checker
	sendersOnce sync.Once
	Log         *slog.Logger
	Now         func() time.Time
	// Committed is called after a transaction that queued outgoing mail
	// commits, to wake the outbox sender.
	Committed func()

	ingested atomic.Int64
	stats    stats
	// splitting is held by the one batch at a time that may be split into
	// parallel transactions (see DeliverBatch): that is enough to use a
	// second core, and it bounds the connections intake takes.
	splitting sync.Mutex
}

// Outcomes of one delivery, as recorded in the ingested table.
const (
	OutcomeCase        = "case"
	OutcomeMessage     = "message"
	OutcomeDuplicate   = "duplicate"
	OutcomeQuarantined = "quarantined"
	OutcomeSkipped     = "skipped" // handled before: another daemon or an earlier run
	// OutcomeAnswered: a mail to a mine address, answered with the agent's
	// cases (or not, when their hourly cap bit: see Result.Reason).
	OutcomeAnswered = "answered"
)

// Result says what one Deliver did, for tests, logs and metrics.
type Result struct {
	Outcome    string
	CaseNumber int64
	Quarantine int64
	Reason     string
	Auto       mailparse.AutoKind // what kind of automatic mail it was; AutoNone when a person wrote it
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// senders is the sender authentication mail is checked with.
func (p *Processor) senders() *senderauth.Checker {
	p.sendersOnce.Do(func() {
		if p.Senders == nil {
			var err error
			if p.Senders, err = senderauth.FromConfig(p.Config.SenderAuth, nil); err != nil {
				// Validated at load: a hand-built config; trust nothing more.
				p.log().Error("sender_auth", "error", err)
				p.Senders = senderauth.New(senderauth.Options{})
			}
		}
	})
	return p.Senders
}

// checkSender is the sender authentication of a parsed mail, outside any
// transaction (it may look up DKIM keys).
func (p *Processor) checkSender(ctx context.Context, d Delivery, msg *mailparse.Message) senderauth.Verdict {
	if msg == nil {
		return senderauth.Verdict{}
	}
	return p.senders().Check(ctx, d.Raw)
}

// desk is the case work mail is handed to.
func (p *Processor) desk() *casework.Desk {
	p.deskOnce.Do(func() {
		if p.Desk == nil {
			p.Desk = &casework.Desk{Config: p.Config, Log: p.log(), Senders: p.senders().Policy(),
				Mailer: &notify.Mailer{Config: p.Config, Keys: p.Keys, Templates: p.Templates}}
		}
	})
	return p.Desk
}

func (p *Processor) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// Cursor implements Handler.
func (p *Processor) Cursor(ctx context.Context, mailbox string) (uint32, uint32, bool, error) {
	return p.Store.Cursor(ctx, mailbox)
}

// Unmarked implements MarkTracker.
func (p *Processor) Unmarked(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error) {
	return p.Store.Unmarked(ctx, mailbox, uidValidity)
}

// Marked implements MarkTracker.
func (p *Processor) Marked(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error {
	return p.Store.SetMarked(ctx, mailbox, uidValidity, uids)
}

// Deliver implements Handler.
func (p *Processor) Deliver(ctx context.Context, d Delivery) error {
	_, err := p.Process(ctx, d)
	return err
}

// Process is Deliver returning what happened.
func (p *Processor) Process(ctx context.Context, d Delivery) (Result, error) {
	mb := p.mailbox(d.Mailbox)
	if mb == nil {
		return Result{}, fmt.Errorf("mail for unknown mailbox %q", d.Mailbox)
	}
	msg, perr := p.parse(d, mb)
	sender := p.checkSender(ctx, d, msg)
	var res Result
	var queued bool
	// A unique violation means another instance committed the same mail
	// (same Message-ID and content, via another mailbox) at the same moment:
	// run again and find it as a duplicate. A deadlock or serialization
	// failure is run again too, after a pause.
	for attempt := 0; ; attempt++ {
		queued = false
		err := p.Store.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			res, queued, err = p.deliverTx(ctx, tx, txMail{d: d, mb: mb, msg: msg, perr: perr, sender: sender, advance: true})
			return err
		})
		if err == nil {
			break
		}
		reason, conflict := store.Conflict(err)
		if store.IsUniqueViolation(err) {
			reason, conflict = "unique", true
		}
		if !conflict || attempt == partRetries || ctx.Err() != nil {
			return Result{}, fmt.Errorf("storing uid %d of %s: %w", d.UID, d.Mailbox, err)
		}
		p.stats.conflict(reason)
		p.log().Warn("mail collided with another transaction; running it again", "mailbox", d.Mailbox, "uid", d.UID,
			"reason", reason, "attempt", attempt+1, "detail", store.ConflictDetail(err))
		if reason != "unique" && !sleepCtx(ctx, conflictBackoff(attempt)) {
			return Result{}, ctx.Err()
		}
	}
	p.logResult(d, res)
	if queued && p.Committed != nil {
		p.Committed()
	}
	return res, nil
}

// Retry processes a quarantined mail again, after a fix to the parser or
// the rules. It succeeds or leaves the record as it was, with the new reason.
func (p *Processor) Retry(ctx context.Context, q *store.QuarantineRecord) (Result, error) {
	mb := p.mailbox(q.Mailbox)
	if mb == nil && len(p.Config.Mailboxes) > 0 {
		mb = &p.Config.Mailboxes[0]
	}
	if mb == nil {
		return Result{}, errors.New("no mailbox configured")
	}
	d := Delivery{Mailbox: mb.Name, UIDValidity: q.UIDValidity, UID: q.UID, Raw: q.Raw, Size: int64(len(q.Raw))}
	msg, perr := p.parse(d, mb)
	if perr != nil {
		reason := "unparsable mail: " + perr.Error()
		return Result{Outcome: OutcomeQuarantined, Quarantine: q.ID, Reason: reason},
			p.Store.RetryFailed(ctx, q.ID, reason, p.now())
	}
	var res Result
	var queued bool
	err := p.Store.InTx(ctx, func(tx pgx.Tx) error {
		w := &store.Batch{}
		r, row, q2, err := p.apply(ctx, tx, w, txMail{d: d, mb: mb, msg: msg, sender: p.checkSender(ctx, d, msg)}, store.Assigner{Q: tx})
		if err != nil {
			return err
		}
		if r.Outcome == OutcomeQuarantined {
			res = r // refused again (a mail to a mine address): the record stays
			return nil
		}
		if err := w.Send(ctx, tx); err != nil {
			return err
		}
		res, queued = r, q2
		if err := store.SetOutcome(ctx, tx, q.Mailbox, q.UIDValidity, q.UID, r.Outcome, row, q.ID); err != nil {
			return err
		}
		return store.ResolveQuarantine(ctx, tx, q.ID, p.now())
	})
	if err != nil {
		return Result{}, err
	}
	if res.Outcome == OutcomeQuarantined {
		res.Quarantine = q.ID
		return res, p.Store.RetryFailed(ctx, q.ID, res.Reason, p.now())
	}
	if queued && p.Committed != nil {
		p.Committed()
	}
	return res, nil
}

func (p *Processor) logResult(d Delivery, res Result) {
	if res.Outcome != OutcomeSkipped {
		p.ingested.Add(1)
		p.stats.record(d.Mailbox, res)
	}
	p.log().Info("mail ingested", "mailbox", d.Mailbox, "uid", d.UID, "outcome", res.Outcome,
		"case", res.CaseNumber, "reason", res.Reason)
}

func (p *Processor) mailbox(name string) *config.Mailbox {
	for i := range p.Config.Mailboxes {
		if p.Config.Mailboxes[i].Name == name {
			return &p.Config.Mailboxes[i]
		}
	}
	return nil
}

func (p *Processor) isOversize(d Delivery, mb *config.Mailbox) bool {
	limit := int64(mb.MaxMessageSize)
	return d.Truncated || (limit > 0 && (d.Size > limit || int64(len(d.Raw)) > limit))
}

// parse never panics: a parser panic becomes an error, and the mail is
// quarantined with it instead of stopping the mailbox.
func (p *Processor) parse(d Delivery, mb *config.Mailbox) (msg *mailparse.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log().Error("parser panic", "mailbox", d.Mailbox, "uid", d.UID, "panic", r, "stack", string(debug.Stack()))
			msg, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	defer func() {
		if msg != nil && p.Keys != nil {
			msg.MarkOwnLoop(p.Keys.IsOwnLoopID) // only our own identity is our own mail
		}
	}()
	limit := int64(mb.MaxMessageSize)
	// The budget: a mail over it is quarantined with the reason (and its
	// claim keeps it from being parsed again after a restart).
	o := mailparse.Options{MaxTime: time.Duration(p.Config.ProcessingBudget)}
	defer func() {
		if errors.Is(err, mailparse.ErrBudget) {
			p.log().Warn("mail over the processing budget; quarantined", "mailbox", d.Mailbox, "uid", d.UID, "error", err)
		}
	}()
	if p.isOversize(d, mb) {
		o.MaxText, o.DropAttachmentData = oversizeTextLimit, true
		msg, err = mailparse.ParseWith(d.Raw, o)
		if msg != nil {
			size := d.Size
			if size < int64(len(d.Raw)) {
				size = int64(len(d.Raw))
			}
			msg.Problems = append(msg.Problems, fmt.Sprintf(
				"mail of %d bytes is over this mailbox's limit of %d: text kept up to %d bytes, attachments listed without their contents",
				size, limit, oversizeTextLimit))
			if d.BodyStructure != nil {
				// Only a prefix was fetched: the server's structure lists
				// every attachment, also those past the cut.
				msg.Attachments = attachmentsOf(d.BodyStructure)
			}
		}
		return msg, err
	}
	return mailparse.ParseWith(d.Raw, o)
}

// attachmentsOf lists the attachments an IMAP BODYSTRUCTURE describes,
// by name, type and size, without contents.
func attachmentsOf(bs imap.BodyStructure) []mailparse.Attachment {
	var out []mailparse.Attachment
	bs.Walk(func(path []int, part imap.BodyStructure) bool {
		sp, ok := part.(*imap.BodyStructureSinglePart)
		if !ok {
			return true
		}
		name := sp.Filename()
		disp := sp.Disposition()
		isAttachment := name != "" || (disp != nil && strings.EqualFold(disp.Value, "attachment"))
		if !isAttachment {
			return true
		}
		if name == "" {
			name = "part-" + strings.Trim(strings.ReplaceAll(fmt.Sprint(path), " ", "."), "[]")
		}
		size := int64(sp.Size)
		if strings.EqualFold(sp.Encoding, "base64") {
			size = size * 3 / 4 // the server counts encoded bytes, line breaks included
		}
		out = append(out, mailparse.Attachment{Filename: name, ContentType: sp.MediaType(), Size: size})
		return true
	})
	return out
}

// oversizeTextLimit is how much text of an oversized mail is kept.
const oversizeTextLimit = 256 << 10
