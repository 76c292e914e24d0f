package routing

import (
	"encoding/json"
	"strconv"
)

// Routed is the decision a case was given when it was opened, as its
// "routed" event recorded it: what a replay compares a new Decision with.
type Routed struct {
	Service, Unit, Tier, Role string
	// Dropped is set when a drop rule dropped the case.
	Dropped bool
	Trail   Trail
}

// ParseRouted reads the data of a case's "routed" event (the Decision's
// fields and its trail, as JSON).
func ParseRouted(data []byte) (Routed, error) {
	var d struct {
		Service, Unit, Tier, Role string
		Trail                     Trail
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return Routed{}, err
	}
	r := Routed{Service: d.Service, Unit: d.Unit, Tier: d.Tier, Role: d.Role, Trail: d.Trail}
	// Only a drop rule counts: list or looping mail is dropped by intake,
	// whatever the rules say.
	for _, s := range d.Trail.Steps() {
		r.Dropped = r.Dropped || s.Kind == "drop"
	}
	return r, nil
}

// Change is one field a new decision changes, and the rule responsible.
type Change struct{ Field, Old, New, Because string }

// Replay compares a case's original decision with a new one: service,
// unit, tier and role, and whether a rule drops it. Each change names the
// rule responsible: the new rule that decides the field, else the old rule
// that decided it and no longer does, else how the new decision found it.
// No change: nil.
func Replay(old Routed, dec Decision) []Change {
	because := func(kind string) string {
		if r := dec.Trail.SetBy(kind); r != "" {
			return "rule " + strconv.Quote(r)
		}
		if r := old.Trail.SetBy(kind); r != "" {
			return "rule " + strconv.Quote(r) + " no longer applies"
		}
		for _, s := range dec.Trail.Steps() {
			if s.Kind == kind && s.Result != "skipped" {
				return kind + " " + s.Result + ": " + s.Why
			}
		}
		return ""
	}
	var out []Change
	add := func(field, o, n, why string) {
		if o != n {
			out = append(out, Change{field, o, n, why})
		}
	}
	if old.Dropped != dec.Drop {
		o, n := "no", "no"
		if old.Dropped {
			o = "yes"
		}
		if dec.Drop {
			n = "yes (" + dec.DropReason + ")"
		}
		add("dropped", o, n, because("drop"))
	}
	add("service", old.Service, dec.Service, because("service"))
	add("unit", old.Unit, dec.Unit, because("unit"))
	if old.Dropped || dec.Drop {
		return out // a dropped case has no rung
	}
	// A rung moves with a rule's tier, else with the service or unit.
	rung := because("rung")
	if dec.Trail.SetBy("rung") == "" && old.Trail.SetBy("rung") == "" {
		switch {
		case old.Service != dec.Service:
			rung = because("service")
		case old.Unit != dec.Unit:
			rung = because("unit")
		}
	}
	add("tier", old.Tier, dec.Tier, rung)
	add("role", old.Role, dec.Role, rung)
	return out
}
