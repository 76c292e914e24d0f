package routing

import (
	"slices"
	"sort"
	"time"

	"github.com/casemail/casemail/config"
)

// Directory is the contact overview (`casemail directory`): who holds which
// role where, who is away, the suppliers and the units. It is the rules as
// the router reads them: the rungs that call on each role, the holders a
// rung picks from, and who of them is skipped as away on the day.
type Directory struct {
	Date      string              `json:"date"`
	Roles     []DirectoryRole     `json:"roles"`
	Away      []DirectoryAway     `json:"away"`
	Suppliers []DirectorySupplier `json:"suppliers"`
	Units     []DirectoryUnit     `json:"units"`
}

// DirectoryRole is one role with the rungs that call on it and its holders.
type DirectoryRole struct {
	Role   string `json:"role"`
	Assign string `json:"assign"`
	// UsedBy lists the chain rungs that call on the role: "qm-handbook tier 1".
	UsedBy  []string          `json:"used_by"`
	Holders []DirectoryHolder `json:"holders"`
}

// DirectoryHolder is one person holding a role for a unit, a work area or
// everyone.
type DirectoryHolder struct {
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

// DirectoryAway is a person away on the day, with the roles others cover.
type DirectoryAway struct {
	Person string `json:"person"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Roles are the roles the person holds, which others cover meanwhile.
	Roles []string `json:"roles"`
}

// DirectorySupplier is a supplier with the services whose chain ends at
// it, its own domains and its contracts.
type DirectorySupplier struct {
	ID        string              `json:"id"`
	Name      string              `json:"name"`
	Email     string              `json:"email"`
	Domains   []string            `json:"domains,omitempty"`
	Services  []string            `json:"services"`
	Contracts []DirectoryContract `json:"contracts"`
}

// DirectoryContract is one contract of a supplier: where it holds and
// what it promises.
type DirectoryContract struct {
	ID    string `json:"id"`
	Scope string `json:"scope"`
	Terms string `json:"terms"`
}

// DirectoryUnit is a unit with how mail is matched to it.
type DirectoryUnit struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	WorkArea string   `json:"work_area,omitempty"`
	Language string   `json:"language,omitempty"`
	Domains  []string `json:"domains"`
	Members  []string `json:"members"`
}

// NewDirectory gathers the overview from r as of the day at falls on (in
// at's location). Lists are never nil, so JSON shows [] for none.
func NewDirectory(r *config.Rules, at time.Time) Directory {
	dir := Directory{Date: config.DateOf(at).String(), Roles: []DirectoryRole{}, Away: []DirectoryAway{},
		Suppliers: []DirectorySupplier{}, Units: []DirectoryUnit{}}
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
	holder := func(scope, key, id string) DirectoryHolder {
		h := DirectoryHolder{Scope: scope, For: key, Person: id}
		if p := r.Person(id); p != nil {
			h.Name, h.Email = p.Name, p.Email
			if a := p.AwayPeriod(at); a != nil {
				h.Away, h.AwayUntil = true, a.To.String()
			}
		}
		return h
	}
	held := map[string][]string{}
	for _, role := range rolesInFileOrder(r) {
		dr := DirectoryRole{Role: role.Name, Assign: role.Assign, UsedBy: usedBy[role.Name], Holders: []DirectoryHolder{}}
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
			if !slices.Contains(held[h.Person], role.Name) {
				held[h.Person] = append(held[h.Person], role.Name)
			}
		}
		dir.Roles = append(dir.Roles, dr)
	}
	for _, p := range r.People {
		if a := p.AwayPeriod(at); a != nil {
			roles := held[p.ID]
			if roles == nil {
				roles = []string{}
			}
			dir.Away = append(dir.Away, DirectoryAway{Person: p.ID, Name: p.Name, Email: p.Email,
				From: a.From.String(), To: a.To.String(), Roles: roles})
		}
	}
	for _, s := range r.Suppliers {
		svcs := supplied[s.ID]
		if svcs == nil {
			svcs = []string{}
		}
		ds := DirectorySupplier{ID: s.ID, Name: s.Name, Email: s.Email, Domains: s.Domains, Services: svcs,
			Contracts: []DirectoryContract{}}
		for _, c := range s.Contracts {
			ds.Contracts = append(ds.Contracts, DirectoryContract{ID: c.ID, Scope: c.Scope(), Terms: c.Terms()})
		}
		dir.Suppliers = append(dir.Suppliers, ds)
	}
	for _, u := range r.Units {
		du := DirectoryUnit{ID: u.ID, Name: u.Name, WorkArea: u.WorkArea, Language: u.Language,
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

// rolesInFileOrder lists the roles as rules.yaml has them (Rules.Roles is a
// map).
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
