package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/casemail/casemail/store/storetest"
)

// doctorWorld is newWorld's set-up with SMTP authentication and a
// processed folder, migrated, with one unread mail waiting.
func doctorWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.smtp.RequireAuth("helpdesk@example.org", "smtp-secret")
	w.edit(t, "  security: none\n  from:", "  security: none\n  username: helpdesk@example.org\n  password: smtp-secret\n  from:")
	w.edit(t, "      folder: INBOX\n", "      folder: INBOX\n      processed_folder: Processed\n")
	if err := w.store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("ola@example.org", w.helpdesk, "waiting", "<w1@example.org>", "", "hello"))
	return w
}

// edit replaces old with new in the world's casemail.yaml.
func (w *world) edit(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(w.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("casemail.yaml has no %q:\n%s", old, b)
	}
	write(t, w.cfgPath, strings.Replace(string(b), old, new, 1))
}

func (w *world) doctor(t *testing.T) (string, int) {
	t.Helper()
	out, stderr, code := runCLI(t, "doctor", "-config", w.cfgPath, "-timeout", "10s")
	return out + stderr, code
}

// TestDoctorHealthy: every check passes against real Dovecot, PostgreSQL
// and an SMTP server that requires authentication; and the doctor changed
// nothing: no mail sent, the waiting mail still unread, no folder created.
func TestDoctorHealthy(t *testing.T) {
	w := doctorWorld(t)
	out, code := w.doctor(t)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		`(?m)^ok +config +` + regexp.QuoteMeta(w.cfgPath) + `$`,
		`(?m)^ok +rules +.*: 2 services, 0 rules, 3 people, 1 units$`,
		`(?m)^ok +secret_file +.*secret, mode 0600$`,
		`(?m)^ok +database +reachable \(.*\), migrated, version \d+$`,
		`(?m)^ok +mailbox helpdesk +127\.0\.0\.1:\d+ \(none\), logged in as helpdesk@example\.org, INBOX holds 1 mail\(s\), IDLE, MOVE, processed_folder Processed does not exist yet \(serve creates it\)$`,
		`(?m)^ok +smtp +127\.0\.0\.1:\d+ \(none\): connected, authenticated as helpdesk@example\.org \(nothing sent\)$`,
		`(?m)^ok +sender_auth +commands need: token, participants need: token; no source of sender authentication is trusted, .* \(set authserv_ids to your receiving server, or verify_dkim: true\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "smtp-secret") || strings.Contains(out, helpdeskPassword) {
		t.Errorf("a password is in the output:\n%s", out)
	}
	if n := len(w.smtp.Messages()); n != 0 {
		t.Errorf("doctor sent %d mails", n)
	}
	c := w.dovecot.Login(t, w.helpdesk)
	defer c.Close()
	if list, err := c.List("", "Processed", nil).Collect(); err != nil || len(list) != 0 {
		t.Errorf("Processed after doctor: %v, %v", list, err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %v %v", msgs, err)
	}
	for _, f := range msgs[0].Flags {
		if f == imap.FlagSeen {
			t.Error("doctor marked the waiting mail \\Seen")
		}
	}
}

// TestDoctorFailures: each problem gives a FAIL line naming the check and
// what to do, and exit status 1; the other checks still run.
func TestDoctorFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, w *world)
		want   string // regexp on the output
	}{
		{"rules", func(t *testing.T, w *world) {
			write(t, filepath.Join(w.dir, "rules.yaml"), "people:\n  - {id: anna}\n   - {id: per}\n")
		},
			`(?m)^FAIL +rules +.*rules\.yaml:3:4: YAML syntax: .* — fix .*rules\.yaml at the position shown`},
		{"secret_file readable by others", func(t *testing.T, w *world) { os.Chmod(filepath.Join(w.dir, "secret"), 0o644) },
			`(?m)^FAIL +secret_file +.*secret has mode 0644: others can read it .* — chmod 0640 `},
		{"secret_file missing", func(t *testing.T, w *world) { os.Remove(filepath.Join(w.dir, "secret")) },
			`(?m)^FAIL +secret_file +.*no such file or directory — create it with one random key`},
		{"database unreachable", func(t *testing.T, w *world) {
			t.Setenv("E2E_DATABASE_URL", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=3")
		}, `(?m)^FAIL +database +unreachable \(postgres://postgres@127\.0\.0\.1:1/.*\): .* — check database\.url`},
		{"database url missing", func(t *testing.T, w *world) { t.Setenv("E2E_DATABASE_URL", "") },
			`(?m)^FAIL +database +.*database\.url is empty: set database\.url`},
		{"imap unreachable", func(t *testing.T, w *world) { w.dovecot.Stop() },
			`(?m)^FAIL +mailbox helpdesk +connect to 127\.0\.0\.1:\d+ \(none\): .* — check imap host, port and security`},
		{"imap password", func(t *testing.T, w *world) { write(t, filepath.Join(w.dir, "imap-password"), "wrong\n") },
			`(?m)^FAIL +mailbox helpdesk +login at .*: .* — check imap username and password`},
		{"imap password_file unreadable", func(t *testing.T, w *world) { os.Remove(filepath.Join(w.dir, "imap-password")) },
			`(?m)^FAIL +mailbox helpdesk +imap password: .* — make password_file readable`},
		{"imap folder", func(t *testing.T, w *world) { w.edit(t, "folder: INBOX", "folder: Nowhere") },
			`(?m)^FAIL +mailbox helpdesk +opening Nowhere: .* — check imap folder`},
		{"smtp password", func(t *testing.T, w *world) { w.smtp.RequireAuth("helpdesk@example.org", "another") },
			`(?m)^FAIL +smtp +127\.0\.0\.1:\d+ \(none\): .* — check smtp username and password`},
		{"smtp down", func(t *testing.T, w *world) { w.smtp.SetDown(true) },
			`(?m)^FAIL +smtp +127\.0\.0\.1:\d+ \(none\): .* — check smtp host, port and security`},
		{"oauth2 sign-in missing", func(t *testing.T, w *world) {
			w.edit(t, "      password_file: imap-password\n", "      oauth2: {provider: microsoft, tenant: contoso, client_id: app}\n")
		}, `(?m)^FAIL +oauth2 mailbox helpdesk +no sign-in stored — run ` + "`casemail oauth2 login helpdesk`" + `\n(?s:.*)^FAIL +mailbox helpdesk +not checked`},
		{"config", func(t *testing.T, w *world) { w.edit(t, "timezone: Europe/Stockholm", "timezone: Europe/Nowhere") },
			`(?m)^FAIL +config +.*casemail\.yaml:\d+:\d+: .*Europe/Nowhere.* — fix the file at the position shown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := doctorWorld(t)
			tc.break_(t, w)
			out, code := w.doctor(t)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !regexp.MustCompile(tc.want).MatchString(out) {
				t.Errorf("output lacks %s:\n%s", tc.want, out)
			}
			if !strings.Contains(out, "problem(s): serve would not start or not work") {
				t.Errorf("no summary line:\n%s", out)
			}
		})
	}
}

// An unmigrated database does not stop serve (it migrates at start): a
// warning with the command, exit status 0.
func TestDoctorUnmigratedWarns(t *testing.T) {
	w := newWorld(t)
	t.Setenv("E2E_DATABASE_URL", storetest.URL(t))
	out, code := w.doctor(t)
	if code != 0 || !regexp.MustCompile("(?m)^warn +database +reachable .*no casemail tables yet — run `casemail migrate`").MatchString(out) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// The sender-authentication line names what proves a sender.
func TestDoctorSenderAuth(t *testing.T) {
	w := doctorWorld(t)
	w.edit(t, "secret_file: secret\n", "secret_file: secret\nsender_auth: {commands: authenticated, authserv_ids: [mx.example.org, \"\"]}\n")
	out, code := w.doctor(t)
	want := `(?m)^ok +sender_auth +commands need: authenticated, participants need: token; failed senders are recognised by Authentication-Results of "mx\.example\.org", ""$`
	if code != 0 || !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("exit %d, output lacks %s:\n%s", code, want, out)
	}
	// A setting under which no mail could pass stops at the config.
	w.edit(t, "authserv_ids: [mx.example.org, \"\"]", "authserv_ids: []")
	out, code = w.doctor(t)
	if code != 1 || !regexp.MustCompile(`(?m)^FAIL +config +.*sender_auth: authenticated needs a source of authentication`).MatchString(out) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
