package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/dovecottest"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store/storetest"
	"github.com/casemail/casemail/store/testdb"
)

// The benchmarks below run against the real Dovecot and PostgreSQL the
// test suite starts. Run them with
//
//	go test ./intake -run '^$' -bench 'Backlog|IdleLatency' -benchtime 1x
//
// CASEMAIL_BENCH_MAILS sets the backlog size (default 10000).

const benchUser = "helpdesk@example.org"

// benchDovecot starts Dovecot; without it the benchmark skips, or fails
// under CI (dovecottest.Start).
func benchDovecot(b *testing.B) *dovecottest.Server {
	return dovecottest.Start(b, dovecottest.User{Name: benchUser, Password: "bench"})
}

// benchMail is a small, realistic request from one of many senders.
func benchMail(i int) []byte {
	return []byte(fmt.Sprintf("From: Person %d <person%d@unit%d.example.no>\r\nTo: %s\r\n"+
		"Subject: Spørsmål %d om e-håndbok og passord\r\nMessage-ID: <bench-%d@example.no>\r\n"+
		"Date: Mon, 23 Nov 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"Hei,\r\n\r\njeg får ikke åpnet rutinen for avvik (sak %d). Kan dere hjelpe?\r\n\r\n"+
		"Hilsen Person %d\r\n", i, i, i%300, benchUser, i, i, i, i))
}

// bigMail carries a 25 MB attachment.
func bigMail() []byte {
	data := make([]byte, 25<<20)
	rand.Read(data) //nolint:errcheck
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: big@example.no\r\nTo: %s\r\nSubject: scan\r\nMessage-ID: <big@example.no>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"+
		"Content-Type: text/plain\r\n\r\nSee the scan.\r\n--B\r\nContent-Type: application/pdf; name=scan.pdf\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", benchUser)
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		buf.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	buf.WriteString(enc + "\r\n--B--\r\n")
	return buf.Bytes()
}

func appendAll(b *testing.B, c *imapclient.Client, mails int, big bool, next func(i int) []byte) {
	for i := 0; i < mails; i++ {
		raw := next(i)
		if big && i == mails/2 {
			raw = bigMail()
		}
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			b.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchUsage records what a benchmark run costs besides time: CPU of this
// process and of the PostgreSQL backends, deadlocks, retried batches and
// peak RSS.
type benchUsage struct {
	pool         storetest.Querier
	proc         *Processor
	retries      *benchRetries
	cpu0, pg0    time.Duration
	pgErr        error
	deadlocks0   int64
	deadlocksErr error
}

func startUsage(b *testing.B, p *Processor) *benchUsage {
	ctx := context.Background()
	u := &benchUsage{pool: p.Store.DB(), proc: p, retries: &benchRetries{}}
	p.Log = slog.New(u.retries)
	u.deadlocks0, u.deadlocksErr = storetest.Deadlocks(ctx, u.pool)
	u.pg0, u.pgErr = storetest.BackendCPU(ctx, u.pool)
	u.cpu0, _ = storetest.ProcessCPU(0)
	storetest.ResetPeak()
	return u
}

// report adds the run's figures to the benchmark, per 1,000 of mails.
func (u *benchUsage) report(b *testing.B, mails int) {
	ctx := context.Background()
	cpu1, err := storetest.ProcessCPU(0)
	if err == nil {
		b.ReportMetric((cpu1-u.cpu0).Seconds()*1000/float64(mails), "CPU-s/1k-mails")
	}
	if pg1, err := storetest.BackendCPU(ctx, u.pool); err == nil && u.pgErr == nil {
		b.ReportMetric((pg1-u.pg0).Seconds()*1000/float64(mails), "PG-CPU-s/1k-mails")
	}
	_, peak, _ := storetest.Memory(0)
	b.ReportMetric(peak, "peak-RSS-MiB")
	if d1, err := storetest.Deadlocks(ctx, u.pool); err == nil && u.deadlocksErr == nil {
		b.ReportMetric(float64(d1-u.deadlocks0), "deadlocks")
	}
	// Transactions that collided and ran again (Stats.Conflicts, what
	// casemail_intake_conflicts_total shows), and batches redone mail by mail.
	var conflicts int64
	for _, n := range u.proc.Stats().Conflicts {
		conflicts += n
	}
	b.ReportMetric(float64(conflicts), "retries")
	b.ReportMetric(float64(u.retries.n.Load()), "one-by-one")
}

// benchRetries is the benchmark processor's log: it counts batches that
// failed and were delivered one by one instead, and drops the rest.
type benchRetries struct{ n atomic.Int64 }

func (h *benchRetries) Enabled(context.Context, slog.Level) bool { return true }
func (h *benchRetries) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *benchRetries) WithGroup(string) slog.Handler            { return h }
func (h *benchRetries) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "one by one") {
		h.n.Add(1)
	}
	return nil
}

