package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

// reloadProbeRule starts probe mail on tier TIER of the Qm+ chain.
const reloadProbeRule = `rules:
  - name: reload probe
    when: {subject: {contains: reload-probe}}
    then: {tier: "TIER"}
`

func probeRules(tier string) string {
	return e2eRules + strings.Replace(reloadProbeRule, "TIER", tier, 1)
}

// brokenRules has a bad regular expression.
const brokenRules = e2eRules + `rules:
  - name: broken
    when: {subject: {matches: "(unclosed"}}
    then: {service: triage}
`

// startLogged runs the world's daemon as w.start does, its log kept in buf.
func (w *world) startLogged(t *testing.T, buf *syncBuffer) *daemonRun {
	t.Helper()
	return w.startWith(t, slog.NewTextHandler(io.MultiWriter(buf, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// routedTo waits for the case a mail opened and returns its tier and assignee.
func routedTo(t *testing.T, w *world, msgID string) string {
	t.Helper()
	var got string
	waitFor(t, 30*time.Second, func() bool {
		err := w.store.DB().QueryRow(context.Background(), `SELECT c.service || ' tier ' || c.tier || ' ' || c.assignee
			FROM cases c JOIN messages m ON m.case_id = c.id WHERE m.message_id IN ($1, '<' || $1 || '>')`, msgID).Scan(&got)
		return err == nil
	})
	return got
}

// waitSwap waits until the daemon's rules differ from old.
func waitSwap(t *testing.T, d *daemon, old *config.Rules) *config.Rules {
	t.Helper()
	waitFor(t, 20*time.Second, func() bool { return d.rules.Load() != old })
	return d.rules.Load()
}

func readyz(t *testing.T, addr string) readiness {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRulesReload: a good rules.yaml applies to the next mail; a broken one
// is refused with its positions (log, /readyz) while the last good rules
// keep routing; SIGHUP reloads too; and mail arriving across many reloads
// is each routed exactly once, by one version of the rules.
func TestRulesReload(t *testing.T) {
	w := newWorld(t)
	rulesPath := filepath.Join(w.dir, "rules.yaml")
	var logBuf syncBuffer
	run := w.startLogged(t, &logBuf)
	d := run.d
	addr := run.httpAddr(t)
	from := `"Ola Nordmann" <ola@bryne.example.no>`
	send := func(id, subject string) {
		w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(from, w.helpdesk, subject, id, "", "Jeg finner ikke rutinen i e-håndbok."))
	}

	send("probe-1@bryne.example.no", "reload-probe e-håndbok")
	if got := routedTo(t, w, "probe-1@bryne.example.no"); got != "qm-handbook tier 1 anna" {
		t.Fatalf("before any change: %s", got)
	}

	// A good change applies to the next mail, found by the file watcher.
	first := d.rules.Load()
	write(t, rulesPath, probeRules("3"))
	good := waitSwap(t, d, first)
	if len(good.Rules) != 1 || !strings.Contains(logBuf.String(), `msg="rules reloaded" why="file changed"`) {
		t.Fatalf("after the good change: %d rules; log:\n%s", len(good.Rules), logBuf.String())
	}
	send("probe-2@bryne.example.no", "reload-probe e-håndbok")
	if got := routedTo(t, w, "probe-2@bryne.example.no"); got != "qm-handbook tier 3 eva" {
		t.Errorf("after the good change: %s, want the new rule's tier 3", got)
	}

	// A broken change is refused with positions; the good rules stay.
	write(t, rulesPath, brokenRules)
	waitFor(t, 20*time.Second, func() bool { e, _ := d.rulesErr.Load().(string); return e != "" })
	if d.rules.Load() != good {
		t.Fatal("a broken file replaced the rules in force")
	}
	pos := regexp.MustCompile(`rules\.yaml:(\d+):(\d+): [^\n"]*`)
	errText, _ := d.rulesErr.Load().(string)
	if !regexp.MustCompile(`rules\.yaml:\d+:\d+: bad regular expression: .*\(unclosed`).MatchString(errText) {
		t.Errorf("reload error lacks the problem with its position:\n%s", errText)
	}
	rd := readyz(t, addr)
	if !strings.HasPrefix(rd.Rules, "last reload failed, previous rules in force: ") || !pos.MatchString(rd.Rules) || !rd.Ready {
		t.Errorf("/readyz during a bad file: ready=%v rules=%q", rd.Ready, rd.Rules)
	}
	logged := logBuf.String()
	if !strings.Contains(logged, `msg="rules not reloaded: keeping the last good rules"`) || !pos.MatchString(logged) {
		t.Errorf("the refusal is not logged with positions:\n%s", logged)
	}
	send("probe-3@bryne.example.no", "reload-probe e-håndbok")
	if got := routedTo(t, w, "probe-3@bryne.example.no"); got != "qm-handbook tier 3 eva" {
		t.Errorf("during the bad file: %s, want the last good rules' tier 3", got)
	}

	// SIGHUP: the file's modification time is put back, so only the
	// signal can make the daemon read it.
	fi, err := os.Stat(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	write(t, rulesPath, probeRules("2"))
	if err := os.Chtimes(rulesPath, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // past a watcher tick: it must not see a change
	if d.rules.Load() != good {
		t.Fatal("the rules changed without a signal or a new modification time")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSwap(t, d, good)
	if e, _ := d.rulesErr.Load().(string); e != "" || readyz(t, addr).Rules != "ok" {
		t.Errorf("after a good SIGHUP reload: error %q, /readyz rules %q", e, readyz(t, addr).Rules)
	}
	if !strings.Contains(logBuf.String(), `msg="rules reloaded" why=SIGHUP`) {
		t.Errorf("no SIGHUP reload in the log:\n%s", logBuf.String())
	}
	send("probe-4@bryne.example.no", "reload-probe e-håndbok")
	if got := routedTo(t, w, "probe-4@bryne.example.no"); got != "qm-handbook tier 2 per" {
		t.Errorf("after SIGHUP: %s, want tier 2", got)
	}

	// Mail keeps arriving while the rules flip between versions (and a
	// broken one): none is lost, none routed twice, each by one version.
	const n = 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			send(fmt.Sprintf("storm-%d@bryne.example.no", i), fmt.Sprintf("reload-probe e-håndbok %d", i))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	versions := []string{probeRules("3"), brokenRules, probeRules("2")}
	for i := 0; i < 3*n; i++ {
		write(t, rulesPath, versions[i%len(versions)])
		d.reloadRules("test")
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		got := routedTo(t, w, fmt.Sprintf("storm-%d@bryne.example.no", i))
		if got != "qm-handbook tier 3 eva" && got != "qm-handbook tier 2 per" {
			t.Errorf("storm mail %d: %s, want one version's routing", i, got)
		}
	}
	run.synced(t, time.Now())
	if c := countRows(t, w.store, `SELECT count(*) FROM cases`); c != 4+n {
		t.Errorf("cases = %d, want %d", c, 4+n)
	}
	if c := countRows(t, w.store, `SELECT count(*) FROM messages WHERE direction = 'in'`); c != 4+n {
		t.Errorf("incoming messages = %d, want %d", c, 4+n)
	}
	if c := countRows(t, w.store, `SELECT count(*) FROM (SELECT case_id FROM events WHERE kind = 'routed'
		GROUP BY case_id HAVING count(*) <> 1) x`); c != 0 {
		t.Errorf("%d cases routed other than once", c)
	}
	if c := countRows(t, w.store, `SELECT count(*) FROM quarantine`); c != 0 {
		t.Errorf("%d mails quarantined across reloads", c)
	}
}
