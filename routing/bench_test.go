package routing

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

// benchRules generates a large organisation: 300 units, 200 services and
// 500 rules (300 on sender, domain or recipient; 150 on subject or body
// words; 50 regular expressions).
func benchRules(tb testing.TB) *config.Rules {
	var b strings.Builder
	b.WriteString("people:\n")
	for i := 0; i < 320; i++ {
		fmt.Fprintf(&b, "  - {id: p%d, name: Person %d, email: p%d@example.org}\n", i, i, i)
	}
	b.WriteString("units:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "  - {id: u%d, name: Unit %d, work_area: area%d, language: nb, domains: [u%d.example.org], members: [boss%d@example.net]}\n", i, i, i%10, i, i)
	}
	b.WriteString("roles:\n  superuser:\n    by_unit:\n")
	for i := 0; i < 300; i += 2 { // half the units have a superuser
		fmt.Fprintf(&b, "      u%d: [p%d]\n", i, i)
	}
	b.WriteString("  coordinator:\n    by_work_area:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "      area%d: [p%d]\n", i, 300+i)
	}
	b.WriteString("  central: {everyone: [p310, p311, p312]}\n")
	b.WriteString("services:\n")
	for i := 0; i < 199; i++ {
		fmt.Fprintf(&b, "  - {id: s%d, name: Service %d, keywords: [kw%da, kw%db, word%d phrase], addresses: [s%d@example.org], chain: [{tier: 1, role: superuser}, {tier: 2, role: coordinator}, {tier: 3, role: central}]}\n", i, i, i, i, i, i)
	}
	b.WriteString("  - {id: triage, name: Triage, chain: [{tier: 2, role: central}]}\n")
	b.WriteString("rules:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "    when: {from: [a%d@ext.example, b%d@ext.example, c%d@ext.example, d%d@ext.example, e%d@ext.example]}\n", i, i, i, i, i)
		case 1:
			fmt.Fprintf(&b, "    when: {from_domain: [d%d.example.com, e%d.example.com]}\n", i, i)
		case 2:
			fmt.Fprintf(&b, "    when: {recipient: alias%d@example.org}\n", i)
		}
		fmt.Fprintf(&b, "    then: {service: s%d}\n", i%199)
	}
	for i := 300; i < 450; i++ {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "    when: {subject: {contains: term%d}}\n", i)
		} else {
			fmt.Fprintf(&b, "    when: {body: {contains: [bodyterm%d, other phrase %d]}}\n", i, i)
		}
		fmt.Fprintf(&b, "    then: {priority: high, tags: [t%d]}\n", i)
	}
	for i := 450; i < 500; i++ {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "    when: {subject: {matches: \"(?i)ticket-%d\\\\b|incident %d\"}}\n", i, i)
		} else {
			fmt.Fprintf(&b, "    when: {body: {matches: \"(?i)order (no|number):? *%d[0-9]*\"}}\n", i)
		}
		fmt.Fprintf(&b, "    then: {tier: \"3\"}\n")
	}
	b.WriteString("default: {service: triage}\n")
	r, err := config.ParseRules("bench.yaml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

const benchBody = `Hei,

jeg har et problem med systemet vi bruker på skolen. Når jeg prøver å åpne
rapporten for forrige måned får jeg bare en tom side, og det samme skjer for
kollegaene mine. Vi har prøvd å logge ut og inn igjen, tømme nettleserens
hurtigminne og bruke en annen nettleser, men ingenting hjelper. Det begynte
etter oppdateringen i forrige uke. Kan dere se på det så snart som mulig?
Vi trenger rapporten til møtet på torsdag. Jeg legger ved et skjermbilde.

Ordrenummeret fra leverandøren var 55-1234, hvis det er til hjelp, og saken
gjelder også kw77b i noen tilfeller.

Med vennlig hilsen
Ola Nordmann
Lærer, Bryne skole
Tlf 51 00 00 00
`

func benchInputs() []Input {
	at := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	return []Input{
		{From: "ola@u17.example.org", To: []string{"helpdesk@example.org"}, Subject: "Rapporten er tom", Body: benchBody, Received: at},
		{From: "kari@u42.example.org", To: []string{"helpdesk@example.org"}, Subject: "Problem med kw42a etter oppdatering", Body: benchBody, Received: at},
		{From: "x@d301.example.com", To: []string{"s5@example.org"}, Cc: []string{"boss3@example.net"}, Subject: "Re: ticket-452 follow-up", Body: benchBody, Received: at},
		{From: "boss88@example.net", To: []string{"alias8@example.org"}, Subject: "Kan noen hjelpe", Body: benchBody + "order number 4711\n", Received: at},
	}
}

// BenchmarkRoute routes with the full trail (one step per rule, as
// `rules explain` shows it); BenchmarkRouteMatched with the matched rules
// only. Both report decisions per wall-clock second and per CPU second of
// the process (the garbage collector included), the latter being the
// steadier figure on a shared machine.
func BenchmarkRoute(b *testing.B) { benchmarkRoute(b, Route, 500) }

func benchmarkRoute(b *testing.B, route func(context.Context, *config.Rules, Input, Assigner) (Decision, error), minTrail int) {
	r := benchRules(b)
	ins := benchInputs()
	ctx := context.Background()
	// Compile outside the timed loop, as a daemon does once per reload.
	if _, err := route(ctx, r, ins[0], nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		d, err := route(ctx, r, ins[i%len(ins)], nil)
		if err != nil || d.Trail.Len() < minTrail {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "decisions/cpu-s")
	}
}

// TestBenchRulesRoute checks the generated organisation routes as meant,
// so the benchmark measures real work: keywords in subject and body,
// aliases, recipient rules, regular expressions, units by domain and
// membership, and rungs skipped where a unit has no superuser.
func TestBenchRulesRoute(t *testing.T) {
	r := benchRules(t)
	want := []string{
		"s77 unit=u17 rung=2 tier=2 assignee=p307", // keyword kw77b in the body; odd units have no superuser
		"s42 unit=u42 rung=1 tier=1 assignee=p42",  // keyword kw42a in the subject
		"s5 unit= rung=3 tier=3 assignee=p310",     // alias s5@; the ticket-452 regex sets tier 3
		"s8 unit=u88 rung=3 tier=3 assignee=p310",  // rule on recipient alias8@; member of u88; order-number regex
	}
	for i, in := range benchInputs() {
		d, err := Route(context.Background(), r, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%s unit=%s rung=%d tier=%s assignee=%s", d.Service, d.Unit, d.Rung, d.Tier, d.Assignee)
		if got != want[i] {
			t.Errorf("input %d: %s, want %s\n%s", i, got, want[i], d.Explain()[:400])
		}
		if d.Trail.Len() < 500 {
			t.Errorf("input %d: trail of %d steps, want one per rule at least", i, d.Trail.Len())
		}
	}
}

// BenchmarkExplain renders what an assignment notice shows of a decision
// under the 500-rule set; BenchmarkTrailJSON encodes the full trail as a
// case's "routed" event stores it. Both are paid once per new case, not
// per decision of `rules replay`.
func BenchmarkExplain(b *testing.B) {
	d, err := Route(context.Background(), benchRules(b), benchInputs()[3], nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Explain()
	}
}

func BenchmarkTrailJSON(b *testing.B) {
	d, err := Route(context.Background(), benchRules(b), benchInputs()[3], nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Trail.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
