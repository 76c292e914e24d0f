package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/intake/casework"
	"github.com/casemail/casemail/intake/oauth2"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("serve", stderr)
	if _, err := f.parse(args); err != nil {
		return err
	}
	cfg, err := loadDaemonConfig(*f.config)
	if err != nil {
		return err
	}
	if err := needDatabaseURL(cfg); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	setMemoryLimit()
	st, err := store.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := newDaemon(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	return d.run(ctx)
}

// newLogger builds the slog logger the config asks for.
func newLogger(cfg *config.Daemon, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daemon is one running casemail: its parts and their shared state.
type daemon struct {
	cfg       *config.Daemon
	log       *slog.Logger
	store     *store.Store
	keys      *notify.Keys
	templates *notify.Templates
	proc      *intake.Processor
	watchers  []*intake.Watcher
	leases    *intake.Leases // runs the watchers of the mailboxes this instance holds
	sender    *notify.Sender
	scheduler *notify.Scheduler // SLA check, reminders, digests
	alerts    *notify.Alerter   // mails the support manager about failed mail and sign-ins
	oauth     []*oauth2.Manager

	rules     atomic.Pointer[config.Rules]
	rulesErr  atomic.Value // string: the last reload's error, "" when the rules in force are current
	rulesMod  time.Time
	rulesMu   sync.Mutex
	listening chan string  // receives the HTTP address once listening (tests)
	metrics   *metrics     // what /metrics serves
	dbProblem atomic.Value // string: what /readyz last said of the database, "" when up
}

// memoryLimit is the soft heap limit serve and dev set unless GOMEMLIMIT
// is given: with it one large mail (a 25 MB attachment is held raw, decoded
// and encoded for PostgreSQL at once) does not let the heap double before
// the next collection. It is soft: the heap may exceed it when it must.
const memoryLimit = 96 << 20

// gcPercent replaces GOGC's default of 100 unless GOGC is given. The
// daemon's live heap is a few MiB, so at 100 it collects after every few
// MiB of garbage, a tenth of intake's CPU during a backlog; with the soft
// limit above bounding the heap, collecting less often costs no memory
// beyond it.
const gcPercent = 400

func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// newDaemon migrates the database, loads rules, keys and templates, and
// builds every part. Nothing runs until run.
func newDaemon(ctx context.Context, cfg *config.Daemon, st *store.Store, log *slog.Logger) (*daemon, error) {
	st.SetLogger(log)
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, log: log, store: st, listening: make(chan string, 1)}
	st.Instance = instanceID()
	if err := st.Heartbeat(ctx, st.Instance); err != nil {
		return nil, err
	}
	d.rulesErr.Store("")
	rules, err := loadRules(cfg)
	if err != nil {
		return nil, err
	}
	d.rules.Store(rules)
	if fi, err := os.Stat(cfg.RulesFile); err == nil {
		d.rulesMod = fi.ModTime()
	}
	if d.keys, err = notify.LoadKeys(cfg.SecretFile); err != nil {
		return nil, err
	}
	if err := useSealer(ctx, st, d.keys, log); err != nil {
		return nil, err
	}
	if d.templates, err = notify.LoadTemplates(cfg.Templates); err != nil {
		return nil, err
	}
	d.alerts = &notify.Alerter{Mailer: &notify.Mailer{Config: cfg, Keys: d.keys, Templates: d.templates},
		Store: st, Rules: d.rules.Load, Log: log.With("part", "alerts")}
	smtpCfg := smtpConfig(cfg)
	smtpCfg.LoopID = d.keys.LoopID()
	if cfg.SMTP.OAuth2 != nil {
		m := oauth2.NewManager(st, *cfg.SMTP.OAuth2, oauth2.SMTP(), oauth2.Options{Logger: log.With("part", "oauth2", "for", "smtp"), OnChange: d.oauth2Changed})
		d.oauth = append(d.oauth, m)
		smtpCfg.TokenSource = m.Token
	} else if smtpCfg.Password, err = cfg.SMTP.Secret(); err != nil {
		return nil, fmt.Errorf("smtp password: %w", err)
	}
	d.sender = notify.NewSender(st, smtpCfg, log.With("part", "outbox"))
	d.sender.HTML = d.templates.LayoutHTML
	d.sender.OnFailure = d.alerts.DeliveryFailed
	d.alerts.Wake = d.sender.Wake
	mailer := &notify.Mailer{Config: cfg, Keys: d.keys, Templates: d.templates}
	desk := &casework.Desk{Config: cfg, Mailer: mailer, Log: log.With("part", "casework")}
	d.scheduler = &notify.Scheduler{Store: st, Rules: d.rules.Load, Log: log.With("part", "scheduler"),
		Location: cfg.Location, Committed: d.sender.Wake,
		Jobs: d.jobs(desk, mailer)}
	d.proc = &intake.Processor{
		Store: st, Config: cfg, Rules: d.rules.Load, Keys: d.keys, Templates: d.templates, Desk: desk,
		Log: log.With("part", "intake"), Committed: d.sender.Wake,
	}
	for _, mb := range cfg.Mailboxes {
		wc := watcherConfig(mb, log)
		if mb.IMAP.OAuth2 != nil {
			m := oauth2.NewManager(st, *mb.IMAP.OAuth2, oauth2.IMAP(mb.Name),
				oauth2.Options{Logger: log.With("part", "oauth2", "mailbox", mb.Name), OnChange: d.oauth2Changed})
			d.oauth = append(d.oauth, m)
			wc.Auth = m.SASLFunc(mb.IMAP.Username)
		} else if wc.Password, err = mb.IMAP.Secret(); err != nil {
			return nil, fmt.Errorf("mailbox %s: imap password: %w", mb.Name, err)
		}
		d.watchers = append(d.watchers, intake.NewWatcher(wc, d.proc))
	}
	d.leases = &intake.Leases{Store: st, Instance: st.Instance, Watchers: d.watchers, Log: log.With("part", "leases")}
	d.metrics = newMetrics(d)
	return d, nil
}

