package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rulesHead and rulesTail make a minimal valid rules file that cases extend.
const rulesHead = `people:
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  support: {everyone: [eva]}
`

const rulesTail = `services:
  - {id: triage, name: Central triage, chain: [{tier: 2, role: support}]}
default: {service: triage}
`

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "unknown key",
			yaml: rulesHead + rulesTail + "schedul:\n  digest: \"0 7 * * mon\"\n",
			want: []string{`r.yaml:11:1: unknown key "schedul" (did you mean "schedule"?); allowed: calendars, people, units, roles, suppliers, services, rules, default, schedule`},
		},
		{
			name: "duplicate key",
			yaml: rulesHead + rulesTail + "default: {service: triage}\n",
			want: []string{`r.yaml:11:1: duplicate key "default" (first at line 10)`},
		},
		{
			name: "duplicate key inside a flow mapping",
			yaml: rulesHead + "services:\n  - {id: triage, name: T, id: x, chain: [{tier: 2, role: support}]}\ndefault: {service: triage}\n",
			want: []string{`r.yaml:9:27: duplicate key "id" (first at line 9)`},
		},
		{
			name: "missing required key",
			yaml: rulesHead + "services:\n  - {id: triage, chain: [{tier: 2, role: support}]}\ndefault: {service: triage}\n",
			want: []string{`r.yaml:9:5: missing required key "name"`},
		},
		{
			name: "missing default",
			yaml: rulesHead + "services:\n  - {id: triage, name: T, chain: [{tier: 2, role: support}]}\n",
			want: []string{`r.yaml:1:1: missing required key "default"`},
		},
		{
			name: "YAML syntax error",
			yaml: rulesHead + rulesTail + "rules:\n  - name: x\n    when: {subject: @x}\n",
			want: []string{`r.yaml:13:21: YAML syntax: found character that cannot start any token`},
		},
		{
			name: "tab in indentation",
			yaml: "people:\n\t- {id: eva}\n",
			want: []string{`r.yaml:2:1: YAML syntax: found character that cannot start any token (a tab in the indentation: YAML indents with spaces only)`},
		},
		{
			name: "wrong type",
			yaml: rulesHead + "services:\n  - {id: triage, name: T, keywords: triage, chain: [{tier: 2, role: support}]}\ndefault: {service: triage}\n",
			want: []string{`r.yaml:9:37: expected a list of strings, got "triage"`},
		},
		{
			name: "undefined role in a chain",
			yaml: rulesHead + "services:\n  - {id: triage, name: T, chain: [{tier: 1, role: superuser}, {tier: 2, role: suport}]}\ndefault: {service: triage}\n",
			want: []string{
				`r.yaml:9:51: undefined role "superuser"`,
				`r.yaml:9:79: undefined role "suport" (did you mean "support"?)`,
			},
		},
		{
			name: "unknown person in roles",
			yaml: strings.Replace(rulesHead, "  support: {everyone: [eva]}\n", "  support: {everyone: [eva, evaa], by_unit: {bryne: [bob]}}\n", 1) + rulesTail,
			want: []string{
				`r.yaml:7:29: unknown person "evaa" (did you mean "eva"?)`,
				`r.yaml:7:54: unknown person "bob"`,
			},
		},
		{
			name: "unknown unit and work area in roles",
			yaml: rulesHead + "  sup: {by_unit: {brine: [eva]}, by_work_area: {school: [per]}}\n" + rulesTail,
			want: []string{
				`r.yaml:8:19: unknown unit "brine" (did you mean "bryne"?)`,
				`r.yaml:8:49: unknown work area "school": no unit has work_area school (did you mean "schools"?)`,
			},
		},
		{
			name: "bad regex",
			yaml: rulesHead + rulesTail + "rules:\n  - name: r\n    when: {subject: {matches: \"(?i)pass(word\"}}\n    then: {priority: high}\n",
			want: []string{"r.yaml:13:31: bad regular expression: error parsing regexp: missing closing ): `(?i)pass(word`"},
		},
		{
			name: "bad cron",
			yaml: rulesHead + rulesTail + "schedule:\n  digest: \"0 7 * * monday\"\n  sla_check: \"@every 1m\"\n  reminders: \"CRON_TZ=Europe/Oslo 0 8 * * mon-fri\"\n",
			want: []string{`r.yaml:12:11: bad cron spec "0 7 * * monday": failed to parse int from monday: strconv.Atoi: parsing "monday": invalid syntax`},
		},
		{
			name: "rule references",
			yaml: rulesHead + rulesTail + "rules:\n  - name: r\n    when: {from_domain: x.no, business_hours: ofice}\n    then: {service: pasword, unit: brne, assignee: eve, priority: hig, tier: 4}\n",
			want: []string{
				`r.yaml:13:47: unknown calendar "ofice"`,
				`r.yaml:14:21: unknown service "pasword"`,
				`r.yaml:14:36: unknown unit "brne" (did you mean "bryne"?)`,
				`r.yaml:14:52: unknown person "eve" (did you mean "eva"?)`,
				`r.yaml:14:67: priority "hig": want low, normal, high or urgent`,
				`r.yaml:14:78: tier "4": want 1, 2, 3 or external`,
			},
		},
		{
			name: "duplicate ids, bad email, overlapping alias",
			yaml: rulesHead + "  - {id: eva, name: E, email: not-an-address}\nservices:\n  - {id: a, name: A, addresses: [x@example.org], chain: [{tier: 2, role: support}]}\n  - {id: triage, name: T, addresses: [X@example.org], chain: [{tier: 2, role: support}]}\ndefault: {service: triage}\n",
			want: []string{
				`r.yaml:8:5: unknown key "-"`, // placeholder, replaced below
			},
		},
		{
			name: "unknown holiday set",
			yaml: "calendars:\n  office: {timezone: Europe/Stockholm, holidays: dk, hours: {mon-fri: \"08:00-16:00\"}}\n" + rulesHead + rulesTail,
			want: []string{`r.yaml:2:50: unknown holiday set "dk"; known: no, se`},
		},
		{
			name: "drop without a reason",
			yaml: rulesHead + "  x: {everyone: [eva]}\n" + strings.Replace(rulesTail, "services:", "suppliers:\n  - {id: v, name: V, email: v@example.org}\nservices:", 1) +
				"rules:\n  - {name: r, when: {}, then: {drop: \"\"}}\n",
			want: []string{`r.yaml:15:38: drop needs a reason`},
		},
		{
			name: "duplicate person email",
			yaml: strings.Replace(rulesHead, "per@example.org", "EVA@example.org", 1) + rulesTail,
			want: []string{`r.yaml:3:38: email "EVA@example.org" is already used by person "eva"`},
		},
		{
			name: "proposed default",
			yaml: rulesHead + "services:\n  - {id: triage, name: T, status: proposed, chain: [{tier: 2, role: support}]}\ndefault: {service: triage}\n",
			want: []string{`r.yaml:10:20: the default service "triage" must not be proposed`},
		},
		{
			name: "supplier rung not external",
			yaml: rulesHead + "suppliers:\n  - {id: v, name: V, email: v@example.org}\n" + "services:\n  - {id: triage, name: T, chain: [{tier: 2, role: support}, {tier: 3, supplier: v}]}\ndefault: {service: triage}\n",
			want: []string{`r.yaml:11:81: a supplier rung must have tier external`},
		},
	}
	// The duplicate-ids case is easier to state by position than to inline above.
	tests[14].yaml = `people:
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: eva, name: Eva Again, email: not-an-address}
roles:
  support: {everyone: [eva]}
services:
  - {id: a, name: A, addresses: [x@example.org], chain: [{tier: 2, role: support}]}
  - {id: triage, name: T, addresses: [X@Example.org], chain: [{tier: 2, role: support}]}
  - {id: a, name: A2, chain: [{tier: 2, role: support}]}
default: {service: triage}
`
	tests[14].want = []string{
		`r.yaml:3:10: duplicate person id "eva" (first at line 2)`,
		`r.yaml:3:39: email "not-an-address" is not a mail address`,
		`r.yaml:8:39: address "x@example.org" is already an alias of service "a" (line 7)`,
		`r.yaml:9:10: duplicate service id "a" (first at line 7)`,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("r.yaml", []byte(tt.yaml))
			assertErrors(t, err, tt.want)
		})
	}
}

