// Package pgtemp starts a private, throwaway PostgreSQL cluster from the
// machine's PostgreSQL server binaries: initdb into a directory, then a
// postgres server on a free loopback port with trust authentication. It
// serves `casemail dev` and the test suite when no database URL is given.
//
// It never touches the system's clusters, never listens beyond 127.0.0.1
// and never installs anything: when the binaries are missing it says which
// package to install. PostgreSQL refuses to run as root, so when the process
// is root the cluster runs as the "postgres" user.
package pgtemp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned (wrapped) when no PostgreSQL server binaries
// can be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries not found; install the postgresql package (apt-get install postgresql)")

// Options configure Start. The zero value is a fresh cluster in a temporary
// directory, without fsync, that Stop removes.
type Options struct {
	// Dir holds the cluster (Dir/data, the socket in Dir/run, the server
	// log in Dir/postgres.log). Empty means a new temporary directory that
	// Stop removes. A given Dir is created if missing, reused if it already
	// holds a cluster, and kept by Stop, so data survives restarts.
	Dir string
	// Fsync makes the cluster crash-safe. Off by default: a throwaway
	// cluster gains speed and loses nothing of value.
	Fsync bool
	// BinDir is the directory of initdb and postgres. Empty means search:
	// `pg_config --bindir`, then /usr/lib/postgresql/*/bin, newest first,
	// then PATH.
	BinDir string
	// Logf receives progress messages (never passwords; there are none).
	// Nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running throwaway PostgreSQL server. Its methods are safe
// for concurrent use.
type Cluster struct {
	dir       string
	dataDir   string
	sockDir   string
	logPath   string
	port      int
	removeDir bool
	logf      func(string, ...any)

	proc *exec.Cmd
	done chan struct{} // closed when the server process has exited

	stopOnce sync.Once
	stopErr  error
}

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 60 * time.Second

// Start initialises (unless Dir already holds one) and starts a cluster,
// and returns once it accepts connections. The server is a child process:
// on Linux it is also told to quit if this process dies without calling
// Stop, so an aborted test run leaves no server behind.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir, err := findBinDir(ctx, opts.BinDir)
	if err != nil {
		return nil, err
	}

	cred, err := runAsCredential()
	if err != nil {
		return nil, err
	}

	c := &Cluster{logf: logf}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "casemail-pg-")
		if err != nil {
			return nil, fmt.Errorf("pgtemp: creating temporary directory: %w", err)
		}
		c.dir, c.removeDir = dir, true
	} else {
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("pgtemp: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("pgtemp: creating %s: %w", dir, err)
		}
		c.dir = dir
	}
	c.dataDir = filepath.Join(c.dir, "data")
	c.sockDir = filepath.Join(c.dir, "run")
	c.logPath = filepath.Join(c.dir, "postgres.log")

	ok := false
	defer func() {
		if !ok && c.removeDir {
			os.RemoveAll(c.dir)
		}
	}()

	if err := os.MkdirAll(c.sockDir, 0o755); err != nil {
		return nil, fmt.Errorf("pgtemp: creating socket directory: %w", err)
	}
	if cred != nil {
		// The server runs as postgres: it must own its directory and be
		// able to reach it. A temporary directory is created 0700, so
		// open it for traversal too.
		for _, p := range []string{c.dir, c.sockDir} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("pgtemp: giving %s to user postgres: %w", p, err)
			}
		}
		if err := os.Chmod(c.dir, 0o755); err != nil {
			return nil, fmt.Errorf("pgtemp: %w", err)
		}
	}

	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		logf("pgtemp: reusing cluster in %s", c.dataDir)
	} else {
		if err := c.initdb(ctx, binDir, cred, opts.Fsync); err != nil {
			return nil, err
		}
	}

	// A free port can be taken by someone else between our probe and the
	// server's bind; try a few.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.port = port
		if err := c.writeConf(cred, opts.Fsync); err != nil {
			return nil, err
		}
		lastErr = c.start(ctx, binDir, cred)
		if lastErr == nil {
			ok = true
			logf("pgtemp: PostgreSQL from %s listening on 127.0.0.1:%d (data in %s)", binDir, c.port, c.dataDir)
			return c, nil
		}
		if !errors.Is(lastErr, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// URL returns a connection URL for the superuser "postgres" and the
// database "postgres" over TCP.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port returns the TCP port the server listens on (127.0.0.1 only).
func (c *Cluster) Port() int { return c.port }

// Dir returns the directory holding the cluster.
func (c *Cluster) Dir() string { return c.dir }

// Stop shuts the server down the way `pg_ctl stop -m fast` does (SIGINT:
// disconnect clients, abort their transactions, checkpoint), escalating to
// an immediate stop and then a kill if it hangs, and removes the directory
// if Start created it. Calling it again returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	steps := []struct {
		sig  os.Signal
		wait time.Duration
	}{
		{syscall.SIGINT, 30 * time.Second},  // fast shutdown
		{syscall.SIGQUIT, 10 * time.Second}, // immediate shutdown
		{os.Kill, 10 * time.Second},
	}
	var err error
	stopped := false
	for _, s := range steps {
		if e := c.proc.Process.Signal(s.sig); e != nil && !errors.Is(e, os.ErrProcessDone) {
			err = fmt.Errorf("pgtemp: signalling postgres (pid %d): %w", c.proc.Process.Pid, e)
		}
		select {
		case <-c.done:
			stopped = true
		case <-time.After(s.wait):
			c.logf("pgtemp: postgres did not stop after %v, sending %v", s.wait, s.sig)
			continue
		}
		break
	}
	if !stopped {
		return fmt.Errorf("pgtemp: postgres (pid %d) did not exit", c.proc.Process.Pid)
	}
	if c.removeDir {
		if e := os.RemoveAll(c.dir); e != nil {
			return fmt.Errorf("pgtemp: removing %s: %w", c.dir, e)
		}
	}
	c.logf("pgtemp: PostgreSQL on port %d stopped", c.port)
	return err
}