// benchProcessor builds a Processor on a fresh database with a routing
// set-up that exercises unit, service, round robin and both mails. With
// defaults it runs casemail.yaml's defaults (acknowledgement limit
// included); without, the acknowledgement limit is raised out of the way.
func benchProcessor(b *testing.B, addr string, defaults bool) *Processor {
	host, port, _ := strings.Cut(addr, ":")
	cfg, err := config.ParseDaemon("casemail.yaml", []byte(fmt.Sprintf(`database: {url: "postgres://unused"}
rules: rules.yaml
mailboxes:
  - name: helpdesk
    address: %s
    imap: {host: %s, port: %s, security: none, username: %s, password: bench, poll_interval: 1h}
    max_message_size: 30MB
smtp: {host: 127.0.0.1, port: 25, security: none, from: "Helpdesk <%s>"}
secret_file: secret
%s`, benchUser, host, port, benchUser, benchUser, map[bool]string{false: "ack_limit_per_hour: 100\nack_limit_per_mailbox: 0\n"}[defaults])),
		func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	rules, err := config.ParseRules("rules.yaml", []byte(procRules))
	if err != nil {
		b.Fatal(err)
	}
	st, _ := testdb.Open(b)
	keys, _ := notify.NewKeys([]byte("0123456789abcdef0123456789abcdef-bench"))
	tmpl, err := notify.LoadTemplates("")
	if err != nil {
		b.Fatal(err)
	}
	return &Processor{Store: st, Config: cfg, Rules: func() *config.Rules { return rules }, Keys: keys,
		Templates: tmpl, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func benchWatcher(p *Processor, addr string) *Watcher {
	host, port, _ := strings.Cut(addr, ":")
	portN, _ := strconv.Atoi(port)
	return NewWatcher(WatcherConfig{Name: "helpdesk", Host: host, Port: portN, Security: "none",
		Username: benchUser, Password: "bench", IDLE: true, PollInterval: time.Hour,
		MaxMessageSize: 30 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, p)
}

// BenchmarkIngestBacklog ingests a backlog from Dovecot into committed,
// routed cases and, in the same run, times a bare UID FETCH of the same
// mailbox, reporting both rates, their ratio, CPU per 1,000 mails (this
// process and the PostgreSQL backends), deadlocks, retried transactions
// and peak RSS. Two lines: "realistic" is helpdesk mail (helpdeskMail:
// skewed senders, threads within and across batches, Cc's, attachments,
// automatic mail, large mails) under the default configuration;
// "uniform" is every mail a new request from a new sender with the
// acknowledgement limit out of the way, which hides contention. Both hold
// one 25 MB attachment.
func BenchmarkIngestBacklog(b *testing.B) {
	mails := 10000
	if v, err := strconv.Atoi(os.Getenv("CASEMAIL_BENCH_MAILS")); err == nil && v > 0 {
		mails = v
	}
	b.Run("realistic", func(b *testing.B) {
		g := newHelpdeskMail(benchUser, 1, uint64(mails/2))
		ingestBacklog(b, mails, true, func(int) []byte { return g.Next() })
		b.Logf("%d mails from %d senders: %d replies/follow-ups, %d with Cc, %d attachments, %d automatic, %d large",
			mails, g.Senders(), g.Replies, g.Cc, g.Attachments, g.Automatic, g.Large)
	})
	b.Run("uniform", func(b *testing.B) { ingestBacklog(b, mails, false, benchMail) })
}

func ingestBacklog(b *testing.B, mails int, realistic bool, next func(int) []byte) {
	// casemail serve sets this soft limit and GC percentage (cmd/casemail:
	// memoryLimit, gcPercent), so that one large mail does not double the
	// heap before a collection and a small live heap is not collected
	// after every few MiB.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(96 << 20))
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	dc := benchDovecot(b)
	c := dc.Login(b, benchUser)
	appendAll(b, c, mails, os.Getenv("CASEMAIL_BENCH_NOBIG") == "", next)

	// The bare fetch: what the IMAP server and client alone can do.
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fetched := 0
	cmd := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if bs, ok := item.(imapclient.FetchItemDataBodySection); ok && bs.Literal != nil {
				io.Copy(io.Discard, bs.Literal) //nolint:errcheck
				fetched++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	bare := float64(fetched) / time.Since(start).Seconds()
	c.Close()

	b.ResetTimer()
	var rate float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := benchProcessor(b, dc.Addr(), realistic)
		w := benchWatcher(p, dc.Addr())
		u := startUsage(b, p)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- w.Run(ctx) }()
		waitDelivered(b, w, mails)
		elapsed := time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		rate = float64(mails) / elapsed.Seconds()
		u.report(b, mails)
		var in, cases int
		p.Store.DB().QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE direction = 'in'`).Scan(&in) //nolint:errcheck
		p.Store.DB().QueryRow(context.Background(), `SELECT count(*) FROM cases`).Scan(&cases)                        //nolint:errcheck
		if in != mails || (!realistic && cases != mails) {
			b.Fatalf("%d mails stored on %d cases, want %d mails", in, cases, mails)
		}
		b.ReportMetric(float64(cases), "cases")
	}
	b.ReportMetric(rate, "mails/s")
	b.ReportMetric(bare, "fetch-mails/s")
	b.ReportMetric(rate/bare, "ratio")
}

// waitDelivered waits until the watcher has committed n mails, failing
// when it makes no progress for a minute (a handler error, a lost server).
func waitDelivered(b *testing.B, w *Watcher, n int) {
	last, since := uint64(0), time.Now()
	for {
		st := w.State()
		if st.Delivered >= uint64(n) {
			return
		}
		if st.Delivered != last {
			last, since = st.Delivered, time.Now()
		} else if time.Since(since) > time.Minute {
			b.Fatalf("no progress for a minute at %d of %d mails; last error: %s", last, n, st.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkIdleLatency appends mail at 50 mails/s to a mailbox the watcher
// idles on and measures arrival (APPEND done) to acknowledgement queued.
func BenchmarkIdleLatency(b *testing.B) {
	dc := benchDovecot(b)
	const mails, perSecond = 250, 50
	var p50, p99 time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := benchProcessor(b, dc.Addr(), false)
		w := benchWatcher(p, dc.Addr())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		for !w.State().Idling {
			time.Sleep(5 * time.Millisecond)
		}
		c := dc.Login(b, benchUser)
		b.StartTimer()
		sent := map[string]time.Time{}
		tick := time.NewTicker(time.Second / perSecond)
		for j := 0; j < mails; j++ {
			<-tick.C
			id := fmt.Sprintf("idle-%d-%d", i, j)
			raw := bytes.Replace(benchMail(j), []byte(fmt.Sprintf("bench-%d@", j)), []byte(id+"@"), 1)
			cmd := c.Append("INBOX", int64(len(raw)), nil)
			cmd.Write(raw) //nolint:errcheck
			cmd.Close()    //nolint:errcheck
			if _, err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			sent[id+"@example.no"] = time.Now()
		}
		tick.Stop()
		waitDelivered(b, w, mails)
		b.StopTimer()
		cancel()
		<-done
		c.Close()
		rows, err := p.Store.DB().Query(context.Background(), `SELECT m.message_id, o.created_at
			FROM outbox o JOIN messages m ON m.case_id = o.case_id AND m.direction = 'in'
			WHERE o.kind = 'ack'`)
		if err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				b.Fatal(err)
			}
			if t0, ok := sent[id]; ok {
				lat = append(lat, max(at.Sub(t0), 0))
			}
		}
		rows.Close()
		if len(lat) != mails {
			b.Fatalf("%d acknowledgements matched, want %d", len(lat), mails)
		}
		slices.Sort(lat)
		p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
}

// BenchmarkDeliverBatch commits mails straight into PostgreSQL through the
// Processor, 100 a transaction, without IMAP: the database side of intake.
// Its lines are as BenchmarkIngestBacklog's.
func BenchmarkDeliverBatch(b *testing.B) {
	b.Run("realistic", func(b *testing.B) {
		g := newHelpdeskMail(benchUser, 1, uint64(max(b.N/2, 2)))
		deliverBatches(b, true, func(int) []byte { return g.Next() })
	})
	b.Run("uniform", func(b *testing.B) { deliverBatches(b, false, benchMail) })
}

func deliverBatches(b *testing.B, realistic bool, next func(int) []byte) {
	p := benchProcessor(b, "127.0.0.1:143", realistic)
	const batch = 100
	// The mails are made before the clock starts.
	all := make([]Delivery, b.N)
	for i := range all {
		raw := next(i)
		all[i] = Delivery{Mailbox: "helpdesk", UIDValidity: 1, UID: uint32(i + 1), Raw: raw, Size: int64(len(raw))}
	}
	u := startUsage(b, p)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		ds := all[i:min(i+batch, b.N)]
		if n, err := p.DeliverBatch(context.Background(), ds); err != nil || n != len(ds) {
			b.Fatalf("DeliverBatch: %d of %d, %v", n, len(ds), err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
	u.report(b, b.N)
}
