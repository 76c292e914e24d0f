package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// Scheduled jobs, named as in rules.yaml's schedule.
const (
	JobReminders = "reminders"
	JobDigest    = "digest"
	JobSLACheck  = "sla_check"
	JobRetention = "retention"
	// JobSupplierCheck runs the suppliers' clocks (intake/casework).
	JobSupplierCheck = "supplier_check"
)

// Job is one periodic duty. The Scheduler runs each job once per slot
// across every instance sharing the database (store.RunOnce) and knows
// nothing of what it does: cmd registers the jobs.
type Job struct {
	Name string
	// Spec is the job's cron spec in the rules in force; a rules reload
	// reschedules it.
	Spec func(*config.Rules) string
	// Every, when set, makes the job due when it last ran at least that
	// long ago (checked at each slot of Spec) instead of once per slot.
	Every time.Duration
	// OwnTx: Run manages its own transactions (a long maintenance run)
	// and gets a nil tx. Otherwise tx is the transaction that records the
	// run, so mail it queues is sent only if the run commits.
	OwnTx bool
	// Run does the work for the slot at now; last is the previous run (nil:
	// never). Its result is recorded with the run (job_runs.result).
	Run func(ctx context.Context, tx pgx.Tx, rules *config.Rules, last *time.Time, now time.Time) (any, error)
}

// Scheduler runs Jobs on their cron specs. Each run holds its job's lock
// and records the run in job_runs (store.RunOnce), so that however many
// instances share the database each slot runs once: an instance that
// fires the same slot after another, or while another runs it, skips.
//
// Time comes from Now: tests drive RunDue and RunJob with simulated times
// instead of Run's cron timer.
type Scheduler struct {
	Store *store.Store
	Jobs  []Job
	// Rules returns the rules in force; schedule changes take effect on
	// reload.
	Rules func() *config.Rules
	// Location is the zone of specs without CRON_TZ= (nil: UTC).
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Committed, when set, is called after a run commits (to wake the
	// outbox sender).
	Committed func()
	// Observe, when set, is told of every run this instance made of a job
	// (its duration; err nil when it succeeded), for metrics. Skipped
	// slots and runs another instance holds are not runs.
	Observe func(job string, took time.Duration, err error)

	mu      sync.Mutex
	running map[string]bool
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Scheduler) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.UTC
}

func (s *Scheduler) job(name string) *Job {
	for i := range s.Jobs {
		if s.Jobs[i].Name == name {
			return &s.Jobs[i]
		}
	}
	return nil
}

// RunDue runs, once each, the jobs whose slot has come since their last
// recorded run (on any instance): what Run does at start to catch up after
// downtime, and what tests call with simulated times. A job that never ran
// records now as its last run without running, so a new installation does
// not send a digest at its first start. It returns the jobs it ran.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) ([]string, error) {
	var ran []string
	var errs []error
	for _, j := range s.Jobs {
		ok, err := s.run(ctx, j.Name, now, true)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			ran = append(ran, j.Name)
		}
	}
	return ran, errors.Join(errs...)
}

// RunJob runs a job for the slot at now, as when its cron spec fires: it
// skips (false, nil) when another run of it is under way, or when a run on
// any instance already covered this slot (the spec's next time after the
// recorded run is still ahead of now).
func (s *Scheduler) RunJob(ctx context.Context, job string, now time.Time) (bool, error) {
	return s.run(ctx, job, now, false)
}

