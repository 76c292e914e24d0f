package casework

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// An event's reason is stored in English (the CLI and the logs show it as
// it is) with its data. A mail shows it in its reader's language: worded
// from the data where the words depend on it (people by name, roles,
// statuses, priorities, a transfer's rungs), else the reason read back
// into the format it was made from (notify.Reword).

// eventEntry is an audit event as a #history line; false for an event
// the line of a message shows already (the message itself, a public
// reply, a mail queued).
func eventEntry(rules *config.Rules, loc *time.Location, ev store.Event) (notify.HistoryEntry, bool) {
	var d eventData
	_ = json.Unmarshal(ev.Data, &d.m) // a row that does not decode shows its reason
	e := notify.HistoryEntry{At: ev.At.In(loc), Kind: "event", From: notify.ActorName(rules, ev.Actor)}
	person := func(key string) string { return notify.ActorName(rules, d.str(key)) }
	switch ev.Kind {
	case "mail-queued", "reply":
		return e, false
	case "message":
		// Shown only when it proved nothing about its sender.
		if d.bool("proven") && d.str("unverified") == "" {
			return e, false
		}
		why := notify.Reword(d.str("unverified"))
		if !d.bool("proven") {
			why = notify.Phrase{Format: "it was matched to the case by %s only", Args: []any{howPhrase(d.str("threaded_by"))}}
		}
		e.Event = notify.Phrase{Format: "unverified mail: %s", Args: []any{why}}
	case "command":
		e.Event = notify.Phrase{Format: "command %s", Args: []any{ev.Reason}}
	case "command-refused":
		if d.bool("expired") {
			e.Event = notify.Phrase{Format: "commands refused: %s", Args: []any{notify.Reword(ev.Reason)}}
			break
		}
		var errs notify.Phrases
		for _, s := range d.strs("errors") {
			errs = append(errs, commandErrorPhrase(s))
		}
		e.Event = notify.Phrase{Format: "commands refused: %s", Args: []any{errs}}
	case "status":
		from, to := notify.Word{Kind: "status", Key: d.str("from")}, notify.Word{Kind: "status", Key: d.str("to")}
		if ev.Reason == "" {
			e.Event = notify.Phrase{Format: "status %s → %s", Args: []any{from, to}}
			break
		}
		var why any = ev.Reason // a command line (#resolve and its text) stays as it is
		if !strings.HasPrefix(ev.Reason, "#") {
			why = notify.Reword(ev.Reason)
		}
		e.Event = notify.Phrase{Format: "status %s → %s: %s", Args: []any{from, to, why}}
	case "priority":
		e.Event = notify.Phrase{Format: "priority %s → %s",
			Args: []any{notify.Word{Kind: "priority", Key: d.str("from")}, notify.Word{Kind: "priority", Key: d.str("to")}}}
	case "service":
		e.Event = notify.Phrase{Format: "service %s → %s", Args: []any{d.str("from"), d.str("to")}}
	case "routed":
		e.Event = routedPhrase(rules, d)
	case "assigned":
		e.Event = notify.Phrase{Format: "assigned to %s, %s (%s)", Args: []any{person("assignee"), roleRef(rules, d.str("role")),
			notify.Word{Kind: "result", Key: d.str("strategy")}}}
	case "dropped":
		e.Event = notify.Phrase{Format: "dropped by a rule: %s", Args: []any{ev.Reason}}
	case "consult":
		e.Event = notify.Phrase{Format: "asked %s for help (#consult)", Args: []any{person("consultant")}}
	case "participant":
		e.Event = notify.Phrase{Format: "added %s to the case (#cc)", Args: []any{d.str("address")}}
	case "merge":
		if n := d.int("into"); n != 0 {
			e.Event = notify.Phrase{Format: "merged into #%d", Args: []any{n}}
		} else {
			e.Event = notify.Phrase{Format: "case #%d merged into this one", Args: []any{d.int("merged")}}
		}
	case "approval":
		r := d.str("reason")
		switch state := d.str("state"); {
		case state == store.ApprovalPending:
			e.Event = notify.Phrase{Format: "waits for the approval of a %s", Args: []any{roleRef(rules, d.str("role"))}}
		case state == store.ApprovalApproved && r == "":
			e.Event = notify.Phrase{Format: "approved"}
		case state == store.ApprovalApproved:
			e.Event = notify.Phrase{Format: "approved: %s", Args: []any{r}}
		case state == store.ApprovalRejected && r == "":
			e.Event = notify.Phrase{Format: "rejected"}
		case state == store.ApprovalRejected:
			e.Event = notify.Phrase{Format: "rejected: %s", Args: []any{r}}
		}
	case "ack-suppressed":
		e.Event = notify.Phrase{Format: "no acknowledgement sent: %s", Args: []any{notify.Reword(ev.Reason)}}
	case "relay-capped":
		e.Event = notify.Phrase{Format: "%s already got %d mails about this case this hour: one more was not sent",
			Args: []any{d.str("to"), d.int("limit")}}
	case "supplier":
		e.Event = forwardPhrase(rules, loc, d)
	case "supplier-answer":
		after := notify.SpanOf(time.Duration(d.int("after_seconds")) * time.Second)
		format := "%s answered after %s"
		if d.bool("over_contract") {
			format = "%s answered after %s, past the contract's response time"
		}
		e.Event = notify.Phrase{Format: format, Args: []any{supplierName(rules, d.str("supplier")), after}}
	case "supplier-reminder":
		e.Event = notify.Phrase{Format: "reminder %d of %d to %s",
			Args: []any{d.int("n"), d.int("limit"), supplierName(rules, d.str("supplier"))}}
	case "sla-warning":
		e.Event = notify.Phrase{Format: "the holder was warned: %s due %s",
			Args: []any{notify.Word{Kind: "due", Key: d.str("target")}, d.time("due", loc)}}
	case "sla":
		format := "SLA met: %s (due %s)"
		if d.str("outcome") != store.SLAMet {
			format = "SLA breached: %s (due %s)"
		}
		e.Event = notify.Phrase{Format: format, Args: []any{notify.Word{Kind: "due", Key: d.str("target")}, d.time("due", loc)}}
	case "transfer":
		e.Move = &notify.MoveView{Kind: d.str("kind"),
			From: rungView(rules, d.str("from_tier"), d.str("from_role"), d.str("from_supplier"), d.str("from_assignee")),
			To:   rungView(rules, d.str("to_tier"), d.str("to_role"), d.str("supplier"), d.str("to_assignee"))}
		if e.Move.Kind == "" || e.Move.Kind == string(TransferBreach) {
			break // a breach says why in its SLA event
		}
		if r := d.str("reason"); r != "" {
			e.Event = notify.Phrase{Format: "reason: %s", Args: []any{r}}
		}
	case "escalation": // asked past the top of the chain
		switch r := d.str("reason"); {
		case len(d.strs("told")) == 0 && r != "":
			e.Event = notify.Phrase{Format: "at the top of its chain and no support_manager is defined: nobody else to tell (reason: %s)",
				Args: []any{r}}
		case len(d.strs("told")) == 0:
			e.Event = notify.Phrase{Format: "at the top of its chain and no support_manager is defined: nobody else to tell"}
		default:
			e.Move = &notify.MoveView{Kind: "top", From: rungView(rules, d.str("tier"), "", "", "")}
			if r != "" {
				e.Event = notify.Phrase{Format: "reason: %s", Args: []any{r}}
			}
		}
	}
	if e.Event.Format == "" && e.Move == nil {
		e.Event = notify.Reword(ev.Reason)
	}
	e.Text = ev.Kind + ": " + ev.Reason
	return e, true
}

