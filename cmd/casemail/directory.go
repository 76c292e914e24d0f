package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/routing"
)

// cmdDirectory prints routing.NewDirectory for a day, as text or JSON.
func cmdDirectory(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("directory", stderr)
	asJSON := f.Bool("json", false, "JSON output")
	rulesFile := f.String("rules", "", "rules `file` (default: the one casemail.yaml names)")
	date := f.String("date", "", "show who is away on this `day` (YYYY-MM-DD; default: today in casemail.yaml's timezone)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "directory [-json] [-rules FILE] [-date YYYY-MM-DD]"); err != nil {
		return err
	}
	path, loc := *rulesFile, time.Local
	if cfg, err := loadDaemonConfig(*f.config); err == nil {
		if path == "" {
			path = cfg.RulesFile
		}
		if cfg.Location != nil {
			loc = cfg.Location
		}
	} else if path == "" {
		return err
	}
	day := time.Now().In(loc)
	if *date != "" {
		d, err := time.ParseInLocation("2006-01-02", *date, loc)
		if err != nil {
			return fmt.Errorf("-date: bad day %q: want YYYY-MM-DD", *date)
		}
		day = d.Add(12 * time.Hour)
	}
	rules, err := config.LoadRules(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	dir := routing.NewDirectory(rules, day)
	if *asJSON {
		return writeJSON(stdout, dir)
	}
	return writeDirectory(stdout, dir)
}

// writeDirectory prints the overview as four sections of aligned columns.
func writeDirectory(w io.Writer, dir routing.Directory) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Roles (as of %s)\n", dir.Date)
	for _, r := range dir.Roles {
		used := "on no chain"
		if len(r.UsedBy) > 0 {
			used = "on the chain of " + strings.Join(r.UsedBy, ", ")
		}
		fmt.Fprintf(tw, "  %s (%s; %s)\n", r.Role, r.Assign, used)
		if len(r.Holders) == 0 {
			fmt.Fprintf(tw, "    (nobody)\n")
		}
		for _, h := range r.Holders {
			scope := "everyone"
			switch h.Scope {
			case "unit":
				scope = "unit " + h.For
			case "work_area":
				scope = "work area " + h.For
			}
			away := ""
			if h.Away {
				away = "\tAWAY until " + h.AwayUntil
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t<%s>%s\n", scope, h.Person, h.Name, h.Email, away)
		}
	}
	fmt.Fprintf(tw, "\nAway on %s\n", dir.Date)
	if len(dir.Away) == 0 {
		fmt.Fprintf(tw, "  (nobody)\n")
	}
	for _, a := range dir.Away {
		roles := "no role"
		if len(a.Roles) > 0 {
			roles = strings.Join(a.Roles, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t<%s>\t%s – %s\t%s\n", a.Person, a.Name, a.Email, a.From, a.To, roles)
	}
	fmt.Fprintf(tw, "\nSuppliers\n")
	if len(dir.Suppliers) == 0 {
		fmt.Fprintf(tw, "  (none)\n")
	}
	for _, s := range dir.Suppliers {
		fmt.Fprintf(tw, "  %s\t%s\t<%s>\t%s\t%s\n", s.ID, s.Name, s.Email, strings.Join(s.Services, ", "),
			labelled("domains ", strings.Join(s.Domains, ", ")))
		for _, c := range s.Contracts {
			fmt.Fprintf(tw, "    contract %s\t(%s)\t%s\n", c.ID, c.Scope, c.Terms)
		}
	}
	fmt.Fprintf(tw, "\nUnits\n")
	if len(dir.Units) == 0 {
		fmt.Fprintf(tw, "  (none)\n")
	}
	for _, u := range dir.Units {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, labelled("work area ", u.WorkArea),
			labelled("domains ", strings.Join(u.Domains, ", ")), labelled("members ", strings.Join(u.Members, ", ")))
	}
	return tw.Flush()
}

// labelled is label+v, or "-" for an empty v.
func labelled(label, v string) string {
	if v == "" {
		return "-"
	}
	return label + v
}
