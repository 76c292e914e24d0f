package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/store"
)

// metrics is what GET /metrics serves: a registry of the daemon's own
// (not the global one, so that tests can run several daemons), with
// collectors that read state when scraped rather than counters kept in
// step by hand. Process counters (mails this instance ingested, rule
// reloads) add up across instances; database gauges (cases, outbox,
// quarantine, SLA) are the same on every instance: aggregate them with max.
type metrics struct {
	reg     *prometheus.Registry
	reloads *prometheus.CounterVec
	// Runs of scheduled jobs made by this instance (the scheduler's
	// Observe): counts, failures and durations.
	jobRuns, jobFailures *prometheus.CounterVec
	jobDuration          *prometheus.HistogramVec
}

// dbGaugesEvery bounds how often a scrape reads the database: scrapers
// arriving closer together share one reading.
const dbGaugesEvery = 5 * time.Second

func newMetrics(d *daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casemail_rules_reloads_total",
		Help: "Reloads of rules.yaml by result: ok, or error (the last good rules stay in force).",
	}, []string{"result"})
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casemail_job_runs_total",
		Help: "Runs of a scheduled job made by this instance, failed ones included.",
	}, []string{"job"})
	m.jobFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "casemail_job_failures_total",
		Help: "Runs of a scheduled job made by this instance that failed (retried at its next slot).",
	}, []string{"job"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "casemail_job_duration_seconds",
		Help:    "How long a scheduled job's runs on this instance took.",
		Buckets: []float64{0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 1800},
	}, []string{"job"})
	if d.scheduler != nil {
		// Every job shows from the start, 0 until it runs, so that alerts
		// and rate() see the series.
		for _, j := range d.scheduler.Jobs {
			m.jobRuns.WithLabelValues(j.Name)
			m.jobFailures.WithLabelValues(j.Name)
			m.jobDuration.WithLabelValues(j.Name)
		}
		d.scheduler.Observe = m.jobRan
	}
	m.reg.MustRegister(
		m.jobRuns, m.jobFailures, m.jobDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.reloads,
		&daemonCollector{d: d},
		&dbCollector{d: d},
	)
	return m
}

// jobRan records one run of a scheduled job by this instance.
func (m *metrics) jobRan(job string, took time.Duration, err error) {
	m.jobRuns.WithLabelValues(job).Inc()
	m.jobDuration.WithLabelValues(job).Observe(took.Seconds())
	if err != nil {
		m.jobFailures.WithLabelValues(job).Inc()
	}
}

// rulesReloaded counts one reload attempt.
func (m *metrics) rulesReloaded(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
	} else {
		m.reloads.WithLabelValues("ok").Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A collector error is reported as a metric (casemail_database_up),
		// not as a failed scrape: the rest is still worth having.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             15 * time.Second,
	})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// daemonCollector reports this process's state: intake counts, IMAP
// connections, OAuth2 grants and the rules in force.
type daemonCollector struct{ d *daemon }

