package deploytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/deploy/testneed"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store/storetest"
)

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", file)
	}
	return root
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// containerfile is what the tests need of deploy/container/Containerfile.
type containerfile struct {
	from       []string          // every FROM image
	copies     map[string]string // COPY SRC DST: DST by SRC
	user       string
	entrypoint string
}

func parseContainerfile(t *testing.T, text string) containerfile {
	t.Helper()
	c := containerfile{copies: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			c.from = append(c.from, f[1])
		case "COPY":
			if len(f) == 3 {
				c.copies[f[1]] = f[2]
			}
		case "USER":
			c.user = f[1]
		case "ENTRYPOINT":
			if m := regexp.MustCompile(`\["([^"]+)"`).FindStringSubmatch(line); m != nil {
				c.entrypoint = m[1]
			}
		}
	}
	return c
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildOut  []byte
)

// imageContext runs `make image-context` into a temporary directory once
// per test process: the static binary and CA certificates the image is
// built from, and the binary the systemd unit is checked with.
func imageContext(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary the way the container image does; skipped with -short")
	}
	root := repoRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "casemail-deploytest-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "-s", "image-context", "IMAGE_CONTEXT="+buildDir, "VERSION=deploytest")
		cmd.Dir = root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("make image-context failed: %v\n%s", buildErr, buildOut)
	}
	return buildDir
}

// builtBinary is the image's static binary.
func builtBinary(t *testing.T) string {
	t.Helper()
	return filepath.Join(imageContext(t), "casemail")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if err := storetest.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// TestContainerfile checks the image recipe without a container engine:
// it pulls nothing (FROM scratch), copies the two files `make
// image-context` stages, runs the binary it copies, as a numeric non-root
// user (which Kubernetes' runAsNonRoot can verify); and that binary is
// static and carries its version.
func TestContainerfile(t *testing.T) {
	root := repoRoot(t)
	cf := parseContainerfile(t, read(t, filepath.Join(root, "deploy/container/Containerfile")))
	for _, f := range cf.from {
		if f != "scratch" {
			t.Errorf("FROM %s: the image must build without a registry pull (FROM scratch)", f)
		}
	}
	if cf.copies["casemail"] != cf.entrypoint || cf.entrypoint == "" {
		t.Errorf("ENTRYPOINT %q, but casemail is copied to %q", cf.entrypoint, cf.copies["casemail"])
	}
	if cf.copies["ca-certificates.crt"] != "/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("CA certificates copied to %q; Go looks in /etc/ssl/certs/ca-certificates.crt", cf.copies["ca-certificates.crt"])
	}
	if !regexp.MustCompile(`^[1-9][0-9]*:[1-9][0-9]*$`).MatchString(cf.user) {
		t.Errorf("USER %q: want a numeric non-root uid:gid", cf.user)
	}
	dir := imageContext(t)
	for src := range cf.copies {
		if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
			t.Errorf("make image-context does not stage %s: %v", src, err)
		}
	}
	bin := builtBinary(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "casemail deploytest" {
		t.Errorf("built binary: `casemail --version` = %q, %v; want the version make was given", out, err)
	}
	if b, err := os.ReadFile(bin); err == nil && bytes.Contains(b, []byte("/lib64/ld-linux")) {
		t.Error("the binary is dynamically linked; a FROM scratch image has no libc")
	}
}