// run starts the parts in order, each once the one before it runs, and
// returns when ctx is cancelled or one fails, after stopping them in
// reverse: intake stops taking mail first, the outbox and the scheduler
// next, and the instance retires last, so that what it claimed and did not
// finish is free at once. A part that fails to start (a taken HTTP port)
// stops those started before it.
func (d *daemon) run(ctx context.Context) error {
	l := &lifetime{log: d.log, stopTimeout: 5 * time.Second}
	// This instance's row: every claim is made in its name.
	l.add(part{name: "instance",
		start: func(ctx context.Context) error { return d.store.Heartbeat(ctx, d.store.Instance) },
		run:   func(ctx context.Context) error { d.heartbeat(ctx); return nil },
		stop: func(ctx context.Context) error {
			if err := d.store.Retire(ctx, d.store.Instance); err != nil {
				d.log.Warn("could not retire this instance; its unfinished mail is taken over after its heartbeat times out", "error", err)
			}
			return nil
		}})
	// HTTP early, so that /healthz, /readyz and /metrics see the rest start.
	var ln net.Listener
	l.add(part{name: "http",
		start: func(context.Context) error {
			var err error
			if ln, err = net.Listen("tcp", d.cfg.HTTP.Listen); err != nil {
				return fmt.Errorf("http listen on %s: %w", d.cfg.HTTP.Listen, err)
			}
			d.listening <- ln.Addr().String()
			return nil
		},
		run: func(ctx context.Context) error { return serveHTTP(ctx, ln, d.httpHandler()) }})
	for _, m := range d.oauth {
		l.add(part{name: "oauth2 " + m.Account().String(), run: m.Run})
	}
	l.add(part{name: "outbox", run: d.sender.Run})
	l.add(part{name: "scheduler", run: d.scheduler.Run})
	// The mailboxes this instance holds the lease of (intake.Leases).
	l.add(part{name: "mailboxes", run: d.leases.Run})
	l.add(part{name: "rules watch", run: func(ctx context.Context) error { d.watchRules(ctx); return nil }})
	err := l.run(ctx, func() {
		d.log.Info("casemail running", "version", version, "http", ln.Addr().String(),
			"mailboxes", len(d.watchers), "instance", d.store.Instance, "rules", d.cfg.RulesFile)
	})
	d.log.Info("casemail stopped")
	return err
}

// serveHTTP serves on ln until ctx ends, then shuts the server down,
// giving requests under way five seconds.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err // Serve returns only on failure before Shutdown
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// oauth2Changed hands a sign-in's new health to the alert policy.
func (d *daemon) oauth2Changed(st oauth2.State) {
	d.alerts.SignInChanged(notify.SignIn{Purpose: st.Purpose, Name: st.Name, OK: st.OK, Stale: st.Stale,
		LastError: st.LastError, Warning: st.Warning, LastRefresh: st.LastRefresh})
}