var (
	mBuild       = desc("casemail_build_info", "Always 1; the version label says which casemail runs.", "version")
	mIngested    = desc("casemail_mails_ingested_total", "Mails this instance committed, by mailbox and outcome (case, message, duplicate, quarantined, answered: a mail to a mine address).", "mailbox", "outcome")
	mAutomatic   = desc("casemail_mails_automatic_total", "Automatic mails this instance committed and did not acknowledge, by mailbox and kind (reply, generated, bulk, list, bounce, loop).", "mailbox", "kind")
	mConflicts   = desc("casemail_intake_conflicts_total", "Intake transactions that collided with another (deadlock, serialization, lock_timeout, unique) and were run again.", "reason")
	mCapped      = desc("casemail_caps_total", "Caps that bit, each an event on its case: ack_sender (ack_limit_per_hour), ack_mailbox (ack_limit_per_mailbox), ack_unauthenticated (the sender's authentication failed), relay (relay_limit_per_hour); mine (an agent's answers from a mine address an hour, ack_limit_per_hour: logged, no case).", "cap")
	mConnected   = desc("casemail_imap_connected", "1 when the mailbox is logged in with its folder selected.", "mailbox")
	mWatched     = desc("casemail_mailbox_watched", "1 when this instance holds the mailbox's lease and watches it; summed over the instances, 1 per mailbox.", "mailbox")
	mTakeovers   = desc("casemail_mailbox_takeovers_total", "Mailboxes this instance took over from an instance that stopped renewing its lease (died or lost the database).")
	mLeasesLost  = desc("casemail_mailbox_leases_lost_total", "Mailbox leases this instance could not renew in time and stopped watching.")
	mIdling      = desc("casemail_imap_idling", "1 while the mailbox waits in IMAP IDLE.", "mailbox")
	mDelivered   = desc("casemail_imap_delivered_total", "Mails the mailbox's watcher handed over and saw committed.", "mailbox")
	mConnects    = desc("casemail_imap_connects_total", "Successful IMAP logins of the mailbox's watcher.", "mailbox")
	mLastSync    = desc("casemail_imap_last_sync_timestamp_seconds", "When the mailbox was last fetched: a pass completed without error (0: never).", "mailbox")
	mBacklog     = desc("casemail_imap_backlog", "Mails the mailbox's current pass found and has not committed yet (0 between passes).", "mailbox")
	mRulesOK     = desc("casemail_rules_ok", "1 when the last rules reload succeeded; 0 when it failed and the previous rules are in force.")
	mOAuthOK     = desc("casemail_oauth2_ok", "1 when the OAuth2 grant is stored, its last refresh worked and it is not stale.", "purpose", "name")
	mOAuthStale  = desc("casemail_oauth2_stale", "1 when the access token expired a while ago and has not been refreshed.", "purpose", "name")
	mOAuthExpiry = desc("casemail_oauth2_token_expiry_timestamp_seconds", "When the current OAuth2 access token expires.", "purpose", "name")
	mOAuthFresh  = desc("casemail_oauth2_last_refresh_timestamp_seconds", "The last OAuth2 login or successful refresh, by any instance.", "purpose", "name")
)

func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mBuild, mIngested, mAutomatic, mConflicts, mCapped, mConnected, mWatched, mTakeovers, mLeasesLost, mIdling, mDelivered, mConnects,
		mLastSync, mBacklog, mRulesOK, mOAuthOK, mOAuthStale, mOAuthExpiry, mOAuthFresh} {
		ch <- d
	}
}

