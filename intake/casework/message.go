package casework

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// isOurs reports whether addr is one of casemail's own mailbox addresses
// (plus-tagged or not): never a requester or participant.
func (a *applier) isOurs(addr string) bool { return notify.OwnAddress(a.desk.Config.Mailboxes, addr) }

// messageKind names what the sender is to the case.
func (a *applier) messageKind(ctx context.Context, c *store.Case) (store.Party, error) {
	if a.msg.Auto != mailparse.AutoNone {
		if a.msg.Auto == mailparse.AutoBounce {
			return store.PartyBounce, nil
		}
		return store.PartyAutomatic, nil
	}
	kind, err := store.ParticipantKind(ctx, a.tx, c.ID, a.msg.From.Addr)
	if err != nil {
		return "", err
	}
	switch kind {
	case store.PartyRequester, store.PartyAgent, store.PartyConsultant, store.PartySupplier, store.PartyManager:
		return kind, nil
	}
	// People in rules.yaml are agents, suppliers suppliers, wherever they
	// stand on the case; whether their mail proves itself is the thread's.
	if a.rules.PersonByEmail(a.msg.From.Addr) != nil {
		return store.PartyAgent, nil
	}
	if a.rules.SupplierBySender(a.msg.From.Addr) != nil {
		return store.PartySupplier, nil
	}
	return store.PartyParticipant, nil
}

func (a *applier) storeMessage(ctx context.Context, caseID int64, kind store.Party, hash []byte) (int64, error) {
	m := a.msg
	var sent *time.Time
	if !m.Date.IsZero() {
		d := m.Date
		sent = &d
	}
	nm := store.NewMessage{
		CaseID: caseID, Direction: "in", Kind: kind, Mailbox: a.mb.Name,
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		From: m.From.Addr, FromName: m.From.Name, To: addrs(m.To), Cc: addrs(m.Cc),
		Subject: m.Subject, Text: m.Text, NewText: m.NewText, Raw: a.raw, RawSHA256: known(m.SHA256), ContentHash: hash,
		SentAt: sent, CreatedAt: a.now, ID: a.row,
	}
	for _, at := range m.Attachments {
		nm.Attachments = append(nm.Attachments, store.NewAttachment{
			Filename: at.Filename, ContentType: at.ContentType, Size: at.Size, Data: at.Data, Inline: at.Inline,
			SHA256: known(at.SHA256),
		})
	}
	return store.AddMessage(ctx, a.w, nm)
}

// known is a hash the parser computed, or nil (a hand-built message) for
// the store to compute.
func known(h [32]byte) []byte {
	if h == ([32]byte{}) {
		return nil
	}
	return h[:]
}

func addrs(as []mailparse.Address) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}

// trusted reports whether a mail on a case proves its sender enough to
// change the case (reopen it, take it up from waiting, add the people it
// Cc's): a valid reply token or a Message-ID signed for the sender, and a
// sender authentication the policy accepts. why says what is missing.
func (a *applier) trusted(th *Thread) (bool, notify.Phrase) {
	if !th.Proven {
		return false, notify.Phrase{Format: "it was matched to the case by %s only", Args: []any{howPhrase(th.How)}}
	}
	if th.Spent != "" {
		return false, notify.Phrase{Format: "its reply address had been shown to others (%s)", Args: []any{th.Spent}}
	}
	if ok, why := a.desk.Senders.AllowParticipant(a.sender); !ok {
		return false, authPhrase(why)
	}
	return true, notify.Phrase{}
}

// mergedHow reads howMerged back.
var mergedHow = regexp.MustCompile(`^(.*), case #(\d+) merged into #(\d+)$`)

// howPhrase is how a mail was matched to its case (Thread.How, also
// stored in its message event) as a mail words it: the reference and the
// case numbers as they are, every merge on the way.
func howPhrase(how string) notify.Phrase {
	if m := mergedHow.FindStringSubmatch(how); m != nil {
		from, _ := strconv.ParseInt(m[2], 10, 64)
		into, _ := strconv.ParseInt(m[3], 10, 64)
		return notify.Phrase{Format: howMerged, Args: []any{howPhrase(m[1]), from, into}}
	}
	if ref, ok := strings.CutPrefix(how, strings.TrimSuffix(HowSupplierReference, "%s")); ok {
		return notify.Phrase{Format: HowSupplierReference, Args: []any{ref}}
	}
	return notify.Phrase{Format: how}
}

// authPhrase is a finding of the sender authentication as a mail words it
// in its reader's language; its domains and results stay as they are.
func authPhrase(f senderauth.Finding) notify.Phrase {
	args := make([]any, len(f.Args))
	for i, a := range f.Args {
		if fs, ok := a.([]senderauth.Finding); ok {
			ps := make(notify.Phrases, len(fs))
			for j, g := range fs {
				ps[j] = authPhrase(g)
			}
			a = ps
		}
		args[i] = a
	}
	return notify.Phrase{Format: f.Format, Args: args}
}

// addToCase stores a follow-up on an existing case.
func (a *applier) addToCase(ctx context.Context, th *Thread, hash []byte) (int64, error) {
	kind, err := a.messageKind(ctx, th.Case)
	if err != nil {
		return 0, err
	}
	row, err := a.storeMessage(ctx, th.Case.ID, kind, hash)
	if err != nil {
		return 0, err
	}
	trusted, why := a.trusted(th)
	data := map[string]any{"from": a.msg.From.Addr, "threaded_by": th.How, "proven": th.Proven, "kind": kind,
		"sender_auth": a.sender.Result.String()}
	if !trusted {
		data["unverified"] = why.String()
	}
	if len(a.msg.Problems) > 0 {
		data["problems"] = a.msg.Problems
	}
	if err := store.AddEvent(ctx, a.w, th.Case.ID, a.now, a.msg.From.Addr, "message",
		"follow-up threaded by "+th.How, data); err != nil {
		return 0, err
	}
	// Nobody joins a case by naming it: the Cc'd people of a follow-up
	// become participants only when the mail proves its sender.
	if trusted {
		for _, cc := range a.msg.Cc {
			if !a.isOurs(cc.Addr) {
				if err := store.AddParticipant(ctx, a.w, th.Case.ID, cc.Addr, cc.Name, store.PartyCc, ""); err != nil {
					return 0, err
				}
			}
		}
	}
	// A requester's proven reply to a resolved case reopens it within the
	// window.
	if trusted && kind == store.PartyRequester && th.Case.Status == store.StatusResolved && th.Case.ResolvedAt != nil &&
		a.now.Sub(*th.Case.ResolvedAt) <= time.Duration(a.desk.Config.ReopenWindow) {
		if err := store.SetCaseStatus(ctx, a.w, th.Case.ID, store.StatusOpen, a.now); err != nil {
			return 0, err
		}
		if err := store.AddEvent(ctx, a.w, th.Case.ID, a.now, a.msg.From.Addr, "status",
			"the requester replied to a resolved case", map[string]any{"from": store.StatusResolved, "to": store.StatusOpen}); err != nil {
			return 0, err
		}
	}
	// Relay, tell, command: what the mail means for the people on the case.
	if err := a.converse(ctx, th, kind, row); err != nil {
		return 0, err
	}
	return row, nil
}