func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want:\n%s", strings.Join(want, "\n"))
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not Errors: %v", err, err)
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestBadRulesFiles(t *testing.T) {
	tests := []struct{ file, want string }{
		{"testdata/bad-unknown-key.yaml", "testdata/bad-unknown-key.yaml:4:5: missing required key \"name\"\n" +
			`testdata/bad-unknown-key.yaml:5:5: unknown key "naem" (did you mean "name"?); allowed: id, name, email, language, away`},
		{"testdata/bad-undefined-role.yaml", "testdata/bad-undefined-role.yaml:10:25: undefined role \"superuser\"\n" +
			`testdata/bad-undefined-role.yaml:11:25: undefined role "central_suport" (did you mean "central_support"?)`},
		{"testdata/bad-syntax.yaml", `testdata/bad-syntax.yaml:9:11: YAML syntax: mapping values are not allowed in this context` +
			` (check the indentation here and on the line above: the entries of one list or mapping start in the same column, deeper levels further right, spaces only)`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, err := LoadRules(tt.file)
			assertErrors(t, err, strings.Split(tt.want, "\n"))
		})
	}
}

const daemonYAML = `database:
  url: ${DB_URL}
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap:
      host: %HOST%
      security: %SEC%
      username: helpdesk@example.org
      password: ${IMAP_PASSWORD:-fallback}
smtp:
  host: smtp.example.org
  from: "Helpdesk <helpdesk@example.org>"
secret_file: secret
`

