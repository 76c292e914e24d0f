package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

func cmdCase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("case", stderr)
	asJSON := f.Bool("json", false, "JSON output")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "case N [-json]"); err != nil {
		return err
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil {
		return fmt.Errorf("case number %q: not a number", pos[0])
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := store.CaseByNumber(ctx, st.DB(), n)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no case #%d", n)
	}
	if err != nil {
		return err
	}
	cj := caseDetailJSON{caseJSON: toCaseJSON(c), FirstResponse: c.FirstResponse}
	if cj.Messages, err = store.Messages(ctx, st.DB(), c.ID); err != nil {
		return err
	}
	if cj.Events, err = store.Events(ctx, st.DB(), c.ID); err != nil {
		return err
	}
	state, err := store.ConversationState(ctx, st.DB(), c.ID)
	if err != nil {
		return err
	}
	cj.Approval, cj.WaitUntil = state.Approval, state.WaitUntil
	if state.MergedInto != nil {
		if into, err := store.CaseByID(ctx, st.DB(), *state.MergedInto); err == nil {
			cj.MergedInto = into.Number
		}
	}
	ps, err := store.Participants(ctx, st.DB(), c.ID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		cj.Participants = append(cj.Participants, participantJSON{Address: p.Address, Name: p.Name, Kind: string(p.Kind), Person: p.PersonID})
	}
	out, err := store.CaseOutbox(ctx, st.DB(), c.ID)
	if err != nil {
		return err
	}
	for _, o := range out {
		cj.Outbox = append(cj.Outbox, outboxJSON{ID: o.ID, Kind: o.Kind, MessageID: o.MessageID, From: o.From, To: o.To,
			Subject: o.Subject, Text: o.Text, Status: o.Status, Attempts: o.Attempts, LastError: o.LastError,
			Created: o.CreatedAt, Sent: o.SentAt})
	}
	switch f, err := store.LatestForward(ctx, st.DB(), c.ID); {
	case err == nil:
		cj.Supplier = toSupplierJSON(f)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if *asJSON {
		return writeJSON(stdout, cj)
	}
	fmt.Fprintf(stdout, "Case #%d  %s\n", c.Number, oneLine(c.Subject))
	fmt.Fprintf(stdout, "status %s · service %s · unit %s · tier %s · role %s · assignee %s · priority %s\n",
		c.Status, orDash(c.Service), orDash(c.Unit), orDash(c.Tier), orDash(c.Role), orDash(c.Assignee), c.Priority)
	var extra []string
	if s := cj.Supplier; s != nil {
		extra = append(extra, s.describe())
	} else if c.Supplier != "" {
		extra = append(extra, "supplier "+c.Supplier)
	}
	if cj.Approval != "" {
		extra = append(extra, "approval "+cj.Approval)
	}
	if cj.WaitUntil != nil && c.Status == "waiting" {
		extra = append(extra, "waiting until "+cj.WaitUntil.In(cfg.Location).Format(notify.TimeLayout))
	}
	if cj.MergedInto != 0 {
		extra = append(extra, fmt.Sprintf("merged into #%d", cj.MergedInto))
	}
	if c.LinkedCaseID != nil {
		if l, err := store.CaseByID(ctx, st.DB(), *c.LinkedCaseID); err == nil {
			extra = append(extra, fmt.Sprintf("linked to #%d", l.Number))
		}
	}
	if c.FirstResponse != nil {
		extra = append(extra, "first response "+c.FirstResponse.In(cfg.Location).Format(notify.TimeLayout))
	}
	if len(extra) > 0 {
		fmt.Fprintln(stdout, strings.Join(extra, " · "))
	}
	fmt.Fprintf(stdout, "requester %s · created %s", formatPerson(c.RequesterName, c.Requester),
		c.CreatedAt.In(cfg.Location).Format(notify.TimeLayout))
	if d := due(c, cfg.Location); d != "" {
		fmt.Fprintf(stdout, " · due %s", d)
	}
	fmt.Fprintln(stdout)
	if len(cj.Participants) > 0 {
		var pl []string
		for _, p := range cj.Participants {
			pl = append(pl, formatPerson(p.Name, p.Address)+" ("+p.Kind+")")
		}
		fmt.Fprintf(stdout, "participants %s\n", strings.Join(pl, ", "))
	}
	// The thread: what came in, in full (without quoted history), and what
	// went out, one line each, in the order it happened. A mail is placed
	// by its mail-queued event, which has the clock of the message that
	// caused it (the outbox row has the transaction's start).
	queuedAt := map[string]time.Time{}
	for _, e := range cj.Events {
		var d struct {
			MessageID string `json:"message_id"`
		}
		if e.Kind == "mail-queued" && json.Unmarshal(e.Data, &d) == nil && d.MessageID != "" {
			queuedAt[d.MessageID] = e.At
		}
	}
	outAt := func(o outboxJSON) time.Time {
		if at, ok := queuedAt[o.MessageID]; ok {
			return at
		}
		return o.Created
	}
	mi, oi := 0, 0
	for mi < len(cj.Messages) || oi < len(cj.Outbox) {
		if oi >= len(cj.Outbox) || (mi < len(cj.Messages) && !cj.Messages[mi].CreatedAt.After(outAt(cj.Outbox[oi]))) {
			m := cj.Messages[mi]
			mi++
			label := m.Kind
			if m.Kind == "note" {
				label = "note (internal)"
			}
			fmt.Fprintf(stdout, "\n--- %s  %s %s from %s\n", m.CreatedAt.In(cfg.Location).Format(timeSeconds), m.Direction,
				label, formatPerson(m.FromName, m.From))
			text := m.NewText
			if strings.TrimSpace(text) == "" {
				text = m.Text
			}
			fmt.Fprintln(stdout, strings.TrimSpace(text))
			for _, a := range m.Attachments {
				kept := ""
				if !a.Kept {
					kept = " (not kept)"
				}
				fmt.Fprintf(stdout, "[attachment] %s (%s, %d bytes)%s\n", a.Filename, a.ContentType, a.Size, kept)
			}
			continue
		}
		o := cj.Outbox[oi]
		oi++
		state := o.Status
		if o.Sent != nil {
			state += " " + o.Sent.In(cfg.Location).Format(timeSeconds)
		}
		if o.LastError != "" {
			state += ": " + oneLine(o.LastError)
		}
		fmt.Fprintf(stdout, "\n--> %s  out %s to %s · %s · %s\n", outAt(o).In(cfg.Location).Format(timeSeconds), o.Kind,
			strings.Join(o.To, ", "), state, oneLine(o.Subject))
	}
	fmt.Fprintln(stdout, "\n--- events")
	for _, e := range cj.Events {
		fmt.Fprintf(stdout, "%s  %-14s %-10s %s\n", e.At.In(cfg.Location).Format(timeSeconds), e.Kind, e.Actor, oneLine(e.Reason))
	}
	return nil
}

// caseDetailJSON is `casemail case N -json`: the case with its whole
// thread, who is on it, every mail it sent and its event trail.
type caseDetailJSON struct {
	caseJSON
	Approval      string            `json:"approval,omitempty"`
	MergedInto    int64             `json:"merged_into,omitempty"`
	WaitUntil     *time.Time        `json:"wait_until,omitempty"`
	FirstResponse *time.Time        `json:"first_response_at,omitempty"`
	Participants  []participantJSON `json:"participants"`
	Outbox        []outboxJSON      `json:"outbox"`
	// Supplier is the case's current (else last) forward to a supplier.
	Supplier *supplierJSON `json:"supplier_forward,omitempty"`
}

// supplierJSON is a forward to a supplier and their clock on it.
type supplierJSON struct {
	Supplier      string     `json:"supplier"`
	Contract      string     `json:"contract,omitempty"`
	Address       string     `json:"address"`
	Reference     string     `json:"reference,omitempty"`
	Waiting       bool       `json:"waiting"`
	Forwarded     time.Time  `json:"forwarded_at"`
	ResponseDue   *time.Time `json:"response_due,omitempty"`
	ResolutionDue *time.Time `json:"resolution_due,omitempty"`
	Answered      *time.Time `json:"answered_at,omitempty"`
	Reminders     int        `json:"reminders"`
	OwnerTold     *time.Time `json:"owner_told_at,omitempty"`
	Ended         *time.Time `json:"ended_at,omitempty"`
	EndedWhy      string     `json:"ended_why,omitempty"`
}

func toSupplierJSON(f *store.SupplierForward) *supplierJSON {
	return &supplierJSON{Supplier: f.Supplier, Contract: f.Contract, Address: f.Address, Reference: f.Reference,
		Waiting: f.Waiting(), Forwarded: f.ForwardedAt, ResponseDue: f.ResponseDue, ResolutionDue: f.ResolutionDue,
		Answered: f.AnsweredAt, Reminders: f.Reminders, OwnerTold: f.OwnerToldAt, Ended: f.EndedAt, EndedWhy: f.EndedWhy}
}

// describe is the forward in one line of `casemail case N`.
func (s *supplierJSON) describe() string {
	out := "supplier " + s.Supplier
	if s.Reference != "" {
		out += " (their reference " + s.Reference + ")"
	}
	switch {
	case s.Waiting:
		out += ": waiting on their answer since " + s.Forwarded.Local().Format("2006-01-02 15:04")
		if s.ResponseDue != nil {
			out += ", due " + s.ResponseDue.Local().Format("2006-01-02 15:04")
			if s.ResponseDue.Before(time.Now()) {
				out += " (overdue)"
			}
		}
		if s.Reminders > 0 {
			out += fmt.Sprintf(", reminded %d×", s.Reminders)
		}
		if s.OwnerTold != nil {
			out += ", owner told"
		}
	case s.Answered != nil:
		out += ": answered " + s.Answered.Local().Format("2006-01-02 15:04")
	}
	return out
}

type participantJSON struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Kind    string `json:"kind"`
	Person  string `json:"person,omitempty"`
}

type outboxJSON struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	MessageID string     `json:"message_id"`
	From      string     `json:"from"`
	To        []string   `json:"to"`
	Subject   string     `json:"subject"`
	Text      string     `json:"text"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	Created   time.Time  `json:"created"`
	Sent      *time.Time `json:"sent_at,omitempty"`
}

// timeSeconds is notify.TimeLayout to the second, for a case's trail.
const timeSeconds = "2006-01-02 15:04:05 MST"
