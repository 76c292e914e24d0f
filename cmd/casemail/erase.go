package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// cmdErase is `casemail erase -requester ADDRESS`: a GDPR erasure.
func cmdErase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("erase", stderr)
	requester := f.String("requester", "", "the mail `address` whose personal data is erased")
	by := f.String("by", defaultRequestedBy(), "who asks for the erasure, kept in the erasure record")
	dryRun := f.Bool("dry-run", false, "say what would be erased, change nothing")
	verify := f.Bool("verify", true, "afterwards, search every table for the address (reads the whole database)")
	asJSON := f.Bool("json", false, "print the result as JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if *requester == "" && len(pos) == 1 {
		*requester = pos[0]
	} else if len(pos) > 0 {
		return errors.New("usage: casemail erase -requester ADDRESS [-by NAME] [-dry-run] [-verify=false] [-json]")
	}
	if *requester == "" {
		return errors.New("usage: casemail erase -requester ADDRESS [-by NAME] [-dry-run] [-verify=false] [-json]")
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	// The erasure log came with a migration; like serve, apply what is
	// pending (migrations are additive, safe beside older instances).
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	var res *store.ErasureResult
	if *dryRun {
		res, err = st.PlanErasure(ctx, *requester, time.Now())
	} else {
		res, err = st.EraseAddress(ctx, *requester, *by, time.Now())
	}
	if err != nil {
		return err
	}
	var traces []store.Trace
	if *verify && !*dryRun {
		if traces, err = st.Traces(ctx, *requester); err != nil {
			return err
		}
	}
	if *asJSON {
		err = writeJSON(stdout, struct {
			ID            int64                `json:"erasure,omitempty"`
			DryRun        bool                 `json:"dry_run,omitempty"`
			AddressSHA256 string               `json:"address_sha256"`
			Counts        *store.ErasureResult `json:"counts"`
			Traces        []string             `json:"traces_left,omitempty"`
		}{res.ID, *dryRun, res.AddressSHA256, res, traceStrings(traces)})
	} else {
		printErasure(stdout, res, *dryRun, *verify, traces)
	}
	if err != nil {
		return err
	}
	if rulesNamePerson(cfg.RulesFile, *requester) {
		fmt.Fprintf(stderr, "casemail: note: %s is a person in %s; remove them there too\n", *requester, cfg.RulesFile)
	}
	if len(traces) > 0 {
		return exitError{1}
	}
	return nil
}

func printErasure(w io.Writer, r *store.ErasureResult, dryRun, verify bool, traces []store.Trace) {
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing was changed; the erasure would change:")
	} else {
		fmt.Fprintf(w, "erasure #%d recorded (address sha256 %s):\n", r.ID, r.AddressSHA256)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range []struct {
		what string
		n    int64
	}{
		{"cases they opened (emptied; number, routing, status and times kept)", r.Cases},
		{"other cases they took part in", r.OtherCases},
		{"messages emptied", r.Messages},
		{"raw mails deleted", r.RawMails},
		{"attachments removed", r.Attachments},
		{"attachment bodies deleted", r.Blobs},
		{"participant entries removed", r.Participants},
		{"outgoing mails deleted", r.Outbox},
		{"texts where the address was replaced by " + store.Erased, r.Mentions},
		{"events scrubbed", r.Events},
		{"quarantined mails deleted", r.Quarantine},
		{"sent Message-IDs forgotten", r.SentIDs},
		{"acknowledgement-limit entries", r.AckLog},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.what, row.n)
	}
	tw.Flush()
	switch {
	case dryRun:
	case !verify:
		fmt.Fprintln(w, "not verified (-verify=false)")
	case len(traces) == 0:
		fmt.Fprintln(w, "verified: the address is in no table of the database")
	default:
		fmt.Fprintln(w, "NOT COMPLETE: the address is still in:")
		for _, t := range traces {
			fmt.Fprintf(w, "  %s\n", t)
		}
	}
	fmt.Fprintln(w, "Mail on the IMAP server (the inbox, processed_folder) and in backups is not touched: delete it there too.")
}

func traceStrings(ts []store.Trace) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

// rulesNamePerson reports whether address is one of the people in the
// rules file (an agent): their name and address live there, not only in
// the database.
func rulesNamePerson(rulesFile, address string) bool {
	r, err := config.LoadRules(rulesFile)
	return err == nil && r.PersonByEmail(address) != nil
}

func defaultRequestedBy() string {
	for _, v := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if s := os.Getenv(v); s != "" {
			return s
		}
	}
	return ""
}

// retentionEvery is how often the retention job runs; retentionCheck how
// often an instance asks whether it is due (the first time shortly after
// start, so that a restarted daemon catches up).
