package intake

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casemail/casemail/store"
)

// Leases runs, of a set of watchers, those whose mailbox this instance
// holds the lease of (store's mailbox_leases), so that each mailbox is
// watched by one live instance at a time and the mailboxes are spread
// evenly over the live instances.
//
// Every Every it renews its leases (which is also its heartbeat), stops
// the watchers whose lease it lost, and then either takes free or expired
// leases up to its fair share — ⌈mailboxes / live instances⌉ — or, when it
// holds more than its share while another live instance holds less, hands
// the excess over. A lease of a dead instance expires TTL after its last
// renewal; one given up on a clean stop is free at once.
//
// Handover order: a watcher is stopped (its connection closed and any
// commit in flight finished) before its lease is released, and a watcher
// that cannot renew stops itself TTL-Every after its last renewal began,
// which is before the database lets another instance take the lease. Only
// a process frozen for longer than that (a stopped VM) can overlap with
// its successor, and overlapping is safe: the (mailbox, UIDVALIDITY, UID)
// claim committed with each mail and the cursor let a mail in only once
// whoever fetches it (TestDeliverBatchTwoInstancesAtOnce).
//
// All instances should list the same mailboxes: each computes its share
// from its own list.
type Leases struct {
	Store    *store.Store
	Instance string
	Watchers []*Watcher
	Log      *slog.Logger
	// Every and TTL default to store.LeaseRenewEvery and store.LeaseTTL.
	Every, TTL time.Duration

	mu         sync.Mutex
	running    map[string]*leasedWatch
	takeovers  atomic.Uint64
	lost       atomic.Uint64
	crashOnEnd bool // tests: end like a killed process, leases kept
}

type leasedWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// LeaseStats counts lease events since start, for metrics.
type LeaseStats struct {
	// Takeovers: mailboxes taken from an instance whose lease expired.
	Takeovers uint64
	// Lost: leases this instance held and found taken or could not renew.
	Lost uint64
}

// Stats returns the counters.
func (l *Leases) Stats() LeaseStats {
	return LeaseStats{Takeovers: l.takeovers.Load(), Lost: l.lost.Load()}
}

// Watching reports whether this instance holds the mailbox's lease and
// runs its watcher.
func (l *Leases) Watching(mailbox string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.running[mailbox]
	return ok
}

