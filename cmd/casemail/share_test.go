package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/casemail/casemail/intake/dovecottest"
	"github.com/casemail/casemail/notify/smtptest"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

const sharePassword = "mailbox-secret"

// newShareWorld is a world with n helpdesk mailboxes (mb000@example.org …)
// on one Dovecot, each a mailbox of casemail.yaml.
func newShareWorld(t testing.TB, n int, pollInterval string) (*world, []string) {
	t.Helper()
	if err := dovecottest.Available(); err != nil && os.Getenv("CI") == "" {
		t.Skipf("dovecot not installed: %v (run make test, which installs it)", err)
	}
	var users []dovecottest.User
	var names []string
	for i := range n {
		name := fmt.Sprintf("mb%03d", i)
		names = append(names, name)
		users = append(users, dovecottest.User{Name: name + "@example.org", Password: sharePassword})
	}
	w := &world{dir: t.TempDir(), helpdesk: users[0].Name}
	w.dovecot = dovecottest.Start(t, users...)
	w.smtp = smtptest.Start(t)
	w.dbURL = storetest.URL(t)
	imapHost, imapPort, _ := splitHostPort(w.dovecot.Addr())
	smtpHost, smtpPort, _ := splitHostPort(w.smtp.Addr())
	write(t, filepath.Join(w.dir, "secret"), "0123456789abcdef0123456789abcdef-e2e-test-key\n")
	write(t, filepath.Join(w.dir, "imap-password"), sharePassword+"\n")
	write(t, filepath.Join(w.dir, "rules.yaml"), e2eRules)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "database:\n  url: ${E2E_DATABASE_URL}\ntimezone: Europe/Stockholm\nrules: rules.yaml\nmailboxes:\n")
	for _, u := range users {
		fmt.Fprintf(&cfg, `  - name: %s
    address: %s
    imap: {host: %s, port: %d, security: none, username: %s, password_file: imap-password, idle: true, poll_interval: %s}
    defaults: {service: triage, language: sv}
`, strings.TrimSuffix(u.Name, "@example.org"), u.Name, imapHost, imapPort, u.Name, pollInterval)
	}
	fmt.Fprintf(&cfg, `smtp: {host: %s, port: %d, security: none, from: "Helpdesk <helpdesk@example.org>"}
secret_file: secret
language: sv
log: {level: info}
http:
  listen: 127.0.0.1:0
`, smtpHost, smtpPort)
	w.cfgPath = filepath.Join(w.dir, "casemail.yaml")
	write(t, w.cfgPath, cfg.String())
	t.Setenv("E2E_DATABASE_URL", w.dbURL)
	st, err := store.Open(context.Background(), w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	w.store = st
	return w, names
}

