// Package dovecottest runs a private Dovecot 2.3 IMAP server for
// integration tests: a generated configuration in a temporary directory
// with its own base_dir and state_dir, plaintext login on a free loopback
// port, passwd-file users and maildir storage in that directory.
//
// It never touches the system's Dovecot (which installing the package may
// have started), listens only on 127.0.0.1 and never installs anything.
//
// Dovecot refuses uid 0 for mail users and login processes. As root, the
// login processes run as the package's "dovenull" user, internal ones as
// "dovecot", and mail is owned by "nobody"; as another user, everything
// runs as that user.
package dovecottest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/casemail/casemail/deploy/testneed"
)

// User is a mail account on the server.
type User struct {
	Name     string
	Password string
}

// Server is a running private Dovecot. Its methods are safe for concurrent
// use, but Stop and Restart should come from the test's goroutine.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	conf    string
	logPath string
	port    int
	users   map[string]string

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed when proc has exited
}

// binPaths are where dovecot is looked for besides PATH: Debian installs
// it in /usr/sbin, which is not on every user's PATH.
var binPaths = []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"}

// Available reports whether a Dovecot can be started here: nil, or an
// error saying what is missing and how to install it.
func Available() error {
	if _, err := findBinary(); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		for _, name := range []string{"dovecot", "dovenull"} {
			if _, err := user.Lookup(name); err != nil {
				return fmt.Errorf("dovecottest: running as root needs the system user %q, which installing dovecot-core creates (apt-get install dovecot-imapd): %v", name, err)
			}
		}
	}
	return nil
}

func findBinary() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	for _, p := range binPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("dovecottest: dovecot not found; install the dovecot-imapd package (apt-get install dovecot-imapd)")
}

// Start starts a Dovecot with the given users and stops it, removing all
// its files, when the test ends. Without Dovecot on the machine the test
// is skipped, except in CI (CI set in the environment), where it fails:
// there a missing Dovecot is a broken setup, not a reason to test less.
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	if err := Available(); err != nil {
		testneed.Missing(t, "%v", err)
	}
	bin, _ := findBinary()

	dir, err := os.MkdirTemp("", "casemail-dovecot-")
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: dir, users: map[string]string{}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("dovecottest: Dovecot log:\n%s", s.logTail(4000))
		}
		os.RemoveAll(dir)
	})
	for _, u := range users {
		if u.Name == "" || strings.ContainsAny(u.Name, ":\n/") || strings.ContainsAny(u.Password, "\n") {
			t.Fatalf("dovecottest: unusable user %q", u.Name)
		}
		s.users[u.Name] = u.Password
	}
	if err := s.setup(); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}

	// A free port may be taken between our probe and Dovecot's bind.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		if err = s.writeConf(); err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		err = s.start()
		if err == nil {
			return s
		}
		if !errors.Is(err, errPortInUse) || attempt == 2 {
			t.Fatalf("dovecottest: %v", err)
		}
	}
}

// Addr returns "127.0.0.1:PORT"; it stays the same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the IMAP port.
func (s *Server) Port() int { return s.port }

// Stop stops Dovecot the way a crash or a pulled cable would: every
// Dovecot process is killed at once and open connections drop. The mail
// stays for Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	// The master and the imap processes serving clients share a process
	// group. (A SIGTERM to the master alone takes a second and leaves
	// those imap processes serving their clients.)
	syscall.Kill(-s.proc.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.proc, s.done = nil, nil
}

// Restart stops Dovecot if it runs and starts it again on the same port
// with the same mail, as after a server outage.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	// A just-closed port can be held briefly; Dovecot then fails to bind.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(); err == nil || !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dovecottest: restart: %v", err)
	}
}

// Login returns a client logged in as user, closed when the test ends.
func (s *Server) Login(t testing.TB, user string, opts ...*imapclient.Options) *imapclient.Client {
	t.Helper()
	var o *imapclient.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := s.login(user, o)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) login(user string, o *imapclient.Options) (*imapclient.Client, error) {
	pw, ok := s.users[user]
	if !ok {
		return nil, fmt.Errorf("no user %q on this server", user)
	}
	c, err := imapclient.DialInsecure(s.Addr(), o)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", s.Addr(), err)
	}
	if err := c.Login(user, pw).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("logging in as %s: %w", user, err)
	}
	return c, nil
}

