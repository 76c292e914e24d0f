package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/store"
)

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
	Messages          []store.Message `json:"messages,omitempty"`
	Events            []store.Event   `json:"events,omitempty"`
}

func toCaseJSON(c *store.Case) caseJSON {
	return caseJSON{Number: c.Number, Status: string(c.Status), Service: c.Service, Unit: c.Unit, Tier: c.Tier,
		Role: c.Role, Supplier: c.Supplier, Assignee: c.Assignee, Priority: c.Priority, Requester: c.Requester,
		RequesterName: c.RequesterName, Subject: c.Subject, Automatic: c.Automatic, Created: c.CreatedAt,
		Due: c.ResolutionDue}
}
