package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

// originalDecision reads a case's first "routed" event; a case without one
// falls back to its current fields (which escalation may have changed).
func originalDecision(ctx context.Context, st *store.Store, c *store.Case) (routing.Routed, error) {
	old := routing.Routed{Service: c.Service, Unit: c.Unit, Tier: c.Tier, Role: c.Role}
	evs, err := store.Events(ctx, st.DB(), c.ID)
	if err != nil {
		return old, fmt.Errorf("reading the events of case %d: %w", c.Number, err)
	}
	for _, ev := range evs {
		if ev.Kind == "routed" {
			if old, err = routing.ParseRouted(ev.Data); err != nil {
				return old, fmt.Errorf("case %d: reading its routed event: %w", c.Number, err)
			}
			break
		}
	}
	return old, nil
}

// cmdRulesReplay routes the cases of a recent window again under a new
// rules file and lists, per case, each field routing.Replay finds changed.
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
		diffs := routing.Replay(old, dec)
		if len(diffs) == 0 {
			continue
		}
		changed++
		for _, d := range diffs {
			fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\n", rc.Case.Number, arrived.Format("2006-01-02 15:04"),
				d.Field, orDash(d.Old), orDash(d.New), d.Because)
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d of %d cases would be routed differently\n", changed, len(cases))
	return nil
}
