package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Supplier is an external supplier reached by mail, with the contracts
// that say how fast they must answer (S2: contracts and their local
// variations are known centrally).
type Supplier struct {
	ID       string `yaml:"id" cm:"required"`
	Name     string `yaml:"name" cm:"required"`
	Email    string `yaml:"email" cm:"required"`
	Language string `yaml:"language"`
	// Domains are the supplier's own mail domains: mail from them (or a
	// subdomain) is the supplier's, and may thread to a case by the
	// supplier's reference alone. Without domains only the supplier's
	// addresses (email and the contracts' emails) count.
	Domains []string `yaml:"domains"`
	// Reference is an RE2 pattern (Go regexp) for the supplier's own ticket
	// number, such as `(?i)\bINC\d{6,}\b`; a contract may give its own.
	Reference string `yaml:"reference"`
	// Contracts: at most one without a scope (the supplier's base
	// contract); the others are variants per service, unit or work area,
	// taking what they leave out from the base.
	Contracts []*Contract `yaml:"contracts"`
	Pos       Pos
	positions

	ref *regexp.Regexp
}

// Contract is what a supplier owes under one agreement: response and
// resolution times counted on a calendar, where to write, how their
// reference looks, how often a silent supplier is reminded, and whether
// users go straight to them.
type Contract struct {
	ID string `yaml:"id" cm:"required"`
	// The scope: the contract holds for cases of these services, units,
	// work areas (each list empty: any). The most specific contract that
	// holds is the case's: a service counts more than a unit, a unit more
	// than a work area.
	Services  []string `yaml:"services"`
	Units     []string `yaml:"units"`
	WorkAreas []string `yaml:"work_areas"`
	// Calendar counts Response, Resolution and the reminder interval.
	Calendar   string           `yaml:"calendar"`
	Response   BusinessDuration `yaml:"response"`
	Resolution BusinessDuration `yaml:"resolution"`
	// Email is where forwards under this contract go (default: the
	// supplier's email).
	Email string `yaml:"email"`
	// Reference overrides the supplier's reference pattern.
	Reference string             `yaml:"reference"`
	Reminders *SupplierReminders `yaml:"reminders"`
	// Direct: users go straight to the supplier (S2): cases the contract
	// holds for start on the service's external rung, owned by the
	// service's coordinator role.
	Direct bool `yaml:"direct"`
	Pos    Pos
	positions

	// sup is the supplier the contract belongs to (set at load; unexported:
	// a cycle the loader's walk must not follow).
	sup *Supplier
	ref *regexp.Regexp
	cal *Calendar
}

// SupplierReminders says how a supplier past their response time is
// reminded: once every Every (business time on the contract's calendar),
// at most Limit times; after the last, when Every passes once more, the
// case's owner is told.
type SupplierReminders struct {
	Every BusinessDuration `yaml:"every" cm:"required"`
	Limit int              `yaml:"limit"`
	Pos   Pos
	positions
}

// Defaults of a contract's reminders when it names none.
var defaultReminders = SupplierReminders{Every: BusinessDuration{Days: 1}, Limit: 2}

// MaxReferenceScan bounds the text a reference pattern is run over: the
// subject and this much of the body. Go's regexp is linear in its input,
// so the bound makes the cost per mail fixed.
const MaxReferenceScan = 64 << 10

// Scope describes a contract's scope for people: "services qm-handbook;
// units bryne" or "base".
func (c *Contract) Scope() string {
	parts := c.ScopeParts()
	if len(parts) == 0 {
		return "base"
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf(p.Format, p.IDs)
	}
	return strings.Join(out, "; ")
}

// ScopePart is one part of a contract's scope as Scope words it: an
// English format filled with ids, which a mail words in its language.
type ScopePart struct{ Format, IDs string }

// ScopeParts is the contract's scope in parts (none for a base contract).
func (c *Contract) ScopeParts() []ScopePart {
	var parts []ScopePart
	if len(c.Services) > 0 {
		parts = append(parts, ScopePart{Format: "services %s", IDs: strings.Join(c.Services, ", ")})
	}
	if len(c.Units) > 0 {
		parts = append(parts, ScopePart{Format: "units %s", IDs: strings.Join(c.Units, ", ")})
	}
	if len(c.WorkAreas) > 0 {
		parts = append(parts, ScopePart{Format: "work areas %s", IDs: strings.Join(c.WorkAreas, ", ")})
	}
	return parts
}

func (c *Contract) scoped() bool {
	return len(c.Services) > 0 || len(c.Units) > 0 || len(c.WorkAreas) > 0
}

// ReminderPolicy is the contract's reminders, or the defaults.
func (c *Contract) ReminderPolicy() SupplierReminders {
	if c.Reminders != nil {
		return *c.Reminders
	}
	return defaultReminders
}

// Add adds a contract duration to t: business time on the contract's
// calendar, or plain time without one. The zero duration gives the zero
// time (no target).
func (c *Contract) Add(t time.Time, d BusinessDuration) time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	if c.cal != nil {
		return c.cal.AddBusiness(t, d)
	}
	return t.Add(time.Duration(d.Days)*24*time.Hour + d.Clock)
}

