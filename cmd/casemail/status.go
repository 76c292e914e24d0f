package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/store"
)

// statusJSON is what `casemail status -json` prints.
type statusJSON struct {
	Instances []statusInstance `json:"instances"`
	Mailboxes []statusMailbox  `json:"mailboxes"`
}

type statusInstance struct {
	ID          string    `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	Live        bool      `json:"live"`
	Mailboxes   int       `json:"mailboxes"`
}

type statusMailbox struct {
	Name       string     `json:"name"`
	WatchedBy  string     `json:"watched_by,omitempty"` // "" when nobody holds a valid lease
	Since      *time.Time `json:"since,omitempty"`
	State      string     `json:"state"` // watched | lease expired | unwatched | not configured here
	Configured bool       `json:"configured"`
}

// cmdStatus shows the instances sharing the database and which one
// watches each mailbox.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("status", stderr)
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "status [-json]"); err != nil {
		return err
	}
	cfg, st, err := openStore(ctx, *f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	var names []string
	for _, mb := range cfg.Mailboxes {
		names = append(names, mb.Name)
	}
	s, err := buildStatus(ctx, st, names)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, s)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTARTED\tLAST HEARTBEAT\tSTATE\tMAILBOXES")
	for _, in := range s.Instances {
		state := "live"
		if !in.Live {
			state = "dead"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s\t%d\n", in.ID, in.StartedAt.Local().Format(time.DateTime),
			time.Since(in.HeartbeatAt).Round(time.Second), state, in.Mailboxes)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MAILBOX\tWATCHED BY\tSINCE\tSTATE")
	for _, mb := range s.Mailboxes {
		by, since := mb.WatchedBy, ""
		if by == "" {
			by = "-"
		}
		if mb.Since != nil {
			since = mb.Since.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mb.Name, by, since, mb.State)
	}
	return tw.Flush()
}

// buildStatus joins the instances, the leases and the configured mailboxes.
func buildStatus(ctx context.Context, st *store.Store, configured []string) (statusJSON, error) {
	insts, leases, err := st.LeaseStatus(ctx)
	if err != nil {
		return statusJSON{}, err
	}
	held := map[string]int{}
	byName := map[string]store.MailboxLease{}
	for _, l := range leases {
		byName[l.Mailbox] = l
		if !l.Expired {
			held[l.Instance]++
		}
	}
	s := statusJSON{Instances: []statusInstance{}, Mailboxes: []statusMailbox{}}
	for _, in := range insts {
		s.Instances = append(s.Instances, statusInstance{ID: in.ID, StartedAt: in.StartedAt,
			HeartbeatAt: in.HeartbeatAt, Live: in.Live, Mailboxes: held[in.ID]})
	}
	seen := map[string]bool{}
	add := func(name string, conf bool) {
		mb := statusMailbox{Name: name, State: "unwatched", Configured: conf}
		if l, ok := byName[name]; ok {
			since := l.Since
			mb.Since = &since
			mb.WatchedBy, mb.State = l.Instance, "watched"
			if l.Expired {
				mb.State = "lease expired (" + l.Instance + " stopped renewing)"
				mb.WatchedBy = ""
			}
		}
		if !conf {
			mb.State += ", not configured here"
		}
		s.Mailboxes = append(s.Mailboxes, mb)
	}
	for _, name := range configured {
		seen[name] = true
		add(name, true)
	}
	for _, l := range leases {
		if !seen[l.Mailbox] {
			add(l.Mailbox, false)
		}
	}
	return s, nil
}

// mailboxHolders says, for /readyz, of each mailbox this instance does not
// watch whether another does, or why nobody does.
func (d *daemon) mailboxHolders(ctx context.Context, dbOK bool) map[string]string {
	out := map[string]string{}
	if !dbOK {
		for _, mb := range d.cfg.Mailboxes {
			out[mb.Name] = "not watched here; database unreachable"
		}
		return out
	}
	var names []string
	for _, mb := range d.cfg.Mailboxes {
		names = append(names, mb.Name)
	}
	s, err := buildStatus(ctx, d.store, names)
	if err != nil {
		for _, n := range names {
			out[n] = "not watched here; the leases could not be read" // the error may name the database
		}
		return out
	}
	for _, mb := range s.Mailboxes {
		if mb.WatchedBy != "" && mb.WatchedBy != d.store.Instance {
			// Not the ID: it holds the host name, which /readyz never shows.
			out[mb.Name] = "watched by another instance"
		} else {
			out[mb.Name] = "not watched here: " + mb.State
		}
	}
	return out
}
