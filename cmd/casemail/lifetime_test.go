package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

// recorder is a set of parts that write down what happens to them.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// part records its start, the end of its run and its stop; startErr makes
// its start fail, runErr its run as soon as it starts.
func (r *recorder) part(name string, startErr, runErr error) part {
	return part{name: name,
		start: func(context.Context) error { r.note("start " + name); return startErr },
		run: func(ctx context.Context) error {
			if runErr != nil {
				r.note("fail " + name)
				return runErr
			}
			<-ctx.Done()
			r.note("end " + name)
			return ctx.Err()
		},
		stop: func(context.Context) error { r.note("stop " + name); return nil }}
}

func quietLifetime(parts ...part) *lifetime {
	return &lifetime{log: slog.New(slog.NewTextHandler(io.Discard, nil)), parts: parts, stopTimeout: time.Second}
}

func TestLifetimeStartsInOrderStopsInReverse(t *testing.T) {
	var r recorder
	l := quietLifetime(r.part("db", nil, nil), r.part("http", nil, nil), r.part("intake", nil, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.run(ctx, func() { r.note("all started"); cancel() })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after a cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	// Each part is cancelled, waited for and stopped before the one
	// started before it.
	want := []string{"start db", "start http", "start intake", "all started",
		"end intake", "stop intake", "end http", "stop http", "end db", "stop db"}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}

func TestLifetimeUndoesWhatStartedWhenAPartFailsToStart(t *testing.T) {
	var r recorder
	taken := errors.New("address already in use")
	l := quietLifetime(r.part("db", nil, nil), r.part("outbox", nil, nil), r.part("http", taken, nil), r.part("intake", nil, nil))
	err := l.run(context.Background(), func() { r.note("all started") })
	if !errors.Is(err, taken) || !strings.Contains(err.Error(), "starting http") {
		t.Errorf("run = %v, want the http part's start error", err)
	}
	want := []string{"start db", "start outbox", "start http", "end outbox", "stop outbox", "end db", "stop db"}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}

func TestLifetimeStopsAllWhenARunFails(t *testing.T) {
	var r recorder
	lost := errors.New("connection lost")
	l := quietLifetime(r.part("db", nil, nil), r.part("outbox", nil, lost), r.part("intake", nil, nil))
	done := make(chan error, 1)
	go func() { done <- l.run(context.Background(), nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, lost) || !strings.HasPrefix(err.Error(), "outbox: ") {
			t.Errorf("run = %v, want the outbox's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed run did not stop the daemon")
	}
	got := r.got()
	// The failure may come before or after intake starts; either way every
	// part started is stopped, in reverse.
	var stops []string
	for _, e := range got {
		if strings.HasPrefix(e, "stop ") {
			stops = append(stops, e)
		}
	}
	want := []string{"stop outbox", "stop db"}
	if slices.Contains(got, "start intake") {
		want = []string{"stop intake", "stop outbox", "stop db"}
	}
	if !slices.Equal(stops, want) {
		t.Errorf("stops %q, want %q (events %q)", stops, want, got)
	}
}

// The real daemon on a taken HTTP port: the database is open and this
// instance registered when the listen fails; run returns the error, the
// instance is retired again at once (its claims free for the others), and
// no later part (the mailbox watcher) ever starts.
func TestServeUndoesStartOnTakenPort(t *testing.T) {
	w := newWorld(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfgText := readFile(t, w.cfgPath)
	write(t, w.cfgPath, strings.Replace(cfgText, "listen: 127.0.0.1:0", "listen: "+taken.Addr().String(), 1))
	cfg, err := config.LoadDaemon(w.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := newDaemon(ctx, cfg, w.store, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	instance := `SELECT count(*) FROM instances WHERE id = $1`
	if n := countRows(t, w.store, instance, w.store.Instance); n != 1 {
		t.Fatalf("before run: %d instance rows, want 1", n)
	}
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("run did not give up on a taken port")
	}
	if err == nil || !strings.Contains(err.Error(), "http listen on "+taken.Addr().String()) {
		t.Fatalf("run = %v, want the listen error", err)
	}
	if n := countRows(t, w.store, instance, w.store.Instance); n != 0 {
		t.Errorf("after the failed start: %d instance rows, want 0 (retired)", n)
	}
	if st := d.watchers[0].State(); st.Connected || !st.LastSync.IsZero() || st.LastError != "" {
		t.Errorf("the mailbox watcher ran: %+v", st)
	}
}

// A stop asked for while the parts start (a SIGTERM right after launch)
// starts no more parts, stops those started and is no error.
func TestLifetimeStopDuringStart(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	slow := part{name: "http",
		start: func(ctx context.Context) error { r.note("start http"); cancel(); <-ctx.Done(); return ctx.Err() }}
	l := quietLifetime(r.part("db", nil, nil), slow, r.part("intake", nil, nil))
	if err := l.run(ctx, func() { r.note("all started") }); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	want := []string{"start db", "start http", "end db", "stop db"}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}
