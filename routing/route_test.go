package routing

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/casemail/casemail/config"
)

func loadSeeds(t testing.TB) *config.Rules {
	t.Helper()
	r, err := config.LoadRules("testdata/seeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var stockholm = func() *time.Location {
	l, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		panic(err)
	}
	return l
}()

// A Tuesday at ten: office hours, nobody away.
var tuesday = time.Date(2026, 3, 10, 10, 0, 0, 0, stockholm)

func TestRouteSeedScenarios(t *testing.T) {
	r := loadSeeds(t)
	tests := []struct {
		name string
		in   Input
		want Decision // compared on the fields set below
	}{
		{
			name: "a school user's Qm+ question lands with the superuser of their school",
			in:   Input{From: "ola@bryne.example.no", To: []string{"helpdesk@example.org"}, Subject: "Spørsmål", Body: "Hvordan finner jeg rutinen i e-håndboka? Jeg bruker e-håndbok hver dag.", Received: tuesday},
			want: Decision{Service: "qm-handbook", Unit: "bryne", WorkArea: "schools", Language: "nb", Rung: 1, Rungs: 4, Tier: "1", Role: "superuser", Candidates: []string{"anna"}, Assignee: "anna", Strategy: "only", Priority: "normal"},
		},
		{
			name: "a member address belongs to its unit whatever the domain",
			in:   Input{From: "rektor@example.no", Subject: "Qm+ virker ikke", Received: tuesday},
			want: Decision{Service: "qm-handbook", Unit: "bryne", Rung: 1, Role: "superuser", Assignee: "anna"},
		},
		{
			name: "a password mail from a department lands at central support",
			in:   Input{From: "student@fysik.example.se", Subject: "Glömt mitt LÖSENORD", Body: "Jag behöver ett nytt nätverkskonto också.", Received: tuesday},
			want: Decision{Service: "passwords", Unit: "fysik", Rung: 1, Tier: "2", Role: "central_support", Candidates: []string{"lars", "maria"}, Assignee: "lars", Strategy: "first", Priority: "high"},
		},
		{
			name: "an uncatalogued question goes to triage",
			in:   Input{From: "someone@gmail.example", Subject: "Hur bokar jag ett rum?", Body: "Hej!", Received: tuesday},
			want: Decision{Service: "triage", Unit: "", Rung: 1, Tier: "2", Role: "central_support", Assignee: "lars"},
		},
		{
			name: "a proposed service routes as triage",
			in:   Input{From: "student@fysik.example.se", Subject: "Skrivaren", Body: "Min skrivare skriver inte ut.", Received: tuesday},
			want: Decision{Service: "triage", Proposed: true, Original: "printing", Unit: "fysik", Rung: 1, Role: "central_support"},
		},
		{
			name: "an alias address means its service",
			in:   Input{From: "ola@bryne.example.no", To: []string{"QM@example.org"}, Subject: "Hei", Received: tuesday},
			want: Decision{Service: "qm-handbook", Unit: "bryne", Rung: 1, Role: "superuser", Assignee: "anna"},
		},
		{
			name: "an alias in Delivered-To counts too",
			in:   Input{From: "ola@bryne.example.no", To: []string{"list@example.org"}, DeliveredTo: []string{"qm@example.org"}, Subject: "Hei", Received: tuesday},
			want: Decision{Service: "qm-handbook", Rung: 1, Assignee: "anna"},
		},
		{
			name: "a drop rule drops",
			in:   Input{From: "ola@bryne.example.no", Subject: "Fravær: Ola er på ferie", Received: tuesday},
			want: Decision{Service: "triage", Unit: "bryne", Drop: true, DropReason: "automatic out-of-office reply", Rung: 0, Assignee: ""},
		},
		{
			name: "an away superuser is skipped: the coordinator takes it",
			in:   Input{From: "elev@sandnes.example.no", Subject: "e-håndbok", Received: time.Date(2026, 7, 14, 10, 0, 0, 0, stockholm)},
			want: Decision{Service: "qm-handbook", Unit: "sandnes", Rung: 2, Tier: "2", Role: "coordinator", Candidates: []string{"per"}, Assignee: "per"},
		},
		{
			name: "the same superuser back from holiday takes it",
			in:   Input{From: "elev@sandnes.example.no", Subject: "e-håndbok", Received: time.Date(2026, 8, 3, 10, 0, 0, 0, stockholm)},
			want: Decision{Service: "qm-handbook", Unit: "sandnes", Rung: 1, Role: "superuser", Assignee: "ingrid"},
		},
		{
			name: "no unit: unit-bound rungs are skipped",
			in:   Input{From: "parent@gmail.example", Subject: "Qm+", Received: tuesday},
			want: Decision{Service: "qm-handbook", Unit: "", Rung: 3, Tier: "3", Role: "system_responsible", Assignee: "eva"},
		},
		{
			name: "a rule sets the unit",
			in:   Input{From: "tannlege@tannhelse.example.no", Subject: "e-håndbok", Received: tuesday},
			want: Decision{Service: "qm-handbook", Unit: "tannhelse", WorkArea: "dental", Rung: 2, Role: "coordinator", Assignee: "kari"},
		},
		{
			name: "nobody on the chain: the default service takes it",
			in:   Input{From: "researcher@gmail.example", Subject: "Labbutrustning trasig", Received: tuesday},
			want: Decision{Service: "triage", Original: "lab-equipment", Rung: 1, Role: "central_support", Assignee: "lars"},
		},
		{
			name: "the same service with a local helpdesk stays",
			in:   Input{From: "researcher@fysik.example.se", Subject: "Labbutrustning trasig", Received: tuesday},
			want: Decision{Service: "lab-equipment", Unit: "fysik", Rung: 1, Tier: "1", Role: "local_support", Assignee: "johan"},
		},
		{
			name: "a rule's tier starts the case on that tier",
			in:   Input{From: "monitor@example.se", Subject: "CRITICAL: vpn gateway DOWN", Received: tuesday},
			want: Decision{Service: "network-accounts", Rung: 3, Tier: "3", Role: "network_experts", Assignee: "nils", Priority: "urgent", Tags: []string{"monitoring"}},
		},
		{
			name: "a rule's assignee overrides",
			in:   Input{From: "direktor@example.se", Subject: "Fråga", Received: tuesday},
			want: Decision{Service: "triage", Rung: 2, Role: "support_manager", Assignee: "sara", Strategy: "rule", Tags: []string{"vip"}},
		},
		{
			name: "business hours: urgent only outside them",
			in:   Input{From: "a@fysik.example.se", Subject: "akut: vpn", Received: time.Date(2026, 3, 10, 20, 0, 0, 0, stockholm)},
			want: Decision{Service: "network-accounts", Priority: "urgent", Tags: []string{"after-hours"}, Rung: 1, Assignee: "johan"},
		},
		{
			name: "business hours: normal inside them",
			in:   Input{From: "a@fysik.example.se", Subject: "akut: vpn", Received: tuesday},
			want: Decision{Service: "network-accounts", Priority: "normal", Rung: 1, Assignee: "johan"},
		},
		{
			name: "the mailbox default applies before the global default",
			in:   Input{From: "x@gmail.example", Subject: "Hej", Received: tuesday, MailboxDefaultService: "network-accounts"},
			want: Decision{Service: "network-accounts", Rung: 2, Role: "central_support"},
		},
		{
			name: "keywords are whole words",
			in:   Input{From: "x@gmail.example", Subject: "vpnclient", Body: "subvpn", Received: tuesday},
			want: Decision{Service: "triage"},
		},
		{
			name: "keywords in the body count after the subject",
			in:   Input{From: "x@fysik.example.se", Subject: "Hjälp", Body: "Mitt NÄTVERKSKONTO är låst.", Received: tuesday},
			want: Decision{Service: "network-accounts", Unit: "fysik", Rung: 1, Assignee: "johan"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Route(context.Background(), r, tt.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, d, tt.want)
			// Every rule is in the trail, or counted by a stop step.
			considered, stopped := 0, false
			for _, s := range d.Trail.Steps() {
				if s.Kind == "rule" && s.Result != "stop" {
					considered++
				}
				stopped = stopped || s.Result == "stop"
			}
			if considered != len(r.Rules) && !stopped {
				t.Errorf("trail considers %d of %d rules without a stop", considered, len(r.Rules))
			}
		})
	}
}

