package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// A large rule set: the notice lists what matched and the deciding facts
// and counts the rest; ExplainAll and the stored JSON keep every rule.
func TestExplainLargeRuleSet(t *testing.T) {
	r := benchRules(t)
	d, err := Route(context.Background(), r, benchInputs()[3], nil)
	if err != nil {
		t.Fatal(err)
	}
	short := d.Explain()
	for _, want := range []string{
		`  rule "r8": matched — recipient is alias8@example.org` + "\n",
		`  rule "r471": matched — body matches (?i)order (no|number):? *471[0-9]*` + "\n",
		"  498 other rule(s) did not match (`casemail rules explain` and the case's events list each)\n",
		"  unit u88: member — boss88@example.net is listed in the unit's members\n",
		`  service s8: set by rule — rule "r8"` + "\n",
		`  rung tier 3: set by rule — rule "r471" starts the case on tier 3` + "\n",
		"  rung 3 of 3 (tier 3, role central): start — held by p310, p311, p312\n",
		"  assignee p310: first — among p310, p311, p312\n",
	} {
		if !strings.Contains(short, want) {
			t.Errorf("Explain lacks %q:\n%s", want, short)
		}
	}
	if n := strings.Count(short, "\n"); n > 25 {
		t.Errorf("Explain has %d lines for a 500-rule set, want a summary:\n%s", n, short)
	}
	if strings.Contains(short, `"r0"`) || strings.Contains(short, `"r9"`) {
		t.Errorf("Explain lists a rule that did not match:\n%s", short)
	}

	all := d.ExplainAll()
	for i := 0; i < 500; i++ {
		if !strings.Contains(all, fmt.Sprintf("  rule \"r%d\": ", i)) {
			t.Fatalf("ExplainAll lacks rule r%d", i)
		}
	}
	if !strings.Contains(all, `  rule "r1": no match — from_domain is not in [d1.example.com, e1.example.com]`+"\n") {
		t.Errorf("ExplainAll lacks the reason r1 failed")
	}
	if got, want := d.Trail.Matched(), []string{"r8", "r471"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Matched = %v, want %v", got, want)
	}
	if d.Trail.SetBy("service") != "r8" || d.Trail.SetBy("rung") != "r471" || d.Trail.SetBy("unit") != "" {
		t.Errorf("SetBy service=%q rung=%q unit=%q", d.Trail.SetBy("service"), d.Trail.SetBy("rung"), d.Trail.SetBy("unit"))
	}
}

// The trail stored in a case's events reads back to the same steps and
// renders the same text.
func TestTrailJSONRoundTrip(t *testing.T) {
	for _, r := range []struct {
		name string
		in   Input
		big  bool
	}{
		{"seeds, stop rule", Input{From: "student@fysik.example.se", Subject: "Nytt lösenord", Received: tuesday}, false},
		{"seeds, no rule", Input{From: "ola@bryne.example.no", Subject: "e-håndbok", Received: tuesday}, false},
		{"500 rules", benchInputs()[2], true},
	} {
		t.Run(r.name, func(t *testing.T) {
			rules := loadSeeds(t)
			if r.big {
				rules = benchRules(t)
			}
			d, err := Route(context.Background(), rules, r.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(map[string]any{"trail": d.Trail})
			if err != nil {
				t.Fatal(err)
			}
			var back struct{ Trail Trail }
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Trail.Steps(), storedSteps(d.Trail.Steps())) {
				t.Errorf("steps differ after JSON:\n%v\n%v", back.Trail.Steps(), d.Trail.Steps())
			}
			if back.Trail.Len() != d.Trail.Len() || d.Trail.Len() != len(d.Trail.Steps()) {
				t.Errorf("Len: decoded %d, routed %d, steps %d", back.Trail.Len(), d.Trail.Len(), len(d.Trail.Steps()))
			}
			dd := d
			dd.Trail = back.Trail
			if dd.Explain() != d.Explain() || dd.ExplainAll() != d.ExplainAll() {
				t.Errorf("decoded trail renders differently:\n%s\nwant:\n%s", dd.Explain(), d.Explain())
			}
			if !reflect.DeepEqual(back.Trail.Matched(), d.Trail.Matched()) || back.Trail.SetBy("service") != d.Trail.SetBy("service") {
				t.Errorf("Matched/SetBy differ after JSON")
			}
			// The stored form is a plain list of steps.
			if !strings.Contains(string(b), `{"trail":[{"Kind":"rule","Name":`) {
				t.Errorf("stored trail = %.200s", b)
			}
		})
	}
}

// storedSteps is steps as JSON keeps them: without the parts of Why and the
// place, which serve only the notice made at routing time.
func storedSteps(steps []Step) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		if s.Why != fmt.Sprintf(s.Format, s.Args...) && s.Format != "" {
			panic(fmt.Sprintf("step %+v: Why is not its Format with its Args", s))
		}
		s.Format, s.Args, s.At = "", nil, nil
		out[i] = s
	}
	return out
}

// No rendered line says a word twice ("rung rung 1"), in any scenario.
func TestExplainNoDoubledWords(t *testing.T) {
	r := loadSeeds(t)
	doubled := regexp.MustCompile(`\b(\pL+) (\pL+)\b`)
	for _, in := range []Input{
		{From: "ola@bryne.example.no", Subject: "e-håndbok", Received: tuesday},
		{From: "x@sandnes.example.no", Subject: "qm+", Received: tuesday.AddDate(0, 4, 0)}, // superuser away
		{From: "student@fysik.example.se", Subject: "Skrivaren", Received: tuesday},
		{From: "ola@bryne.example.no", Subject: "Fravær: ferie", Received: tuesday},
	} {
		d, err := Route(context.Background(), r, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := d.ExplainAll()
		for _, m := range doubled.FindAllStringSubmatch(out, -1) {
			if m[1] == m[2] {
				t.Errorf("doubled word %q in:\n%s", m[0], out)
			}
		}
	}
}

// The trail's JSON strings decode to what was encoded, as encoding/json's
// would, for any text a rule name or reason may hold.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", `a "quoted" \ back`, "tab\tnew\nline\r", "\x00\x1f\x7f", "åäö ø σ 😀", "bad \xff utf8 \xc3", "<&>\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got, want string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, b, err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q: decodes to %q, encoding/json's to %q", s, got, want)
		}
	})
}
