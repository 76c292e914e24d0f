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
)

// Jobs lists the scheduled jobs.
var Jobs = []string{JobSLACheck, JobReminders, JobDigest}

// DefaultSLAWarning is the share of a target's business time after which
// its holder is warned that it is near: at 80%, a 4h first response warns
// after 3h12m of opening hours, a 3d resolution on the third working day.
const DefaultSLAWarning = 0.8

// Scheduler runs the periodic jobs: the SLA check (warnings, escalation on
// breach, wake-ups from #wait), reminders to assignees and digests to
// coordinators, superusers and the support manager, on the cron specs of
// rules.yaml's schedule.
//
// Every run is one transaction that holds a transaction-scoped advisory
// lock for its job and records the run in job_runs, so that however many
// instances share the database each slot runs once: an instance that
// fires the same slot after another, or while another runs it, skips.
// Mail is queued in the same transaction, so a failed run sends nothing
// and is tried again at the next slot.
//
// Time comes from Now: tests drive RunDue and RunJob with simulated times
// instead of Run's cron timer.
type Scheduler struct {
	Store  *store.Store
	Mailer *Mailer
	// Rules returns the rules in force; schedule changes take effect on
	// reload.
	Rules func() *config.Rules
	// Location is the zone of specs without CRON_TZ=; nil means
	// casemail.yaml's timezone (Mailer.Config.Location), else UTC.
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// SLAWarning is the share of a target's business time after which the
	// holder is warned (0: DefaultSLAWarning; negative: no warnings).
	SLAWarning float64
	// MaxPerPass bounds the cases one SLA check handles; the rest wait for
	// the next (0: 5000).
	MaxPerPass int
	// Committed, when set, is called after a run that queued mail commits
	// (to wake the outbox sender).
	Committed func()

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
	switch {
	case s.Location != nil:
		return s.Location
	case s.Mailer != nil && s.Mailer.Config != nil && s.Mailer.Config.Location != nil:
		return s.Mailer.Config.Location
	}
	return time.UTC
}

func (s *Scheduler) warnShare() float64 {
	switch {
	case s.SLAWarning == 0:
		return DefaultSLAWarning
	case s.SLAWarning < 0 || s.SLAWarning >= 1:
		return 0
	}
	return s.SLAWarning
}

// spec returns a job's cron spec in rules.
func spec(rules *config.Rules, job string) string {
	switch job {
	case JobReminders:
		return rules.Schedule.Reminders
	case JobDigest:
		return rules.Schedule.Digest
	case JobSLACheck:
		return rules.Schedule.SLACheck
	}
	return ""
}

// RunDue runs, once each, the jobs whose slot has come since their last
// recorded run (on any instance): what Run does at start to catch up after
// downtime, and what tests call with simulated times. A job that never ran
// records now as its last run without running, so a new installation does
// not send a digest at its first start. It returns the jobs it ran.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) ([]string, error) {
	var ran []string
	var errs []error
	for _, job := range Jobs {
		ok, err := s.run(ctx, job, now, true)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			ran = append(ran, job)
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

func (s *Scheduler) run(ctx context.Context, job string, now time.Time, catchUp bool) (ran bool, err error) {
	if !s.claim(job) {
		return false, nil // the previous run in this process is still going
	}
	defer s.release(job)
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("scheduled job panicked", "job", job, "panic", r, "stack", string(debug.Stack()))
			ran, err = false, fmt.Errorf("job %s panicked: %v", job, r)
		}
	}()
	rules := s.Rules()
	sched, err := config.CronParser.Parse(spec(rules, job))
	if err != nil {
		return false, fmt.Errorf("job %s: bad schedule: %w", job, err)
	}
	started := time.Now()
	err = s.Store.InTx(ctx, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('casemail:job:' || $1, 0))`,
			job).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil // another instance is running it
		}
		var last *time.Time
		if _, err := tx.Exec(ctx, `INSERT INTO job_runs (name) VALUES ($1) ON CONFLICT DO NOTHING`, job); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT last_run FROM job_runs WHERE name = $1`, job).Scan(&last); err != nil {
			return err
		}
		switch {
		case last != nil && sched.Next(last.In(s.location())).After(now):
			return nil // this slot has run
		case last == nil && catchUp:
			_, err := tx.Exec(ctx, `UPDATE job_runs SET last_run = $2 WHERE name = $1`, job, now)
			return err
		}
		if err := s.runJob(ctx, tx, rules, job, last, now); err != nil {
			return err
		}
		ran = true
		_, err := tx.Exec(ctx, `UPDATE job_runs SET last_run = $2, last_error = '', runs = runs + 1 WHERE name = $1`, job, now)
		return err
	})
	if err != nil {
		// Best effort: the run's own transaction is gone.
		_, _ = s.Store.Pool.Exec(context.WithoutCancel(ctx), `INSERT INTO job_runs (name, last_error) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET last_error = EXCLUDED.last_error`, job, err.Error())
		return false, fmt.Errorf("job %s: %w", job, err)
	}
	if ran {
		s.log().Info("scheduled job ran", "job", job, "at", now, "took", time.Since(started).Round(time.Millisecond))
		if s.Committed != nil {
			s.Committed()
		}
	}
	return ran, nil
}

func (s *Scheduler) runJob(ctx context.Context, tx pgx.Tx, rules *config.Rules, job string, last *time.Time, now time.Time) (err error) {
	// A panic becomes the run's error: the transaction rolls back and the
	// failure is recorded like any other.
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("scheduled job panicked", "job", job, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	switch job {
	case JobSLACheck:
		_, err := s.CheckSLA(ctx, tx, rules, now)
		return err
	case JobReminders:
		return s.remind(ctx, tx, rules, now)
	case JobDigest:
		since := now.AddDate(0, 0, -7)
		if last != nil {
			since = *last
		}
		return s.digest(ctx, tx, rules, since, now)
	}
	return fmt.Errorf("unknown job %q", job)
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
	for _, job := range Jobs {
		sp := spec(rules, job)
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
