package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/routing"
)

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
	if cfg, err := loadDaemonConfig(*f.config); err == nil {
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
	// The supplier's contract that would hold for this case, for each
	// supplier on its chain.
	if svc := rules.Service(dec.Service); svc != nil {
		for _, rung := range svc.Chain {
			if rung.Supplier == "" {
				continue
			}
			ct := rules.Contract(rung.Supplier, svc.ID, dec.Unit)
			name := ct.ID
			if name == "" {
				name = "(none in rules.yaml)"
			}
			fmt.Fprintf(stdout, "\nsupplier %s: contract %s (%s): %s\n", rung.Supplier, name, ct.Scope(), ct.Terms())
		}
	}
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
