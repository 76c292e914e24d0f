package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// Rules is rules.yaml, the admins' file: calendars, the organisation
// (people, units, roles, suppliers), the service catalogue, routing rules,
// the default service and the schedule. A loaded Rules is valid, read-only
// and safe to share between goroutines.
type Rules struct {
	// File is the path the rules were loaded from.
	File      string               `yaml:"-"`
	Calendars map[string]*Calendar `yaml:"calendars"`
	People    []*Person            `yaml:"people"`
	Units     []*Unit              `yaml:"units"`
	Roles     map[string]*Role     `yaml:"roles"`
	Suppliers []*Supplier          `yaml:"suppliers"`
	Services  []*Service           `yaml:"services" cm:"required"`
	Rules     []*Rule              `yaml:"rules"`
	Default   Default              `yaml:"default" cm:"required"`
	Schedule  Schedule             `yaml:"schedule"`
	positions

	people    map[string]*Person
	byEmail   map[string]*Person
	supEmail  map[string]*Supplier
	supDomain map[string]*Supplier
	units     map[string]*Unit
	services  map[string]*Service
	suppliers map[string]*Supplier
	members   map[string]*Unit
	domains   map[string]*Unit
	aliases   map[string]*Service
	workAreas map[string]bool
}

// Person is someone who can hold a role or be named as assignee.
type Person struct {
	ID       string   `yaml:"id" cm:"required"`
	Name     string   `yaml:"name" cm:"required"`
	Email    string   `yaml:"email" cm:"required"`
	Language string   `yaml:"language"` // sv | nb | en; empty: their unit's or the default
	Away     []Period `yaml:"away"`
	Pos      Pos
	positions
}

// Period is an inclusive range of days.
type Period struct {
	From Date `yaml:"from" cm:"required"`
	To   Date `yaml:"to" cm:"required"`
	Pos  Pos
}

// AwayAt reports whether the person is away on the day t falls on (in t's
// location). A zero t is never away.
func (p *Person) AwayAt(t time.Time) bool { return p.AwayPeriod(t) != nil }

// AwayPeriod is the absence the day t falls on (in t's location) is in, or
// nil. A zero t is never away.
func (p *Person) AwayPeriod(t time.Time) *Period {
	if t.IsZero() {
		return nil
	}
	day := DateOf(t)
	for i, a := range p.Away {
		if !day.Before(a.From) && !a.To.Before(day) {
			return &p.Away[i]
		}
	}
	return nil
}

// Unit is a section, school or clinic that requesters belong to.
type Unit struct {
	ID       string `yaml:"id" cm:"required"`
	Name     string `yaml:"name" cm:"required"`
	WorkArea string `yaml:"work_area"`
	Language string `yaml:"language"`
	// Domains: mail from these domains (and their subdomains) belongs here.
	Domains []string `yaml:"domains"`
	// Members are requester addresses that belong here whatever their domain.
	Members []string `yaml:"members"`
	Pos     Pos
	positions
}

// Role is who holds a role: per unit, per work area, or everywhere.
type Role struct {
	Name       string   `yaml:"-" cm:"key"`
	ByUnit     Holders  `yaml:"by_unit"`
	ByWorkArea Holders  `yaml:"by_work_area"`
	Everyone   []string `yaml:"everyone"`
	// Assign is round_robin (default) or least_open.
	Assign string `yaml:"assign"`
	// Names are how mails name the role, by language (sv, nb, en).
	Names map[string]string `yaml:"names"`
	Pos   Pos
	positions

	byUnit, byArea map[string][]string
}

// Holders maps a unit id or work area to person ids, in file order.
type Holders []HolderSet

// HolderSet is one entry of Holders.
type HolderSet struct {
	Key       string
	People    []string
	Pos       Pos   // of the key
	PeoplePos []Pos // of each person id
}

func (*Holders) describe() (string, string) {
	return "a mapping of names to lists of person ids", "holder mappings"
}

func (h *Holders) decodeNode(d *decoder, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping of names to lists of person ids, got %s", got(n))
		return
	}
	d.eachPair(n, func(k, v *yaml.Node) {
		set := HolderSet{Key: k.Value, Pos: posOf(k)}
		v = deref(v)
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, "expected a list of strings, got %s", got(v))
			return
		}
		for _, c := range v.Content {
			if s, ok := d.scalar(c, "a person id"); ok {
				set.People = append(set.People, s)
				set.PeoplePos = append(set.PeoplePos, posOf(c))
			}
		}
		*h = append(*h, set)
	})
}

