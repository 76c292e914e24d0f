package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/intake"
)

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
