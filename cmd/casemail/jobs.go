package main

import (
	"context"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/jackc/pgx/v5"
)

// The scheduled jobs serve registers: what runs on the clock, once across
// every instance (notify.Scheduler, store.RunOnce).

// retentionEvery is how often retention runs, across all instances; the
// scheduler looks every retentionCheck whether it is due.
const (
	retentionEvery = 24 * time.Hour
	retentionCheck = "@every 1h"
)

// jobs are the scheduler's: the SLA check, the supplier check, reminders, digest
// and retention.
func (d *daemon) jobs(desk *casework.Desk, mailer *notify.Mailer) []notify.Job {
	return []notify.Job{desk.SLAJob(), desk.SupplierJob(), mailer.ReminderJob(), mailer.DigestJob(), d.retentionJob()}
}

// retentionJob enforces retention once a day, as a scheduled job.
func (d *daemon) retentionJob() notify.Job {
	return notify.Job{Name: notify.JobRetention, Spec: func(*config.Rules) string { return retentionCheck },
		Every: retentionEvery, OwnTx: true,
		Run: func(ctx context.Context, _ pgx.Tx, _ *config.Rules, _ *time.Time, now time.Time) (any, error) {
			policy := store.RetentionPolicy{
				ClosedCases: d.cfg.Retention.ClosedCases.Std(),
				RawMail:     d.cfg.Retention.RawMail.Std(),
				Attachments: d.cfg.Retention.Attachments.Std(),
			}
			res, err := d.store.ApplyRetention(ctx, policy, now)
			if err == nil {
				d.log.Info("retention applied", "part", "retention", "cases", res.Cases, "raw_mails", res.RawMails,
					"attachments", res.Attachments, "blobs", res.Blobs+res.BlobOrphans, "quarantine", res.Quarantine,
					"ack_log", res.AckLog)
			}
			return res, err
		}}
}
