package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
)

// directory is the contact overview of `casemail directory`: who holds
// which role where, who is away, the suppliers and the units.
type directory struct {
	Date      string              `json:"date"`
	Roles     []directoryRole     `json:"roles"`
	Away      []directoryAway     `json:"away"`
	Suppliers []directorySupplier `json:"suppliers"`
	Units     []directoryUnit     `json:"units"`
}

type directoryRole struct {
	Role   string `json:"role"`
	Assign string `json:"assign"`
	// UsedBy lists the chain rungs that call on the role: "qm-handbook tier 1".
	UsedBy  []string          `json:"used_by"`
	Holders []directoryHolder `json:"holders"`
}

type directoryHolder struct {
	// Scope is unit, work_area or everyone; For is the unit id or work area.
	Scope  string `json:"scope"`
	For    string `json:"for,omitempty"`
	Person string `json:"person"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Away   bool   `json:"away"`
	// AwayUntil is the last day of the absence the person is in.
	AwayUntil string `json:"away_until,omitempty"`
}

type directoryAway struct {
	Person string `json:"person"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Roles are the roles the person holds, which others cover meanwhile.
	Roles []string `json:"roles"`
}

type directorySupplier struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Services []string `json:"services"`
}

type directoryUnit struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	WorkArea string   `json:"work_area,omitempty"`
	Language string   `json:"language,omitempty"`
	Domains  []string `json:"domains"`
	Members  []string `json:"members"`
}

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
	dir := buildDirectory(rules, day)
	if *asJSON {
		return writeJSON(stdout, dir)
	}
	return dir.write(stdout)
}

// buildDirectory gathers the overview from rules as of the day at falls on.
func buildDirectory(r *config.Rules, at time.Time) directory {
	dir := directory{Date: config.DateOf(at).String(), Roles: []directoryRole{}, Away: []directoryAway{},
		Suppliers: []directorySupplier{}, Units: []directoryUnit{}}
	usedBy := map[string][]string{}
	supplied := map[string][]string{}
	for _, s := range r.Services {
		for _, rung := range s.Chain {
			if rung.Role != "" {
				usedBy[rung.Role] = append(usedBy[rung.Role], s.ID+" tier "+rung.Tier)
			}
			if rung.Supplier != "" {
				supplied[rung.Supplier] = append(supplied[rung.Supplier], s.ID)
			}
		}
	}
	holder := func(scope, key, id string) directoryHolder {
		h := directoryHolder{Scope: scope, For: key, Person: id}
		if p := r.Person(id); p != nil {
			h.Name, h.Email = p.Name, p.Email
			if a := awayPeriod(p, at); a != nil {
				h.Away, h.AwayUntil = true, a.To.String()
			}
		}
		return h
	}
	held := map[string][]string{}
	for _, role := range rolesInFileOrder(r) {
		dr := directoryRole{Role: role.Name, Assign: role.Assign, UsedBy: usedBy[role.Name], Holders: []directoryHolder{}}
		if dr.Assign == "" {
			dr.Assign = "round_robin"
		}
		if dr.UsedBy == nil {
			dr.UsedBy = []string{}
		}
		for _, set := range role.ByUnit {
			for _, id := range set.People {
				dr.Holders = append(dr.Holders, holder("unit", set.Key, id))
			}
		}
		for _, set := range role.ByWorkArea {
			for _, id := range set.People {
				dr.Holders = append(dr.Holders, holder("work_area", set.Key, id))
			}
		}
		for _, id := range role.Everyone {
			dr.Holders = append(dr.Holders, holder("everyone", "", id))
		}
		for _, h := range dr.Holders {
			if !containsString(held[h.Person], role.Name) {
				held[h.Person] = append(held[h.Person], role.Name)
			}
		}
		dir.Roles = append(dir.Roles, dr)
	}
	for _, p := range r.People {
		if a := awayPeriod(p, at); a != nil {
			roles := held[p.ID]
			if roles == nil {
				roles = []string{}
			}
			dir.Away = append(dir.Away, directoryAway{Person: p.ID, Name: p.Name, Email: p.Email,
				From: a.From.String(), To: a.To.String(), Roles: roles})
		}
	}
	for _, s := range r.Suppliers {
		svcs := supplied[s.ID]
		if svcs == nil {
			svcs = []string{}
		}
		dir.Suppliers = append(dir.Suppliers, directorySupplier{ID: s.ID, Name: s.Name, Email: s.Email, Services: svcs})
	}
	for _, u := range r.Units {
		du := directoryUnit{ID: u.ID, Name: u.Name, WorkArea: u.WorkArea, Language: u.Language,
			Domains: u.Domains, Members: u.Members}
		if du.Domains == nil {
			du.Domains = []string{}
		}
		if du.Members == nil {
			du.Members = []string{}
		}
		dir.Units = append(dir.Units, du)
	}
	return dir
}

// awayPeriod returns the absence of p that the day at falls on, if any.
func awayPeriod(p *config.Person, at time.Time) *config.Period {
	day := config.DateOf(at)
	for i, a := range p.Away {
		if !day.Before(a.From) && !a.To.Before(day) {
			return &p.Away[i]
		}
	}
	return nil
}

// rolesInFileOrder lists the roles as rules.yaml has them.
func rolesInFileOrder(r *config.Rules) []*config.Role {
	out := make([]*config.Role, 0, len(r.Roles))
	for _, role := range r.Roles {
		out = append(out, role)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (dir directory) write(w io.Writer) error {
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
		fmt.Fprintf(tw, "  %s\t%s\t<%s>\t%s\n", s.ID, s.Name, s.Email, strings.Join(s.Services, ", "))
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

func labelled(label, v string) string {
	if v == "" {
		return "-"
	}
	return label + v
}
