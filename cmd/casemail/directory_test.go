package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/casemail/casemail/routing"
)

const exampleConfig = "../../deploy/examples/casemail.yaml"

// The contact overview of the example organisation, on a day Per is away.
func TestDirectoryText(t *testing.T) {
	stdout, stderr, code := runCLI(t, "directory", "-config", exampleConfig, "-date", "2026-12-21")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	section := func(name string) string {
		i := strings.Index(stdout, name)
		if i < 0 {
			t.Fatalf("no %q section:\n%s", name, stdout)
		}
		rest := strings.TrimRight(stdout[i:], "\n")
		if j := strings.Index(rest, "\n\n"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	roles := section("Roles (as of 2026-12-21)")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  superuser \(round_robin; on the chain of qm-handbook tier 1\)$`),
		regexp.MustCompile(`(?m)^    unit bryne +anna +Anna Vik +<anna\.vik@bryne\.example\.no>$`),
		regexp.MustCompile(`(?m)^    unit tannhelse +tone +Tone Lie +<tone\.lie@tannhelse\.example\.no>$`),
		regexp.MustCompile(`(?m)^    work area schools +per +Per Dahl +<per\.dahl@example\.no> +AWAY until 2027-01-06$`),
		regexp.MustCompile(`(?m)^    work area dental +kari +Kari Moe +<kari\.moe@example\.no>$`),
		regexp.MustCompile(`(?m)^  central_support \(round_robin; on the chain of passwords tier 2, network-accounts tier 2, licences tier 2, lims tier 2, printing tier 2, triage tier 2\)$`),
		regexp.MustCompile(`(?m)^    everyone +maria +Maria Svensson +<maria\.svensson@example\.se>$`),
		regexp.MustCompile(`(?m)^  network_experts \(least_open; on the chain of network-accounts tier 3\)$`),
	} {
		if !want.MatchString(roles) {
			t.Errorf("roles lack %s:\n%s", want, roles)
		}
	}
	// Every role of the file, in file order.
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+) \(`).FindAllStringSubmatch(roles, -1) {
		order = append(order, m[1])
	}
	if got := strings.Join(order, " "); got != "local_support superuser coordinator system_responsible central_support network_experts support_manager" {
		t.Errorf("roles in order %s", got)
	}
	away := section("Away on 2026-12-21")
	if !regexp.MustCompile(`(?m)^  per +Per Dahl +<per\.dahl@example\.no> +2026-12-20 – 2027-01-06 +coordinator$`).MatchString(away) ||
		strings.Count(away, "\n") != 1 {
		t.Errorf("away section:\n%s", away)
	}
	sup := section("Suppliers")
	if !regexp.MustCompile(`(?m)^  qm-vendor +Qm\+ vendor +<support@qm-vendor\.example> +qm-handbook +domains qm-vendor\.example$`).MatchString(sup) ||
		!regexp.MustCompile(`(?m)^    contract qm-standard +\(base\) +response 1d, resolution 5d on calendar kontor; reminders every 1d, at most 2; reference \(\?i\)\\bINC\\d\{6,\}\\b; to support@qm-vendor\.example$`).MatchString(sup) ||
		!regexp.MustCompile(`(?m)^    contract qm-dental +\(work areas dental\) +response 4h, resolution 5d .*; to tannhelse@qm-vendor\.example$`).MatchString(sup) ||
		!regexp.MustCompile(`(?m)^    contract lims-kemi +\(services lims; units kemi\) +response 4h, .*; users go straight to the supplier$`).MatchString(sup) ||
		!regexp.MustCompile(`(?m)^  licensor +Licence broker +<orders@licensor\.example> +licences +-$`).MatchString(sup) {
		t.Errorf("suppliers section:\n%s", sup)
	}
	units := section("Units")
	if !regexp.MustCompile(`(?m)^  bryne +Bryne skole +work area schools +domains bryne\.example\.no +members ola\.rektor@example\.no$`).MatchString(units) ||
		!regexp.MustCompile(`(?m)^  tannhelse +Tannhelse Rogaland +work area dental +domains tannhelse\.example\.no +-$`).MatchString(units) ||
		strings.Count(units, "\n") != 5 || strings.Contains(units, "Roles") {
		t.Errorf("units section:\n%s", units)
	}
	if regexp.MustCompile(`(?m) $`).MatchString(stdout) {
		t.Errorf("trailing spaces in:\n%q", stdout)
	}

	// A day nobody is away.
	stdout, _, _ = runCLI(t, "directory", "-config", exampleConfig, "-date", "2026-11-02")
	if !strings.Contains(stdout, "Away on 2026-11-02\n  (nobody)\n") || strings.Contains(stdout, "AWAY") {
		t.Errorf("nobody is away on 2026-11-02:\n%s", stdout)
	}
}

func TestDirectoryJSON(t *testing.T) {
	stdout, stderr, code := runCLI(t, "directory", "-json", "-config", exampleConfig, "-date", "2027-01-06")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var dir routing.Directory
	if err := json.Unmarshal([]byte(stdout), &dir); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if dir.Date != "2027-01-06" || len(dir.Roles) != 7 || len(dir.Suppliers) != 3 || len(dir.Units) != 5 {
		t.Fatalf("date %s, %d roles, %d suppliers, %d units", dir.Date, len(dir.Roles), len(dir.Suppliers), len(dir.Units))
	}
	coord := dir.Roles[2]
	if coord.Role != "coordinator" || len(coord.Holders) != 2 {
		t.Fatalf("roles[2] = %+v", coord)
	}
	per := coord.Holders[0]
	if per != (routing.DirectoryHolder{Scope: "work_area", For: "schools", Person: "per", Name: "Per Dahl",
		Email: "per.dahl@example.no", Away: true, AwayUntil: "2027-01-06"}) {
		t.Errorf("per = %+v", per)
	}
	cs := dir.Roles[4]
	if cs.Role != "central_support" || cs.Holders[0].Scope != "everyone" || cs.Holders[0].For != "" || cs.Holders[1].Email != "maria.svensson@example.se" {
		t.Errorf("central_support = %+v", cs)
	}
	if len(dir.Away) != 1 || dir.Away[0].Person != "per" || dir.Away[0].To != "2027-01-06" {
		t.Errorf("away = %+v", dir.Away)
	}
	if u := dir.Units[2]; u.ID != "bryne" || u.WorkArea != "schools" || len(u.Domains) != 1 || u.Members[0] != "ola.rektor@example.no" {
		t.Errorf("units[2] = %+v", u)
	}
	if s := dir.Suppliers[2]; s.ID != "lims-vendor" || len(s.Contracts) != 2 || s.Contracts[1].Scope != "services lims; units kemi" {
		t.Errorf("suppliers[2] = %+v", s)
	}
	// The day after, Per is back.
	stdout, _, _ = runCLI(t, "directory", "-json", "-config", exampleConfig, "-date", "2027-01-07")
	if strings.Contains(stdout, `"away": true`) {
		t.Errorf("someone is away on 2027-01-07:\n%s", stdout)
	}
}