// TestSystemdUnit runs `systemd-analyze verify` on the unit, with the
// binary it names built the container's way: any message fails the test.
// Where /usr/local/bin/casemail exists, the unit is also verified as
// shipped. Skipped where systemd-analyze is not installed.
func TestSystemdUnit(t *testing.T) {
	root := repoRoot(t)
	unitPath := filepath.Join(root, "deploy/systemd/casemail.service")
	unit := read(t, unitPath)
	for _, want := range []string{
		"User=casemail", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure",
		"StateDirectory=casemail", "ExecStart=/usr/local/bin/casemail serve", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `(\s|$)`).MatchString(unit) {
			t.Errorf("unit lacks %s", want)
		}
	}
	sysusers := read(t, filepath.Join(root, "deploy/systemd/casemail.sysusers"))
	if !regexp.MustCompile(`(?m)^u casemail `).MatchString(sysusers) {
		t.Error("casemail.sysusers does not create the casemail user the unit runs as")
	}

	analyze := testneed.Tool(t, "systemd-analyze", "systemd")
	bin := builtBinary(t)
	dir := t.TempDir()
	tmpUnit := filepath.Join(dir, "casemail.service")
	if err := os.WriteFile(tmpUnit, []byte(strings.ReplaceAll(unit, "/usr/local/bin/casemail", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(path string) {
		t.Helper()
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(path), err, out)
		}
	}
	verify(tmpUnit)
	if _, err := os.Stat("/usr/local/bin/casemail"); err == nil {
		verify(unitPath)
	} else {
		t.Log("/usr/local/bin/casemail absent: the unit was verified with the binary path rewritten")
	}
	// A unit that systemd would warn about fails the same check: the check
	// is not blind.
	bad := filepath.Join(dir, "bad.service")
	if err := os.WriteFile(bad, []byte(strings.Replace(unit, "ProtectHome=yes", "ProtectHomes=yes", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(analyze, "verify", bad).CombinedOutput(); !bytes.Contains(out, []byte("ProtectHomes")) {
		t.Errorf("systemd-analyze did not flag an unknown directive: %q", out)
	}

	if su, err := exec.LookPath("systemd-sysusers"); err == nil {
		sysroot := t.TempDir()
		if err := os.MkdirAll(filepath.Join(sysroot, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(su, "--root="+sysroot, "-")
		cmd.Stdin = strings.NewReader(sysusers)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("systemd-sysusers: %v\n%s", err, out)
		}
		if passwd := read(t, filepath.Join(sysroot, "etc/passwd")); !strings.Contains(passwd, "casemail:x:") {
			t.Errorf("systemd-sysusers made no casemail user:\n%s", passwd)
		}
	}
}

// compose is the part of the compose file the test reads; decoding is
// strict, so a misspelt key in it fails.
type compose struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                                `yaml:"image"`
	Build       *struct{ Context, Dockerfile string } `yaml:"build"`
	NetworkMode string                                `yaml:"network_mode"`
	Command     []string                              `yaml:"command"`
	Environment map[string]string                     `yaml:"environment"`
	Volumes     []string                              `yaml:"volumes"`
	Ports       []string                              `yaml:"ports"`
	Healthcheck map[string]any                        `yaml:"healthcheck"`
	DependsOn   any                                   `yaml:"depends_on"`
	ReadOnly    bool                                  `yaml:"read_only"`
	User        string                                `yaml:"user"`
	CapDrop     []string                              `yaml:"cap_drop"`
	SecurityOpt []string                              `yaml:"security_opt"`
	Restart     string                                `yaml:"restart"`
}

func strictYAML(t *testing.T, name, text string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// composeVars expands ${VAR:-default} the way compose does, with nothing
// set in the environment.
func composeVars(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

// TestCompose: the compose file's services fit together — the files it
// mounts exist, casemail's config loads with the environment compose
// gives it and agrees with the Dovecot and Mailpit settings, the rules
// load, the trial key is a valid key, and Dovecot accepts its config.
func TestCompose(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "deploy/compose")
	var c compose
	strictYAML(t, "compose.yaml", read(t, filepath.Join(dir, "compose.yaml")), &c)
	for _, name := range []string{"postgres", "dovecot", "mailpit", "casemail"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("compose.yaml has no service %s", name)
		}
	}
	cm := c.Services["casemail"]
	if cm.Build == nil {
		t.Fatal("casemail is not built from the repository")
	}
	if _, err := os.Stat(filepath.Join(dir, cm.Build.Context, cm.Build.Dockerfile)); err != nil {
		t.Errorf("build: %v", err)
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %q that is not declared", name, src)
			}
		}
	}
	// Loopback IMAP and SMTP need one network namespace.
	for _, name := range []string{"casemail", "mailpit"} {
		if c.Services[name].NetworkMode != "service:dovecot" {
			t.Errorf("%s: network_mode %q, want service:dovecot", name, c.Services[name].NetworkMode)
		}
	}
	if !cm.ReadOnly || cm.User == "" || strings.HasPrefix(cm.User, "0") || len(cm.CapDrop) == 0 {
		t.Errorf("casemail container: read_only=%v user=%q cap_drop=%v; want read-only, non-root, no capabilities",
			cm.ReadOnly, cm.User, cm.CapDrop)
	}

	vars := map[string]string{}
	for k, v := range cm.Environment {
		vars[k] = composeVars(v)
	}
	cfg, err := config.ParseDaemon(filepath.Join(dir, "casemail.yaml"), []byte(read(t, filepath.Join(dir, "casemail.yaml"))), env(vars))
	if err != nil {
		t.Fatalf("compose casemail.yaml: %v", err)
	}
	if !strings.Contains(cfg.Database.URL, "@postgres:5432/") {
		t.Errorf("database url %q does not name the postgres service", cfg.Database.URL)
	}
	mb := cfg.Mailboxes[0]
	users := read(t, filepath.Join(dir, "dovecot/users"))
	if pass, _ := mb.IMAP.Secret(); !strings.Contains(users, mb.IMAP.Username+":{PLAIN}"+pass+"\n") {
		t.Errorf("Dovecot's users file does not let %s log in with the password casemail uses", mb.IMAP.Username)
	}
	if mb.IMAP.Port != 143 || !strings.Contains(read(t, filepath.Join(dir, "dovecot/dovecot.conf")), "port = 143") {
		t.Errorf("IMAP port %d does not match Dovecot's listener", mb.IMAP.Port)
	}
	if smtpBind := c.Services["mailpit"].Environment["MP_SMTP_BIND_ADDR"]; !strings.HasSuffix(smtpBind, ":"+strconv.Itoa(cfg.SMTP.Port)) {
		t.Errorf("Mailpit listens on %s, casemail sends to port %d", smtpBind, cfg.SMTP.Port)
	}
	if !strings.HasPrefix(cfg.HTTP.Listen, "0.0.0.0:") {
		t.Errorf("http.listen %s: in a container it must listen beyond loopback", cfg.HTTP.Listen)
	}
	if !containsPrefix(c.Services["dovecot"].Ports, "127.0.0.1:8025:") {
		t.Errorf("casemail's HTTP port is not published: %v", c.Services["dovecot"].Ports)
	}
	// The mounted paths are what casemail.yaml names, relative to it.
	mounts := map[string]string{}
	for _, v := range cm.Volumes {
		p := strings.Split(v, ":")
		mounts[p[1]] = filepath.Join(dir, p[0])
	}
	rulesSrc, ok := mounts["/etc/casemail/"+filepath.Base(cfg.RulesFile)]
	if !ok {
		t.Fatalf("rules file %s is not mounted", cfg.RulesFile)
	}
	rules, err := config.LoadRules(rulesSrc)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckRules(rules); err != nil {
		t.Error(err)
	}
	secretSrc, ok := mounts["/etc/casemail/"+filepath.Base(cfg.SecretFile)]
	if !ok {
		t.Fatalf("secret_file %s is not mounted", cfg.SecretFile)
	}
	if _, err := notify.LoadKeys(secretSrc); err != nil {
		t.Errorf("trial secret: %v", err)
	}

	doveconf := testneed.Tool(t, "doveconf", "dovecot-core")
	out, err := exec.Command(doveconf, "-n", "-c", filepath.Join(dir, "dovecot/dovecot.conf")).CombinedOutput()
	if err != nil {
		t.Errorf("doveconf rejects deploy/compose/dovecot/dovecot.conf: %v\n%s", err, out)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestExampleConfigs: every example casemail.yaml loads, agrees with the
// example rules, and says what its name promises.
func TestExampleConfigs(t *testing.T) {
	root := repoRoot(t)
	t.Setenv("CASEMAIL_DATABASE_URL", "postgres://casemail@db.example.org/casemail")
	rules, err := config.LoadRules(filepath.Join(root, "deploy/examples/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	check := map[string]func(*testing.T, *config.Daemon){
		"casemail.yaml": func(t *testing.T, c *config.Daemon) {},
		"microsoft365.yaml": func(t *testing.T, c *config.Daemon) {
			im, sm := c.Mailboxes[0].IMAP, c.SMTP
			if im.Host != "outlook.office365.com" || sm.Host != "smtp.office365.com" ||
				im.OAuth2 == nil || im.OAuth2.Provider != "microsoft" || sm.OAuth2 == nil ||
				!strings.Contains(im.OAuth2.TokenURL, im.OAuth2.Tenant) {
				t.Errorf("not a Microsoft 365 OAuth2 set-up: imap %+v smtp %+v", im, sm)
			}
		},
		"google.yaml": func(t *testing.T, c *config.Daemon) {
			im, sm := c.Mailboxes[0].IMAP, c.SMTP
			if im.Host != "imap.gmail.com" || sm.Host != "smtp.gmail.com" || im.OAuth2 == nil ||
				im.OAuth2.Provider != "google" || im.OAuth2.ClientSecretFile == "" || sm.OAuth2 == nil {
				t.Errorf("not a Google OAuth2 set-up: imap %+v smtp %+v", im, sm)
			}
		},
		"dovecot.yaml": func(t *testing.T, c *config.Daemon) {
			for _, mb := range c.Mailboxes {
				if mb.IMAP.Security != "tls" || mb.IMAP.PasswordFile == "" {
					t.Errorf("mailbox %s: want TLS with a password file", mb.Name)
				}
			}
			if c.Retention.RawMail == 0 {
				t.Error("no retention in the example")
			}
		},
	}
	for name, fn := range check {
		t.Run(name, func(t *testing.T) {
			c, err := config.LoadDaemon(filepath.Join(root, "deploy/examples", name))
			if err != nil {
				t.Fatal(err)
			}
			if c.RulesFile != filepath.Join(root, "deploy/examples/rules.yaml") {
				t.Errorf("rules = %s, want the example rules next to it", c.RulesFile)
			}
			if err := c.CheckRules(rules); err != nil {
				t.Error(err)
			}
			fn(t, c)
		})
	}
}
