package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store/testdb"
)

// /readyz is readable by whoever reaches the port: when the database goes
// down it says what is wrong, and names no host, port, user or database;
// the log has the details once, not on every probe.
func TestReadyzDatabaseDown(t *testing.T) {
	ctx := context.Background()
	st, url := testdb.Open(t)
	var logBuf syncBuffer
	d := &daemon{cfg: &config.Daemon{}, store: st, log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	d.rulesErr.Store("")
	if r := d.readiness(ctx); !r.Ready || r.Database != "ok" {
		t.Fatalf("before: %+v", r)
	}

	cc, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	dbName, user, host, port := cc.Database, cc.User, cc.Host, cc.Port
	admin := cc.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}

	var r readiness
	for range 3 { // the pool's dead connections first, then a new one
		r = d.readiness(ctx)
	}
	body, _ := json.Marshal(r)
	if r.Ready || r.Database != "down: the database does not exist" {
		t.Errorf("after the database went away: %s", body)
	}
	for _, name := range []string{dbName, "user=", "database=", host + ":", ":" + strconv.Itoa(int(port))} {
		if strings.Contains(string(body), name) {
			t.Errorf("/readyz names %q: %s", name, body)
		}
	}
	if user != "" && strings.Contains(string(body), user) {
		t.Errorf("/readyz names the user %q: %s", user, body)
	}
	log := logBuf.String()
	warned := strings.Count(log, `msg="database not ready"`)
	if warned == 0 || !strings.Contains(log, "level=WARN") || !strings.Contains(log, dbName) {
		t.Errorf("want a WARN with the details:\n%s", log)
	}
	for range 5 {
		d.readiness(ctx)
	}
	if n := strings.Count(logBuf.String(), `msg="database not ready"`); n != warned {
		t.Errorf("%d more warnings for the same problem: logged on every probe", n-warned)
	}
}

// Each kind of failure is named without the error's own text; a URL's
// password never reaches the log either.
func TestProblemNamesNothing(t *testing.T) {
	ctx := context.Background()
	const secretBits = "alice hunter2 secretdb 127.0.0.1"
	_, refused := pgx.Connect(ctx, "postgres://alice:hunter2@127.0.0.1:1/secretdb?connect_timeout=5")
	if refused == nil {
		t.Fatal("connected to port 1")
	}
	_, imapRefused := net.Dial("tcp", "127.0.0.1:1")
	for _, c := range []struct {
		err  error
		want string
	}{
		{refused, "connection refused"},
		{imapRefused, "connection refused"},
		{&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "alice unknown"}, "login was refused"},
		{&net.DNSError{Name: "secretdb.example.org", Err: "no such host"}, "does not resolve"},
	} {
		got := problem(c.err)
		if !strings.Contains(got, c.want) {
			t.Errorf("problem(%v) = %q, want %q", c.err, got, c.want)
		}
		for _, s := range strings.Fields(secretBits + " secretdb.example.org") {
			if strings.Contains(got, s) {
				t.Errorf("problem(%v) = %q names %q", c.err, got, s)
			}
		}
	}
	var logBuf syncBuffer
	d := &daemon{log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	d.noteDatabase(refused)
	if log := logBuf.String(); strings.Contains(log, "hunter2") || !strings.Contains(log, "connection refused") {
		t.Errorf("log:\n%s", log)
	}
	d.noteDatabase(nil)
	if !strings.Contains(logBuf.String(), "database ready again") {
		t.Errorf("recovery not logged:\n%s", logBuf.String())
	}
}