// compare checks the fields of want that a case sets (Service always).
func compare(t *testing.T, got, want Decision) {
	t.Helper()
	check := func(name string, g, w any, set bool) {
		if set && g != w {
			t.Errorf("%s = %v, want %v\n%s", name, g, w, got.Explain())
		}
	}
	check("Service", got.Service, want.Service, true)
	check("Unit", got.Unit, want.Unit, want.Unit != "" || want.Service == "triage")
	check("WorkArea", got.WorkArea, want.WorkArea, want.WorkArea != "")
	check("Language", got.Language, want.Language, want.Language != "")
	check("Proposed", got.Proposed, want.Proposed, true)
	check("Original", got.Original, want.Original, true)
	check("Rung", got.Rung, want.Rung, want.Rung != 0 || want.Drop)
	check("Rungs", got.Rungs, want.Rungs, want.Rungs != 0)
	check("Tier", got.Tier, want.Tier, want.Tier != "")
	check("Role", got.Role, want.Role, want.Role != "")
	check("Candidates", strings.Join(got.Candidates, ","), strings.Join(want.Candidates, ","), want.Candidates != nil)
	check("Assignee", got.Assignee, want.Assignee, want.Assignee != "" || want.Drop)
	check("Strategy", got.Strategy, want.Strategy, want.Strategy != "")
	check("Priority", got.Priority, want.Priority, want.Priority != "")
	check("Tags", strings.Join(got.Tags, ","), strings.Join(want.Tags, ","), want.Tags != nil)
	check("Drop", got.Drop, want.Drop, true)
	check("DropReason", got.DropReason, want.DropReason, want.Drop)
}

