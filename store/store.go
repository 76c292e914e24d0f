// Package store is casemail's PostgreSQL layer: the connection pool, the
// embedded schema migrations and every query. It is the only package that
// speaks SQL. It never decides anything about mail or routing: callers pass
// it what to record, and it records it atomically.
//
// Its API has one rule. A query that can run inside a caller's transaction
// is a function taking a Querier (or an Execer, which a Batch of writes
// also is): the caller passes a transaction from InTx, or DB() for a
// statement of its own. A *Store method is an operation that owns its
// connections or transactions: migrations, the outbox worker's claims,
// jobs run once across instances (RunOnce), retention, erasure, leases and
// heartbeats. The pool itself is never handed out. Errors are classified
// here (Conflict, IsUniqueViolation, …), so callers never inspect
// PostgreSQL's codes; case statuses and their allowed changes are Status.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Querier is what both a pool and a transaction offer, so that queries can
// run inside a caller's transaction or on their own.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// SendBatch runs several statements in one round trip.
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Store wraps the pool. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// Instance names this process to the others sharing the database (see
	// Heartbeat); "" for tools that claim no work.
	Instance string
	// side holds connections for statements committed on their own,
	// asynchronously: round-robin turns (see Apart).
	side *pgxpool.Pool
	log  *slog.Logger
	// seal encrypts the secrets the store keeps (OAuth2 tokens); nil until
	// SetSealer, and then those methods refuse to work.
	seal *Sealer
}

// SetSealer gives the store the keys that encrypt the secrets it keeps
// (OAuth2 tokens). Without it those methods return an error rather than
// store or read a secret in plain text.
func (s *Store) SetSealer(sl *Sealer) { s.seal = sl }

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, errors.New("no database url")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may echo the url, password included.
		return nil, errors.New("parsing database url: invalid connection string")
	}
	// A batch split by intake takes up to four transactions at once; the
	// sender, the scheduler and other mailboxes need theirs beside it.
	if cfg.MaxConns < 12 {
		cfg.MaxConns = 12
	}
	// JIT compilation pays off on long analytical queries. casemail's are
	// short index lookups, but the planner's estimates for them grow with
	// tables that have no statistics yet (a new database, autovacuum off),
	// and past jit_above_cost a lookup that runs in half a millisecond was
	// compiled first, for 20 ms to 0.7 s. A jit in the url wins.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// Round-robin turns taken apart from a case's transaction (Assigner)
	// commit on their own: asynchronously, as the case's synchronous commit
	// comes later in the WAL and flushes them; and with a lock timeout,
	// which breaks a wait cycle PostgreSQL cannot see (see apartWait).
	side := cfg.Copy()
	side.MaxConns = 4
	side.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	side.ConnConfig.RuntimeParams["lock_timeout"] = strconv.Itoa(int(apartWait.Milliseconds()))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	sidePool, err := pgxpool.NewWithConfig(ctx, side)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		sidePool.Close()
		return nil, fmt.Errorf("connecting to database %s: %w", Redact(url), err)
	}
	return &Store{pool: pool, side: sidePool, log: slog.Default()}, nil
}

// SetLogger sets the logger used for migration messages.
func (s *Store) SetLogger(l *slog.Logger) { s.log = l }

// Close closes the pools.
func (s *Store) Close() {
	s.pool.Close()
	s.side.Close()
}

// Apart returns an Assigner that works in q but takes round-robin turns
// apart from it (see Assigner.Apart).
func (s *Store) Apart(q Querier) Assigner { return Assigner{Q: q, Apart: s.side} }

// Ping reports whether the database answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// InTx runs fn in a transaction, committing when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// DB is the database outside any transaction, for the query functions
// (each takes a Querier): reads, and writes that stand alone.
func (s *Store) DB() Querier { return s.pool }

// Begin starts a transaction the caller must end: for a transaction held
// across calls (tests that hold a lock while something else runs). Code
// that commits what fn did uses InTx.
func (s *Store) Begin(ctx context.Context) (pgx.Tx, error) { return s.pool.Begin(ctx) }

// ConnString is the url the store was opened with, to open another store
// on the same database (tests of several instances).
func (s *Store) ConnString() string { return s.pool.Config().ConnString() }

// Redact removes the password from a connection URL for messages.
func Redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":xxxxx" + url[at:]
	}
	return url
}

// Migration is one embedded schema step.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	AppliedAt *time.Time // nil when pending
}

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// migrationLock serialises migrations across instances starting together.
const migrationLock = 0x636173656d61696c // "casemail"

// Migrate applies pending migrations, each in its own transaction, under an
// advisory lock so that replicas starting at once do not race.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migrating: taking lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock)) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrating: creating version table: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %04d_%s: %w", m.Version, m.Name, err)
		}
		s.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return nil
}

// MigrationStatus lists every embedded migration with when it was applied,
// and any applied version this binary does not know (a newer replica's).
func (s *Store) MigrationStatus(ctx context.Context) (all []Migration, unknown []int, err error) {
	ms, err := Migrations()
	if err != nil {
		return nil, nil, err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, nil, err
	}
	applied := map[int]time.Time{}
	if exists {
		if applied, err = appliedVersions(ctx, s.pool); err != nil {
			return nil, nil, err
		}
	}
	known := map[int]bool{}
	for i := range ms {
		known[ms[i].Version] = true
		if at, ok := applied[ms[i].Version]; ok {
			at := at
			ms[i].AppliedAt = &at
		}
	}
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	sort.Ints(unknown)
	return ms, unknown, nil
}

func appliedVersions(ctx context.Context, q Querier) (map[int]time.Time, error) {
	rows, err := q.Query(ctx, `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = at
	}
	return out, rows.Err()
}

// Blob returns an attachment body by its SHA-256.
func (s *Store) Blob(ctx context.Context, sha256 []byte) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM blobs WHERE sha256 = $1`, sha256).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("reading blob %x: %w", sha256, err)
	}
	return data, nil
}
