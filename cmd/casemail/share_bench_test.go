package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// BenchmarkManyMailboxes starts one `casemail serve` process watching 200
// mailboxes of one Dovecot (IDLE, the default 30 s safety poll), each with
// one mail waiting, and reports the time from starting the process to the
// first mail and to every mailbox's mail committed; then, with every
// mailbox idle, the process's CPU and RSS and its PostgreSQL backends' CPU
// over CASEMAIL_BENCH_IDLE (default 60s). A second process watching one
// mailbox gives the baseline, so the figures per mailbox are the
// difference divided by the 199 extra mailboxes.
//
//	go test ./cmd/casemail -run '^$' -bench ManyMailboxes -benchtime 1x
func BenchmarkManyMailboxes(b *testing.B) {
	const mailboxes = 200
	idle := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CASEMAIL_BENCH_IDLE")); err == nil && d > 0 {
		idle = d
	}
	w, names := newShareWorld(b, mailboxes, "30s")
	for _, mb := range names {
		w.dovecot.Deliver(b, mb+"@example.org", rawMail("first@example.net", mb+"@example.org", "first mail of "+mb,
			"first-"+mb+"@example.net", "", "body"))
	}
	// The baseline: one mailbox, same Dovecot, a database of its own.
	one := *w
	one.dbURL = storetest.URL(b)
	one.cfgPath = filepath.Join(w.dir, "one.yaml")
	cfg, _ := os.ReadFile(w.cfgPath)
	head, rest, _ := strings.Cut(string(cfg), "  - name: mb001\n")
	_, tail, _ := strings.Cut(rest, "smtp: ")
	write(b, one.cfgPath, head+"smtp: "+tail)
	st, err := store.Open(context.Background(), one.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	one.store = st

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		many := measureServe(b, w, mailboxes, idle)
		base := measureServe(b, &one, 1, idle)
		b.ReportMetric(many.firstMail.Seconds(), "s-to-first-mail")
		b.ReportMetric(many.allMail.Seconds(), "s-to-all-200")
		b.ReportMetric(many.rss, "idle-RSS-MiB")
		b.ReportMetric((many.rss-base.rss)*1024/(mailboxes-1), "RSS-KiB/mailbox")
		b.ReportMetric(many.cpuPerSec*1000, "idle-CPU-ms/s")
		b.ReportMetric((many.cpuPerSec-base.cpuPerSec)*1e6/(mailboxes-1), "idle-CPU-µs/s/mailbox")
		b.ReportMetric(many.pgCPUPerSec*1000, "idle-PG-CPU-ms/s")
		b.Logf("200 mailboxes: first mail %v, all %v; idle RSS %.1f MiB (1 mailbox: %.1f), CPU %.2f ms/s (1 mailbox: %.2f), PostgreSQL backends %.2f ms/s",
			many.firstMail.Round(time.Millisecond), many.allMail.Round(time.Millisecond), many.rss, base.rss,
			many.cpuPerSec*1000, base.cpuPerSec*1000, many.pgCPUPerSec*1000)
	}
}

type serveFigures struct {
	firstMail, allMail     time.Duration
	rss                    float64 // MiB, idle
	cpuPerSec, pgCPUPerSec float64 // CPU-seconds per second, idle
}

// measureServe runs casemail serve on w until its n waiting mails are
// committed and then for idle more, and measures it.
func measureServe(b *testing.B, w *world, n int, idle time.Duration) serveFigures {
	b.Helper()
	var f serveFigures
	ctx := context.Background()
	// Migrated before, as on every start but the first.
	if err := w.store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	casemailBinary(b) // built before the clock starts
	start := time.Now()
	p := w.spawn(b, fmt.Sprintf("bench-%d.log", n))
	defer p.kill(syscall.SIGTERM)
	deadline := start.Add(3 * time.Minute)
	for {
		got := countRows(b, w.store, `SELECT count(*) FROM ingested WHERE outcome <> 'pending'`)
		if got > 0 && f.firstMail == 0 {
			f.firstMail = time.Since(start)
		}
		if got >= n {
			f.allMail = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d mails committed after 3 minutes", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if os.Getenv("SHARE_DEBUG") != "" {
		lb, _ := os.ReadFile(filepath.Join(w.dir, fmt.Sprintf("bench-%d.log", n)))
		b.Logf("start %s\n%s", start.UTC().Format(time.RFC3339Nano), headLines(string(lb), 40))
	}
	// Let the outbox send the acknowledgements and the connections settle.
	time.Sleep(5 * time.Second)
	pid := p.cmd.Process.Pid
	cpu0, err := storetest.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	pg0, pgErr := storetest.BackendCPU(ctx, w.store.DB())
	t0 := time.Now()
	time.Sleep(idle)
	cpu1, err := storetest.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	pg1, pgErr2 := storetest.BackendCPU(ctx, w.store.DB())
	wall := time.Since(t0).Seconds()
	f.cpuPerSec = (cpu1 - cpu0).Seconds() / wall
	if pgErr == nil && pgErr2 == nil {
		f.pgCPUPerSec = (pg1 - pg0).Seconds() / wall
	} else {
		b.Logf("PostgreSQL backends' CPU not measured: %v %v", pgErr, pgErr2)
	}
	if f.rss, _, err = storetest.Memory(pid); err != nil {
		b.Fatal(err)
	}
	return f
}
