package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// casemailBinary builds the casemail binary once per test process, so the
// crash tests can kill a real daemon process.
func casemailBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "casemail-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "casemail")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a casemail serve process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (w *world) spawn(t testing.TB, logName string) *proc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(w.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(casemailBinary(t), "serve", "-config", w.cfgPath)
	cmd.Env = append(os.Environ(), "E2E_DATABASE_URL="+w.dbURL)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }() //nolint:errcheck
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig) //nolint:errcheck
	<-p.done
}

func (w *world) appendN(t *testing.T, from, n int, gap time.Duration) {
	t.Helper()
	for i := from; i < from+n; i++ {
		w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(fmt.Sprintf("user%d@example.net", i), w.helpdesk,
			fmt.Sprintf("question %d", i), fmt.Sprintf("q%d@example.net", i), "", fmt.Sprintf("body of question %d", i)))
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

// checkExactlyOnce asserts that the database holds exactly n incoming
// messages, one per Message-ID q0…q(n-1), each on its own case, and that
// the cursor stands at the last UID.
func (w *world) checkExactlyOnce(t *testing.T, n int) {
	t.Helper()
	if got := countRows(t, w.store, `SELECT count(*) FROM messages WHERE direction = 'in'`); got != n {
		t.Errorf("incoming messages = %d, want %d", got, n)
	}
	if got := countRows(t, w.store, `SELECT count(DISTINCT message_id) FROM messages WHERE direction = 'in'`); got != n {
		t.Errorf("distinct Message-IDs = %d, want %d", got, n)
	}
	if got := countRows(t, w.store, `SELECT count(*) FROM cases`); got != n {
		t.Errorf("cases = %d, want %d", got, n)
	}
	if got := countRows(t, w.store, `SELECT count(*) FROM outbox WHERE kind = 'ack'`); got != n {
		t.Errorf("acknowledgements queued = %d, want %d", got, n)
	}
	// Each mailbox's UIDs run from 1: its cursor stands at its number of mails.
	if last := countRows(t, w.store, `SELECT coalesce(sum(last_uid), 0) FROM imap_cursors`); last != n {
		t.Errorf("cursors' last_uid add up to %d, want %d", last, n)
	}
}

// unseen counts the mails in the helpdesk INBOX not yet flagged \Seen.
func (w *world) unseen(t *testing.T) int {
	t.Helper()
	c := w.dovecot.Login(t, w.helpdesk)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return len(data.AllSeqNums())
}

func (w *world) waitIngested(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		// Under load every killed daemon may have died before migrating:
		// the last one creates the tables while this waits.
		if countRows(t, w.store, `SELECT count(*) FROM pg_class WHERE oid = to_regclass('ingested')`) == 0 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if countRows(t, w.store, `SELECT count(*) FROM ingested WHERE outcome <> 'pending'`) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("only %d of %d mails ingested within %v", countRows(t, w.store, `SELECT count(*) FROM ingested`), n, timeout)
}

// TestKilledDaemonLosesAndDoublesNothing delivers 500 mails while a real
// casemail process is killed with SIGKILL at random moments and
// restarted; afterwards every mail is exactly one case.
func TestKilledDaemonLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: -short")
	}
	w := newWorld(t)
	const total, backlog = 500, 300
	// A backlog first, as after an outage: its batches are split into
	// parallel transactions (checked in the log below), and the kills land
	// in those too. The rest arrives while the daemon dies and restarts.
	w.appendN(t, 0, backlog, 0)
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		w.appendN(t, backlog, total-backlog, 2*time.Millisecond)
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for running := true; running; kills++ {
		p := w.spawn(t, "serve.log")
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		p.kill(syscall.SIGKILL)
		select {
		case <-appended:
			running = kills < 5
		default:
		}
	}
	t.Logf("killed the daemon %d times", kills)
	p := w.spawn(t, "serve.log")
	w.waitIngested(t, total, 90*time.Second)
	waitFor(t, 90*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM outbox WHERE status <> 'sent'`) == 0
	})
	p.kill(syscall.SIGTERM)
	w.checkExactlyOnce(t, total)
	// Every mail casemail meant to send was sent, although the sender was
	// killed mid-batch too: at least once, and more than once only when the
	// server had accepted it before the kill (same Message-ID each time).
	sent := map[string]int{}
	for _, m := range w.smtp.Messages() {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		sent[strings.Trim(pm.Header.Get("Message-ID"), "<>")]++
	}
	rows, err := w.store.DB().Query(context.Background(), `SELECT message_id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	queued, dup := 0, 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		queued++
		switch n := sent[id]; {
		case n == 0:
			t.Errorf("queued mail %s was never sent", id)
		case n > 1:
			dup++
		}
	}
	rows.Close()
	if len(sent) != queued {
		t.Errorf("%d distinct mails reached the SMTP server, %d were queued", len(sent), queued)
	}
	t.Logf("%d mails queued, all sent; %d sent twice because the daemon was killed after the server accepted them", queued, dup)
	if n := w.unseen(t); n != 0 {
		t.Errorf("%d mails left unflagged in the mailbox after ingest", n)
	}
	log, _ := os.ReadFile(filepath.Join(w.dir, "serve.log"))
	if !strings.Contains(string(log), "batch split into parallel transactions") {
		t.Errorf("no batch was split: the test did not exercise parallel commits")
	}
	if t.Failed() {
		t.Logf("daemon log tail:\n%s", tail(string(log), 4000))
	}
}

