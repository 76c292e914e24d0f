package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// agentNote says whom the per-agent figures count a case for.
const agentNote = "(handled: the agent who held the case when it was resolved; first response: the agent who sent it; " +
	"SLA met: who met it; breached: who held the case when its time ran out)"

// cmdReport prints the numbers the digest is made of, for a period ending
// now: counts per unit, service and tier, transfers between tiers, SLA
// met/breached, the median first response, per agent what they did (see
// agentNote), and per supplier the cases forwarded, answered, their
// median first answer, those over contract and those still open with
// them.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("report", stderr)
	sinceFlag := f.String("since", "30d", "the period: this long before now (e.g. 7d, 30d, 12w)")
	fromFlag := f.String("from", "", "the period's first day, YYYY-MM-DD in the configured timezone (instead of -since)")
	toFlag := f.String("to", "", "the period's last day, YYYY-MM-DD, included (default: today)")
	format := f.String("format", "table", "output: table, csv or json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "report [-since 30d | -from YYYY-MM-DD [-to YYYY-MM-DD]] [-format table|csv|json]"); err != nil {
		return err
	}
	since, err := config.ParseDuration(*sinceFlag)
	if err != nil || since.Std() <= 0 {
		return fmt.Errorf("-since %q: want a duration such as 7d or 30d", *sinceFlag)
	}
	if *toFlag != "" && *fromFlag == "" {
		return fmt.Errorf("-to %s needs -from", *toFlag)
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("-format %q: want table, csv or json", *format)
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().In(cfg.Location)
	from, until := now.Add(-since.Std()), now
	if *fromFlag != "" {
		if from, until, err = reportDays(*fromFlag, *toFlag, now); err != nil {
			return err
		}
	}
	r, err := store.BuildReport(ctx, st.DB(), from, until, nil, 0)
	if err != nil {
		return err
	}
	// The cases open with a supplier, with their reference: those waiting
	// on the supplier's answer first, overdue first.
	if r.SupplierWaits, err = store.WaitingOnSuppliers(ctx, st.DB(), nil, reportWaitsListed, true); err != nil {
		return err
	}
	return writeReport(stdout, r, *format, cfg.Location)
}

// reportDays reads -from and -to: whole days in now's zone, -to included
// (today when not given).
func reportDays(fromS, toS string, now time.Time) (from, until time.Time, err error) {
	from, err = time.ParseInLocation(time.DateOnly, fromS, now.Location())
	if err != nil {
		return from, until, fmt.Errorf("-from %q: want a day such as 2026-03-01", fromS)
	}
	last := now
	if toS != "" {
		if last, err = time.ParseInLocation(time.DateOnly, toS, now.Location()); err != nil {
			return from, until, fmt.Errorf("-to %q: want a day such as 2026-03-31", toS)
		}
	}
	until = time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, now.Location())
	if !from.Before(until) {
		return from, until, fmt.Errorf("-from %s is after -to %s", fromS, last.Format(time.DateOnly))
	}
	return from, until, nil
}

// reportWaitsListed bounds the cases open with suppliers a report lists.
const reportWaitsListed = 100

// reportJSON is the JSON shape of a report.
type reportJSON struct {
	*store.Report
	MedianFirstResponseSeconds *int64             `json:"median_first_response_seconds"`
	SLAMet                     int                `json:"sla_met"`
	SLABreached                int                `json:"sla_breached"`
	OpenWithSuppliers          []supplierWaitJSON `json:"open_with_suppliers"`
}

// supplierWaitJSON is a case waiting on a supplier, in a report.
type supplierWaitJSON struct {
	Case int64 `json:"case"`
	*supplierJSON
}