func daemon(host, sec string) string {
	return strings.NewReplacer("%HOST%", host, "%SEC%", sec).Replace(daemonYAML)
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDaemon(t *testing.T) {
	env := envOf(map[string]string{"DB_URL": "postgres://x/db"})
	cfg, err := ParseDaemon("/etc/casemail/casemail.yaml", []byte(daemon("imap.example.org", "tls")), env)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mailboxes[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"database url", cfg.Database.URL, "postgres://x/db"},
		{"password default", m.IMAP.Password, "fallback"},
		{"imap port", m.IMAP.Port, 993},
		{"imap idle", m.IMAP.IDLE, true},
		{"imap folder", m.IMAP.Folder, "INBOX"},
		{"poll", m.IMAP.PollInterval.Std(), 30 * time.Second},
		{"max size", m.MaxMessageSize, ByteSize(25 << 20)},
		{"smtp security", cfg.SMTP.Security, "starttls"},
		{"smtp port", cfg.SMTP.Port, 587},
		{"rules", cfg.RulesFile, "/etc/casemail/rules.yaml"},
		{"secret", cfg.SecretFile, "/etc/casemail/secret"},
		{"timezone", cfg.Location.String(), "UTC"},
		{"language", cfg.Language, "en"},
		{"reopen", cfg.ReopenWindow.Std(), 14 * 24 * time.Hour},
		{"token ttl", cfg.TokenTTL.Std(), 90 * 24 * time.Hour},
		{"ack limit", cfg.AckLimitPerHour, 5},
		{"log", cfg.Log.Format + "/" + cfg.Log.Level, "text/info"},
		{"listen", cfg.HTTP.Listen, "127.0.0.1:8025"},
		{"mailbox pos", m.Pos, Pos{4, 5}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// A set variable wins over the default; an empty one takes the default.
	env = envOf(map[string]string{"DB_URL": "", "IMAP_PASSWORD": "s3cret"})
	cfg, err = ParseDaemon("c.yaml", []byte(daemon("imap.example.org", "tls")), env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mailboxes[0].IMAP.Password; got != "s3cret" {
		t.Errorf("password = %q, want s3cret", got)
	}
}

func TestParseDaemonErrors(t *testing.T) {
	set := envOf(map[string]string{"DB_URL": "x"})
	tests := []struct {
		name, yaml string
		env        func(string) (string, bool)
		want       []string
	}{
		{"unset variable", daemon("imap.example.org", "tls"), envOf(nil),
			[]string{`c.yaml:2:8: environment variable DB_URL is not set (write ${DB_URL:-} to allow it empty)`}},
		{"security none to a remote host", daemon("imap.example.org", "none"), set,
			[]string{`c.yaml:7:13: security none sends passwords and mail in clear; it is allowed only to a loopback host (127.0.0.1, ::1, localhost), not "imap.example.org"`}},
		{"unknown security", daemon("127.0.0.1", "ssl"), set,
			[]string{`c.yaml:8:17: imap security "ssl": want one of tls, starttls, none`}},
		{"unknown key with suggestion", strings.Replace(daemon("::1", "none"), "secret_file:", "secrets_file:", 1), set,
			[]string{
				`c.yaml:1:1: missing required key "secret_file"`,
				`c.yaml:14:1: unknown key "secrets_file" (did you mean "secret_file"?); allowed: database, timezone, rules, mailboxes, smtp, secret_file, language, templates, reopen_window, ack_limit_per_hour, token_ttl, command_ttl, ack_limit_per_mailbox, relay_limit_per_hour, processing_budget, log, http, retention, sender_auth`,
			}},
		{"bad duration and size", daemon("localhost", "none") + "reopen_window: 2 weeks\nmailboxes2: x\n", set,
			[]string{
				`c.yaml:15:16: bad duration "2 weeks": unknown unit " weeks" (use s, m, h, d or w)`,
				`c.yaml:16:1: unknown key "mailboxes2" (did you mean "mailboxes"?); allowed: database, timezone, rules, mailboxes, smtp, secret_file, language, templates, reopen_window, ack_limit_per_hour, token_ttl, command_ttl, ack_limit_per_mailbox, relay_limit_per_hour, processing_budget, log, http, retention, sender_auth`,
			}},
		{"no secret for username", strings.Replace(daemon("127.0.0.1", "none"), "      password: ${IMAP_PASSWORD:-fallback}\n", "", 1), set,
			[]string{`c.yaml:9:17: username "helpdesk@example.org" needs one of password, password_file or oauth2`}},
		{"timezone and language", daemon("127.0.0.1", "none") + "timezone: Europe/Stokholm\nlanguage: de\nlog: {format: xml}\nhttp:\n  listen: 8025\n", set,
			[]string{
				`c.yaml:15:11: unknown timezone "Europe/Stokholm" (want an IANA name such as Europe/Stockholm)`,
				`c.yaml:16:11: language "de": want one of sv, nb, en`,
				`c.yaml:17:15: log format "xml": want text or json`,
				`c.yaml:19:11: http listen "8025": want host:port`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDaemon("c.yaml", []byte(tt.yaml), tt.env)
			assertErrors(t, err, tt.want)
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "imap-pass"), []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(daemon("127.0.0.1", "none"), "password: ${IMAP_PASSWORD:-fallback}", "password_file: imap-pass", 1)
	cfg, err := ParseDaemon(filepath.Join(dir, "casemail.yaml"), []byte(y), envOf(map[string]string{"DB_URL": ""}))
	if err != nil {
		t.Fatal(err)
	}
	im := cfg.Mailboxes[0].IMAP
	if im.PasswordFile != filepath.Join(dir, "imap-pass") {
		t.Errorf("password file = %q, want it relative to the config", im.PasswordFile)
	}
	if got, err := im.Secret(); err != nil || got != "hunter2" {
		t.Errorf("Secret() = %q, %v; want hunter2", got, err)
	}
	// Read at call time: a rotated secret is seen without reloading.
	if err := os.WriteFile(im.PasswordFile, []byte("rotated\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := im.Secret(); got != "rotated" {
		t.Errorf("after rotation Secret() = %q, want rotated", got)
	}
	if err := os.Remove(im.PasswordFile); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Secret(); err == nil || !strings.Contains(err.Error(), "reading imap password file") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestExamples(t *testing.T) {
	t.Setenv("CASEMAIL_DATABASE_URL", "")
	cfg, err := LoadDaemon("../deploy/examples/casemail.yaml")
	if err != nil {
		t.Fatalf("example casemail.yaml: %v", err)
	}
	if cfg.Database.URL != "" || cfg.Mailboxes[0].IMAP.Security != "none" || cfg.Mailboxes[0].IMAP.Port != 1143 {
		t.Errorf("example daemon config not the dev setup: %+v", cfg)
	}
	if sec, _ := cfg.Mailboxes[0].IMAP.Secret(); sec != "dev" {
		t.Errorf("imap secret = %q", sec)
	}
	r, err := LoadRules(cfg.RulesFile)
	if err != nil {
		t.Fatalf("example rules.yaml: %v", err)
	}
	qm := r.Service("qm-handbook")
	if qm == nil || len(qm.Chain) != 4 || qm.Chain[3].Supplier != "qm-vendor" {
		t.Fatalf("qm-handbook chain = %+v", qm)
	}
	if r.Service("printing").Proposed() != true || r.Service("licences").Approval != "system_responsible" {
		t.Error("printing should be proposed and licences need approval")
	}
	if u := r.UnitByDomain("elev.bryne.example.no"); u == nil || u.ID != "bryne" {
		t.Errorf("subdomain unit = %v, want bryne", u)
	}
	if u := r.UnitByMember("Ola.Rektor@example.no"); u == nil || u.ID != "bryne" {
		t.Errorf("member unit = %v, want bryne", u)
	}
	if p := r.PersonByEmail("Per.Dahl@EXAMPLE.no"); p == nil || p.ID != "per" {
		t.Errorf("person by email = %v, want per", p)
	}
	if s := r.SupplierBySender("support@qm-vendor.example"); s == nil || s.ID != "qm-vendor" {
		t.Errorf("supplier by email = %v", s)
	}
	if s := r.ServiceByAddress("QM@example.org"); s == nil || s.ID != "qm-handbook" {
		t.Errorf("alias service = %v", s)
	}
	fr, res := qm.SLA.For("high")
	if fr.String() != "1h" || res.String() != "3d" {
		t.Errorf("high SLA = %s/%s, want 1h/3d", fr, res)
	}
	if got := r.Role("coordinator").Holders(r.Unit("bryne")); strings.Join(got, ",") != "per" {
		t.Errorf("coordinator of bryne = %v", got)
	}
	for _, spec := range []string{r.Schedule.Reminders, r.Schedule.Digest, r.Schedule.SLACheck} {
		if _, err := CronParser.Parse(spec); err != nil {
			t.Error(err)
		}
	}
	// The shipped design excerpt loads too.
	if _, err := LoadRules("testdata/design-rules.yaml"); err != nil {
		t.Errorf("DESIGN.md rules: %v", err)
	}
}

func TestCalendar(t *testing.T) {
	r, err := LoadRules("../deploy/examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	se, no := r.Calendar("office"), r.Calendar("kontor")
	sto, _ := time.LoadLocation("Europe/Stockholm")
	osl, _ := time.LoadLocation("Europe/Oslo")
	tests := []struct {
		cal  *Calendar
		at   time.Time
		want bool
	}{
		{se, time.Date(2026, 6, 18, 10, 0, 0, 0, sto), true},   // Thursday
		{se, time.Date(2026, 6, 19, 10, 0, 0, 0, sto), false},  // Midsummer Eve
		{se, time.Date(2026, 4, 3, 10, 0, 0, 0, sto), false},   // Good Friday 2026
		{se, time.Date(2026, 4, 7, 16, 29, 0, 0, sto), true},   // Tuesday after Easter
		{se, time.Date(2026, 4, 7, 16, 30, 0, 0, sto), false},  // closing time
		{se, time.Date(2026, 12, 23, 10, 0, 0, 0, sto), false}, // extra closed day
		{se, time.Date(2026, 6, 20, 10, 0, 0, 0, sto), false},  // Saturday
		{no, time.Date(2026, 5, 18, 10, 0, 0, 0, osl), true},   // Monday
		{no, time.Date(2026, 5, 25, 10, 0, 0, 0, osl), false},  // Whit Monday
		{no, time.Date(2026, 4, 2, 10, 0, 0, 0, osl), false},   // Maundy Thursday
		{no, time.Date(2026, 5, 22, 14, 59, 0, 0, osl), true},  // Friday before 15:00
		{no, time.Date(2026, 5, 22, 15, 0, 0, 0, osl), false},  // Friday closes early
		{no, time.Date(2026, 5, 18, 6, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if got := tt.cal.Open(tt.at); got != tt.want {
			t.Errorf("%s.Open(%s) = %v, want %v", tt.cal.Name, tt.at, got, tt.want)
		}
	}
}

func TestScalars(t *testing.T) {
	durs := map[string]time.Duration{"30s": 30 * time.Second, "4h": 4 * time.Hour, "14d": 14 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1h30m": 90 * time.Minute, "0": 0}
	for s, want := range durs {
		d, err := ParseDuration(s)
		if err != nil || d.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, d, err, want)
		}
	}
	for _, bad := range []string{"", "h", "3 days", "5y", "-1h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
	sizes := map[string]ByteSize{"25MB": 25 << 20, "512KB": 512 << 10, "1000": 1000, "2GiB": 2 << 30, "3 mb": 3 << 20}
	for s, want := range sizes {
		if b, err := ParseByteSize(s); err != nil || b != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", s, b, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "12XB", "-5"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded", bad)
		}
	}
	if s := ByteSize(25 << 20).String(); s != "25MB" {
		t.Errorf("String = %s", s)
	}
	if s := (BusinessDuration{Days: 3}).String(); s != "3d" {
		t.Errorf("String = %s", s)
	}
}

func TestErrorsAreSortedAndComplete(t *testing.T) {
	y := `units:
  - {id: u, name: U, colour: red}
people:
  - {id: a, name: A, email: a@example.org, language: de}
roles:
  support: {everyone: [a], assign: random}
services:
  - {id: triage, name: T, chain: [{tier: 2, role: support}], sttus: active}
default: {service: triage}
`
	_, err := ParseRules("r.yaml", []byte(y))
	// Structural problems are reported together; semantic checks wait for
	// a file that decodes.
	assertErrors(t, err, []string{
		`r.yaml:2:22: unknown key "colour"; allowed: id, name, work_area, language, domains, members`,
		`r.yaml:8:62: unknown key "sttus" (did you mean "status"?); allowed: id, name, keywords, addresses, routine, chain, sla, approval, status, coordinator, names`,
	})
	y = strings.Replace(strings.Replace(y, ", colour: red", "", 1), ", sttus: active", "", 1)
	_, err = ParseRules("r.yaml", []byte(y))
	assertErrors(t, err, []string{
		`r.yaml:4:54: language "de": want one of sv, nb, en`,
		`r.yaml:6:36: assign "random": want round_robin or least_open`,
	})
}

func TestCheckRules(t *testing.T) {
	t.Setenv("CASEMAIL_DATABASE_URL", "")
	cfg, err := LoadDaemon("../deploy/examples/casemail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(cfg.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRules(r); err != nil {
		t.Errorf("example: %v", err)
	}
	cfg.Mailboxes[0].Defaults.Service = "triag"
	want := `../deploy/examples/casemail.yaml:10:5: mailbox helpdesk: default service "triag" is not in ../deploy/examples/rules.yaml`
	if err := cfg.CheckRules(r); err == nil || err.Error() != want {
		t.Errorf("CheckRules = %v, want %s", err, want)
	}
}

// YAML's terse indentation messages get a hint that says what to fix.
func TestSyntaxErrorHintsIndentation(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"three-space item", "people:\n  - {id: anna, name: Anna}\n   - {id: per, name: Per}\n",
			"x.yaml:3:4: YAML syntax: did not find expected '-' indicator (check the indentation"},
		{"key indented wrong", "calendars:\n  office:\n    timezone: UTC\n   hours: {mon: \"08:00-16:00\"}\n", "(check the indentation"},
	} {
		_, err := ParseRules("x.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}
