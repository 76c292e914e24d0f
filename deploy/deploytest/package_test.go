package deploytest

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/notify"
)

// TestDebianPackage runs `make dist` for this machine's architecture and
// installs the .deb with dpkg into a scratch root (its maintainer script
// run against that root), then runs the installed binary there, chrooted:
// `casemail --version`, `--help` and `rules check`, which finds
// /etc/casemail/casemail.yaml and reads /etc/casemail/env as on a server.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds release artefacts; skipped with -short")
	}
	dpkg := testneed.Tool(t, "dpkg", "dpkg")
	testneed.Tool(t, "make", "make")
	if os.Geteuid() != 0 {
		testneed.Missing(t, "chroot into the scratch root needs root")
	}
	root := repoRoot(t)
	arch := runtime.GOARCH
	dist := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "dist", "ARCHS="+arch, "DIST="+dist, "VERSION=v1.2.3-rc.1")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}

	// The tarball and the package, with checksums that verify.
	deb := filepath.Join(dist, "casemail_1.2.3~rc.1_"+arch+".deb")
	tarball := filepath.Join(dist, "casemail_v1.2.3-rc.1_linux_"+arch+".tar.gz")
	sums := read(t, filepath.Join(dist, "SHA256SUMS"))
	for _, f := range []string{deb, tarball} {
		if !strings.Contains(sums, "  "+filepath.Base(f)+"\n") {
			t.Errorf("SHA256SUMS does not list %s:\n%s", filepath.Base(f), sums)
		}
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	list, err := exec.Command("tar", "-tzf", tarball).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/casemail", "/casemail.service", "/casemail.sysusers", "/env", "/casemail.1.gz", "/doc/README.md"} {
		if !strings.Contains(string(list), "casemail_v1.2.3-rc.1_linux_"+arch+want+"\n") {
			t.Errorf("the tarball lacks %s:\n%s", want, list)
		}
	}
	fields, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").Output()
	if err != nil || string(fields) != "Package: casemail\nVersion: 1.2.3~rc.1\nArchitecture: "+arch+"\n" {
		t.Errorf("control fields: %q, %v", fields, err)
	}

	// Install into a scratch root: an empty dpkg database and /etc.
	scratch := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		if err := os.MkdirAll(filepath.Join(scratch, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	install := exec.CommandContext(ctx, dpkg, "--root="+scratch, "--force-script-chrootless", "--log=/dev/null", "-i", deb)
	install.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("dpkg --root -i: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"usr/bin/casemail": 0o755, "lib/systemd/system/casemail.service": 0o644, "usr/lib/sysusers.d/casemail.conf": 0o644,
		"etc/casemail": 0o750 | os.ModeDir, "etc/casemail/casemail.yaml": 0o640, "etc/casemail/rules.yaml": 0o640,
		"etc/casemail/env": 0o640, "etc/casemail/secret": 0o640, "usr/share/man/man1/casemail.1.gz": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(scratch, path))
		if err != nil {
			t.Errorf("installed: %v", err)
			continue
		}
		if fi.Mode()&(os.ModeDir|os.ModePerm) != mode {
			t.Errorf("/%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	if _, err := notify.LoadKeys(filepath.Join(scratch, "etc/casemail/secret")); err != nil {
		t.Errorf("the secret postinst made: %v", err)
	}
	if _, err := exec.LookPath("systemd-sysusers"); err == nil {
		if !regexp.MustCompile(`(?m)^casemail:x:\d+:\d+:`).MatchString(read(t, filepath.Join(scratch, "etc/passwd"))) {
			t.Error("postinst did not create the casemail user")
		}
	}
	unit := read(t, filepath.Join(scratch, "lib/systemd/system/casemail.service"))
	if !strings.Contains(unit, "ExecStart=/usr/bin/casemail serve") || strings.Contains(unit, "/usr/local/bin") {
		t.Errorf("the packaged unit does not run /usr/bin/casemail:\n%s", unit)
	}
	man := gunzip(t, filepath.Join(scratch, "usr/share/man/man1/casemail.1.gz"))
	for _, want := range []string{".TH CASEMAIL 1", "rules check [FILE]", "doctor", "/etc/casemail/env"} {
		if !strings.Contains(man, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}

	// Run it there.
	chroot := func(args ...string) string {
		t.Helper()
		c := exec.CommandContext(ctx, "chroot", append([]string{scratch, "/usr/bin/casemail"}, args...)...)
		c.Env = []string{"PATH=/usr/bin"}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Errorf("casemail %s in the scratch root: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := chroot("--version"); out != "casemail v1.2.3-rc.1\n" {
		t.Errorf("--version = %q", out)
	}
	if out := chroot("--help"); !strings.Contains(out, "doctor") || !strings.Contains(out, "rules check") {
		t.Errorf("--help:\n%s", out)
	}
	if out := chroot("rules", "check"); !strings.Contains(out, "/etc/casemail/rules.yaml: ok (") {
		t.Errorf("rules check with the packaged config:\n%s", out)
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