func TestEscalationClimbsTheChain(t *testing.T) {
	r := loadSeeds(t)
	d, err := Route(context.Background(), r, Input{From: "ola@bryne.example.no", Subject: "e-håndbok", Received: tuesday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type rung struct{ tier, role, supplier, candidates string }
	want := []rung{
		{"1", "superuser", "", "anna"},
		{"2", "coordinator", "", "per"},
		{"3", "system_responsible", "", "eva"},
		{"external", "", "qm-vendor", ""},
	}
	for i, w := range want {
		if i > 0 && !NextRung(r, &d, tuesday) {
			t.Fatalf("NextRung from rung %d failed", i)
		}
		got := rung{d.Tier, d.Role, d.Supplier, strings.Join(d.Candidates, ",")}
		if got != w || d.Rung != i+1 {
			t.Errorf("rung %d = %+v (Rung %d), want %+v", i+1, got, d.Rung, w)
		}
	}
	if NextRung(r, &d, tuesday) {
		t.Errorf("NextRung above the supplier succeeded: %+v", d)
	}
	// Escalating from an away superuser's rung skips nobody else.
	d2 := Decision{Service: "qm-handbook", Unit: "sandnes"}
	if !Rung(r, &d2, 1, time.Date(2026, 7, 14, 10, 0, 0, 0, stockholm)) || len(d2.Candidates) != 0 {
		t.Errorf("rung 1 for sandnes in July: %+v, want no candidates (ingrid away)", d2)
	}
	if Rung(r, &d2, 5, tuesday) || d2.Rung != 1 {
		t.Errorf("Rung beyond the chain changed the decision: %+v", d2)
	}
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	r := loadSeeds(t)
	a := NewMemoryAssigner()
	count := map[string]int{}
	for i := 0; i < 100; i++ {
		d, err := Route(context.Background(), r, Input{From: "x@gmail.example", Subject: "fråga", Received: tuesday}, a)
		if err != nil {
			t.Fatal(err)
		}
		if d.Strategy != "round_robin" {
			t.Fatalf("strategy %q, want round_robin", d.Strategy)
		}
		count[d.Assignee]++
	}
	if count["lars"] != 50 || count["maria"] != 50 || len(count) != 2 {
		t.Errorf("round robin over 100 cases = %v, want 50/50", count)
	}
}

func TestLeastOpen(t *testing.T) {
	a := NewMemoryAssigner()
	ctx := context.Background()
	pool := []string{"a", "b", "c"}
	var got []string
	for i := 0; i < 3; i++ {
		who, _ := a.Pick(ctx, "k", "least_open", pool)
		got = append(got, who)
	}
	a.Done("b")
	who, _ := a.Pick(ctx, "k", "least_open", pool)
	got = append(got, who)
	if strings.Join(got, ",") != "a,b,c,b" {
		t.Errorf("least_open picks = %v, want a,b,c,b", got)
	}
	if _, err := a.Pick(ctx, "k", "random", pool); err == nil {
		t.Error("unknown strategy accepted")
	}
}

func TestPoolKey(t *testing.T) {
	r := loadSeeds(t)
	tests := []struct {
		d    Decision
		want string
	}{
		{Decision{Role: "superuser", Unit: "bryne"}, "role:superuser:unit:bryne"},
		{Decision{Role: "coordinator", Unit: "bryne"}, "role:coordinator:area:schools"},
		{Decision{Role: "central_support", Unit: "bryne"}, "role:central_support"},
		{Decision{Role: "central_support"}, "role:central_support"},
	}
	for _, tt := range tests {
		if got := PoolKey(r, &tt.d); got != tt.want {
			t.Errorf("PoolKey(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestExplain(t *testing.T) {
	r := loadSeeds(t)
	d, err := Route(context.Background(), r, Input{From: "student@fysik.example.se", Subject: "Nytt lösenord", Received: tuesday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := d.Explain()
	for _, want := range []string{
		"service:   passwords (Passwords and accounts)\n",
		"unit:      fysik, work area university\n",
		"rung:      1 of 1: tier 2, role central_support\n",
		"assignee:  lars (first)\n",
		"priority:  high\n",
		`  rule "out-of-office replies are dropped": no match — subject does not match (?i)^(out of office|frånvaro|fravær)` + "\n",
		`  rule "password problems are central": matched — subject matches (?i)lösenord|passord|password` + "\n",
		`  rule "password problems are central": stop — stop: true; 4 later rule(s) not considered` + "\n",
		"  unit fysik: domain — sender domain fysik.example.se belongs to the unit\n",
		`  service passwords: set by rule — rule "password problems are central"` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Explain lacks %q:\n%s", want, out)
		}
	}
}

// The trail says why each rule did not match, naming the failing part.
func TestTrailReasons(t *testing.T) {
	r := loadSeeds(t)
	d, err := Route(context.Background(), r, Input{From: "monitor@example.se", Subject: "all fine", Received: tuesday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, s := range d.Trail.Steps() {
		if s.Name == "monitoring alerts go to the network experts" {
			got = s.Result + ": " + s.Why
		}
	}
	if want := "no match: subject contains none of [down, critical]"; got != want {
		t.Errorf("trail = %q, want %q", got, want)
	}
}

// fold must put every member of a regexp (?i) orbit on one rune, or the
// regular-expression prefilter could reject a mail the expression matches.
func TestFoldIsConstantOnCaseOrbits(t *testing.T) {
	for r := rune(0); r <= 0x1FFFF; r++ {
		for m := unicode.SimpleFold(r); m != r; m = unicode.SimpleFold(m) {
			if foldRune(m) != foldRune(r) {
				t.Fatalf("fold(%U)=%U but fold(%U)=%U, same orbit", r, foldRune(r), m, foldRune(m))
			}
		}
	}
}

func TestRegexPrefilterIsSound(t *testing.T) {
	exprs := []string{
		"(?i)lösenord|passord|password", "(?i)^(out of office|frånvaro)", "invoice\\s+\\d+",
		"(?i)pass", "a+b", "(foo|bar)baz", "x*", "(?i)kelvin", "^$", "(?i)σοφία",
		"(?i)order (no|number):? *471[0-9]*", "(ticket)-\\d+\\b", "(?m)^done$",
	}
	texts := []string{
		"PAſSWORD reset", "Glömt LÖSENORD", "Out Of Office", "invoice  42", "aaab", "barbaz",
		"KELVIN", "\u212Aelvin", "", "ΣΟΦΊΑ", "σοφίας", "nothing here",
		"order form first, then ORDER NUMBER: 4711", "\u212Aelvin order no 471", "ſtop: order no 471",
		"ticket-12 and ticket-", "ticketticket-7x ticket-8", "not done\ndone", "Å ORDER NO 471",
	}
	for _, src := range exprs {
		re := regexp.MustCompile(src)
		m := compileMatcher(&config.Matcher{Op: config.OpMatches, Re: re, Source: src}, false)
		for _, text := range texts {
			var b bigramSet
			f, same := foldKeep(text)
			b.add(f)
			if want, got := re.MatchString(text), m.match(text, f, &b, same); got != want {
				t.Errorf("%q on %q: compiled matcher says %v, regexp %v (literals %q)", src, text, got, want, requiredLiterals(src))
			}
		}
	}
	for src, want := range map[string]string{
		"(?i)lösenord|passord|password":      `[[lösenord pass]]`,
		"(?i)order (no|number):? *451[0-9]*": `[[order ] [451] [n] [o umber]]`,
		"x*":                                 `[]`,
	} {
		if got := fmt.Sprint(requiredLiterals(src)); got != want {
			t.Errorf("requiredLiterals(%q) = %s, want %s", src, got, want)
		}
	}
}

func TestLiteralPrefixAndOffsets(t *testing.T) {
	for src, want := range map[string]string{
		"(?i)order (no|number):? *471": "order ",
		"(Ticket)-\\d+":                "ticket",
		"^order":                       "",
		"\\border":                     "",
		"a|b":                          "",
	} {
		if got := literalPrefix(src); got != want {
			t.Errorf("literalPrefix(%q) = %q, want %q", src, got, want)
		}
	}
	if f, same := foldKeep("Ärende \u212Aelvin"); same || f != "ärende kelvin" {
		t.Errorf("foldKeep with a Kelvin sign = %q, %v; want offsets reported as moved", f, same)
	}
	if f, same := foldKeep("ÄRENDE ØST"); !same || f != "ärende øst" {
		t.Errorf("foldKeep = %q, %v", f, same)
	}
}

// FuzzRegexMatcher checks the compiled matcher (prefilter and prefix
// search) against the regexp package on arbitrary text.
func FuzzRegexMatcher(f *testing.F) {
	exprs := []string{
		"(?i)lösenord|passord|password", "(?i)order (no|number):? *471[0-9]*", "(?i)^(out of office|frånvaro)",
		"(ticket)-\\d+\\b", "(?i)kelvin", "(?i)σοφία", "(?m)^done$", "x+y",
	}
	for _, s := range []string{"ORDER NUMBER 4711", "PAſSWORD", "\u212Aelvin", "ticket-9", "ΣΟΦΊΑ", "a\ndone", "xxy"} {
		f.Add(s)
	}
	var ms []*matcher
	var res []*regexp.Regexp
	for _, src := range exprs {
		re := regexp.MustCompile(src)
		res = append(res, re)
		ms = append(ms, compileMatcher(&config.Matcher{Op: config.OpMatches, Re: re, Source: src}, false))
	}
	f.Fuzz(func(t *testing.T, text string) {
		folded, same := foldKeep(text)
		var b bigramSet
		b.add(folded)
		for i, m := range ms {
			if want, got := res[i].MatchString(text), m.match(text, folded, &b, same); got != want {
				t.Fatalf("%q on %q: matcher %v, regexp %v", exprs[i], text, got, want)
			}
		}
	})
}
