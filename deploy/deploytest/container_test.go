package deploytest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/intake/dovecottest"
	"github.com/casemail/casemail/notify/smtptest"
	"github.com/casemail/casemail/store/testdb"
)

// TestContainerImageDoctor builds the image with podman from what `make
// image-context` stages (FROM scratch: no registry is reached) and runs
// `casemail doctor` in it, as the image's non-root user, against a real
// Dovecot, PostgreSQL and SMTP server on the host's loopback: every check
// must pass, so the image's binary, its CA file, its time zones and its
// config lookup work inside it.
func TestContainerImageDoctor(t *testing.T) {
	podman := testneed.Tool(t, "podman", "podman")
	// crun, podman's default runtime, refuses hybrid cgroup hierarchies
	// such as this VM's; runc runs there and everywhere else.
	runc := testneed.Tool(t, "runc", "runc")
	root := repoRoot(t)
	bctx := imageContext(t)
	tag := fmt.Sprintf("localhost/casemail-deploytest:%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, podman, "build", "--pull=never", "-f",
		filepath.Join(root, "deploy/container/Containerfile"), "-t", tag, bctx).CombinedOutput(); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", tag).Run() })

	dove := dovecottest.Start(t, dovecottest.User{Name: "helpdesk@example.org", Password: "imap-secret"})
	smtp := smtptest.Start(t)
	smtp.RequireAuth("helpdesk@example.org", "smtp-secret")
	_, dbURL := testdb.Open(t)

	// /etc/casemail as an admin would lay it out, owned by the image's user.
	etc := t.TempDir()
	files := map[string]string{
		"casemail.yaml": fmt.Sprintf(`database: {url: "${CASEMAIL_DATABASE_URL}"}
timezone: Europe/Oslo
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: helpdesk@example.org
    imap: {host: 127.0.0.1, port: %d, security: none, username: helpdesk@example.org, password_file: imap-password}
smtp: {host: 127.0.0.1, port: %d, security: none, username: helpdesk@example.org, password: "${SMTP_PASSWORD}", from: "Helpdesk <helpdesk@example.org>"}
secret_file: secret
`, dove.Port(), smtp.Port()),
		"rules.yaml":    read(t, filepath.Join(root, "deploy/examples/rules.yaml")),
		"secret":        "0123456789abcdef0123456789abcdef-container-test\n",
		"imap-password": "imap-secret\n",
	}
	for name, content := range files {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65532, 65532); err != nil {
			testneed.Missing(t, "chown to the image's uid 65532 needs root: %v", err)
		}
	}
	if err := os.Chown(etc, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	var nofile syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	// Limits no higher than this process's: raising them needs
	// CAP_SYS_RESOURCE, which a sandboxed root may lack.
	out, err := exec.CommandContext(ctx, podman, "run", "--rm", "--runtime", runc, "--network", "host",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Cur), "--ulimit", "nproc=4096:4096",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-e", "CASEMAIL_DATABASE_URL="+dbURL, "-e", "SMTP_PASSWORD=smtp-secret",
		"-v", etc+":/etc/casemail:ro", tag, "doctor").CombinedOutput()
	if err != nil {
		t.Fatalf("casemail doctor in the image: %v\n%s", err, out)
	}
	for _, want := range []string{
		`(?m)^ok +config +/etc/casemail/casemail\.yaml$`,
		`(?m)^ok +rules +/etc/casemail/rules\.yaml: `,
		`(?m)^ok +secret_file +/etc/casemail/secret, mode 0600$`,
		`(?m)^ok +database +reachable .*, migrated, version \d+$`,
		`(?m)^ok +mailbox helpdesk +127\.0\.0\.1:\d+ \(none\), logged in as helpdesk@example\.org, INBOX holds 0 mail\(s\), IDLE, MOVE$`,
		`(?m)^ok +smtp +.*authenticated as helpdesk@example\.org \(nothing sent\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(string(out)) {
			t.Errorf("doctor in the image: output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "smtp-secret") || strings.Contains(string(out), "imap-secret") {
		t.Errorf("a password is in doctor's output:\n%s", out)
	}
}
