package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

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
	evs, err := store.Events(ctx, st.Pool, c.ID)
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
		msg, err := intake.Parse(rc.Raw)
		if err != nil {
			fmt.Fprintf(stderr, "case %d: cannot parse its first mail: %v\n", rc.Case.Number, err)
			continue
		}
		// As of its arrival: business hours and who was away then.
		arrived := rc.Case.CreatedAt.In(loc)
		dec, err := routing.Route(ctx, rules, intake.RoutingInput(msg, defaults[rc.Case.Mailbox], arrived), nil)
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