// Holders returns the ids of everyone holding the role for a unit (nil for
// none) and its work area, in order: by unit, by work area, everyone;
// without duplicates. Away people are included; see Person.AwayAt.
func (r *Role) Holders(u *Unit) []string {
	var lists [3][]string
	if u != nil {
		lists[0] = r.byUnit[u.ID]
		if u.WorkArea != "" {
			lists[1] = r.byArea[u.WorkArea]
		}
	}
	lists[2] = r.Everyone
	if lists[0] == nil && lists[1] == nil {
		return lists[2]
	}
	var out []string
	for _, l := range lists {
		for _, id := range l {
			if !contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Roles the product gives a meaning of its own.
const (
	// RoleSuperuser gets the digest of their own units.
	RoleSuperuser = "superuser"
	// RoleCoordinator gets unassigned cases of their work area, and the
	// whole digest.
	RoleCoordinator = "coordinator"
	// RoleSupportManager is told of every escalation, breach and alert,
	// and gets the whole digest.
	RoleSupportManager = "support_manager"
)

// HoldersOf returns the people holding role for a unit ("" or unknown:
// the everyone holders), in Role.Holders order; nil when the role is not
// defined.
func (r *Rules) HoldersOf(role, unitID string) []*Person {
	ro := r.Role(role)
	if ro == nil {
		return nil
	}
	var out []*Person
	for _, id := range ro.Holders(r.Unit(unitID)) {
		if p := r.Person(id); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// NearestHoldersOf returns the holders of role for a unit at the nearest
// level that has any: the unit's own, else its work area's, else
// everyone's. Unlike HoldersOf it does not add everyone to a unit's own
// holders: a support manager set for one organisation is not told of
// another's cases, and the everyone holders stand in where none is set.
func (r *Rules) NearestHoldersOf(role, unitID string) []*Person {
	ro := r.Role(role)
	if ro == nil {
		return nil
	}
	ids := ro.Everyone
	if u := r.Unit(unitID); u != nil {
		if l := ro.byUnit[u.ID]; len(l) > 0 {
			ids = l
		} else if l := ro.byArea[u.WorkArea]; u.WorkArea != "" && len(l) > 0 {
			ids = l
		}
	}
	var out []*Person
	for _, id := range ids {
		if p := r.Person(id); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Owners are who answers for a case held by assignee in a unit: the
// assignee; without one, the coordinator of the unit's work area, else the
// support manager.
func (r *Rules) Owners(assignee, unitID string) []*Person {
	if p := r.Person(assignee); p != nil {
		return []*Person{p}
	}
	if u := r.Unit(unitID); u != nil && u.WorkArea != "" {
		if out := r.HoldersOf(RoleCoordinator, unitID); len(out) > 0 {
			return out
		}
	}
	return r.HoldersOf(RoleSupportManager, unitID)
}

// HasHolders reports whether anyone holds the role anywhere.
func (r *Role) HasHolders() bool {
	return len(r.Everyone) > 0 || len(r.byUnit) > 0 || len(r.byArea) > 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Service statuses.
const (
	StatusActive   = "active"
	StatusProposed = "proposed" // not yet through the gate: routed as the default service
)

// Service is one entry of the catalogue.
type Service struct {
	ID   string `yaml:"id" cm:"required"`
	Name string `yaml:"name" cm:"required"`
	// Keywords are matched as whole words (case-insensitive) in subject, then body.
	Keywords []string `yaml:"keywords"`
	// Addresses are aliases: mail sent to one of them means this service.
	Addresses []string `yaml:"addresses"`
	// Routine is the instructions (a URL or text) sent to the agent.
	Routine string `yaml:"routine"`
	// Chain is the escalation ladder, lowest rung first.
	Chain []*Rung `yaml:"chain" cm:"required"`
	SLA   *SLA    `yaml:"sla"`
	// Approval names the role whose holders must #approve its cases.
	Approval string `yaml:"approval"`
	// Status is active (default) or proposed.
	Status string `yaml:"status"`
	// Coordinator is the role that owns cases that start at the supplier
	// (default: coordinator, else support_manager).
	Coordinator string `yaml:"coordinator"`
	// Names are how mails name the service, by language (sv, nb, en);
	// Name is the fallback.
	Names map[string]string `yaml:"names"`
	Pos   Pos
	positions
}

// Proposed reports whether the service has not yet passed the gate.
func (s *Service) Proposed() bool { return s.Status == StatusProposed }

// Tiers.
const (
	TierExternal = "external"
)

// Rung is one step of a service's chain: a tier and either a role or a
// supplier (supplier only on the external tier).
type Rung struct {
	Tier     string `yaml:"tier" cm:"required"` // 1 | 2 | 3 | external
	Role     string `yaml:"role"`
	Supplier string `yaml:"supplier"`
	Pos      Pos
	positions
}

// SLA is a service's response and resolution targets, counted in business
// time on Calendar, with optional per-priority overrides.
type SLA struct {
	Calendar      string           `yaml:"calendar" cm:"required"`
	FirstResponse BusinessDuration `yaml:"first_response"`
	Resolution    BusinessDuration `yaml:"resolution"`
	Low           *SLATarget       `yaml:"low"`
	Normal        *SLATarget       `yaml:"normal"`
	High          *SLATarget       `yaml:"high"`
	Urgent        *SLATarget       `yaml:"urgent"`
	// PauseForSupplier: the case's own clock stops while it waits on the
	// supplier's answer (the supplier's contract clock runs instead).
	PauseForSupplier bool `yaml:"pause_for_supplier"`
	Pos              Pos
	positions
}

// SLATarget overrides the SLA for one priority; zero fields keep the base.
type SLATarget struct {
	FirstResponse BusinessDuration `yaml:"first_response"`
	Resolution    BusinessDuration `yaml:"resolution"`
	Pos           Pos
}

// For returns the targets that apply to a priority (zero: no target).
func (s *SLA) For(priority string) (firstResponse, resolution BusinessDuration) {
	firstResponse, resolution = s.FirstResponse, s.Resolution
	var o *SLATarget
	switch priority {
	case "low":
		o = s.Low
	case "normal":
		o = s.Normal
	case "high":
		o = s.High
	case "urgent":
		o = s.Urgent
	}
	if o != nil {
		if !o.FirstResponse.IsZero() {
			firstResponse = o.FirstResponse
		}
		if !o.Resolution.IsZero() {
			resolution = o.Resolution
		}
	}
	return firstResponse, resolution
}

// Rule is one routing rule: when its condition holds, its action applies.
type Rule struct {
	Name string `yaml:"name" cm:"required"`
	// When is the condition; absent, the rule matches every mail.
	When *Cond  `yaml:"when"`
	Then Action `yaml:"then" cm:"required"`
	Pos  Pos
	positions
}

// Action is a rule's `then`. Empty fields leave the decision unchanged.
type Action struct {
	Service  string   `yaml:"service"`
	Unit     string   `yaml:"unit"`
	Priority string   `yaml:"priority"` // low | normal | high | urgent
	Tier     string   `yaml:"tier"`     // 1 | 2 | 3 | external: start on the first rung of this tier
	Tags     []string `yaml:"tags"`
	Assignee string   `yaml:"assignee"` // person id
	// Drop, when set, is the reason the case is dropped (stored, not routed).
	Drop string `yaml:"drop"`
	// Stop ends rule evaluation after this rule.
	Stop bool `yaml:"stop"`
	Pos  Pos
	positions
}

// Default names the service for mail nothing else routes.
type Default struct {
	Service string `yaml:"service" cm:"required"`
	Pos     Pos
	positions
}

// Schedule holds cron specs (robfig/cron: five fields, descriptors such as
// "@every 1m", and an optional CRON_TZ= prefix). Absent keys get defaults:
// reminders "0 8 * * mon-fri", digest "0 7 * * mon", sla_check "@every 1m".
type Schedule struct {
	Reminders string `yaml:"reminders"`
	Digest    string `yaml:"digest"`
	SLACheck  string `yaml:"sla_check"`
	// SupplierCheck runs the suppliers' clocks: reminders to silent
	// suppliers and the owner told (default "@every 5m").
	SupplierCheck string `yaml:"supplier_check"`
	Pos           Pos
	positions
}

// Priorities, lowest first.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Tiers are the values a rung or a rule's tier may take.
var Tiers = []string{"1", "2", "3", TierExternal}

// CronParser parses schedule specs the way the scheduler must.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// LoadRules reads and validates a rules file. The error, when not a read
// error, is Errors.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules parses and validates rules.yaml from data; file names it in
// errors.
func ParseRules(file string, data []byte) (*Rules, error) {
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{errs: errs{file: file}}
	r := &Rules{File: file}
	d.decode(root, reflect.ValueOf(r).Elem())
	if len(d.list) == 0 {
		r.withDefaults()
		r.validate(&d.errs)
	}
	if err := d.result(); err != nil {
		return nil, err
	}
	dropPositions(reflect.ValueOf(r))
	return r, nil
}

// Person returns the person with id, or nil.
func (r *Rules) Person(id string) *Person { return r.people[id] }

// PersonByEmail returns the person whose email is addr (any case), or nil.
func (r *Rules) PersonByEmail(addr string) *Person { return r.byEmail[strings.ToLower(addr)] }

// Unit returns the unit with id, or nil.
func (r *Rules) Unit(id string) *Unit { return r.units[id] }

// Service returns the catalogue entry with id, or nil.
func (r *Rules) Service(id string) *Service { return r.services[id] }

// Supplier returns the supplier with id, or nil.
func (r *Rules) Supplier(id string) *Supplier { return r.suppliers[id] }

// Role returns the role named name, or nil.
func (r *Rules) Role(name string) *Role { return r.Roles[name] }

// Calendar returns the calendar named name, or nil.
func (r *Rules) Calendar(name string) *Calendar { return r.Calendars[name] }

// DefaultService returns the service of `default`.
func (r *Rules) DefaultService() *Service { return r.services[r.Default.Service] }

// UnitByMember returns the unit listing addr in members, or nil.
func (r *Rules) UnitByMember(addr string) *Unit { return r.members[strings.ToLower(addr)] }

// UnitByDomain returns the unit owning domain or its nearest parent domain
// (mail from a.bryne.example.no belongs to the unit of bryne.example.no).
func (r *Rules) UnitByDomain(domain string) *Unit {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	for domain != "" {
		if u := r.domains[domain]; u != nil {
			return u
		}
		_, rest, ok := strings.Cut(domain, ".")
		if !ok {
			break
		}
		domain = rest
	}
	return nil
}

// ServiceByAddress returns the service whose alias addr is, or nil.
func (r *Rules) ServiceByAddress(addr string) *Service { return r.aliases[strings.ToLower(addr)] }

// WorkAreas returns the work areas named by units, sorted.
func (r *Rules) WorkAreas() []string {
	out := make([]string, 0, len(r.workAreas))
	for a := range r.workAreas {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (r *Rules) withDefaults() {
	for _, s := range r.Services {
		if s.Status == "" {
			s.Status = StatusActive
		}
	}
	for _, role := range r.Roles {
		if role.Assign == "" {
			role.Assign = "round_robin"
		}
	}
	if r.Schedule.Reminders == "" {
		r.Schedule.Reminders = "0 8 * * mon-fri"
	}
	if r.Schedule.Digest == "" {
		r.Schedule.Digest = "0 7 * * mon"
	}
	if r.Schedule.SLACheck == "" {
		r.Schedule.SLACheck = "@every 1m"
	}
	if r.Schedule.SupplierCheck == "" {
		r.Schedule.SupplierCheck = "@every 5m"
	}
}

// idSet records ids with their position to report duplicates and suggest
// near misses.
type idSet struct {
	what string
	pos  map[string]Pos
	ids  []string
}

func newIDSet(what string) *idSet { return &idSet{what: what, pos: map[string]Pos{}} }

func (s *idSet) add(e *errs, id string, p Pos) bool {
	if first, dup := s.pos[id]; dup {
		e.at(p, "duplicate %s id %q (first at line %d)", s.what, id, first.Line)
		return false
	}
	s.pos[id] = p
	s.ids = append(s.ids, id)
	return true
}

// ref reports an unknown id at p.
func (s *idSet) ref(e *errs, id string, p Pos) bool {
	if _, ok := s.pos[id]; ok {
		return true
	}
	e.at(p, "unknown %s %q%s", s.what, id, suggest(id, s.ids))
	return false
}

func (r *Rules) validate(e *errs) {
	top := Pos{1, 1}
	calendars := newIDSet("calendar")
	names := make([]string, 0, len(r.Calendars))
	for name := range r.Calendars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := r.Calendars[name]
		calendars.add(e, name, c.Pos)
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil || c.Timezone == "" {
			e.at(c.at("timezone", c.Pos), "unknown timezone %q (want an IANA name such as Europe/Stockholm)", c.Timezone)
		}
		c.Location = loc
		if c.Holidays != "" && holidaySets[c.Holidays] == nil {
			e.at(c.at("holidays", c.Pos), "unknown holiday set %q; known: no, se", c.Holidays)
		}
		c.prepare()
	}

	people := newIDSet("person")
	r.people = map[string]*Person{}
	r.byEmail = map[string]*Person{}
	for _, p := range r.People {
		if people.add(e, p.ID, p.at("id", p.Pos)) {
			r.people[p.ID] = p
		}
		if a, ok := bareAddress(p.Email); !ok {
			e.at(p.at("email", p.Pos), "email %q is not a mail address", p.Email)
		} else {
			p.Email = a
			// Commands are accepted by address: one address, one person.
			if other := r.byEmail[strings.ToLower(a)]; other != nil {
				e.at(p.at("email", p.Pos), "email %q is already used by person %q", a, other.ID)
			} else {
				r.byEmail[strings.ToLower(a)] = p
			}
		}
		checkLanguage(e, p.Language, p.at("language", p.Pos))
		for _, a := range p.Away {
			if a.To.Before(a.From) {
				e.at(a.Pos, "away period ends (%s) before it starts (%s)", a.To, a.From)
			}
		}
	}

	units := newIDSet("unit")
	r.units = map[string]*Unit{}
	r.members = map[string]*Unit{}
	r.domains = map[string]*Unit{}
	r.workAreas = map[string]bool{}
	for _, u := range r.Units {
		if units.add(e, u.ID, u.at("id", u.Pos)) {
			r.units[u.ID] = u
		}
		if u.WorkArea != "" {
			r.workAreas[u.WorkArea] = true
		}
		checkLanguage(e, u.Language, u.at("language", u.Pos))
		for i, dom := range u.Domains {
			p := u.elem("domains", i, u.Pos)
			dom, ok := domainName(dom)
			if !ok {
				e.at(p, "domain %q is not a domain name", u.Domains[i])
				continue
			}
			u.Domains[i] = dom
			if other := r.domains[dom]; other != nil {
				e.at(p, "domain %q already belongs to unit %q", dom, other.ID)
				continue
			}
			r.domains[dom] = u
		}
		for i, m := range u.Members {
			p := u.elem("members", i, u.Pos)
			a, ok := bareAddress(m)
			if !ok {
				e.at(p, "member %q is not a mail address", m)
				continue
			}
			a = strings.ToLower(a)
			u.Members[i] = a
			if other := r.members[a]; other != nil {
				e.at(p, "member %q already belongs to unit %q", a, other.ID)
				continue
			}
			r.members[a] = u
		}
	}

	roleNames := make([]string, 0, len(r.Roles))
	for name := range r.Roles {
		roleNames = append(roleNames, name)
	}
	sort.Strings(roleNames)
	areas := r.WorkAreas()
	for _, name := range roleNames {
		role := r.Roles[name]
		role.byUnit = map[string][]string{}
		role.byArea = map[string][]string{}
		for _, set := range role.ByUnit {
			units.ref(e, set.Key, set.Pos)
			role.byUnit[set.Key] = set.People
			for i, id := range set.People {
				people.ref(e, id, set.PeoplePos[i])
			}
		}
		for _, set := range role.ByWorkArea {
			if !r.workAreas[set.Key] {
				e.at(set.Pos, "unknown work area %q: no unit has work_area %s%s", set.Key, set.Key, suggest(set.Key, areas))
			}
			role.byArea[set.Key] = set.People
			for i, id := range set.People {
				people.ref(e, id, set.PeoplePos[i])
			}
		}
		for i, id := range role.Everyone {
			people.ref(e, id, role.elem("everyone", i, role.Pos))
		}
		if !oneOf(role.Assign, []string{"round_robin", "least_open"}) {
			e.at(role.at("assign", role.Pos), "assign %q: want round_robin or least_open", role.Assign)
		}
		checkNames(e, role.Names, role.at("names", role.Pos))
	}
	roleRef := func(name string, p Pos) *Role {
		if role := r.Roles[name]; role != nil {
			return role
		}
		e.at(p, "undefined role %q%s", name, suggest(name, roleNames))
		return nil
	}

	suppliers := newIDSet("supplier")
	r.suppliers = map[string]*Supplier{}
	r.supEmail = map[string]*Supplier{}
	for _, s := range r.Suppliers {
		if suppliers.add(e, s.ID, s.at("id", s.Pos)) {
			r.suppliers[s.ID] = s
		}
		if a, ok := bareAddress(s.Email); !ok {
			e.at(s.at("email", s.Pos), "email %q is not a mail address", s.Email)
		} else {
			s.Email = a
			if _, dup := r.supEmail[strings.ToLower(a)]; !dup {
				r.supEmail[strings.ToLower(a)] = s
			}
		}
		checkLanguage(e, s.Language, s.at("language", s.Pos))
	}

	services := newIDSet("service")
	r.services = map[string]*Service{}
	r.aliases = map[string]*Service{}
	for _, s := range r.Services {
		if services.add(e, s.ID, s.at("id", s.Pos)) {
			r.services[s.ID] = s
		}
		checkNames(e, s.Names, s.at("names", s.Pos))
		if !oneOf(s.Status, []string{StatusActive, StatusProposed}) {
			e.at(s.at("status", s.Pos), "status %q: want active or proposed", s.Status)
		}
		for i, k := range s.Keywords {
			if strings.TrimSpace(k) == "" {
				e.at(s.elem("keywords", i, s.Pos), "empty keyword")
			}
		}
		for i, addr := range s.Addresses {
			p := s.elem("addresses", i, s.Pos)
			a, ok := bareAddress(addr)
			if !ok {
				e.at(p, "address %q is not a mail address", addr)
				continue
			}
			a = strings.ToLower(a)
			s.Addresses[i] = a
			if other := r.aliases[a]; other != nil {
				e.at(p, "address %q is already an alias of service %q (line %d)", a, other.ID, other.Pos.Line)
				continue
			}
			r.aliases[a] = s
		}
		if len(s.Chain) == 0 && s.has("chain") {
			e.at(s.at("chain", s.Pos), "chain needs at least one rung")
		}
		for _, rung := range s.Chain {
			if !oneOf(rung.Tier, Tiers) {
				e.at(rung.at("tier", rung.Pos), "tier %q: want 1, 2, 3 or external", rung.Tier)
			}
			switch {
			case rung.Role != "" && rung.Supplier != "":
				e.at(rung.Pos, "a rung names a role or a supplier, not both")
			case rung.Role == "" && rung.Supplier == "":
				e.at(rung.Pos, "a rung needs a role or a supplier")
			case rung.Supplier != "":
				if rung.Tier != TierExternal {
					e.at(rung.at("supplier", rung.Pos), "a supplier rung must have tier external")
				}
				suppliers.ref(e, rung.Supplier, rung.at("supplier", rung.Pos))
			default:
				if role := roleRef(rung.Role, rung.at("role", rung.Pos)); role != nil && !role.HasHolders() {
					e.at(rung.at("role", rung.Pos), "role %q has no holder anywhere (give it by_unit, by_work_area or everyone)", rung.Role)
				}
			}
		}
		if s.SLA != nil {
			if s.SLA.Calendar != "" {
				calendars.ref(e, s.SLA.Calendar, s.SLA.at("calendar", s.SLA.Pos))
			}
		}
		if s.Approval != "" {
			if role := roleRef(s.Approval, s.at("approval", s.Pos)); role != nil && !role.HasHolders() {
				e.at(s.at("approval", s.Pos), "role %q has no holder anywhere, so nobody could approve", s.Approval)
			}
		}
	}

	r.validateSuppliers(e, calendars, services, units)

	ruleNames := map[string]Pos{}
	for _, rule := range r.Rules {
		if first, dup := ruleNames[rule.Name]; dup {
			e.at(rule.at("name", rule.Pos), "duplicate rule name %q (first at line %d)", rule.Name, first.Line)
		}
		ruleNames[rule.Name] = rule.at("name", rule.Pos)
		if rule.When != nil {
			r.validateCond(e, rule.When, calendars)
		}
		t := &rule.Then
		if !t.has("service") && !t.has("unit") && !t.has("priority") && !t.has("tier") &&
			!t.has("tags") && !t.has("assignee") && !t.has("drop") && !t.has("stop") {
			e.at(t.Pos, "then sets nothing; give service, unit, priority, tier, tags, assignee, drop or stop")
		}
		if t.Service != "" {
			services.ref(e, t.Service, t.at("service", t.Pos))
		}
		if t.Unit != "" {
			units.ref(e, t.Unit, t.at("unit", t.Pos))
		}
		if t.has("priority") && !oneOf(t.Priority, Priorities) {
			e.at(t.at("priority", t.Pos), "priority %q: want low, normal, high or urgent", t.Priority)
		}
		if t.has("tier") && !oneOf(t.Tier, Tiers) {
			e.at(t.at("tier", t.Pos), "tier %q: want 1, 2, 3 or external", t.Tier)
		}
		if t.Assignee != "" {
			people.ref(e, t.Assignee, t.at("assignee", t.Pos))
		}
		if t.has("drop") && strings.TrimSpace(t.Drop) == "" {
			e.at(t.at("drop", t.Pos), "drop needs a reason")
		}
		for i, tag := range t.Tags {
			if strings.TrimSpace(tag) == "" || strings.ContainsAny(tag, " \t") {
				e.at(t.elem("tags", i, t.Pos), "tag %q: want a word without spaces", tag)
			}
		}
	}

	dp := r.Default.at("service", r.Default.Pos)
	if r.Default.Service != "" && services.ref(e, r.Default.Service, dp) {
		def := r.services[r.Default.Service]
		if def.Proposed() {
			e.at(dp, "the default service %q must not be proposed", def.ID)
		}
		// The default takes what nothing else can: it must have a rung that
		// needs no unit, so a case never ends nowhere.
		ok := false
		for _, rung := range def.Chain {
			role := r.Roles[rung.Role]
			if rung.Supplier != "" || role == nil || len(role.Everyone) > 0 {
				ok = true // a missing role is reported at the rung
			}
		}
		if !ok && len(def.Chain) > 0 {
			e.at(dp, "the default service %q needs a rung whose role has an everyone holder, so mail from any sender has someone", def.ID)
		}
	}
	if len(r.Services) == 0 && r.has("services") {
		e.at(r.at("services", top), "the catalogue needs at least one service")
	}

	for _, c := range []struct{ key, spec string }{
		{"reminders", r.Schedule.Reminders}, {"digest", r.Schedule.Digest}, {"sla_check", r.Schedule.SLACheck},
		{"supplier_check", r.Schedule.SupplierCheck},
	} {
		if _, err := CronParser.Parse(c.spec); err != nil {
			e.at(r.Schedule.at(c.key, r.Schedule.Pos), "bad cron spec %q: %v", c.spec, err)
		}
	}
}

func (r *Rules) validateCond(e *errs, c *Cond, calendars *idSet) {
	if c.BusinessHours != "" {
		calendars.ref(e, c.BusinessHours, c.at("business_hours", c.Pos))
	}
	if c.has("all") && len(c.All) == 0 {
		e.at(c.at("all", c.Pos), "all needs at least one condition")
	}
	if c.has("any") && len(c.Any) == 0 {
		e.at(c.at("any", c.Pos), "any needs at least one condition")
	}
	for _, s := range c.All {
		if s != nil {
			r.validateCond(e, s, calendars)
		}
	}
	for _, s := range c.Any {
		if s != nil {
			r.validateCond(e, s, calendars)
		}
	}
	if c.Not != nil {
		r.validateCond(e, c.Not, calendars)
	}
}

// checkNames checks a `names:` mapping: known languages, no empty name.
func checkNames(e *errs, names map[string]string, p Pos) {
	langs := make([]string, 0, len(names))
	for l := range names {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		switch {
		case !oneOf(l, languages):
			e.at(p, "names: language %q: want one of sv, nb, en", l)
		case strings.TrimSpace(names[l]) == "":
			e.at(p, "names: %s is empty", l)
		}
	}
}

// domainName normalises a domain as written in rules.yaml (lower case,
// no final dot) and reports whether it is one.
func domainName(s string) (string, bool) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	return d, d != "" && !strings.ContainsAny(d, "@ /") && strings.Contains(d, ".")
}

func checkLanguage(e *errs, lang string, p Pos) {
	if lang != "" && !oneOf(lang, languages) {
		e.at(p, "language %q: want one of sv, nb, en", lang)
	}
}