// TestTwoDaemonsOneMailbox runs two casemail processes on one mailbox and
// one database: no mail is ingested twice and no mail is sent twice.
func TestTwoDaemonsOneMailbox(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: -short")
	}
	w := newWorld(t)
	const total = 200
	a, b := w.spawn(t, "a.log"), w.spawn(t, "b.log")
	w.appendN(t, 0, total, time.Millisecond)
	w.waitIngested(t, total, 90*time.Second)
	waitFor(t, 60*time.Second, func() bool {
		return countRows(t, w.store, `SELECT count(*) FROM outbox WHERE status <> 'sent'`) == 0
	})
	a.kill(syscall.SIGTERM)
	b.kill(syscall.SIGTERM)
	w.checkExactlyOnce(t, total)
	queued := countRows(t, w.store, `SELECT count(*) FROM outbox`)
	ids := map[string]int{}
	for _, m := range w.smtp.Messages() {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids[pm.Header.Get("Message-ID")]++
	}
	if len(ids) != queued {
		t.Errorf("distinct mails sent = %d, queued = %d", len(ids), queued)
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("mail %s sent %d times", id, n)
		}
	}
}

// TestDovecotRestartMidRun: the mail server goes away and comes back; the
// daemon recovers without help and ingests everything once.
func TestDovecotRestartMidRun(t *testing.T) {
	w := newWorld(t)
	run := w.start(t)
	w.appendN(t, 0, 20, 0)
	w.waitIngested(t, 20, 60*time.Second)
	w.dovecot.Stop()
	time.Sleep(500 * time.Millisecond)
	w.dovecot.Restart(t)
	w.appendN(t, 20, 20, 0)
	w.waitIngested(t, 40, 90*time.Second)
	run.stop(t)
	w.checkExactlyOnce(t, 40)
}

// TestSeenByAnotherClientIsIngested: a person reading the mailbox in
// another client before casemail polls does not hide the mail.
func TestSeenByAnotherClientIsIngested(t *testing.T) {
	w := newWorld(t)
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("reader@example.net", w.helpdesk, "read already",
		"seen@example.net", "", "someone opened this in Outlook first"), imap.FlagSeen)
	run := w.start(t)
	w.waitIngested(t, 1, 60*time.Second)
	run.stop(t)
	if n := countRows(t, w.store, `SELECT count(*) FROM messages WHERE message_id = 'seen@example.net'`); n != 1 {
		t.Errorf("the \\Seen mail was ingested %d times, want 1", n)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
