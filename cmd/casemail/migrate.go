package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", stderr)
	status := f.Bool("status", false, "list applied and pending migrations instead of applying them")
	if _, err := f.parse(args); err != nil {
		return err
	}
	_, st, err := openDatabase(ctx, *f.config, false)
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
