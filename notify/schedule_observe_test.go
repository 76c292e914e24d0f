package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
)

// Observe hears of every run this instance makes, with its error, and of
// no slot that was skipped: what the job metrics count.
func TestSchedulerObserve(t *testing.T) {
	e := newAlertEnv(t)
	type obs struct {
		job string
		err error
	}
	var seen []obs
	fail := errors.New("boom")
	every := func(*config.Rules) string { return "@every 1m" }
	s := &Scheduler{Store: e.st, Rules: func() *config.Rules { return e.rules },
		Observe: func(job string, took time.Duration, err error) {
			if took < 0 {
				t.Errorf("negative duration %v", took)
			}
			seen = append(seen, obs{job, err})
		},
		Jobs: []Job{
			{Name: "good", Spec: every, Run: func(context.Context, pgx.Tx, *config.Rules, *time.Time, time.Time) (any, error) { return nil, nil }},
			{Name: "bad", Spec: every, Run: func(context.Context, pgx.Tx, *config.Rules, *time.Time, time.Time) (any, error) { return nil, fail }},
		}}
	now := time.Now()
	ctx := context.Background()
	if _, err := s.RunJob(ctx, "good", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunJob(ctx, "good", now); err != nil { // the same slot: skipped
		t.Fatal(err)
	}
	if _, err := s.RunJob(ctx, "bad", now); !errors.Is(err, fail) {
		t.Fatalf("bad job: %v", err)
	}
	if len(seen) != 2 || seen[0] != (obs{"good", nil}) || seen[1].job != "bad" || !errors.Is(seen[1].err, fail) {
		t.Errorf("observed %v, want one good run and one failed bad run", seen)
	}
}
