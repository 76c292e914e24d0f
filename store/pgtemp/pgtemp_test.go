package pgtemp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	opts.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exec1(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestStartStop(t *testing.T) {
	c := start(t, Options{})
	url := c.URL()
	want := "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable"
	if url != want {
		t.Errorf("URL() = %q, want %q", url, want)
	}

	exec1(t, url, "CREATE TABLE t (id int PRIMARY KEY, s text)")
	exec1(t, url, "INSERT INTO t VALUES (1, 'a'), (2, 'ü')")
	if n := queryInt(t, url, "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("count = %d, want 2", n)
	}
	// The cluster is UTF-8 whatever the machine's locale.
	if n := queryInt(t, url, "SELECT length(s) FROM t WHERE id = 2"); n != 1 {
		t.Errorf("length('ü') = %d, want 1 (encoding not UTF-8?)", n)
	}
	// Tests rely on fsync being off by default for speed.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var fsync, listen string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('listen_addresses')").Scan(&fsync, &listen); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if fsync != "off" || listen != "127.0.0.1" {
		t.Errorf("fsync=%s listen_addresses=%s, want off and 127.0.0.1", fsync, listen)
	}

	dir := c.Dir()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still there after Stop (err=%v)", dir, err)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.Port()), time.Second); err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections after Stop", c.Port())
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestReuseDir(t *testing.T) {
	// Not t.TempDir: its parent is 0700, and as root the server runs as
	// postgres, which must be able to reach the directory.
	parent, err := os.MkdirTemp("", "pgtemp-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "cluster")
	c := start(t, Options{Dir: dir, Fsync: true})
	exec1(t, c.URL(), "CREATE TABLE kept (id int)")
	exec1(t, c.URL(), "INSERT INTO kept VALUES (42)")
	firstPort := c.Port()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("a given Dir must be kept by Stop: %v", err)
	}

	c = start(t, Options{Dir: dir})
	defer c.Stop()
	if n := queryInt(t, c.URL(), "SELECT id FROM kept"); n != 42 {
		t.Errorf("after restart: id = %d, want 42", n)
	}
	t.Logf("ports: %d then %d", firstPort, c.Port())
}

func TestTwoClustersAtOnce(t *testing.T) {
	a := start(t, Options{})
	defer a.Stop()
	b := start(t, Options{})
	defer b.Stop()
	if a.Port() == b.Port() || a.Dir() == b.Dir() {
		t.Fatalf("clusters share port or dir: %d/%d %s/%s", a.Port(), b.Port(), a.Dir(), b.Dir())
	}
	exec1(t, a.URL(), "CREATE TABLE only_a (id int)")
	if n := queryInt(t, b.URL(), "SELECT count(*) FROM pg_tables WHERE tablename = 'only_a'"); n != 0 {
		t.Errorf("table of cluster a visible in cluster b")
	}
}

func TestMissingBinaries(t *testing.T) {
	_, err := Start(context.Background(), Options{BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("Start with an empty BinDir = %v, want ErrNoBinaries", err)
	}

	old := libDirGlob
	defer func() { libDirGlob = old }()
	libDirGlob = filepath.Join(t.TempDir(), "*", "bin")
	t.Setenv("PATH", t.TempDir())
	_, err = findBinDir(context.Background(), "")
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("findBinDir without pg_config, postgres on PATH or lib dirs = %v, want ErrNoBinaries", err)
	}
	if want := "install the postgresql package (apt-get install postgresql)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not tell how to fix it (%q)", err, want)
	}
}

func TestFindBinDirByVersion(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if v == "16" {
			continue // client-only: no server binaries
		}
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	old := libDirGlob
	defer func() { libDirGlob = old }()
	libDirGlob = filepath.Join(root, "*", "bin")
	t.Setenv("PATH", t.TempDir()) // no pg_config
	got, err := findBinDir(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "13", "bin"); got != want {
		t.Errorf("findBinDir = %s, want %s (newest with server binaries)", got, want)
	}
}

func TestSortByVersionDesc(t *testing.T) {
	in := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/x/odd/bin"}
	want := []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/9.6/bin", "/x/odd/bin"}
	if got := sortByVersionDesc(in); !reflect.DeepEqual(got, want) {
		t.Errorf("sortByVersionDesc = %v, want %v", got, want)
	}
}

// TestServerDiesWithParent checks that a process that exits without Stop
// leaves no server running: the child below starts a cluster, prints its
// port and exits; the server must then go away on its own.
func TestServerDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux's parent-death signal")
	}
	if os.Getenv("PGTEMP_ORPHAN_CHILD") == "1" {
		c, err := Start(context.Background(), Options{})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("PORT", c.Port(), c.Dir())
		os.Exit(0) // no Stop
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithParent$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGTEMP_ORPHAN_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var port int
	var dir string
	if _, err := fmt.Sscanf(string(out), "PORT %d %s", &port, &dir); err != nil {
		t.Fatalf("child said %q", out)
	}
	defer os.RemoveAll(dir) // left behind by design: only Stop removes it
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("server on port %d still running 30s after its parent exited", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