// Run shares the mailboxes until ctx ends, then stops every watcher and
// releases its leases. It returns nil; database errors are logged and
// retried on the next tick.
func (l *Leases) Run(ctx context.Context) error {
	if l.Every <= 0 {
		l.Every = store.LeaseRenewEvery
	}
	if l.TTL <= l.Every {
		l.TTL = max(store.LeaseTTL, 2*l.Every)
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	l.mu.Lock()
	l.running = map[string]*leasedWatch{}
	l.mu.Unlock()
	byName := map[string]*Watcher{}
	for _, w := range l.Watchers {
		byName[w.cfg.Name] = w
	}
	// The lease deadline by this process's monotonic clock: the database's
	// expiry is later, since it counts from when the renewal ran there.
	var validUntil time.Time
	t := time.NewTicker(l.Every)
	defer t.Stop()
	for {
		validUntil = l.tick(ctx, byName, validUntil)
		select {
		case <-ctx.Done():
			l.stopAll(l.names())
			if l.crashOnEnd {
				return nil
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := l.Store.ReleaseLeases(rctx, l.Instance, nil); err != nil {
				l.Log.Warn("could not release the mailbox leases; other instances take them over when they expire",
					"error", err, "ttl", l.TTL)
			} else if len(l.Watchers) > 0 {
				l.Log.Info("mailbox leases released for the other instances")
			}
			return nil
		case <-t.C:
		}
	}
}

func (l *Leases) tick(ctx context.Context, byName map[string]*Watcher, validUntil time.Time) time.Time {
	began := time.Now()
	held, err := l.Store.RenewLeases(ctx, l.Instance, l.TTL)
	if err != nil {
		if ctx.Err() != nil {
			return validUntil
		}
		if names := l.names(); len(names) > 0 && time.Now().After(validUntil) {
			l.Log.Warn("mailbox leases not renewed in time: stopped watching so that another instance can take over",
				"error", err, "mailboxes", len(names))
			l.lost.Add(uint64(len(names)))
			l.stopAll(names)
		} else {
			l.Log.Warn("could not renew the mailbox leases", "error", err)
		}
		return validUntil
	}
	validUntil = began.Add(l.TTL - l.Every)
	holding := map[string]bool{}
	for _, name := range held {
		holding[name] = true
	}
	var gone []string
	for _, name := range l.names() {
		if !holding[name] {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		// Only after a stall longer than the TTL: this process did not
		// stop in time, so another may be watching already.
		l.Log.Warn("mailbox leases lost to another instance: stopped watching", "mailboxes", gone)
		l.lost.Add(uint64(len(gone)))
		l.stopAll(gone)
	}
	for name := range holding {
		if w := byName[name]; w != nil && !l.Watching(name) {
			l.start(ctx, w)
		}
	}

	live, err := l.Store.LiveInstances(ctx, l.TTL)
	if err != nil {
		if ctx.Err() == nil {
			l.Log.Warn("could not list the live instances", "error", err)
		}
		return validUntil
	}
	n := max(len(live), 1)
	share := (len(byName) + n - 1) / n
	mine := len(l.names())
	switch {
	case mine < share:
		var free []string
		for name := range byName {
			if !holding[name] {
				free = append(free, name)
			}
		}
		taken, err := l.Store.TakeLeases(ctx, l.Instance, free, share-mine, l.TTL)
		if err != nil {
			if ctx.Err() == nil {
				l.Log.Warn("could not take mailbox leases", "error", err)
			}
			return validUntil
		}
		var fresh []string
		from := map[string][]string{} // expired holder → its mailboxes
		for _, tl := range taken {
			if tl.From != "" && tl.From != l.Instance {
				from[tl.From] = append(from[tl.From], tl.Mailbox)
			} else {
				fresh = append(fresh, tl.Mailbox)
			}
			l.start(ctx, byName[tl.Mailbox])
		}
		for inst, names := range from {
			l.takeovers.Add(uint64(len(names)))
			l.Log.Warn("took over mailboxes from an instance that stopped renewing its leases (died or lost the database)",
				"from", inst, "count", len(names), "mailboxes", names, "share", share, "instances", n)
		}
		if len(fresh) > 0 {
			l.Log.Info("watching mailboxes", "count", len(fresh), "mailboxes", fresh,
				"holding", mine+len(taken), "share", share, "instances", n)
		}
	case mine > share && slices.ContainsFunc(live, func(li store.LeaseInstance) bool { return li.Held < share }):
		names := l.names()
		give := names[share:]
		l.stopAll(give)
		if err := l.Store.ReleaseLeases(ctx, l.Instance, give); err != nil {
			// The leases run out by themselves; meanwhile nobody watches.
			l.Log.Warn("could not release mailbox leases", "error", err, "mailboxes", give)
			return validUntil
		}
		l.Log.Info("handed mailboxes over to balance the instances", "count", len(give), "mailboxes", give,
			"holding", share, "instances", n)
	}
	return validUntil
}

// names lists the mailboxes being watched, sorted.
func (l *Leases) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for name := range l.running {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (l *Leases) start(ctx context.Context, w *Watcher) {
	if w == nil {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	lw := &leasedWatch{cancel: cancel, done: make(chan struct{})}
	l.mu.Lock()
	l.running[w.cfg.Name] = lw
	l.mu.Unlock()
	go func() {
		defer close(lw.done)
		if err := w.Run(wctx); err != nil {
			// Only a configuration error ends Run early.
			l.Log.Error("mailbox watcher stopped", "mailbox", w.cfg.Name, "error", err)
		}
	}()
}

// stopAll stops the named watchers and waits until each has closed its
// connection and finished any commit in flight.
func (l *Leases) stopAll(names []string) {
	var stopping []*leasedWatch
	l.mu.Lock()
	for _, name := range names {
		if lw := l.running[name]; lw != nil {
			lw.cancel()
			stopping = append(stopping, lw)
			delete(l.running, name)
		}
	}
	l.mu.Unlock()
	for _, lw := range stopping {
		<-lw.done
	}
}
