package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Where the CLI looks for casemail.yaml when -config is not given, in
// order, and the environment file the systemd unit reads
// (EnvironmentFile=-/etc/casemail/env): the CLI reads it too, so that
// `casemail cases` on a server sees the same CASEMAIL_DATABASE_URL as the
// daemon. Variables set in the environment win over the file. Tests point
// these elsewhere.
var (
	configSearch = []string{"casemail.yaml", "/etc/casemail/casemail.yaml"}
	envFilePath  = "/etc/casemail/env"
)

const configUsage = "daemon config `file` (default: $CASEMAIL_CONFIG, else ./casemail.yaml, else /etc/casemail/casemail.yaml)"

// loadDaemonConfig reads the environment file, finds casemail.yaml (flag,
// then CASEMAIL_CONFIG, then the search path) and loads it. When none is
// found the error lists every place tried.
func loadDaemonConfig(flagPath string) (*config.Daemon, error) {
	if err := loadEnvFile(envFilePath); err != nil {
		return nil, err
	}
	path, err := findConfig(flagPath)
	if err != nil {
		return nil, err
	}
	return config.LoadDaemon(path)
}

func findConfig(flagPath string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("-config %s: %w", flagPath, unwrapPathError(err))
		}
		return flagPath, nil
	}
	if p := os.Getenv("CASEMAIL_CONFIG"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CASEMAIL_CONFIG=%s: %w", p, unwrapPathError(err))
		}
		return p, nil
	}
	var tried []string
	for _, p := range configSearch {
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("  %s: %v", p, unwrapPathError(err)))
	}
	return "", fmt.Errorf("no casemail.yaml found; tried:\n  -config: not given\n  $CASEMAIL_CONFIG: not set\n%s\n"+
		"name one with -config FILE or CASEMAIL_CONFIG=FILE (to try casemail: -config deploy/examples/casemail.yaml)",
		strings.Join(tried, "\n"))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadEnvFile sets the variables of a systemd EnvironmentFile (KEY=VALUE
// lines, # comments, values optionally quoted) that are not set already.
// A missing file is no error; an unreadable one is, naming the fix.
func loadEnvFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s (the environment file the systemd unit reads): %w; run as root or as the casemail user",
			path, unwrapPathError(err))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("%s:%d: not KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v) //nolint:errcheck
		}
	}
	return sc.Err()
}

// needDatabaseURL is the one wording, for every command, of a config
// without a database.
func needDatabaseURL(cfg *config.Daemon) error {
	if cfg.Database.URL != "" {
		return nil
	}
	return fmt.Errorf("%s: database.url is empty: set database.url, or the variable it names "+
		"(CASEMAIL_DATABASE_URL=postgres://… in the environment or in %s)", cfg.File, envFilePath)
}

// errNotMigrated says what to do with a database that lacks migrations.
func checkMigrated(ctx context.Context, st *store.Store) error {
	ms, _, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	pending := 0
	for _, m := range ms {
		if m.AppliedAt == nil {
			pending++
		}
	}
	if pending == len(ms) && pending > 0 {
		return errors.New("the database has no casemail tables yet: run `casemail migrate` (serve also migrates at start)")
	}
	if pending > 0 {
		return fmt.Errorf("the database lacks %d of this casemail's migrations: run `casemail migrate` (`casemail migrate -status` lists them)", pending)
	}
	return nil
}

// openDatabase loads the config and connects to its database; migrated
// requires every migration of this binary to be applied.
func openDatabase(ctx context.Context, path string, migrated bool) (*config.Daemon, *store.Store, error) {
	cfg, err := loadDaemonConfig(path)
	if err != nil {
		return nil, nil, err
	}
	if err := needDatabaseURL(cfg); err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, nil, err
	}
	if migrated {
		if err := checkMigrated(ctx, st); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	return cfg, st, nil
}
