package intake

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/testdb"
)

// ltInstance is one in-process instance sharing mailboxes through leases.
type ltInstance struct {
	l      *Leases
	cancel context.CancelFunc
	done   chan struct{}
}

type ltWorld struct {
	t     *testing.T
	st    *store.Store
	srv   *wtServer
	names []string
	log   *slog.Logger

	mu        sync.Mutex
	instances map[string]*ltInstance
}

func (w *ltWorld) start(id string) *ltInstance {
	var ws []*Watcher
	for _, name := range w.names {
		cfg := wtConfig(w.srv)
		cfg.Name = name
		ws = append(ws, NewWatcher(cfg, wtNewHandler()))
	}
	l := &Leases{Store: w.st, Instance: id, Watchers: ws, Log: w.log.With("instance", id),
		Every: 50 * time.Millisecond, TTL: 400 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	in := &ltInstance{l: l, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(in.done); l.Run(ctx) }() //nolint:errcheck
	w.mu.Lock()
	w.instances[id] = in
	w.mu.Unlock()
	w.t.Cleanup(func() { in.stop(false) })
	return in
}

// stop ends the instance cleanly (leases released) or, crash, as a killed
// process would: its connections gone, its leases left to expire.
func (in *ltInstance) stop(crash bool) {
	in.l.crashOnEnd = crash
	in.cancel()
	<-in.done
}

func (w *ltWorld) remove(id string, crash bool) {
	w.mu.Lock()
	in := w.instances[id]
	delete(w.instances, id)
	w.mu.Unlock()
	in.stop(crash)
}

// connected counts, per mailbox, the instances whose watcher of it is
// logged in, and per instance the mailboxes it watches.
func (w *ltWorld) connected() (perMailbox map[string]int, perInstance map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	perMailbox, perInstance = map[string]int{}, map[string]int{}
	for id, in := range w.instances {
		perInstance[id] = 0
		for _, wa := range in.l.Watchers {
			if wa.State().Connected {
				perMailbox[wa.cfg.Name]++
			}
			if in.l.Watching(wa.cfg.Name) {
				perInstance[id]++
			}
		}
	}
	return perMailbox, perInstance
}

// settled reports whether every mailbox has one connected watcher and every
// instance watches between share-1 and share of them.
func (w *ltWorld) settled() bool {
	perMailbox, perInstance := w.connected()
	for _, name := range w.names {
		if perMailbox[name] != 1 {
			return false
		}
	}
	share := (len(w.names) + len(perInstance) - 1) / len(perInstance)
	sum := 0
	for _, n := range perInstance {
		if n > share || n < share-len(perInstance) {
			return false
		}
		sum += n
	}
	return sum == len(w.names)
}

func (w *ltWorld) waitSettled(what string, since time.Time) time.Duration {
	w.t.Helper()
	wtEventually(w.t, what, w.settled)
	took := time.Since(since)
	_, perInstance := w.connected()
	w.t.Logf("%s: settled after %v, mailboxes per instance %v", what, took.Round(time.Millisecond), perInstance)
	return took
}

// TestLeasesShareMailboxesAndTakeOver runs instances in one process on one
// database: each mailbox gets one watcher, the mailboxes spread evenly, and
// they move when an instance joins, stops or dies — never watched by two
// instances at once.
func TestLeasesShareMailboxesAndTakeOver(t *testing.T) {
	st, _ := testdb.Open(t)
	w := &ltWorld{t: t, st: st, srv: wtNewServer(t, wtServerOptions{}), instances: map[string]*ltInstance{},
		log: slog.New(slog.NewTextHandler(&wtSyncBuffer{}, nil))}
	for i := range 30 {
		w.names = append(w.names, fmt.Sprintf("mb%02d", i))
	}

	// Never two live watchers of one mailbox, sampled throughout.
	var overlaps atomic.Int32
	stopCheck := make(chan struct{})
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		for {
			select {
			case <-stopCheck:
				return
			case <-time.After(2 * time.Millisecond):
			}
			perMailbox, _ := w.connected()
			for name, n := range perMailbox {
				if n > 1 {
					overlaps.Add(1)
					t.Errorf("mailbox %s watched by %d instances at once", name, n)
				}
			}
		}
	}()
	defer func() { close(stopCheck); <-checked }()

	t0 := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		w.start(id)
	}
	w.waitSettled("three instances start", t0)

	t0 = time.Now()
	w.start("d")
	w.waitSettled("a fourth instance joins", t0)

	t0 = time.Now()
	w.remove("a", false)
	var left int
	if err := st.DB().QueryRow(context.Background(), `SELECT count(*) FROM mailbox_leases WHERE instance = 'a'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("a stopped cleanly but left %d leases behind", left)
	}
	w.waitSettled("an instance stops cleanly (leases released)", t0)

	t0 = time.Now()
	w.mu.Lock()
	held := 0
	for _, wa := range w.instances["b"].l.Watchers {
		if w.instances["b"].l.Watching(wa.cfg.Name) {
			held++
		}
	}
	w.mu.Unlock()
	w.remove("b", true)
	took := w.waitSettled("an instance dies (leases left to expire)", t0)
	t.Logf("takeover of %d mailboxes of a dead instance took %v (TTL 400ms)", held, took.Round(time.Millisecond))
	var takeovers uint64
	for _, id := range []string{"c", "d"} {
		takeovers += w.instances[id].l.Stats().Takeovers
	}
	if takeovers != uint64(held) {
		t.Errorf("takeovers counted = %d, want %d (the dead instance's mailboxes)", takeovers, held)
	}

	// A lease found in another's hands (this process stalled past its TTL)
	// stops the watcher at the next renewal.
	c := w.instances["c"].l
	victim := c.names()[0]
	if _, err := st.DB().Exec(context.Background(), `UPDATE mailbox_leases SET instance = 'elsewhere' WHERE mailbox = $1`, victim); err != nil {
		t.Fatal(err)
	}
	wtEventually(t, "c stops watching the mailbox whose lease it lost", func() bool { return !c.Watching(victim) })
	if c.Stats().Lost != 1 {
		t.Errorf("leases lost = %d, want 1", c.Stats().Lost)
	}
	w.waitSettled("the stolen lease expires and is taken again", time.Now())
}