func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	ch <- prometheus.MustNewConstMetric(mBuild, prometheus.GaugeValue, 1, version)
	if d.proc != nil {
		st := d.proc.Stats()
		// Every mailbox shows every outcome, 0 until it happens, so that
		// rate() and alerts see the series from the start.
		for _, mb := range d.cfg.Mailboxes {
			for _, o := range []string{"case", "message", "duplicate", "quarantined", "answered"} {
				ch <- prometheus.MustNewConstMetric(mIngested, prometheus.CounterValue,
					float64(st.Outcomes[intake.StatKey{Mailbox: mb.Name, Value: o}]), mb.Name, o)
			}
		}
		for _, reason := range []string{"deadlock", "serialization", "lock_timeout", "unique"} {
			ch <- prometheus.MustNewConstMetric(mConflicts, prometheus.CounterValue, float64(st.Conflicts[reason]), reason)
		}
		for _, c := range []string{"ack_sender", "ack_mailbox", "ack_unauthenticated", "relay", "mine"} {
			ch <- prometheus.MustNewConstMetric(mCapped, prometheus.CounterValue, float64(st.Capped[c]), c)
		}
		for _, mb := range d.cfg.Mailboxes {
			for _, k := range automaticKinds {
				ch <- prometheus.MustNewConstMetric(mAutomatic, prometheus.CounterValue,
					float64(st.Automatic[intake.StatKey{Mailbox: mb.Name, Value: k}]), mb.Name, k)
			}
		}
	}
	if d.leases != nil {
		ls := d.leases.Stats()
		ch <- prometheus.MustNewConstMetric(mTakeovers, prometheus.CounterValue, float64(ls.Takeovers))
		ch <- prometheus.MustNewConstMetric(mLeasesLost, prometheus.CounterValue, float64(ls.Lost))
	}
	for i, w := range d.watchers {
		name := d.cfg.Mailboxes[i].Name
		watched := d.leases == nil || d.leases.Watching(name)
		ch <- prometheus.MustNewConstMetric(mWatched, prometheus.GaugeValue, b2f(watched), name)
		if !watched {
			// The instance that watches it reports its connection.
			continue
		}
		st := w.State()
		ch <- prometheus.MustNewConstMetric(mConnected, prometheus.GaugeValue, b2f(st.Connected), name)
		ch <- prometheus.MustNewConstMetric(mIdling, prometheus.GaugeValue, b2f(st.Idling), name)
		ch <- prometheus.MustNewConstMetric(mDelivered, prometheus.CounterValue, float64(st.Delivered), name)
		ch <- prometheus.MustNewConstMetric(mConnects, prometheus.CounterValue, float64(st.Connects), name)
		ch <- prometheus.MustNewConstMetric(mLastSync, prometheus.GaugeValue, unixSeconds(st.LastSync), name)
		ch <- prometheus.MustNewConstMetric(mBacklog, prometheus.GaugeValue, float64(st.Backlog), name)
	}
	rulesErr, _ := d.rulesErr.Load().(string)
	ch <- prometheus.MustNewConstMetric(mRulesOK, prometheus.GaugeValue, b2f(rulesErr == ""))
	for _, m := range d.oauth {
		st := m.State()
		ch <- prometheus.MustNewConstMetric(mOAuthOK, prometheus.GaugeValue, b2f(st.OK), st.Purpose, st.Name)
		ch <- prometheus.MustNewConstMetric(mOAuthStale, prometheus.GaugeValue, b2f(st.Stale), st.Purpose, st.Name)
		ch <- prometheus.MustNewConstMetric(mOAuthExpiry, prometheus.GaugeValue, unixSeconds(st.Expires), st.Purpose, st.Name)
		ch <- prometheus.MustNewConstMetric(mOAuthFresh, prometheus.GaugeValue, unixSeconds(st.LastRefresh), st.Purpose, st.Name)
	}
}

// dbCollector reports the shared database's state, read when scraped.
type dbCollector struct {
	d *daemon

	mu     sync.Mutex
	at     time.Time
	cached []prometheus.Metric
}

var (
	mDBUp          = desc("casemail_database_up", "1 when the last reading of the database for these metrics succeeded.")
	mCases         = desc("casemail_cases", "Cases by status and tier (database-wide).", "status", "tier")
	mAutoCases     = desc("casemail_cases_automatic", "Cases opened by automatic mail, by status (database-wide).", "status")
	mOutbox        = desc("casemail_outbox_mails", "Mail not yet sent, by status: pending, sending, failed (given up; see casemail case N).", "status")
	mOutboxRetry   = desc("casemail_outbox_retrying", "Pending mail whose sending failed at least once (temporary errors).")
	mOutboxOldest  = desc("casemail_outbox_oldest_unsent_seconds", "Age of the oldest mail waiting to be sent (0: none).")
	mQuarantine    = desc("casemail_quarantine_unresolved", "Quarantined mail not yet processed (casemail quarantine list).")
	mSLAOutcomes   = desc("casemail_sla_cases", "Cases by SLA target and outcome: met or breached.", "target", "outcome")
	mSLANotices    = desc("casemail_sla_notices", "SLA notices given, by target and kind: warning or escalation.", "target", "kind")
	mJobSuccess    = desc("casemail_job_last_success_timestamp_seconds", "The slot a scheduled job (sla_check, reminders, digest, retention) last ran successfully for, on any instance (0: never).", "job")
	mJobFailing    = desc("casemail_job_failing", "1 when a scheduled job's last run, on any instance, failed.", "job")
	mErasures      = desc("casemail_erasures", "Erasures of personal data recorded (casemail erase).")
	mSupWaiting    = desc("casemail_supplier_waiting_cases", "Open cases waiting on a supplier's answer, by supplier (database-wide).", "supplier")
	mSupReminders  = desc("casemail_supplier_reminders", "Reminders sent to a supplier about a silent case, by supplier (database-wide, ever).", "supplier")
	mDBCollectTime = desc("casemail_database_metrics_read_seconds", "How long the last reading of the database for these metrics took.")
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mDBUp, mCases, mAutoCases, mOutbox, mOutboxRetry, mOutboxOldest, mQuarantine,
		mSLAOutcomes, mSLANotices, mJobSuccess, mJobFailing, mErasures, mSupWaiting, mSupReminders, mDBCollectTime} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == nil || time.Since(c.at) >= dbGaugesEvery {
		c.cached, c.at = c.read(), time.Now()
	}
	for _, m := range c.cached {
		ch <- m
	}
}

