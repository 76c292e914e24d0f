package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Jobs that must run once across every instance sharing the database —
// the scheduler's (SLA check, reminders, digest) and the daily retention —
// all go through RunOnce: one advisory lock per job and one row per job in
// job_runs. It is the only such mechanism.

// JobRun is the record of a job: its last successful run and its last error.
type JobRun struct {
	Job       string
	StartedAt *time.Time
	// FinishedAt is the time of the last successful run (the slot it
	// covered); nil when the job never ran.
	FinishedAt *time.Time
	Result     json.RawMessage
	LastError  string
	Runs       int64
}

// JobDecision is what RunOnce does with a job once it holds its lock.
type JobDecision int

// Job decisions.
const (
	// JobSkip: not due (the slot has run, here or on another instance).
	JobSkip JobDecision = iota
	// JobMark: not run, but now recorded as its last run (a new
	// installation's first slot, so that it does not send a digest at once).
	JobMark
	// JobDue: run it.
	JobDue
)

// ErrJobBusy is returned by RunOnce when another instance holds the job.
var ErrJobBusy = errors.New("another instance is running this job")

// jobLockKey is the advisory-lock key of a job, in a space of its own.
func jobLockKey(job string) int64 {
	h := fnv.New64a()
	h.Write([]byte("casemail job " + job))
	return int64(h.Sum64())
}

// JobFunc is a job's work. With RunOnce's inTx it gets the transaction that
// records the run, so that what it writes (queued mail, SLA events) and the
// record commit together or not at all; without, tx is nil and the job
// manages its own transactions (a long maintenance run).
type JobFunc func(ctx context.Context, tx pgx.Tx) (result any, err error)

// RunOnce runs fn as job at most once per slot across every instance: under
// a session advisory lock (ErrJobBusy when another instance holds it), due
// decides from the job's last successful run whether this slot runs. ran
// reports whether fn ran; a failed run is recorded as the job's last error
// and does not count as a run, so the next slot tries again.
func (s *Store) RunOnce(ctx context.Context, job string, now time.Time, inTx bool,
	due func(last *time.Time) JobDecision, fn JobFunc) (ran bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("job %s: %w", job, err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, jobLockKey(job)).Scan(&got); err != nil {
		return false, fmt.Errorf("job %s: taking its lock: %w", job, err)
	}
	if !got {
		return false, ErrJobBusy
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, jobLockKey(job)) //nolint:errcheck

	var last *time.Time
	if _, err := conn.Exec(ctx, `INSERT INTO job_runs (name) VALUES ($1) ON CONFLICT DO NOTHING`, job); err != nil {
		return false, fmt.Errorf("job %s: %w", job, err)
	}
	if err := conn.QueryRow(ctx, `SELECT last_run FROM job_runs WHERE name = $1`, job).Scan(&last); err != nil {
		return false, fmt.Errorf("job %s: reading its last run: %w", job, err)
	}
	switch due(last) {
	case JobSkip:
		return false, nil
	case JobMark:
		_, err := conn.Exec(ctx, `UPDATE job_runs SET last_run = $2 WHERE name = $1`, job, now)
		return false, err
	}
	if _, err := conn.Exec(ctx, `UPDATE job_runs SET started_at = $2 WHERE name = $1`, job, now); err != nil {
		return false, fmt.Errorf("job %s: recording its start: %w", job, err)
	}
	record := func(ctx context.Context, q Querier, res any) error {
		data, err := json.Marshal(res)
		if err != nil || res == nil {
			data = []byte("{}")
		}
		_, err = q.Exec(ctx, `UPDATE job_runs SET last_run = $2, result = $3, last_error = '', runs = runs + 1
			WHERE name = $1`, job, now, data)
		return err
	}
	if inTx {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			res, err := fn(ctx, tx)
			if err != nil {
				return err
			}
			return record(ctx, tx, res)
		})
	} else {
		var res any
		if res, err = fn(ctx, nil); err == nil {
			err = record(context.WithoutCancel(ctx), conn, res)
		}
	}
	if err != nil {
		_, rerr := conn.Exec(context.WithoutCancel(ctx), `UPDATE job_runs SET last_error = $2 WHERE name = $1`,
			job, cleanText(err.Error()))
		return true, errors.Join(err, rerr)
	}
	return true, nil
}

// RunJob runs fn as job once across every instance when the job last
// finished at least every before now (ran is false otherwise): RunOnce for
// maintenance that runs on an interval and manages its own transactions.
func (s *Store) RunJob(ctx context.Context, job string, every time.Duration, now time.Time,
	fn func(ctx context.Context) (any, error)) (ran bool, err error) {
	return s.RunOnce(ctx, job, now, false, func(last *time.Time) JobDecision {
		if last != nil && now.Sub(*last) < every {
			return JobSkip
		}
		return JobDue
	}, func(ctx context.Context, _ pgx.Tx) (any, error) { return fn(ctx) })
}

// JobRuns lists the recorded jobs, for metrics and status.
func (s *Store) JobRuns(ctx context.Context) ([]JobRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, started_at, last_run, result, last_error, runs
		FROM job_runs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing job runs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (JobRun, error) {
		var j JobRun
		err := r.Scan(&j.Job, &j.StartedAt, &j.FinishedAt, &j.Result, &j.LastError, &j.Runs)
		return j, err
	})
}