// leaseHolders reads the unexpired leases: mailbox → instance.
func leaseHolders(t testing.TB, st *store.Store) map[string]string {
	t.Helper()
	rows, err := st.DB().Query(context.Background(), `SELECT mailbox, instance FROM mailbox_leases WHERE expires_at > now()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var mb, in string
		if err := rows.Scan(&mb, &in); err != nil {
			t.Fatal(err)
		}
		out[mb] = in
	}
	return out
}

// procInstance reads the instance ID a casemail process logged at start.
func procInstance(t *testing.T, logPath string) string {
	t.Helper()
	var id string
	waitFor(t, 60*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(b), "\n") {
			if i := strings.Index(line, "msg=\"casemail running\""); i >= 0 {
				if _, rest, ok := strings.Cut(line, " instance="); ok {
					id, _, _ = strings.Cut(rest, " ")
					return true
				}
			}
		}
		return false
	})
	return id
}

// procHTTP reads the HTTP address a casemail process logged at start.
func procHTTP(t *testing.T, logPath string) string {
	t.Helper()
	b, _ := os.ReadFile(logPath)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "msg=\"casemail running\"") {
			if _, rest, ok := strings.Cut(line, " http="); ok {
				addr, _, _ := strings.Cut(rest, " ")
				return addr
			}
		}
	}
	t.Fatalf("no HTTP address in %s", logPath)
	return ""
}

// checkInstanceReports compares what an instance's /readyz and /metrics
// say with the lease table: its own mailboxes connected and counted in
// casemail_mailbox_watched, the others named with their holder.
func checkInstanceReports(t *testing.T, w *world, addr, instance string) {
	t.Helper()
	rd := readyz(t, addr)
	holders := leaseHolders(t, w.store)
	mine := 0
	for mb, in := range holders {
		want := "watched by another instance"
		if in == instance {
			want = "connected"
			mine++
		}
		if rd.Mailboxes[mb] != want {
			t.Errorf("/readyz of %s: mailbox %s is %q, want %q", instance, mb, rd.Mailboxes[mb], want)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	watched := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "casemail_mailbox_watched{") && strings.HasSuffix(line, " 1") {
			watched++
		}
	}
	if watched != mine {
		t.Errorf("/metrics of %s: %d mailboxes with casemail_mailbox_watched 1, it holds %d leases", instance, watched, mine)
	}
}

// shareSettled reports whether each mailbox has exactly one IMAP connection
// on the server and one unexpired lease held by one of live, with the
// mailboxes spread evenly (at most one apart) over live.
func shareSettled(t *testing.T, w *world, names []string, live []string) (bool, string) {
	t.Helper()
	holders := leaseHolders(t, w.store)
	conns := w.dovecot.Connections(t)
	per := map[string]int{}
	for _, in := range live {
		per[in] = 0
	}
	for _, mb := range names {
		in, ok := holders[mb]
		if !ok {
			return false, mb + " has no lease"
		}
		if _, isLive := per[in]; !isLive {
			return false, mb + " is held by " + in + ", which is not live"
		}
		per[in]++
		if n := conns[mb+"@example.org"]; n != 1 {
			return false, fmt.Sprintf("%s has %d IMAP connections", mb, n)
		}
	}
	lo, hi := len(names), 0
	for _, n := range per {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi-lo > 1 {
		return false, fmt.Sprintf("uneven: %v", per)
	}
	return true, fmt.Sprintf("%v", per)
}

func waitShared(t *testing.T, w *world, names, live []string, what string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	why := ""
	for time.Now().Before(deadline) {
		var ok bool
		if ok, why = shareSettled(t, w, names, live); ok {
			t.Logf("%s: every mailbox has one watcher after %v; mailboxes per instance %s",
				what, time.Since(since).Round(10*time.Millisecond), why)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not settled within 90s: %s", what, why)
}

// TestMailboxesSharedAmongInstances runs three casemail processes on 200
// mailboxes of one Dovecot and one PostgreSQL while mail keeps arriving:
// each mailbox has exactly one IMAP connection (as Dovecot counts them),
// the mailboxes spread evenly; when an instance is killed (SIGKILL) its
// mailboxes move to the others, when one joins they are spread again, when
// one stops cleanly the others take its mailboxes at once; and every mail
// becomes exactly one case.
func TestMailboxesSharedAmongInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: -short")
	}
	const mailboxes = 200
	// A long safety poll: mail delivered to a mailbox must reach the case
	// through IDLE, or through the first pass of its new watcher.
	w, names := newShareWorld(t, mailboxes, "5m")
	ctx := context.Background()

	// Mail arrives all the time, to mailboxes spread over every instance.
	var delivered sync.Map // mailbox → count
	stopMail := make(chan struct{})
	mailDone := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stopMail:
				mailDone <- n
				return
			default:
			}
			mb := names[(n*37)%mailboxes]
			w.dovecot.Deliver(t, mb+"@example.org", rawMail(fmt.Sprintf("user%d@example.net", n), mb+"@example.org",
				fmt.Sprintf("question %d", n), fmt.Sprintf("share%d@example.net", n), "", "body"))
			v, _ := delivered.LoadOrStore(mb, new(int))
			*v.(*int)++
			n++
			time.Sleep(20 * time.Millisecond)
		}
	}()

	casemailBinary(t) // built before the clock starts
	t0 := time.Now()
	procs := map[string]*proc{}
	var live []string
	started := map[string]*proc{}
	for _, name := range []string{"a", "b", "c"} {
		started[name] = w.spawn(t, name+".log")
	}
	for _, name := range []string{"a", "b", "c"} {
		id := procInstance(t, filepath.Join(w.dir, name+".log"))
		procs[id] = started[name]
		live = append(live, id)
	}
	waitShared(t, w, names, live, "3 instances started", t0)

	// Kill one: its connections drop at once, its leases expire.
	victim := live[1]
	var victims []string
	for mb, in := range leaseHolders(t, w.store) {
		if in == victim {
			victims = append(victims, mb)
		}
	}
	t0 = time.Now()
	procs[victim].kill(syscall.SIGKILL)
	live = []string{live[0], live[2]}
	waitShared(t, w, names, live, fmt.Sprintf("SIGKILL of an instance watching %d mailboxes (lease TTL %v)", len(victims), store.LeaseTTL), t0)
	t.Logf("takeover time after SIGKILL: %v for %d mailboxes", time.Since(t0).Round(10*time.Millisecond), len(victims))

	// One joins: the mailboxes are spread again.
	t0 = time.Now()
	p := w.spawn(t, "d.log")
	id := procInstance(t, filepath.Join(w.dir, "d.log"))
	procs[id] = p
	live = append(live, id)
	waitShared(t, w, names, live, "a new instance joined", t0)

	// One stops cleanly: its leases are released and taken at once.
	t0 = time.Now()
	procs[live[0]].kill(syscall.SIGTERM)
	live = live[1:]
	waitShared(t, w, names, live, "an instance stopped with SIGTERM", t0)

	for name, in := range map[string]string{"c": live[0], "d": live[1]} {
		checkInstanceReports(t, w, procHTTP(t, filepath.Join(w.dir, name+".log")), in)
	}

	var status bytes.Buffer
	if err := run(ctx, []string{"status", "-config", w.cfgPath}, &status, &status); err != nil {
		t.Fatalf("casemail status: %v\n%s", err, status.String())
	}
	for _, in := range live {
		if !strings.Contains(status.String(), in) {
			t.Errorf("casemail status does not name the live instance %s", in)
		}
	}
	if n := strings.Count(status.String(), " watched\n"); n != mailboxes {
		t.Errorf("casemail status lists %d watched mailboxes, want %d:\n%s", n, mailboxes, status.String())
	}
	t.Logf("casemail status (head):\n%s", headLines(status.String(), 12))
	status.Reset()
	if err := run(ctx, []string{"status", "-json", "-config", w.cfgPath}, &status, &status); err != nil {
		t.Fatalf("casemail status -json: %v\n%s", err, status.String())
	}
	var sj statusJSON
	if err := json.Unmarshal(status.Bytes(), &sj); err != nil {
		t.Fatal(err)
	}
	holders := leaseHolders(t, w.store)
	if len(sj.Mailboxes) != mailboxes {
		t.Errorf("casemail status -json lists %d mailboxes, want %d", len(sj.Mailboxes), mailboxes)
	}
	for _, mb := range sj.Mailboxes {
		if mb.WatchedBy != holders[mb.Name] || mb.State != "watched" || !mb.Configured {
			t.Errorf("casemail status -json: %+v, lease held by %q", mb, holders[mb.Name])
		}
	}
	liveSeen := 0
	for _, in := range sj.Instances {
		if in.Live {
			liveSeen++
		}
	}
	if liveSeen != len(live) {
		t.Errorf("casemail status -json: %d live instances, want %d", liveSeen, len(live))
	}

	close(stopMail)
	total := <-mailDone
	w.waitIngested(t, total, 120*time.Second)
	for _, in := range live {
		procs[in].kill(syscall.SIGTERM)
	}

	// Exactly once: every mail one case, every mailbox's cursor at its
	// last mail.
	w.checkExactlyOnce(t, total)
	delivered.Range(func(k, v any) bool {
		if got := countRows(t, w.store, `SELECT coalesce(max(last_uid), 0) FROM imap_cursors WHERE mailbox = $1`, k); got != *v.(*int) {
			t.Errorf("mailbox %s: cursor at UID %d, %d mails delivered", k, got, *v.(*int))
		}
		return true
	})
	var takeovers []string
	for _, name := range []string{"a", "c", "d"} {
		b, _ := os.ReadFile(filepath.Join(w.dir, name+".log"))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "took over mailboxes") {
				takeovers = append(takeovers, line[:min(len(line), 300)])
			}
		}
	}
	if len(takeovers) == 0 {
		t.Error("no instance logged taking over the killed instance's mailboxes")
	}
	if dir := os.Getenv("SHARE_KEEP_LOGS"); dir != "" {
		for _, name := range []string{"a", "b", "c", "d"} {
			b, _ := os.ReadFile(filepath.Join(w.dir, name+".log"))
			os.WriteFile(filepath.Join(dir, name+".log"), b, 0o644) //nolint:errcheck
		}
	}
	t.Logf("%d mails delivered during the run, each exactly one case; takeover log lines:\n%s", total, strings.Join(takeovers, "\n"))
}

func headLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(len(lines), n)], "\n")
}
