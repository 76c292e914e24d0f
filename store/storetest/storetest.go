// Package storetest gives each test its own empty PostgreSQL database.
//
// The server is chosen once per test process: TEST_DATABASE_URL if set
// (the test fails loudly if it does not answer), else the conventional
// local server postgres://postgres@127.0.0.1:5432 if it answers, else a
// throwaway cluster started with pgtemp. Each URL call creates a database
// with a unique name and drops it (WITH (FORCE)) when the test ends.
//
// It never runs migrations (callers use store.Open/Migrate) and never
// touches databases it did not create.
//
// Packages that use it should stop the throwaway cluster at exit:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// Without that, on Linux the cluster's server still quits when the test
// process exits (pgtemp sets a parent-death signal), but its temporary
// directory is left behind.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casemail/casemail/store/pgtemp"
)

// EnvURL names the environment variable holding the server to test
// against. Its database is used only to create and drop test databases.
const EnvURL = "TEST_DATABASE_URL"

// defaultServerURL is tried when EnvURL is unset; a variable so that tests
// can make it bogus to exercise the pgtemp fallback.
var defaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"

// server is the database server of one test process.
type server struct {
	envURL     string // EnvURL's value, "" if unset
	defaultURL string

	once    sync.Once
	err     error
	url     string // admin URL of the chosen server
	source  string // "TEST_DATABASE_URL", "default" or "pgtemp"
	pool    *pgxpool.Pool
	cluster *pgtemp.Cluster
}

var (
	procMu  sync.Mutex
	procSrv *server
)

func processServer() *server {
	procMu.Lock()
	defer procMu.Unlock()
	if procSrv == nil {
		procSrv = &server{envURL: os.Getenv(EnvURL), defaultURL: defaultServerURL}
	}
	return procSrv
}

// URL returns a connection URL to a new, empty database created for this
// test only; it is dropped when the test and its subtests are done (after
// cleanups registered later, such as closing the caller's pool). Safe to
// call from parallel tests.
func URL(t testing.TB) string {
	t.Helper()
	s := processServer()
	if err := s.setup(t.Logf); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	u, err := s.createDB(t.Name())
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.dropDB(u.name); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return u.url
}

// Main runs the tests of a package and then stops the throwaway cluster,
// if one was started, before exiting with the tests' status. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Shutdown stops the throwaway cluster, if one was started, for a TestMain
// that has more to do than Main does.
func Shutdown() error { return shutdown() }

func shutdown() error {
	procMu.Lock()
	s := procSrv
	procSrv = nil
	procMu.Unlock()
	if s == nil {
		return nil
	}
	return s.close()
}

// setup chooses and connects to the server, once.
func (s *server) setup(logf func(string, ...any)) error {
	s.once.Do(func() { s.err = s.connect(logf) })
	return s.err
}

func (s *server) connect(logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if s.envURL != "" {
		pool, err := openPool(ctx, s.envURL)
		if err != nil {
			return fmt.Errorf("%s is set but its server does not answer: %w", EnvURL, err)
		}
		s.url, s.source, s.pool = s.envURL, EnvURL, pool
		return nil
	}
	if s.defaultURL != "" {
		pool, err := openPool(ctx, s.defaultURL)
		if err == nil {
			s.url, s.source, s.pool = s.defaultURL, "default", pool
			return nil
		}
		logf("storetest: no usable server at %s (%v); starting a throwaway cluster", redact(s.defaultURL), err)
	}
	// The cluster outlives the test that started it, so it must not log
	// through that test's t.Logf.
	c, err := pgtemp.Start(ctx, pgtemp.Options{Logf: stderrf})
	if err != nil {
		return fmt.Errorf("no %s, no server at the default address, and no throwaway cluster: %w", EnvURL, err)
	}
	pool, err := openPool(ctx, c.URL())
	if err != nil {
		c.Stop()
		return fmt.Errorf("connecting to the throwaway cluster: %w", err)
	}
	s.url, s.source, s.pool, s.cluster = c.URL(), "pgtemp", pool, c
	return nil
}

func stderrf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func openPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", redact(dsn), err)
	}
	// Only CREATE and DROP DATABASE go through it.
	cfg.MaxConns = 4
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 10*time.Second {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

type testDB struct {
	name string
	url  string
}

func (s *server) createDB(testName string) (testDB, error) {
	name := dbName(testName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// template0: nobody is ever connected to it, so concurrent creates do
	// not collide, and it allows choosing the encoding.
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() +
		" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
	if _, err := s.pool.Exec(ctx, sql); err != nil {
		return testDB{}, fmt.Errorf("creating database %s on %s: %w", name, s.source, err)
	}
	u, err := withDatabase(s.url, name)
	if err != nil {
		return testDB{}, err
	}
	return testDB{name: name, url: u}, nil
}

func (s *server) dropDB(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// FORCE ends connections a test left open (a leaked pool, a listener).
	sql := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if _, err := s.pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}

func (s *server) close() error {
	if s.pool != nil {
		s.pool.Close()
	}
	if s.cluster != nil {
		return s.cluster.Stop()
	}
	return nil
}

// dbName makes a valid, unique database name (at most 63 bytes) that
// still tells which test made it, for whoever finds one left behind.
func dbName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	slug := b.String()
	if len(slug) > 36 { // 14 + 36 + 1 + 12 = 63 bytes, the limit
		slug = slug[:36]
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return "casemail_test_" + slug + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase returns dsn pointing at database name. It accepts both URL
// and keyword=value forms, as libpq and pgx do.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parsing %s: %w", redact(dsn), err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In keyword=value form a later key overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// redact hides a password in a connection string for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	if strings.Contains(dsn, "password") {
		return "(connection string with a password)"
	}
	return dsn
}