func (c *Cluster) initdb(ctx context.Context, binDir string, cred *syscall.Credential, fsync bool) error {
	args := []string{"-D", c.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	c.logf("pgtemp: initdb %s", c.dataDir)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr(cred, false)
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if cred != nil {
			hint = fmt.Sprintf(" (running as root, initdb runs as user postgres, which must be able to reach %s)", c.dir)
		}
		return fmt.Errorf("pgtemp: initdb in %s: %w%s\n%s", c.dataDir, err, hint, tail(out, 2000))
	}
	// Our settings live in their own file so that a restart on another
	// port rewrites only that file.
	conf := filepath.Join(c.dataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtemp: %w", err)
	}
	_, err = f.WriteString("\n# added by casemail pgtemp\ninclude_if_exists = 'pgtemp.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtemp: writing %s: %w", conf, err)
	}
	return nil
}

func (c *Cluster) writeConf(cred *syscall.Credential, fsync bool) error {
	sock := c.sockDir
	// A unix socket path is limited to 107 bytes; the tests connect over
	// TCP, so a deep directory simply gets no socket.
	if len(sock)+len("/.s.PGSQL.65535.lock") > 100 {
		c.logf("pgtemp: %s is too long for a unix socket; TCP only", sock)
		sock = ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", c.port)
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", strings.ReplaceAll(sock, "'", "''"))
	fmt.Fprintf(&b, "max_connections = 200\n")
	fmt.Fprintf(&b, "shared_buffers = 32MB\n")
	fmt.Fprintf(&b, "logging_collector = off\n")
	if fsync {
		b.WriteString("fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
	} else {
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	}
	path := filepath.Join(c.dataDir, "pgtemp.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgtemp: writing %s: %w", path, err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtemp: %w", err)
		}
	}
	return nil
}

var errPortInUse = errors.New("port in use")

func (c *Cluster) start(ctx context.Context, binDir string, cred *syscall.Credential) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtemp: opening server log: %w", err)
	}
	logStart, _ := logFile.Seek(0, 2)

	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", c.dataDir)
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(cred, true)
	done, waitErr, err := startChild(cmd)
	logFile.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("pgtemp: starting postgres: %w", err)
	}
	c.proc, c.done = cmd, done

	serverLog := func() string {
		b, _ := os.ReadFile(c.logPath)
		if int64(len(b)) >= logStart {
			b = b[logStart:]
		}
		return tail(b, 3000)
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		select {
		case <-done:
			l := serverLog()
			if strings.Contains(l, "could not bind") || strings.Contains(l, "could not create any TCP/IP sockets") {
				return fmt.Errorf("pgtemp: postgres on port %d: %w", c.port, errPortInUse)
			}
			return fmt.Errorf("pgtemp: postgres exited during start (%v); its log:\n%s", *waitErr, l)
		default:
		}
		if err := ping(ctx, c.URL()); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			c.proc.Process.Kill()
			<-done
			return fmt.Errorf("pgtemp: postgres did not accept connections on port %d: %w; its log:\n%s", c.port, ctx.Err(), serverLog())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// startChild starts cmd and returns a channel closed when it has exited,
// with its Wait error stored in *waitErr by then. The start happens on a
// goroutine locked to its OS thread, which stays alive until the child
// exits: Linux delivers Pdeathsig when the creating thread ends, not the
// process (go.dev/issue/27505), and Go may retire idle threads.
func startChild(cmd *exec.Cmd) (done chan struct{}, waitErr *error, err error) {
	done = make(chan struct{})
	waitErr = new(error)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		*waitErr = cmd.Wait()
		runtime.UnlockOSThread()
		close(done)
	}()
	if err := <-started; err != nil {
		return nil, nil, err
	}
	return done, waitErr, nil
}