func (c *dbCollector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	g, err := c.d.store.Gauges(ctx)
	took := time.Since(start).Seconds()
	if err != nil {
		c.d.log.Warn("metrics: reading the database failed", "error", err)
		return []prometheus.Metric{
			prometheus.MustNewConstMetric(mDBUp, prometheus.GaugeValue, 0),
			prometheus.MustNewConstMetric(mDBCollectTime, prometheus.GaugeValue, took),
		}
	}
	out := []prometheus.Metric{
		prometheus.MustNewConstMetric(mDBUp, prometheus.GaugeValue, 1),
		prometheus.MustNewConstMetric(mDBCollectTime, prometheus.GaugeValue, took),
		prometheus.MustNewConstMetric(mOutboxRetry, prometheus.GaugeValue, float64(g.OutboxRetrying)),
		prometheus.MustNewConstMetric(mOutboxOldest, prometheus.GaugeValue, g.OutboxOldest.Seconds()),
		prometheus.MustNewConstMetric(mQuarantine, prometheus.GaugeValue, float64(g.QuarantineUnresolved)),
		prometheus.MustNewConstMetric(mErasures, prometheus.GaugeValue, float64(g.Erasures)),
	}
	add := func(d *prometheus.Desc, rows []store.Count) {
		for _, r := range rows {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(r.N), r.Labels...))
		}
	}
	add(mCases, g.Cases)
	add(mAutoCases, g.AutomaticCases)
	// Every unsent status shows, 0 when empty, for alerts on failed > 0.
	outbox := map[string]int64{"pending": 0, "sending": 0, "failed": 0}
	for _, r := range g.Outbox {
		outbox[r.Labels[0]] = r.N
	}
	for status, n := range outbox {
		out = append(out, prometheus.MustNewConstMetric(mOutbox, prometheus.GaugeValue, float64(n), status))
	}
	// Every SLA target shows each outcome and notice kind, 0 until counted.
	addAll := func(d *prometheus.Desc, rows []store.Count, a, b []string) {
		n := map[[2]string]int64{}
		for _, r := range rows {
			n[[2]string{r.Labels[0], r.Labels[1]}] = r.N
		}
		for _, x := range a {
			for _, y := range b {
				if _, ok := n[[2]string{x, y}]; !ok {
					n[[2]string{x, y}] = 0
				}
			}
		}
		for k, v := range n {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), k[0], k[1]))
		}
	}
	addAll(mSLAOutcomes, g.SLAOutcomes, slaTargets, []string{"met", "breached"})
	addAll(mSLANotices, g.SLANotices, slaTargets, []string{"warning", "escalation"})
	add(mSupWaiting, g.SupplierWaiting)
	add(mSupReminders, g.SupplierReminders)
	for _, j := range g.Jobs {
		var last time.Time
		if j.FinishedAt != nil {
			last = *j.FinishedAt
		}
		out = append(out,
			prometheus.MustNewConstMetric(mJobSuccess, prometheus.GaugeValue, unixSeconds(last), j.Job),
			prometheus.MustNewConstMetric(mJobFailing, prometheus.GaugeValue, b2f(j.LastError != ""), j.Job))
	}
	return out
}

// slaTargets and automaticKinds label series shown from the start.
var (
	slaTargets     = []string{"first_response", "resolution"}
	automaticKinds = []string{"reply", "generated", "bulk", "list", "bounce", "loop"}
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
