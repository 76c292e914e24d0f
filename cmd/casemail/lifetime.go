package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
)

// part is one piece of the running daemon. start acquires what the part
// needs and fails fast (a port already taken); run works until its context
// ends; stop releases what start acquired, after run has returned. Any of
// them may be nil.
type part struct {
	name  string
	start func(ctx context.Context) error
	run   func(ctx context.Context) error
	stop  func(ctx context.Context) error
}

// lifetime starts the daemon's parts in order and stops them in reverse,
// as maddy's framework/container/lifetime.go does: a part is started only
// when those before it run, and stopped only when those after it have
// stopped, so none outlives a part it relies on. When a part fails to
// start, the ones started before it are stopped again.
type lifetime struct {
	log   *slog.Logger
	parts []part
	// stopTimeout bounds each stop function.
	stopTimeout time.Duration
}

func (l *lifetime) add(p part) { l.parts = append(l.parts, p) }

// run starts every part, each part's run in its own goroutine as soon as
// it has started, and calls started once all are up. It returns when ctx
// ends or a part's run fails, after stopping every started part one at a
// time in reverse order: cancel its run, wait for it, then stop it. The
// error is the failed start or the first failed run.
func (l *lifetime) run(ctx context.Context, started func()) error {
	type running struct {
		part
		cancel context.CancelFunc
		done   chan struct{}
	}
	// gctx ends with ctx or the first failed run: the signal to stop. The
	// parts' own contexts are cancelled one by one, in reverse.
	g, gctx := errgroup.WithContext(ctx)
	var up []*running
	var err error
	for _, p := range l.parts {
		if gctx.Err() != nil {
			break // stopped, or a part failed, while starting
		}
		if p.start != nil {
			if serr := p.start(gctx); serr != nil {
				if ctx.Err() != nil && errors.Is(serr, context.Canceled) {
					break // a stop asked for during the start is no failure
				}
				err = fmt.Errorf("starting %s: %w", p.name, serr)
				l.log.Error("a part failed to start: stopping those started", "part", p.name, "error", serr)
				break
			}
		}
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{part: p, cancel: cancel, done: make(chan struct{})}
		up = append(up, r)
		if p.run == nil {
			close(r.done)
			continue
		}
		g.Go(func() error {
			defer close(r.done)
			rerr := p.run(rctx)
			if rerr == nil || (rctx.Err() != nil && errors.Is(rerr, context.Canceled)) {
				return nil
			}
			return fmt.Errorf("%s: %w", p.name, rerr)
		})
	}
	if err == nil && len(up) == len(l.parts) {
		if started != nil {
			started()
		}
		<-gctx.Done()
	}
	for i := len(up) - 1; i >= 0; i-- {
		r := up[i]
		r.cancel()
		<-r.done
		if r.stop != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.stopTimeout)
			if serr := r.stop(sctx); serr != nil {
				l.log.Warn("stopping "+r.name+" failed", "error", serr)
			}
			cancel()
		}
		l.log.Debug("stopped", "part", r.name)
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}
	return err
}