// Append delivers raw into user's folder (created if missing) with an
// IMAP APPEND, as a mail server's delivery would, and returns its UID.
func (s *Server) Append(t testing.TB, user, folder string, raw []byte, flags ...imap.Flag) imap.UID {
	t.Helper()
	uid, err := s.append(user, folder, raw, flags)
	if err != nil {
		t.Fatalf("dovecottest: appending to %s/%s: %v", user, folder, err)
	}
	return uid
}

func (s *Server) append(user, folder string, raw []byte, flags []imap.Flag) (imap.UID, error) {
	c, err := s.login(user, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if !strings.EqualFold(folder, "INBOX") {
		if err := c.Create(folder, nil).Wait(); err != nil {
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAlreadyExists {
				return 0, fmt.Errorf("creating folder: %w", err)
			}
		}
	}
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags})
	if _, err := cmd.Write(raw); err != nil {
		cmd.Close()
		return 0, err
	}
	if err := cmd.Close(); err != nil {
		return 0, err
	}
	data, err := cmd.Wait()
	if err != nil {
		return 0, err
	}
	if err := c.Logout().Wait(); err != nil {
		return 0, fmt.Errorf("logging out: %w", err)
	}
	return data.UID, nil
}

// Deliver stores raw in user's INBOX with `doveadm save`, as a mail
// server's local delivery would: no IMAP connection of the test's own
// shows up next to the client under test (see Connections).
func (s *Server) Deliver(t testing.TB, user string, raw []byte) {
	t.Helper()
	if _, ok := s.users[user]; !ok {
		t.Fatalf("dovecottest: no user %q on this server", user)
	}
	cmd := exec.Command(s.doveadm(), "-c", s.conf, "save", "-u", user, "-m", "INBOX")
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dovecottest: delivering to %s: %v\n%s", user, err, out)
	}
}

// Connections returns the number of IMAP connections logged in per user
// (`doveadm who`), as the server sees them.
func (s *Server) Connections(t testing.TB) map[string]int {
	t.Helper()
	out, err := exec.Command(s.doveadm(), "-c", s.conf, "who", "-1").CombinedOutput()
	if err != nil {
		t.Fatalf("dovecottest: doveadm who: %v\n%s", err, out)
	}
	conns := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 || f[1] != "imap" {
			continue // the header, or another protocol
		}
		conns[f[0]]++
	}
	return conns
}

// doveadm is Dovecot's admin tool, installed with it (dovecot-core).
func (s *Server) doveadm() string {
	if p, err := exec.LookPath("doveadm"); err == nil {
		return p
	}
	return filepath.Join(filepath.Dir(filepath.Dir(s.bin)), "bin", "doveadm")
}

// ids are the uid/gid and user names Dovecot runs with.
type ids struct {
	mailUID, mailGID int
	loginUser        string // default_login_user
	internalUser     string // default_internal_user
	internalGroup    string // default_internal_group
	root             bool
}