// heartbeat tells the other instances that this one lives, so that mail it
// claimed is not taken over while it is being sent — and is at once when
// this process dies.
func (d *daemon) heartbeat(ctx context.Context) {
	t := time.NewTicker(store.HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.store.Heartbeat(ctx, d.store.Instance); err != nil && ctx.Err() == nil {
				d.log.Warn("heartbeat failed", "error", err)
			}
		}
	}
}

// instanceID names this process among the instances sharing the database.
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// watchRules reloads the rules on SIGHUP and when the file changes. A bad
// file keeps the last good rules in force and says what is wrong.
func (d *daemon) watchRules(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reloadRules("SIGHUP")
			for _, w := range d.watchers {
				w.Poke()
			}
		case <-tick.C:
			fi, err := os.Stat(d.cfg.RulesFile)
			d.rulesMu.Lock()
			changed := err == nil && !fi.ModTime().Equal(d.rulesMod)
			d.rulesMu.Unlock()
			if changed {
				d.reloadRules("file changed")
			}
		}
	}
}

func (d *daemon) reloadRules(why string) {
	d.rulesMu.Lock()
	defer d.rulesMu.Unlock()
	if fi, err := os.Stat(d.cfg.RulesFile); err == nil {
		d.rulesMod = fi.ModTime()
	}
	rules, err := loadRules(d.cfg)
	d.metrics.rulesReloaded(err)
	if err != nil {
		d.rulesErr.Store(err.Error())
		d.log.Error("rules not reloaded: keeping the last good rules", "why", why, "file", d.cfg.RulesFile,
			"errors", strings.Split(err.Error(), "\n"))
		return
	}
	d.rules.Store(rules)
	d.rulesErr.Store("")
	d.log.Info("rules reloaded", "why", why, "file", d.cfg.RulesFile)
}

// loadRules loads the rules file and checks it against casemail.yaml (a
// mailbox's default service must exist), then compiles it for routing.
func loadRules(cfg *config.Daemon) (*config.Rules, error) {
	rules, err := config.LoadRules(cfg.RulesFile)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckRules(rules); err != nil {
		return nil, err
	}
	routing.Prepare(rules)
	return rules, nil
}

// readiness is what /readyz reports.
type readiness struct {
	Ready     bool              `json:"ready"`
	Database  string            `json:"database"`
	Rules     string            `json:"rules"`
	Mailboxes map[string]string `json:"mailboxes"`
	OAuth2    map[string]string `json:"oauth2,omitempty"`
}

func (d *daemon) readiness(ctx context.Context) readiness {
	r := readiness{Ready: true, Database: "ok", Rules: "ok", Mailboxes: map[string]string{}}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := d.store.Ping(pctx)
	if err != nil {
		r.Ready, r.Database = false, "down: "+problem(err)
	}
	d.noteDatabase(err)
	if e, _ := d.rulesErr.Load().(string); e != "" {
		// The old rules still route, so this is reported without making the
		// instance unready: taking it out of service would stop intake.
		r.Rules = "last reload failed, previous rules in force: " + e
	}
	for _, m := range d.oauth {
		st := m.State()
		if r.OAuth2 == nil {
			r.OAuth2 = map[string]string{}
		}
		key := st.Purpose + ":" + st.Name
		switch {
		case !st.OK:
			r.Ready = false
			r.OAuth2[key] = "failing: " + st.LastError
		case st.Stale:
			r.OAuth2[key] = "warning: " + st.Warning
		default:
			r.OAuth2[key] = "ok, expires " + st.Expires.Format(time.RFC3339)
		}
	}
	var holders map[string]string
	for i, w := range d.watchers {
		st := w.State()
		name := d.cfg.Mailboxes[i].Name
		switch {
		case !d.leases.Watching(name):
			// Another instance's business; `casemail status` shows them all.
			if holders == nil {
				holders = d.mailboxHolders(pctx, r.Database == "ok")
			}
			r.Mailboxes[name] = holders[name]
		case st.Connected:
			r.Mailboxes[name] = "connected"
		case st.LastError != "":
			r.Ready = false
			r.Mailboxes[name] = "disconnected: " + problem(st.Err)
		default:
			r.Mailboxes[name] = "connecting"
		}
	}
	return r
}

func (d *daemon) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := d.readiness(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(rd) //nolint:errcheck
	})
	mux.Handle("GET /metrics", d.metrics.handler())
	return mux
}