// runAsCredential returns the postgres user's credential when this process
// is root (PostgreSQL refuses to run as root), else nil.
func runAsCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtemp: running as root, PostgreSQL must run as user postgres, which was not found (%v); install the postgresql package (apt-get install postgresql), which creates it", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtemp: user postgres has a non-numeric uid/gid %q/%q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// childEnv is this process's environment without the PG* variables that
// would point initdb or postgres elsewhere, and with messages in English
// so that start failures can be recognised in the log.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// findBinDir returns the directory holding initdb and postgres.
func findBinDir(ctx context.Context, explicit string) (string, error) {
	if explicit != "" {
		if hasServerBinaries(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("pgtemp: no initdb and postgres in %s: %w", explicit, ErrNoBinaries)
	}
	for _, dir := range candidateBinDirs(ctx) {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtemp: %w", ErrNoBinaries)
}

// libDirGlob is where Debian and Ubuntu install the server binaries.
var libDirGlob = "/usr/lib/postgresql/*/bin"

func candidateBinDirs(ctx context.Context) []string {
	var dirs []string
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(ctx, pgConfig, "--bindir").Output()
		cancel()
		if err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				dirs = append(dirs, d)
			}
		}
	}
	dirs = append(dirs, sortByVersionDesc(globDirs(libDirGlob))...)
	// Last, a postgres on PATH (Homebrew, a source build). Resolve links
	// so that initdb is looked for beside the real binary.
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	return dirs
}

func globDirs(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

var versionRE = regexp.MustCompile(`/(\d+)(?:\.(\d+))?/bin$`)

// sortByVersionDesc orders /usr/lib/postgresql/N/bin paths newest first by
// numeric version (so 16 comes before 9.6).
func sortByVersionDesc(dirs []string) []string {
	ver := func(d string) [2]int {
		m := versionRE.FindStringSubmatch(filepath.ToSlash(d))
		if m == nil {
			return [2]int{-1, -1}
		}
		major, _ := strconv.Atoi(m[1])
		minor := 0
		if m[2] != "" {
			minor, _ = strconv.Atoi(m[2])
		}
		return [2]int{major, minor}
	}
	out := append([]string(nil), dirs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := ver(out[i]), ver(out[j])
		if a[0] != b[0] {
			return a[0] > b[0]
		}
		return a[1] > b[1]
	})
	return out
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtemp: finding a free port: %w", err)
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
