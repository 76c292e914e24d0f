package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// openStore loads the daemon config and connects to its database.
func openStore(ctx context.Context, path string) (*config.Daemon, *store.Store, error) {
	cfg, err := config.LoadDaemon(path)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Database.URL == "" {
		return nil, nil, fmt.Errorf("%s: database.url is empty (set CASEMAIL_DATABASE_URL)", path)
	}
	st, err := store.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", stderr)
	status := f.Bool("status", false, "list applied and pending migrations instead of applying them")
	if _, err := f.parse(args); err != nil {
		return err
	}
	_, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if !*status {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	ms, unknown, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	pending := 0
	for _, m := range ms {
		state := "pending"
		if m.AppliedAt != nil {
			state = "applied " + m.AppliedAt.Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(stdout, "%04d_%s\t%s\n", m.Version, m.Name, state)
	}
	for _, v := range unknown {
		fmt.Fprintf(stdout, "%04d\tapplied by a newer casemail (unknown to this binary)\n", v)
	}
	if *status && pending > 0 {
		fmt.Fprintf(stdout, "%d pending\n", pending)
	}
	return nil
}

func cmdRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: casemail rules check [FILE] | explain MAIL.eml | replay [-since 30d] NEWFILE")
	}
	switch args[0] {
	case "check":
		return cmdRulesCheck(args[1:], stdout, stderr)
	case "explain":
		return cmdRulesExplain(ctx, args[1:], stdout, stderr)
	case "replay":
		return cmdRulesReplay(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown rules command %q (check, explain, replay)", args[0])
	}
}

// rulesPath is FILE when given, else the rules file casemail.yaml names.
func rulesPath(cfgPath string, pos []string) (string, error) {
	if len(pos) > 0 {
		return pos[0], nil
	}
	cfg, err := config.LoadDaemon(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.RulesFile, nil
}

func cmdRulesCheck(args []string, stdout, stderr io.Writer) error {
	f := newFlags("rules check", stderr)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("usage: casemail rules check [FILE]")
	}
	path, err := rulesPath(*f.config, pos)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	r, err := config.LoadRules(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok (%d services, %d rules, %d people, %d units)\n",
		path, len(r.Services), len(r.Rules), len(r.People), len(r.Units))
	return nil
}

func cmdRulesExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("rules explain", stderr)
	rulesFile := f.String("rules", "", "rules `file` (default: the one casemail.yaml names)")
	mailbox := f.String("mailbox", "", "the mailbox `name` the mail arrived in, for its defaults (default: the first)")
	atFlag := f.String("at", "", "route as if the mail arrived at this `time` (RFC 3339, or 2006-01-02 15:04 in casemail.yaml's timezone; default: now)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "rules explain [-rules FILE] [-mailbox NAME] [-at TIME] MAIL.eml"); err != nil {
		return err
	}
	var defService string
	loc := time.Local
	path := *rulesFile
	if cfg, err := config.LoadDaemon(*f.config); err == nil {
		if path == "" {
			path = cfg.RulesFile
		}
		for i, mb := range cfg.Mailboxes {
			if mb.Name == *mailbox || (*mailbox == "" && i == 0) {
				defService = mb.Defaults.Service
			}
		}
		if cfg.Location != nil {
			loc = cfg.Location
		}
	} else if path == "" {
		return err
	}
	at := time.Now().In(loc)
	if *atFlag != "" {
		if at, err = parseTimeIn(*atFlag, loc); err != nil {
			return fmt.Errorf("-at: %w", err)
		}
	}
	rules, err := config.LoadRules(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	msg, err := mailparse.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	dec, err := routing.Route(ctx, rules, casework.RoutingInput(msg, defService, at), nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mail:     %s\nfrom:     %s\nsubject:  %s\narrived:  %s\n", pos[0], msg.From.Addr,
		oneLine(msg.Subject), at.Format("2006-01-02 15:04 MST (Mon)"))
	if msg.Auto != mailparse.AutoNone {
		fmt.Fprintf(stdout, "automatic: %s (%s): never acknowledged\n", msg.Auto, msg.AutoReason)
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, dec.ExplainAll())
	return nil
}

// parseTimeIn reads RFC 3339, or a local "2006-01-02 15:04" / "2006-01-02"
// in loc.
func parseTimeIn(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 or YYYY-MM-DD HH:MM", s)
}

// routedAs is the decision a case was originally given, as its "routed"
// event recorded it.
type routedAs struct {
	Service, Unit, Tier, Role string
	Dropped                   bool
	Trail                     routing.Trail
}

// originalDecision reads a case's first "routed" event; a case without one
// falls back to its current fields (which escalation may have changed).
func originalDecision(ctx context.Context, st *store.Store, c *store.Case) (routedAs, error) {
	old := routedAs{Service: c.Service, Unit: c.Unit, Tier: c.Tier, Role: c.Role}
	evs, err := store.Events(ctx, st.DB(), c.ID)
	if err != nil {
		return old, fmt.Errorf("reading the events of case %d: %w", c.Number, err)
	}
	for _, ev := range evs {
		if ev.Kind != "routed" {
			continue
		}
		var data struct {
			Service, Unit, Tier, Role string
			Trail                     routing.Trail
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return old, fmt.Errorf("case %d: reading its routed event: %w", c.Number, err)
		}
		old = routedAs{Service: data.Service, Unit: data.Unit, Tier: data.Tier, Role: data.Role, Trail: data.Trail}
		// Only a drop rule counts: list or looping mail is dropped by intake,
		// whatever the rules say.
		for _, s := range data.Trail.Steps() {
			old.Dropped = old.Dropped || s.Kind == "drop"
		}
		break
	}
	return old, nil
}

func cmdRulesReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("rules replay", stderr)
	since := f.String("since", "30d", "replay cases created within this `duration` (e.g. 30d, 12h)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "rules replay [-since 30d] NEWFILE"); err != nil {
		return err
	}
	window, err := config.ParseDuration(*since)
	if err != nil {
		return fmt.Errorf("-since: %w", err)
	}
	rules, err := config.LoadRules(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := cfg.CheckRules(rules); err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	defaults := map[string]string{}
	for _, mb := range cfg.Mailboxes {
		defaults[mb.Name] = mb.Defaults.Service
	}
	cases, err := st.ReplayCases(ctx, time.Now().Add(-time.Duration(window)))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tARRIVED\tFIELD\tOLD\tNEW\tBECAUSE")
	changed := 0
	for _, rc := range cases {
		msg, err := mailparse.Parse(rc.Raw)
		if err != nil {
			fmt.Fprintf(stderr, "case %d: cannot parse its first mail: %v\n", rc.Case.Number, err)
			continue
		}
		// As of its arrival: business hours and who was away then.
		arrived := rc.Case.CreatedAt.In(loc)
		dec, err := routing.Route(ctx, rules, casework.RoutingInput(msg, defaults[rc.Case.Mailbox], arrived), nil)
		if err != nil {
			return err
		}
		old, err := originalDecision(ctx, st, rc.Case)
		if err != nil {
			return err
		}
		diffs := replayDiffs(old, dec)
		if len(diffs) == 0 {
			continue
		}
		changed++
		for _, d := range diffs {
			fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\n", rc.Case.Number, arrived.Format("2006-01-02 15:04"),
				d.field, orDash(d.old), orDash(d.new), d.because)
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d of %d cases would be routed differently\n", changed, len(cases))
	return nil
}

// replayDiff is one field a replayed decision changes, and why.
type replayDiff struct{ field, old, new, because string }

// replayDiffs compares a case's original decision with a new one: service,
// unit, tier and role, and whether a rule drops it. Each change names the
// rule responsible: the new rule that decides the field, else the old rule
// that decided it and no longer does, else how the new decision found it.
func replayDiffs(old routedAs, dec routing.Decision) []replayDiff {
	because := func(kind string) string {
		if r := dec.Trail.SetBy(kind); r != "" {
			return "rule " + strconv.Quote(r)
		}
		if r := old.Trail.SetBy(kind); r != "" {
			return "rule " + strconv.Quote(r) + " no longer applies"
		}
		for _, s := range dec.Trail.Steps() {
			if s.Kind == kind && s.Result != "skipped" {
				return kind + " " + s.Result + ": " + s.Why
			}
		}
		return ""
	}
	var out []replayDiff
	add := func(field, o, n, why string) {
		if o != n {
			out = append(out, replayDiff{field, o, n, why})
		}
	}
	if old.Dropped != dec.Drop {
		o, n := "no", "no"
		if old.Dropped {
			o = "yes"
		}
		if dec.Drop {
			n = "yes (" + dec.DropReason + ")"
		}
		add("dropped", o, n, because("drop"))
	}
	add("service", old.Service, dec.Service, because("service"))
	add("unit", old.Unit, dec.Unit, because("unit"))
	if old.Dropped || dec.Drop {
		return out // a dropped case has no rung
	}
	// A rung moves with a rule's tier, else with the service or unit.
	rung := because("rung")
	if dec.Trail.SetBy("rung") == "" && old.Trail.SetBy("rung") == "" {
		switch {
		case old.Service != dec.Service:
			rung = because("service")
		case old.Unit != dec.Unit:
			rung = because("unit")
		}
	}
	add("tier", old.Tier, dec.Tier, rung)
	add("role", old.Role, dec.Role, rung)
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdCases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("cases", stderr)
	open := f.Bool("open", false, "only cases not yet resolved")
	asJSON := f.Bool("json", false, "JSON output")
	limit := f.Int("limit", 200, "at most this many cases, newest first")
	if _, err := f.parse(args); err != nil {
		return err
	}
	_, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	cases, err := st.ListCases(ctx, *open, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]caseJSON, 0, len(cases))
		for _, c := range cases {
			out = append(out, toCaseJSON(c))
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tSTATUS\tSERVICE\tUNIT\tTIER\tASSIGNEE\tREQUESTER\tSUBJECT\tCREATED\tDUE")
	for _, c := range cases {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Number, c.Status, orDash(c.Service),
			orDash(c.Unit), orDash(c.Tier), orDash(c.Assignee), c.Requester, truncate(oneLine(c.Subject), 50),
			c.CreatedAt.Local().Format("2006-01-02 15:04"), orDash(due(c)))
	}
	return tw.Flush()
}

func due(c *store.Case) string {
	if c.ResolutionDue == nil {
		return ""
	}
	return c.ResolutionDue.Local().Format("2006-01-02 15:04")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// caseJSON is the JSON shape of a case for `cases -json` and `case -json`.
type caseJSON struct {
	Number        int64           `json:"number"`
	Status        string          `json:"status"`
	Service       string          `json:"service"`
	Unit          string          `json:"unit"`
	Tier          string          `json:"tier"`
	Role          string          `json:"role"`
	Supplier      string          `json:"supplier,omitempty"`
	Assignee      string          `json:"assignee"`
	Priority      string          `json:"priority"`
	Requester     string          `json:"requester"`
	RequesterName string          `json:"requester_name"`
	Subject       string          `json:"subject"`
	Automatic     bool            `json:"automatic"`
	Created       time.Time       `json:"created"`
	Due           *time.Time      `json:"due,omitempty"`
	Messages      []store.Message `json:"messages,omitempty"`
	Events        []store.Event   `json:"events,omitempty"`
}

func toCaseJSON(c *store.Case) caseJSON {
	return caseJSON{Number: c.Number, Status: string(c.Status), Service: c.Service, Unit: c.Unit, Tier: c.Tier,
		Role: c.Role, Supplier: c.Supplier, Assignee: c.Assignee, Priority: c.Priority, Requester: c.Requester,
		RequesterName: c.RequesterName, Subject: c.Subject, Automatic: c.Automatic, Created: c.CreatedAt,
		Due: c.ResolutionDue}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

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
	_, st, err := openStore(ctx, *f.config)
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
		cj.Participants = append(cj.Participants, participantJSON{Address: p.Address, Name: p.Name, Kind: p.Kind, Person: p.PersonID})
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
	if *asJSON {
		return writeJSON(stdout, cj)
	}
	fmt.Fprintf(stdout, "Case #%d  %s\n", c.Number, oneLine(c.Subject))
	fmt.Fprintf(stdout, "status %s · service %s · unit %s · tier %s · role %s · assignee %s · priority %s\n",
		c.Status, orDash(c.Service), orDash(c.Unit), orDash(c.Tier), orDash(c.Role), orDash(c.Assignee), c.Priority)
	var extra []string
	if c.Supplier != "" {
		extra = append(extra, "supplier "+c.Supplier)
	}
	if cj.Approval != "" {
		extra = append(extra, "approval "+cj.Approval)
	}
	if cj.WaitUntil != nil && c.Status == store.StatusWaiting {
		extra = append(extra, "waiting until "+cj.WaitUntil.Local().Format("2006-01-02 15:04"))
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
		extra = append(extra, "first response "+c.FirstResponse.Local().Format("2006-01-02 15:04"))
	}
	if len(extra) > 0 {
		fmt.Fprintln(stdout, strings.Join(extra, " · "))
	}
	fmt.Fprintf(stdout, "requester %s · created %s\n", formatPerson(c.RequesterName, c.Requester),
		c.CreatedAt.Local().Format("2006-01-02 15:04"))
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
			fmt.Fprintf(stdout, "\n--- %s  %s %s from %s\n", m.CreatedAt.Local().Format("2006-01-02 15:04:05"), m.Direction,
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
			state += " " + o.Sent.Local().Format("2006-01-02 15:04:05")
		}
		if o.LastError != "" {
			state += ": " + oneLine(o.LastError)
		}
		fmt.Fprintf(stdout, "\n--> %s  out %s to %s · %s · %s\n", outAt(o).Local().Format("2006-01-02 15:04:05"), o.Kind,
			strings.Join(o.To, ", "), state, oneLine(o.Subject))
	}
	fmt.Fprintln(stdout, "\n--- events")
	for _, e := range cj.Events {
		fmt.Fprintf(stdout, "%s  %-14s %-10s %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Actor, oneLine(e.Reason))
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

func formatPerson(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}

func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("quarantine", stderr)
	all := f.Bool("all", false, "list also mail that a retry has processed")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("usage: casemail quarantine list | show ID | retry ID")
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	switch pos[0] {
	case "list":
		recs, err := st.ListQuarantine(ctx, *all)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMAILBOX\tUID\tRECEIVED\tREASON")
		for _, q := range recs {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", q.ID, q.Mailbox, q.UID, q.CreatedAt.Local().Format("2006-01-02 15:04"),
				truncate(oneLine(q.Reason), 80))
		}
		return tw.Flush()
	case "show", "retry":
		if len(pos) != 2 {
			return fmt.Errorf("usage: casemail quarantine %s ID", pos[0])
		}
		id, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return fmt.Errorf("quarantine id %q: not a number", pos[1])
		}
		q, err := st.GetQuarantine(ctx, id)
		if err != nil {
			return fmt.Errorf("quarantine %d: %w", id, err)
		}
		if pos[0] == "show" {
			fmt.Fprintf(stdout, "id %d · mailbox %s · uidvalidity %d · uid %d · received %s\nreason: %s\n\n",
				q.ID, q.Mailbox, q.UIDValidity, q.UID, q.CreatedAt.Local().Format(time.RFC3339), q.Reason)
			_, err := stdout.Write(q.Raw)
			return err
		}
		log := newLogger(cfg, stderr)
		d, err := newDaemon(ctx, cfg, st, log)
		if err != nil {
			return err
		}
		res, err := d.proc.Retry(ctx, q)
		if err != nil {
			return fmt.Errorf("retrying quarantine %d: %w", id, err)
		}
		if res.Outcome == intake.OutcomeQuarantined {
			fmt.Fprintf(stdout, "quarantine %d: still fails: %s\n", id, res.Reason)
			return exitError{1}
		}
		fmt.Fprintf(stdout, "quarantine %d: %s, case #%d (its mail goes out with the next `casemail serve`)\n",
			id, res.Outcome, res.CaseNumber)
		return nil
	default:
		return fmt.Errorf("unknown quarantine command %q (list, show, retry)", pos[0])
	}
}