func (s *Scheduler) run(ctx context.Context, name string, now time.Time, catchUp bool) (ran bool, err error) {
	j := s.job(name)
	if j == nil {
		return false, fmt.Errorf("unknown job %q", name)
	}
	if !s.claim(name) {
		return false, nil // the previous run in this process is still going
	}
	defer s.release(name)
	rules := s.Rules()
	sched, err := config.CronParser.Parse(j.Spec(rules))
	if err != nil {
		return false, fmt.Errorf("job %s: bad schedule: %w", name, err)
	}
	due := func(last *time.Time) store.JobDecision {
		switch {
		case last == nil && catchUp:
			return store.JobMark
		case last == nil:
			return store.JobDue
		case j.Every > 0 && now.Sub(*last) < j.Every:
			return store.JobSkip
		case j.Every == 0 && sched.Next(last.In(s.location())).After(now):
			return store.JobSkip // this slot has run
		}
		return store.JobDue
	}
	started := time.Now()
	var last *time.Time
	ran, err = s.Store.RunOnce(ctx, name, now, !j.OwnTx, func(l *time.Time) store.JobDecision {
		last = l
		return due(l)
	}, func(ctx context.Context, tx pgx.Tx) (res any, err error) {
		// A panic becomes the run's error: the transaction rolls back and
		// the failure is recorded like any other.
		defer func() {
			if r := recover(); r != nil {
				s.log().Error("scheduled job panicked", "job", name, "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panicked: %v", r)
			}
		}()
		return j.Run(ctx, tx, rules, last, now)
	})
	if s.Observe != nil && (ran || (err != nil && !errors.Is(err, store.ErrJobBusy))) {
		s.Observe(name, time.Since(started), err)
	}
	switch {
	case errors.Is(err, store.ErrJobBusy):
		return false, nil // another instance is running it
	case err != nil:
		return false, fmt.Errorf("job %s: %w", name, err)
	}
	if ran {
		s.log().Info("scheduled job ran", "job", name, "at", now, "took", time.Since(started).Round(time.Millisecond))
		if s.Committed != nil {
			s.Committed()
		}
	}
	return ran, nil
}

func (s *Scheduler) claim(job string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == nil {
		s.running = map[string]bool{}
	}
	if s.running[job] {
		return false
	}
	s.running[job] = true
	return true
}

func (s *Scheduler) release(job string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, job)
}

// Run catches up once (RunDue), then runs each job on its cron spec until
// ctx ends, re-reading the specs every few seconds so that a rules reload
// reschedules. Panics in a job are recovered and logged; a run that would
// overlap the previous one of the same job is skipped.
func (s *Scheduler) Run(ctx context.Context) error {
	logger := cronLogger{s.log()}
	c := cron.New(cron.WithParser(config.CronParser), cron.WithLocation(s.location()), cron.WithLogger(logger),
		cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	if _, err := s.RunDue(ctx, s.now()); err != nil {
		s.log().Error("catching up scheduled jobs", "err", err)
	}
	entries := map[string]cron.EntryID{}
	specs := map[string]string{}
	s.sync(ctx, c, entries, specs)
	c.Start()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-c.Stop().Done() // wait for running jobs
			return nil
		case <-tick.C:
			s.sync(ctx, c, entries, specs)
		}
	}
}

// sync makes c's entries match the specs of the rules in force.
func (s *Scheduler) sync(ctx context.Context, c *cron.Cron, entries map[string]cron.EntryID, specs map[string]string) {
	rules := s.Rules()
	for _, j := range s.Jobs {
		job := j.Name
		sp := j.Spec(rules)
		if sp == specs[job] {
			continue
		}
		if id, ok := entries[job]; ok {
			c.Remove(id)
			delete(entries, job)
		}
		id, err := c.AddFunc(sp, func() {
			if _, err := s.RunJob(ctx, job, s.now()); err != nil {
				s.log().Error("scheduled job failed", "job", job, "err", err)
			}
		})
		if err != nil {
			// Rules are validated at load, so this is a bug; keep the rest.
			s.log().Error("scheduling job", "job", job, "spec", sp, "err", err)
			continue
		}
		if specs[job] != "" {
			s.log().Info("job rescheduled", "job", job, "spec", sp)
		}
		entries[job], specs[job] = id, sp
	}
}

// cronLogger sends cron's own messages (recovered panics, skipped runs)
// to slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