// routedPhrase says where routing put a new case.
func routedPhrase(rules *config.Rules, d eventData) notify.Phrase {
	var place any
	switch {
	case d.str("supplier") != "":
		name := d.str("supplier")
		if s := rules.Supplier(name); s != nil {
			name = s.Name
		}
		place = notify.Phrase{Format: "the supplier %s", Args: []any{name}}
	case d.str("role") != "":
		place = notify.Phrase{Format: "%s, level %s", Args: []any{roleRef(rules, d.str("role")), d.str("tier")}}
	default:
		place = notify.Phrase{Format: "level %s", Args: []any{d.str("tier")}}
	}
	if u := d.str("unit"); u != "" {
		return notify.Phrase{Format: "routed to %s: service %s, unit %s", Args: []any{place, d.str("service"), u}}
	}
	return notify.Phrase{Format: "routed to %s: service %s", Args: []any{place, d.str("service")}}
}

// forwardPhrase says where a case was forwarded, under which contract,
// and when the answer is due.
func forwardPhrase(rules *config.Rules, loc *time.Location, d eventData) notify.Phrase {
	name, ct, due := supplierName(rules, d.str("supplier")), d.str("contract"), d.time("response_due", loc)
	switch {
	case ct != "" && due != "":
		return notify.Phrase{Format: "forwarded to %s under contract %s, answer due %s", Args: []any{name, ct, due}}
	case ct != "":
		return notify.Phrase{Format: "forwarded to %s under contract %s", Args: []any{name, ct}}
	case due != "":
		return notify.Phrase{Format: "forwarded to %s, answer due %s", Args: []any{name, due}}
	}
	return notify.Phrase{Format: "forwarded to %s", Args: []any{name}}
}

func supplierName(rules *config.Rules, id string) string {
	if s := rules.Supplier(id); s != nil && s.Name != "" {
		return s.Name
	}
	return id
}

// commandErrorPhrase reads back a command error as commandError.Error
// wrote it: its command line, ": ", its text.
func commandErrorPhrase(s string) notify.Phrase {
	if p := notify.Reword(s); p.Format != s {
		return p
	}
	for i := strings.Index(s, ": "); i >= 0; {
		if p := notify.Reword(s[i+2:]); p.Format != s[i+2:] {
			return notify.Phrase{Format: "%s: %s", Args: []any{s[:i], p}}
		}
		j := strings.Index(s[i+2:], ": ")
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return notify.Phrase{Format: s}
}

// eventData is an event's data as stored (JSON).
type eventData struct{ m map[string]any }

func (d eventData) str(k string) string {
	s, _ := d.m[k].(string)
	return s
}

func (d eventData) bool(k string) bool {
	b, _ := d.m[k].(bool)
	return b
}

func (d eventData) int(k string) int64 {
	f, _ := d.m[k].(float64)
	return int64(f)
}

// time is a time in the data as mails show it, in loc ("" for none).
func (d eventData) time(k string, loc *time.Location) string {
	t, err := time.Parse(time.RFC3339Nano, d.str(k))
	if err != nil {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

func (d eventData) strs(k string) []string {
	l, _ := d.m[k].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