func currentIDs() (ids, error) {
	if os.Geteuid() == 0 {
		// nobody/nogroup: an unprivileged uid that exists everywhere, so
		// the tests create no system users.
		u, err := user.Lookup("nobody")
		if err != nil {
			return ids{}, fmt.Errorf("looking up user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return ids{mailUID: uid, mailGID: gid, loginUser: "dovenull", internalUser: "dovecot", internalGroup: "dovecot", root: true}, nil
	}
	u, err := user.Current()
	if err != nil {
		return ids{}, fmt.Errorf("looking up the current user: %w", err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		return ids{}, fmt.Errorf("looking up the current group: %w", err)
	}
	return ids{mailUID: os.Getuid(), mailGID: os.Getgid(), loginUser: u.Username, internalUser: u.Username, internalGroup: g.Name}, nil
}

func (s *Server) setup() error {
	id, err := currentIDs()
	if err != nil {
		return err
	}
	// Dovecot's unprivileged processes must reach the files here.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"run", "state", "mail", "home"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	if id.root {
		for _, d := range []string{"mail", "home"} {
			if err := os.Chown(filepath.Join(s.dir, d), id.mailUID, id.mailGID); err != nil {
				return fmt.Errorf("giving %s to the mail user: %w", d, err)
			}
		}
	}
	var b strings.Builder
	for name, pw := range s.users {
		// Test passwords are not secrets; the file is world-readable so
		// that the auth process finds it whichever user it runs as.
		fmt.Fprintf(&b, "%s:{PLAIN}%s\n", name, pw)
	}
	return os.WriteFile(filepath.Join(s.dir, "users"), []byte(b.String()), 0o644)
}

func (s *Server) writeConf() error {
	id, err := currentIDs()
	if err != nil {
		return err
	}
	d := s.dir
	s.logPath = filepath.Join(d, "dovecot.log")
	var b strings.Builder
	fmt.Fprintf(&b, `# generated by casemail dovecottest for Dovecot 2.3
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = casemail-test-%[2]d
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = %[3]s
default_internal_user = %[4]s
default_internal_group = %[7]s
mail_privileged_group =
first_valid_uid = %[5]d
last_valid_uid = %[5]d
first_valid_gid = %[6]d
mail_location = maildir:%[1]s/mail/%%u
mail_fsync = never
mail_max_userip_connections = 1000
# Room for a test with hundreds of mailboxes, one connection each (the
# default allows 100 processes per service).
default_process_limit = 1000
default_client_limit = 4000
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[5]d gid=%[6]d home=%[1]s/home/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
`, d, s.port, id.loginUser, id.internalUser, id.mailUID, id.mailGID, id.internalGroup)
	if !id.root {
		// Chroots need root; without it every service runs unconfined.
		for _, svc := range []string{"imap-login", "imap-urlauth-login", "anvil", "ipc", "old-stats"} {
			fmt.Fprintf(&b, "service %s {\n  chroot =\n}\n", svc)
		}
	}
	s.conf = filepath.Join(d, "dovecot.conf")
	return os.WriteFile(s.conf, []byte(b.String()), 0o644)
}

var errPortInUse = errors.New("port in use")

// start runs `dovecot -F -c CONF` and waits for its IMAP greeting.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logStart := int64(0)
	if fi, err := os.Stat(s.logPath); err == nil {
		logStart = fi.Size()
	}
	out, err := os.OpenFile(filepath.Join(s.dir, "dovecot.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "-F", "-c", s.conf)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	done, err := startChild(cmd)
	if err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}

	failure := func() string {
		b, _ := os.ReadFile(s.logPath)
		if int64(len(b)) >= logStart {
			b = b[logStart:]
		}
		o, _ := os.ReadFile(filepath.Join(s.dir, "dovecot.out"))
		return tail(append(o, b...), 3000)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			msg := failure()
			if strings.Contains(msg, "Address already in use") {
				return fmt.Errorf("dovecot on port %d: %w", s.port, errPortInUse)
			}
			return fmt.Errorf("dovecot exited during start:\n%s", msg)
		default:
		}
		if greeted(s.Addr()) {
			s.proc, s.done = cmd, done
			return nil
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return fmt.Errorf("dovecot did not greet on %s within 30s:\n%s", s.Addr(), failure())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// greeted reports whether an IMAP server answers with "* OK" on addr.
func greeted(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "* OK") {
		return false
	}
	c.Write([]byte("x LOGOUT\r\n"))
	return true
}

// startChild starts cmd on a goroutine locked to its OS thread, kept until
// the child exits: Pdeathsig fires when the creating thread ends, not the
// process (go.dev/issue/27505).
func startChild(cmd *exec.Cmd) (chan struct{}, error) {
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		runtime.UnlockOSThread()
		close(done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

func (s *Server) logTail(n int) string {
	b, _ := os.ReadFile(s.logPath)
	return tail(b, n)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}
