package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/casemail/casemail/store/storetest"
)

// The machine's own /etc/casemail/env and casemail.yaml never reach the
// tests; each test that needs them points these at its own files.
func init() {
	envFilePath = filepath.Join(os.TempDir(), "casemail-tests-have-no-env-file")
	configSearch = []string{filepath.Join(os.TempDir(), "casemail-tests-have-no-config.yaml")}
}

// minimalConfig is a casemail.yaml whose database url is url (may be a ${VAR}).
func minimalConfig(t *testing.T, dir, url string) string {
	t.Helper()
	write(t, filepath.Join(dir, "rules.yaml"), `people: [{id: eva, name: Eva, email: eva@example.org}]
roles: {central_support: {everyone: [eva]}}
services: [{id: triage, name: Triage, chain: [{tier: 2, role: central_support}]}]
default: {service: triage}
`)
	path := filepath.Join(dir, "casemail.yaml")
	write(t, path, `database: {url: "`+url+`"}
timezone: Europe/Stockholm
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap: {host: 127.0.0.1, port: 1143, security: none, username: helpdesk@example.org, password: x}
smtp: {host: 127.0.0.1, port: 2525, security: none, from: "Helpdesk <helpdesk@example.org>"}
secret_file: secret
`)
	return path
}

func TestUnmigratedDatabaseSaysMigrate(t *testing.T) {
	cfg := minimalConfig(t, t.TempDir(), storetest.URL(t))
	for _, args := range [][]string{{"cases"}, {"case", "1"}, {"quarantine", "list"}, {"report"}} {
		_, stderr, code := runCLI(t, append(args, "-config", cfg)...)
		if code != 1 || !strings.Contains(stderr, "run `casemail migrate`") || strings.Contains(stderr, "SQLSTATE") {
			t.Errorf("%v on an empty database: exit %d, %q; want the advice to run casemail migrate", args, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, "migrate", "-config", cfg); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	if out, stderr, code := runCLI(t, "cases", "-config", cfg); code != 0 {
		t.Errorf("cases after migrate: exit %d: %s%s", code, out, stderr)
	}
}

func TestMissingDatabaseURLOneWording(t *testing.T) {
	cfg := minimalConfig(t, t.TempDir(), "")
	want := cfg + ": database.url is empty: set database.url, or the variable it names (CASEMAIL_DATABASE_URL=postgres://…"
	for _, cmd := range []string{"serve", "cases", "migrate", "report"} {
		_, stderr, code := runCLI(t, cmd, "-config", cfg)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, %q; want %q", cmd, code, stderr, want)
		}
	}
}

func TestConfigLookup(t *testing.T) {
	dir := t.TempDir()
	cfg := minimalConfig(t, dir, "")
	missing := filepath.Join(dir, "nowhere", "casemail.yaml")
	t.Setenv("CASEMAIL_CONFIG", "")
	old := configSearch
	t.Cleanup(func() { configSearch = old })

	// Nothing anywhere: every place tried is named, with what to do.
	configSearch = []string{missing, "/nonexistent/etc/casemail/casemail.yaml"}
	_, stderr, code := runCLI(t, "rules", "check")
	for _, want := range []string{"no casemail.yaml found; tried:", "-config: not given", "$CASEMAIL_CONFIG: not set",
		missing + ": no such file or directory", "/nonexistent/etc/casemail/casemail.yaml: no such file or directory",
		"name one with -config FILE or CASEMAIL_CONFIG=FILE"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("no config: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	// The search path finds the second place.
	configSearch = []string{missing, cfg}
	if out, stderr, code := runCLI(t, "rules", "check"); code != 0 || !strings.Contains(out, filepath.Join(dir, "rules.yaml")+": ok") {
		t.Errorf("search path: exit %d: %s%s", code, out, stderr)
	}
	// CASEMAIL_CONFIG wins over the search path, and says so when wrong.
	t.Setenv("CASEMAIL_CONFIG", missing)
	if _, stderr, code := runCLI(t, "rules", "check"); code != 1 || !strings.Contains(stderr, "CASEMAIL_CONFIG="+missing+": no such file") {
		t.Errorf("bad CASEMAIL_CONFIG: exit %d: %s", code, stderr)
	}
	// -config wins over both.
	if out, stderr, code := runCLI(t, "rules", "check", "-config", cfg); code != 0 {
		t.Errorf("-config: exit %d: %s%s", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, "rules", "check", "-config", missing); code != 1 || !strings.Contains(stderr, "-config "+missing+": no such file") {
		t.Errorf("bad -config: exit %d: %s", code, stderr)
	}
}

// The CLI reads the systemd unit's environment file: a command on the
// server finds the database the daemon uses. A variable already set wins.
func TestEnvironmentFile(t *testing.T) {
	dir := t.TempDir()
	cfg := minimalConfig(t, dir, "${ENVFILE_TEST_DATABASE_URL}")
	url := storetest.URL(t)
	env := filepath.Join(dir, "env")
	write(t, env, "# casemail's environment\nENVFILE_TEST_DATABASE_URL='"+url+"'\n\nENVFILE_TEST_OTHER=from-file\n")
	old := envFilePath
	envFilePath = env
	t.Cleanup(func() { envFilePath = old })
	t.Setenv("ENVFILE_TEST_DATABASE_URL", "")
	os.Unsetenv("ENVFILE_TEST_DATABASE_URL")
	t.Setenv("ENVFILE_TEST_OTHER", "from-environment")

	if out, stderr, code := runCLI(t, "migrate", "-status", "-config", cfg); code != 0 || !strings.Contains(out, "pending") {
		t.Fatalf("migrate -status with the url from the env file: exit %d: %s%s", code, out, stderr)
	}
	if got := os.Getenv("ENVFILE_TEST_OTHER"); got != "from-environment" {
		t.Errorf("the env file overrode a variable set in the environment: %q", got)
	}
	write(t, env, "not a line of the form key=value\n")
	os.Unsetenv("ENVFILE_TEST_DATABASE_URL")
	if _, stderr, code := runCLI(t, "cases", "-config", cfg); code != 1 || !strings.Contains(stderr, env+":1: not KEY=VALUE") {
		t.Errorf("bad env file: exit %d: %s", code, stderr)
	}
	if err := os.Chmod(env, 0); err == nil && os.Geteuid() != 0 {
		if _, stderr, code := runCLI(t, "cases", "-config", cfg); code != 1 || !strings.Contains(stderr, "run as root or as the casemail user") {
			t.Errorf("unreadable env file: exit %d: %s", code, stderr)
		}
	}
}