func writeReport(w io.Writer, r *store.Report, format string, loc *time.Location) error {
	met, breached := r.SLATotals()
	switch format {
	case "json":
		out := reportJSON{Report: r, SLAMet: met, SLABreached: breached, OpenWithSuppliers: []supplierWaitJSON{}}
		for _, sw := range r.SupplierWaits {
			out.OpenWithSuppliers = append(out.OpenWithSuppliers, supplierWaitJSON{Case: sw.Case.Number, supplierJSON: toSupplierJSON(sw.Forward)})
		}
		if r.MedianFirstResponse != nil {
			s := int64(r.MedianFirstResponse.Seconds())
			out.MedianFirstResponseSeconds = &s
		}
		return writeJSON(w, out)
	case "csv":
		// Long form, one number a row, so every part fits one header.
		cw := csv.NewWriter(w)
		rows := [][]string{{"section", "key", "metric", "value"},
			{"period", "", "since", r.Since.In(loc).Format(time.RFC3339)},
			{"period", "", "until", r.Until.In(loc).Format(time.RFC3339)},
			{"total", "", "opened", itoa(r.Opened)}, {"total", "", "resolved", itoa(r.Resolved)},
			{"total", "", "open", itoa(r.Open)}, {"total", "", "dropped", itoa(r.Dropped)},
			{"total", "", "transfers", itoa(r.Transfers)}, {"total", "", "sla_met", itoa(met)},
			{"total", "", "sla_breached", itoa(breached)}, {"total", "", "first_responses", itoa(r.FirstResponses)}}
		if r.MedianFirstResponse != nil {
			rows = append(rows, []string{"total", "", "median_first_response_seconds",
				strconv.FormatInt(int64(r.MedianFirstResponse.Seconds()), 10)})
		}
		for _, g := range []struct {
			name   string
			counts []store.CaseCount
		}{{"unit", r.ByUnit}, {"service", r.ByService}, {"tier", r.ByTier}} {
			for _, c := range g.counts {
				rows = append(rows, []string{g.name, c.Key, "opened", itoa(c.Opened)},
					[]string{g.name, c.Key, "resolved", itoa(c.Resolved)}, []string{g.name, c.Key, "open", itoa(c.Open)})
			}
		}
		for _, m := range r.TierMoves {
			rows = append(rows, []string{"transfer", m.From + "->" + m.To, "count", itoa(m.N)})
		}
		for _, s := range r.SLA {
			rows = append(rows, []string{"sla", s.Target, "met", itoa(s.Met)}, []string{"sla", s.Target, "breached", itoa(s.Breached)})
		}
		for _, a := range r.ByAgent {
			rows = append(rows, []string{"agent", a.Agent, "handled", itoa(a.Handled)},
				[]string{"agent", a.Agent, "first_responses", itoa(a.FirstResponses)},
				[]string{"agent", a.Agent, "sla_met", itoa(a.SLAMet)}, []string{"agent", a.Agent, "sla_breached", itoa(a.SLABreached)})
			if a.MedianFirstResponse != nil {
				rows = append(rows, []string{"agent", a.Agent, "median_first_response_seconds",
					strconv.FormatInt(int64(a.MedianFirstResponse.Seconds()), 10)})
			}
		}
		for _, f := range r.TierFlow {
			rows = append(rows, []string{"tier_arrival", f.Tier, "arrived", itoa(f.Arrived)},
				[]string{"tier_resolution", f.Tier, "resolved", itoa(f.Resolved)})
		}
		for _, s := range r.Suppliers {
			rows = append(rows, []string{"supplier", s.Supplier, "forwarded", itoa(s.Forwarded)},
				[]string{"supplier", s.Supplier, "answered", itoa(s.Answered)},
				[]string{"supplier", s.Supplier, "over_contract", itoa(s.OverContract)},
				[]string{"supplier", s.Supplier, "still_open", itoa(s.StillOpen)},
				[]string{"supplier", s.Supplier, "reminders", itoa(s.Reminders)})
			if s.MedianSeconds != nil {
				rows = append(rows, []string{"supplier", s.Supplier, "median_first_answer_seconds", strconv.FormatInt(*s.MedianSeconds, 10)})
			}
		}
		for _, sw := range r.SupplierWaits {
			key := fmt.Sprintf("#%d", sw.Case.Number)
			rows = append(rows, []string{"open_with_supplier", key, "supplier", sw.Forward.Supplier},
				[]string{"open_with_supplier", key, "reference", sw.Forward.Reference},
				[]string{"open_with_supplier", key, "forwarded", sw.Forward.ForwardedAt.In(loc).Format(time.RFC3339)},
				[]string{"open_with_supplier", key, "reminders", itoa(sw.Forward.Reminders)})
			if d := sw.Forward.ResponseDue; d != nil {
				rows = append(rows, []string{"open_with_supplier", key, "response_due", d.In(loc).Format(time.RFC3339)})
			}
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Period:\t%s – %s\n", r.Since.In(loc).Format(notify.TimeLayout), r.Until.In(loc).Format(notify.TimeLayout))
	fmt.Fprintf(tw, "New cases:\t%d\n", r.Opened)
	fmt.Fprintf(tw, "Resolved:\t%d\n", r.Resolved)
	fmt.Fprintf(tw, "Open now:\t%d\n", r.Open)
	fmt.Fprintf(tw, "Dropped by rules:\t%d\n", r.Dropped)
	fmt.Fprintf(tw, "Transfers between tiers:\t%d\n", r.Transfers)
	fmt.Fprintf(tw, "SLA met / breached:\t%d / %d\n", met, breached)
	median := "-"
	if r.MedianFirstResponse != nil {
		median = fmt.Sprintf("%s (%d answered)", config.Duration(*r.MedianFirstResponse), r.FirstResponses)
	}
	fmt.Fprintf(tw, "Median first response:\t%s\n", median)
	for _, g := range []struct {
		name   string
		counts []store.CaseCount
	}{{"UNIT", r.ByUnit}, {"SERVICE", r.ByService}, {"TIER", r.ByTier}} {
		fmt.Fprintf(tw, "\n%s\tNEW\tRESOLVED\tOPEN\n", g.name)
		for _, c := range g.counts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", orDash(c.Key), c.Opened, c.Resolved, c.Open)
		}
	}
	if len(r.TierMoves) > 0 {
		fmt.Fprintf(tw, "\nFROM TIER\tTO TIER\tTRANSFERS\n")
		for _, m := range r.TierMoves {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", orDash(m.From), orDash(m.To), m.N)
		}
	}
	if len(r.SLA) > 0 {
		fmt.Fprintf(tw, "\nSLA TARGET\tMET\tBREACHED\n")
		for _, s := range r.SLA {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", s.Target, s.Met, s.Breached)
		}
	}
	if len(r.TierFlow) > 0 {
		fmt.Fprintf(tw, "\nTIER\tARRIVED ON\tRESOLVED ON\n")
		for _, f := range r.TierFlow {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", orDash(f.Tier), f.Arrived, f.Resolved)
		}
	}
	if len(r.ByAgent) > 0 {
		fmt.Fprintf(tw, "\nAGENT\tHANDLED\tFIRST RESPONSE (MEDIAN)\tSLA MET\tSLA BREACHED\n")
		for _, a := range r.ByAgent {
			median := "-"
			if a.MedianFirstResponse != nil {
				median = fmt.Sprintf("%s (%d)", config.Duration(*a.MedianFirstResponse), a.FirstResponses)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", a.Agent, a.Handled, median, a.SLAMet, a.SLABreached)
		}
		fmt.Fprintln(tw, agentNote)
	}
	if len(r.Suppliers) > 0 {
		fmt.Fprintf(tw, "\nSUPPLIER\tFORWARDED\tANSWERED\tMEDIAN FIRST ANSWER\tOVER CONTRACT\tSTILL OPEN\tREMINDERS\n")
		for _, s := range r.Suppliers {
			median := "-"
			if s.MedianFirstAnswer != nil {
				median = config.Duration(*s.MedianFirstAnswer).String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\n", s.Supplier, s.Forwarded, s.Answered, median, s.OverContract,
				s.StillOpen, s.Reminders)
		}
	}
	if len(r.SupplierWaits) > 0 {
		fmt.Fprintf(tw, "\nOPEN WITH\tCASE\tTHEIR REFERENCE\tFORWARDED\tANSWER DUE\tREMINDERS\n")
		for _, sw := range r.SupplierWaits {
			due := "-"
			if a := sw.Forward.AnsweredAt; a != nil {
				due = "answered " + a.In(loc).Format("2006-01-02 15:04")
			} else if d := sw.Forward.ResponseDue; d != nil {
				due = d.In(loc).Format("2006-01-02 15:04")
				if d.Before(r.Until) {
					due += " (overdue)"
				}
			}
			fmt.Fprintf(tw, "%s\t#%d\t%s\t%s\t%s\t%d\n", sw.Forward.Supplier, sw.Case.Number, orDash(sw.Forward.Reference),
				sw.Forward.ForwardedAt.In(loc).Format("2006-01-02 15:04"), due, sw.Forward.Reminders)
		}
	}
	return tw.Flush()
}

func itoa(n int) string { return strconv.Itoa(n) }
