package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

func cmdCases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("cases", stderr)
	open := f.Bool("open", false, "only cases not yet resolved")
	asJSON := f.Bool("json", false, "JSON output")
	limit := f.Int("limit", 200, "at most this many cases, newest first")
	var filter store.CaseFilter
	f.StringVar(&filter.Assignee, "assignee", "", "only cases held by this person id")
	f.StringVar(&filter.Service, "service", "", "only cases of this service id")
	f.StringVar(&filter.Unit, "unit", "", "only cases of this unit id")
	status := f.String("status", "", "only cases with this status: new, open, waiting, resolved, closed or dropped")
	f.StringVar(&filter.Requester, "requester", "", "only cases whose requester's address or name contains this")
	f.StringVar(&filter.Text, "text", "", `full-text search in subjects and messages: words, "a phrase", -word, or`)
	if _, err := f.parse(args); err != nil {
		return err
	}
	filter.Open, filter.Limit, filter.Status = *open, *limit, store.Status(*status)
	if *status != "" && !filter.Status.Known() {
		return fmt.Errorf("-status %q: want new, open, waiting, resolved, closed or dropped", *status)
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	cases, err := st.ListCases(ctx, filter)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(cases))
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	awaited, err := store.AwaitedSuppliers(ctx, st.DB(), ids)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]caseJSON, 0, len(cases))
		for _, c := range cases {
			cj := toCaseJSON(c)
			cj.WaitingOnSupplier = awaited[c.ID]
			out = append(out, cj)
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tSTATUS\tSERVICE\tUNIT\tTIER\tASSIGNEE\tREQUESTER\tSUBJECT\tCREATED\tDUE")
	for _, c := range cases {
		status := string(c.Status)
		if s := awaited[c.ID]; s != "" {
			status += " (on " + s + ")" // waiting on the supplier's answer
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Number, status, orDash(c.Service),
			orDash(c.Unit), orDash(c.Tier), orDash(c.Assignee), c.Requester, truncate(oneLine(c.Subject), 50),
			c.CreatedAt.In(cfg.Location).Format(notify.TimeLayout), orDash(due(c, cfg.Location)))
	}
	return tw.Flush()
}

// due shows the deadline a case is measured against, in the configured
// zone, and which one it is: "2026-03-02 13:30 CET (first response)".
func due(c *store.Case, loc *time.Location) string {
	t, kind := notify.NextDue(c)
	if t == nil {
		return ""
	}
	return t.In(loc).Format(notify.TimeLayout) + " (" + strings.ReplaceAll(kind, "_", " ") + ")"
}

// caseJSON is the JSON shape of a case for `cases -json` and `case -json`.
type caseJSON struct {
	Number   int64  `json:"number"`
	Status   string `json:"status"`
	Service  string `json:"service"`
	Unit     string `json:"unit"`
	Tier     string `json:"tier"`
	Role     string `json:"role"`
	Supplier string `json:"supplier,omitempty"`
	// WaitingOnSupplier names the supplier whose answer the case awaits.
	WaitingOnSupplier string          `json:"waiting_on_supplier,omitempty"`
	Assignee          string          `json:"assignee"`
	Priority          string          `json:"priority"`
	Requester         string          `json:"requester"`
	RequesterName     string          `json:"requester_name"`
	Subject           string          `json:"subject"`
	Automatic         bool            `json:"automatic"`
	Created           time.Time       `json:"created"`
	Due               *time.Time      `json:"due,omitempty"`
	DueKind           string          `json:"due_kind,omitempty"` // first_response or resolution
	Messages          []store.Message `json:"messages,omitempty"`
	Events            []store.Event   `json:"events,omitempty"`
}

func toCaseJSON(c *store.Case) caseJSON {
	due, kind := notify.NextDue(c)
	return caseJSON{Due: due, DueKind: kind, Number: c.Number, Status: string(c.Status), Service: c.Service, Unit: c.Unit, Tier: c.Tier,
		Role: c.Role, Supplier: c.Supplier, Assignee: c.Assignee, Priority: c.Priority, Requester: c.Requester,
		RequesterName: c.RequesterName, Subject: c.Subject, Automatic: c.Automatic, Created: c.CreatedAt,
	}
}
