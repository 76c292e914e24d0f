package storetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	// Lets the whole package run down the fallback path on a machine that
	// has a server on the default address:
	// STORETEST_DEFAULT_URL=postgres://127.0.0.1:1/x go test ./store/storetest
	if v := os.Getenv("STORETEST_DEFAULT_URL"); v != "" {
		defaultServerURL = v
	}
	Main(m)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	return conn
}

func dbExists(t *testing.T, s *server, name string) bool {
	t.Helper()
	var n int
	err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestURLGivesFreshDatabasesDroppedAfterTest(t *testing.T) {
	var names []string
	t.Run("inner", func(t *testing.T) {
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			conn := connect(t, URL(t))
			var name string
			var tables int
			err := conn.QueryRow(ctx, `SELECT current_database(),
				(SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))`).Scan(&name, &tables)
			if err != nil {
				t.Fatal(err)
			}
			if tables != 0 {
				t.Errorf("database %s has %d tables, want an empty one", name, tables)
			}
			if _, err := conn.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
				t.Fatal(err)
			}
			// Left open on purpose: the drop must force it closed.
			names = append(names, name)
		}
		if names[0] == names[1] {
			t.Fatalf("two URL calls gave the same database %s", names[0])
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "casemail_test_testurlgivesfresh") {
				t.Errorf("database name %q does not name its test", n)
			}
		}
	})
	s := processServer()
	for _, n := range names {
		if dbExists(t, s, n) {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
	t.Logf("server: %s", s.source)
}

func TestParallelTests(t *testing.T) {
	for i := 0; i < 4; i++ {
		t.Run("p", func(t *testing.T) {
			t.Parallel()
			conn := connect(t, URL(t))
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "CREATE TABLE same_name (id int)"); err != nil {
				t.Fatalf("each test must have its own database: %v", err)
			}
		})
	}
}

// TestFallbackToThrowawayCluster takes the path of a machine with neither
// TEST_DATABASE_URL nor a server on the default address.
func TestFallbackToThrowawayCluster(t *testing.T) {
	s := &server{defaultURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"}
	if err := s.setup(t.Logf); err != nil {
		t.Fatal(err)
	}
	if s.source != "pgtemp" || s.cluster == nil {
		t.Fatalf("source = %q, want pgtemp", s.source)
	}
	dir := s.cluster.Dir()
	db, err := s.createDB(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, db.url)
	var name string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != db.name {
		t.Errorf("connected to %s, want %s", name, db.name)
	}
	if err := s.dropDB(db.name); err != nil {
		t.Fatal(err)
	}
	if dbExists(t, s, db.name) {
		t.Errorf("database %s survived dropDB", db.name)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s left after close", dir)
	}
}

func TestEnvURLThatDoesNotAnswerFailsLoudly(t *testing.T) {
	s := &server{
		envURL:     "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2",
		defaultURL: defaultServerURL,
	}
	err := s.setup(t.Logf)
	if err == nil {
		s.close()
		t.Fatal("setup succeeded with a TEST_DATABASE_URL nobody answers")
	}
	if !strings.Contains(err.Error(), "TEST_DATABASE_URL is set but its server does not answer") {
		t.Errorf("error %q does not say TEST_DATABASE_URL is at fault", err)
	}
	if s.cluster != nil {
		t.Error("fell back to a throwaway cluster although TEST_DATABASE_URL was set")
	}
	if err2 := s.setup(t.Logf); err2 != err {
		t.Errorf("second setup = %v, want the first error again", err2)
	}
}

func TestDBName(t *testing.T) {
	long := strings.Repeat("TestVeryLong/Sub test ÅÄÖ-", 10)
	a, b := dbName(long), dbName(long)
	if a == b {
		t.Errorf("dbName not unique: %s", a)
	}
	if len(a) > 63 {
		t.Errorf("dbName %q is %d bytes, PostgreSQL keeps 63", a, len(a))
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Fatalf("dbName %q has %q", a, r)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"},
		{"postgresql://u:p%40ss@h/", "postgresql://u:p%40ss@h/x"},
		{"host=/run/pg dbname=postgres", "host=/run/pg dbname=postgres dbname=x"},
	} {
		got, err := withDatabase(tc.in, "x")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// The keyword form must really select the last dbname.
	cfg, err := pgx.ParseConfig("host=127.0.0.1 dbname=postgres dbname=x")
	if err != nil || cfg.Database != "x" {
		t.Errorf("later dbname does not win: %v %v", cfg, err)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %s", got)
	}
	if got := redact("host=h password=secret"); strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %s", got)
	}
}
