package notify

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/robfig/cron/v3"
)

// TestReschedule: a rules reload with another spec replaces the job's entry.
func TestReschedule(t *testing.T) {
	e := newAlertEnv(t)
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, loc) }
	s := &Scheduler{Store: e.st, Rules: func() *config.Rules { return e.rules }, Location: loc,
		Jobs: []Job{{Name: JobSLACheck, Spec: func(r *config.Rules) string { return r.Schedule.SLACheck }},
			e.m.ReminderJob(), e.m.DigestJob()}}
	c := cron.New(cron.WithParser(config.CronParser), cron.WithLocation(loc))
	entries, specs := map[string]cron.EntryID{}, map[string]string{}
	s.sync(context.Background(), c, entries, specs)
	if len(c.Entries()) != 3 || specs[JobDigest] != "0 7 * * mon" {
		t.Fatalf("entries %d, specs %v", len(c.Entries()), specs)
	}
	old := entries[JobDigest]
	data, err := os.ReadFile("../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := config.ParseRules("rules.yaml", []byte(strings.Replace(string(data), `digest:    "0 7 * * mon"`, `digest:    "CRON_TZ=Europe/Oslo 30 6 * * fri"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.rules = changed
	s.sync(context.Background(), c, entries, specs)
	if len(c.Entries()) != 3 || entries[JobDigest] == old || specs[JobDigest] != "CRON_TZ=Europe/Oslo 30 6 * * fri" {
		t.Fatalf("after reload: entries %d, specs %v", len(c.Entries()), specs)
	}
	next := c.Entry(entries[JobDigest]).Schedule.Next(at(2026, 3, 9, 0, 0))
	if want := at(2026, 3, 13, 6, 30); !next.Equal(want) {
		t.Errorf("rescheduled digest next at %s, want %s", next, want)
	}
}