// FindReference returns the supplier's reference in a mail's subject or,
// failing that, in the first MaxReferenceScan bytes of its body ("" for
// none).
func (c *Contract) FindReference(subject, body string) string {
	return findRef(c.ref, subject, body)
}

// FindReference is Contract.FindReference over every pattern the
// supplier's contracts use (a mail that threads by reference is not yet
// known to be under one contract).
func (s *Supplier) FindReference(subject, body string) string {
	if ref := findRef(s.ref, subject, body); ref != "" {
		return ref
	}
	for _, c := range s.Contracts {
		if c.ref != s.ref {
			if ref := findRef(c.ref, subject, body); ref != "" {
				return ref
			}
		}
	}
	return ""
}

func findRef(re *regexp.Regexp, subject, body string) string {
	if re == nil {
		return ""
	}
	if m := re.FindString(subject); m != "" {
		return m
	}
	if len(body) > MaxReferenceScan {
		body = body[:MaxReferenceScan]
	}
	return re.FindString(body)
}

// Contract returns the contract of supplier for a case of service in
// unit (its work area included): the most specific that holds — a
// service counts 4, a unit 2, a work area 1, the first in the file on a
// tie — else the base contract. A supplier without contracts has an
// implicit one: its email and reference, no times. nil only for an
// unknown supplier.
func (r *Rules) Contract(supplier, service, unitID string) *Contract {
	s := r.Supplier(supplier)
	if s == nil {
		return nil
	}
	var workArea string
	if u := r.Unit(unitID); u != nil {
		workArea = u.WorkArea
	}
	var best *Contract
	bestScore := -1
	for _, c := range s.Contracts {
		score := 0
		if len(c.Services) > 0 {
			if !contains(c.Services, service) {
				continue
			}
			score += 4
		}
		if len(c.Units) > 0 {
			if !contains(c.Units, unitID) {
				continue
			}
			score += 2
		}
		if len(c.WorkAreas) > 0 {
			if !contains(c.WorkAreas, workArea) {
				continue
			}
			score++
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if best == nil {
		best = s.implicit()
	}
	return best
}

// implicit is the contract of a supplier that names none.
func (s *Supplier) implicit() *Contract {
	return &Contract{ID: "", Email: s.Email, Reference: s.Reference, sup: s, ref: s.ref}
}

// SupplierBySender returns the supplier whose own address addr is (its
// email or a contract's email), or whose domain (or a parent of it) addr
// is from; nil for anyone else. Trust hangs on it: only such mail may
// thread to a case by the supplier's reference.
func (r *Rules) SupplierBySender(addr string) *Supplier {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if s := r.supEmail[addr]; s != nil {
		return s
	}
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return nil
	}
	for d := strings.TrimSuffix(addr[i+1:], "."); d != ""; {
		if s := r.supDomain[d]; s != nil {
			return s
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return nil
}

// validateSuppliers checks suppliers and their contracts, and resolves
// each variant against the base contract.
func (r *Rules) validateSuppliers(e *errs, calendars, services, units *idSet) {
	r.supDomain = map[string]*Supplier{}
	compile := func(pattern string, p Pos) *regexp.Regexp {
		if pattern == "" {
			return nil
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			e.at(p, "reference %q is not a valid RE2 pattern: %v", pattern, err)
			return nil
		}
		if re.MatchString("") {
			e.at(p, "reference %q matches the empty text: it would find a reference in every mail", pattern)
			return nil
		}
		return re
	}
	for _, s := range r.Suppliers {
		s.ref = compile(s.Reference, s.at("reference", s.Pos))
		for i, dom := range s.Domains {
			p := s.elem("domains", i, s.Pos)
			dom, ok := domainName(dom)
			if !ok {
				e.at(p, "domain %q is not a domain name", s.Domains[i])
				continue
			}
			s.Domains[i] = dom
			if other := r.supDomain[dom]; other != nil {
				e.at(p, "domain %q already belongs to supplier %q", dom, other.ID)
				continue
			}
			if u := r.domains[dom]; u != nil {
				e.at(p, "domain %q belongs to unit %q: a supplier's domain must be the supplier's own", dom, u.ID)
				continue
			}
			r.supDomain[dom] = s
		}
		ids := newIDSet("contract")
		var base *Contract
		for _, c := range s.Contracts {
			c.sup = s
			ids.add(e, c.ID, c.at("id", c.Pos))
			if !c.scoped() {
				if base != nil {
					e.at(c.Pos, "supplier %q has two contracts without services, units or work_areas (%q and %q): give the variant a scope",
						s.ID, base.ID, c.ID)
				} else {
					base = c
				}
			}
		}
		areas := r.WorkAreas()
		for _, c := range s.Contracts {
			for i, id := range c.Services {
				p := c.elem("services", i, c.Pos)
				if !services.ref(e, id, p) {
					continue
				}
				if svc := r.services[id]; svc != nil && !chainHasSupplier(svc, s.ID) {
					e.at(p, "service %q has no rung for supplier %q on its chain", id, s.ID)
				}
			}
			for i, id := range c.Units {
				units.ref(e, id, c.elem("units", i, c.Pos))
			}
			for i, a := range c.WorkAreas {
				if !r.workAreas[a] {
					e.at(c.elem("work_areas", i, c.Pos), "unknown work area %q: no unit has work_area %s%s", a, a, suggest(a, areas))
				}
			}
			// A variant takes what it leaves out from the base contract.
			if base != nil && c != base {
				if !c.has("calendar") {
					c.Calendar = base.Calendar
				}
				if !c.has("response") {
					c.Response = base.Response
				}
				if !c.has("resolution") {
					c.Resolution = base.Resolution
				}
				if !c.has("email") {
					c.Email = base.Email
				}
				if !c.has("reference") {
					c.Reference = base.Reference
				}
				if !c.has("reminders") {
					c.Reminders = base.Reminders
				}
				if !c.has("direct") {
					c.Direct = base.Direct
				}
			}
			if c.Calendar != "" {
				if calendars.ref(e, c.Calendar, c.at("calendar", c.Pos)) {
					c.cal = r.Calendars[c.Calendar]
				}
			}
			if c.Email == "" {
				c.Email = s.Email
			} else if a, ok := bareAddress(c.Email); !ok {
				e.at(c.at("email", c.Pos), "email %q is not a mail address", c.Email)
			} else {
				c.Email = a
				if other := r.supEmail[strings.ToLower(a)]; other != nil && other != s {
					e.at(c.at("email", c.Pos), "email %q is already supplier %q's", a, other.ID)
				} else {
					r.supEmail[strings.ToLower(a)] = s
				}
			}
			if c.Reference == "" {
				c.Reference, c.ref = s.Reference, s.ref
			} else if c.has("reference") {
				c.ref = compile(c.Reference, c.at("reference", c.Pos))
			} else if base != nil {
				c.ref = base.ref
			}
			if rm := c.Reminders; rm != nil && c.has("reminders") {
				if rm.Every.IsZero() {
					e.at(rm.at("every", rm.Pos), "every must be more than zero")
				}
				if rm.Limit < 0 || rm.Limit > 20 {
					e.at(rm.at("limit", rm.Pos), "limit %d: want 0 to 20 reminders", rm.Limit)
				}
			}
			if (!c.Response.IsZero() || !c.Resolution.IsZero()) && c.Calendar == "" {
				e.at(c.Pos, "contract %q has response or resolution times but no calendar to count them on", c.ID)
			}
		}
	}
	for _, svc := range r.Services {
		if svc.Coordinator != "" {
			if role := r.Roles[svc.Coordinator]; role == nil {
				e.at(svc.at("coordinator", svc.Pos), "undefined role %q", svc.Coordinator)
			}
		}
	}
}

func chainHasSupplier(svc *Service, supplier string) bool {
	for _, rung := range svc.Chain {
		if rung.Supplier == supplier {
			return true
		}
	}
	return false
}

// CoordinatorRole is the role that owns a service's cases that start at
// the supplier (S2): the service's coordinator, else the coordinator role,
// else the support manager.
func (r *Rules) CoordinatorRole(svc *Service) string {
	if svc != nil && svc.Coordinator != "" {
		return svc.Coordinator
	}
	if r.Roles[RoleCoordinator] != nil {
		return RoleCoordinator
	}
	return RoleSupportManager
}

// String names a contract for trails and listings.
func (c *Contract) String() string {
	id := c.ID
	if id == "" {
		id = "(no contract)"
	}
	return fmt.Sprintf("%s/%s", c.sup.ID, id)
}

// Terms says in one line what the contract promises: "response 4h,
// resolution 3d on calendar office; reminders every 1d, at most 2;
// reference (?i)\bINC\d{6,}\b; to support@v.example; direct".
func (c *Contract) Terms() string {
	var parts []string
	var times []string
	if !c.Response.IsZero() {
		times = append(times, "response "+c.Response.String())
	}
	if !c.Resolution.IsZero() {
		times = append(times, "resolution "+c.Resolution.String())
	}
	if len(times) > 0 {
		t := strings.Join(times, ", ")
		if c.Calendar != "" {
			t += " on calendar " + c.Calendar
		}
		parts = append(parts, t)
		rm := c.ReminderPolicy()
		parts = append(parts, fmt.Sprintf("reminders every %s, at most %d", rm.Every, rm.Limit))
	} else {
		parts = append(parts, "no response time: no reminders")
	}
	if c.Reference != "" {
		parts = append(parts, "reference "+c.Reference)
	}
	parts = append(parts, "to "+c.Email)
	if c.Direct {
		parts = append(parts, "users go straight to the supplier")
	}
	return strings.Join(parts, "; ")
}
