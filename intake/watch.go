package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

// Defaults applied by NewWatcher to zero WatcherConfig fields.
const (
	DefaultBatchSize      = 100
	DefaultPollInterval   = 30 * time.Second
	DefaultMaxMessageSize = 25 << 20 // 25 MiB
	DefaultCommandTimeout = 2 * time.Minute
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = time.Minute
)

const (
	// maxIdleDuration bounds one IDLE command: RFC 9051 asks clients to
	// re-issue IDLE at least every 29 minutes, and some NATs drop quiet
	// connections much sooner.
	maxIdleDuration = 25 * time.Minute
	// noopInterval keeps a connection without IDLE alive (and checks it is
	// alive) when the poll interval is longer than this.
	noopInterval = 5 * time.Minute
	// dialTimeout bounds the TCP connect.
	dialTimeout = 30 * time.Second
)

// Delivery is one mail as fetched from a mailbox, handed to a Handler before
// the watcher marks it on the server.
type Delivery struct {
	// Mailbox is WatcherConfig.Name (the configured mailbox, not the IMAP folder).
	Mailbox string
	// UIDValidity and UID identify the mail within the folder. Within one
	// Watcher, deliveries of one UIDVALIDITY come in ascending UID order.
	UIDValidity, UID uint32
	// Raw is the mail as stored on the server (RFC 5322, CRLF line ends).
	// It holds at most WatcherConfig.MaxMessageSize bytes: a larger mail is
	// cut there (see Truncated). It is empty when the server returned no
	// content for the mail.
	Raw []byte
	// Size is the real size of the mail in bytes, also when Raw is cut.
	Size int64
	// Truncated reports that Raw holds only the first MaxMessageSize bytes
	// of a larger mail; the handler records it with a note instead of parsing
	// it as whole.
	Truncated bool
	// BodyStructure is the server's BODYSTRUCTURE for a mail already known
	// to be too large before fetching (nil otherwise), so the handler can
	// list attachments that lie beyond the cut with their names and sizes.
	BodyStructure imap.BodyStructure
	// Flags are the mail's flags when it was fetched (\Seen may be set by a
	// person reading the mailbox elsewhere; the mail is ingested anyway).
	Flags []imap.Flag
	// InternalDate is the server's arrival time of the mail.
	InternalDate time.Time
}

// Handler commits fetched mail. The watcher never decides what a mail means.
type Handler interface {
	// Cursor returns the last committed (UIDVALIDITY, UID) of a mailbox;
	// ok=false when none.
	Cursor(ctx context.Context, mailbox string) (uidValidity, lastUID uint32, ok bool, err error)
	// Deliver commits one mail and advances the cursor in the same
	// transaction; it is idempotent for a (mailbox, uidvalidity, uid) seen
	// before. An error means not committed: the watcher retries later and
	// does not mark the mail on the server.
	Deliver(ctx context.Context, d Delivery) error
}

// BatchHandler is implemented by handlers that can commit several mails in
// one transaction, which is what lets a backlog be ingested faster than
// one commit per mail allows.
type BatchHandler interface {
	// DeliverBatch commits ds in order. It returns how many of them, from
	// the start, were committed; err says why the next one was not.
	DeliverBatch(ctx context.Context, ds []Delivery) (committed int, err error)
}

// commitBatchBytes caps the raw bytes held for one DeliverBatch, so memory
// stays bounded however large the backlog.
const commitBatchBytes = 8 << 20

// fetchBatches is how many commit batches one FETCH asks for: the server
// keeps sending the next batch while the handler commits one, and the
// mails are marked once per FETCH.
const fetchBatches = 10

// MarkTracker is implemented by handlers that remember which committed
// mails have been marked on the server (\Seen or moved). With it, marking
// that a crash interrupted is finished on the next connection in either
// mode, and a mail a person later marks unread again stays unread.
type MarkTracker interface {
	// Unmarked lists committed UIDs of the mailbox not yet marked.
	Unmarked(ctx context.Context, mailbox string, uidValidity uint32) ([]uint32, error)
	// Marked records that these UIDs were marked on the server.
	Marked(ctx context.Context, mailbox string, uidValidity uint32, uids []uint32) error
}

// WatcherConfig configures one Watcher (one IMAP folder of one mailbox).
type WatcherConfig struct {
	// Name is the configured mailbox name; it is Delivery.Mailbox and the
	// key of the handler's cursor.
	Name string
	Host string
	// Port defaults to 993 for tls and 143 otherwise.
	Port int
	// Security is tls (implicit TLS, the default), starttls or none; none is
	// refused unless Host is a loopback address or "localhost".
	Security string
	Username string
	// Auth, when set, authenticates with the SASL client it returns (called
	// once per connection, so it can refresh an OAuth2 token); when nil the
	// watcher uses LOGIN with Username and Password.
	Auth     func(ctx context.Context) (sasl.Client, error)
	Password string
	// Folder is the folder to watch (default INBOX).
	Folder string
	// ProcessedFolder, when set, receives mails after they are committed
	// (created when missing); when empty, committed mails get \Seen instead.
	ProcessedFolder string
	// IDLE waits with IMAP IDLE between polls when the server supports it.
	IDLE bool
	// PollInterval is the time between polls, and the safety poll while
	// idling (default 30s).
	PollInterval time.Duration
	// MaxMessageSize bounds the bytes of one mail held in memory (default
	// 25 MiB). A mail known to be larger from its RFC822.SIZE is fetched as
	// its first MaxMessageSize bytes plus its BODYSTRUCTURE; a literal that
	// turns out larger than announced is read up to the limit and the rest is
	// discarded from the stream. Either way the handler gets Truncated=true,
	// the cut Raw and the real Size.
	MaxMessageSize int64
	// BatchSize is the number of mails per commit (default 100); a FETCH
	// asks for up to fetchBatches of them.
	BatchSize int
	// TLSConfig is used for tls and starttls (ServerName defaults to Host).
	TLSConfig *tls.Config
	Logger    *slog.Logger
	// CommandTimeout is the watchdog: when a command (or the TLS handshake,
	// or the greeting) gets no byte from the server for this long, the
	// connection is closed and re-opened (default 2m).
	CommandTimeout time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff (with jitter)
	// between reconnects and between retries of a failing Deliver
	// (defaults 1s and 1m).
	BackoffMin, BackoffMax time.Duration
}

// Validate reports a configuration the watcher refuses to run with,
// including plaintext IMAP to a host that is not loopback.
func (cfg WatcherConfig) Validate() error {
	if cfg.Name == "" {
		return errors.New("imap watcher: mailbox name is empty")
	}
	if cfg.Host == "" {
		return fmt.Errorf("imap watcher %s: host is empty", cfg.Name)
	}
	switch cfg.Security {
	case "", "tls", "starttls":
	case "none":
		if !config.IsLoopback(cfg.Host) {
			return fmt.Errorf("imap watcher %s: security none is only allowed to a loopback host, not %q", cfg.Name, cfg.Host)
		}
	default:
		return fmt.Errorf("imap watcher %s: unknown security %q (want tls, starttls or none)", cfg.Name, cfg.Security)
	}
	if cfg.Auth == nil && cfg.Username == "" {
		return fmt.Errorf("imap watcher %s: username is empty", cfg.Name)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return fmt.Errorf("imap watcher %s: bad port %d", cfg.Name, cfg.Port)
	}
	if cfg.ProcessedFolder != "" && strings.EqualFold(cfg.ProcessedFolder, cfg.folder()) {
		return fmt.Errorf("imap watcher %s: processed folder is the watched folder", cfg.Name)
	}
	return nil
}

func (cfg WatcherConfig) folder() string {
	if cfg.Folder == "" {
		return "INBOX"
	}
	return cfg.Folder
}

// WatcherState is a snapshot of a watcher for /readyz and metrics.
type WatcherState struct {
	Name string
	// Connected: logged in and the folder selected.
	Connected bool
	// Idling: an IDLE command is running.
	Idling bool
	// LastError is the last connection, server or handler error ("" when
	// the last pass succeeded).
	LastError   string
	LastErrorAt time.Time
	// Err is that error itself ("" LastError: nil), for callers that must
	// classify it rather than show its text (which names the server).
	Err error
	// LastSync is when the last pass completed without error.
	LastSync time.Time
	// UIDValidity of the folder on the current or last connection.
	UIDValidity uint32
	// Delivered counts mails committed by the handler since start.
	Delivered uint64
	// Backlog is the number of mails the current pass found after the
	// cursor and has not committed yet (0 between passes).
	Backlog int
	// Connects counts successful logins since start.
	Connects uint64
}

// Watcher watches one IMAP folder and hands every mail to a Handler. It only
// marks a mail (moves it to the processed folder or sets \Seen) after the
// handler committed it, so a crash at any point re-fetches rather than loses
// mail; the handler's idempotence removes the duplicates.
type Watcher struct {
	cfg  WatcherConfig
	h    Handler
	log  *slog.Logger
	poke chan struct{}

	mu    sync.Mutex
	state WatcherState
}

// NewWatcher returns a watcher for cfg with defaults applied. It does not
// connect; Run does.
func NewWatcher(cfg WatcherConfig, h Handler) *Watcher {
	if cfg.Security == "" {
		cfg.Security = "tls"
	}
	if cfg.Port == 0 {
		cfg.Port = 143
		if cfg.Security == "tls" {
			cfg.Port = 993
		}
	}
	cfg.Folder = cfg.folder()
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{
		cfg:   cfg,
		h:     h,
		log:   log.With("mailbox", cfg.Name, "folder", cfg.Folder),
		poke:  make(chan struct{}, 1),
		state: WatcherState{Name: cfg.Name},
	}
}

// Poke asks for an immediate poll (or an immediate reconnect attempt while
// waiting to reconnect). It never blocks.
func (w *Watcher) Poke() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// State returns a snapshot of the watcher's state. It is safe to call from
// any goroutine.
func (w *Watcher) State() WatcherState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

func (w *Watcher) update(f func(s *WatcherState)) {
	w.mu.Lock()
	f(&w.state)
	w.mu.Unlock()
}

func (w *Watcher) recordError(err error) {
	w.update(func(s *WatcherState) {
		s.LastError, s.Err = err.Error(), err
		s.LastErrorAt = time.Now()
	})
}

// Run watches the folder until ctx is done, reconnecting with exponential
// backoff and jitter after any connection or server error. It returns nil
// when ctx is cancelled and an error only for an invalid configuration,
// before connecting. Run one Run per Watcher at a time.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.cfg.Validate(); err != nil {
		return err
	}
	attempt := 0
	for {
		synced, err := w.runSession(ctx)
		w.update(func(s *WatcherState) { s.Connected, s.Idling = false, false })
		if ctx.Err() != nil {
			return nil
		}
		if synced {
			// The server worked for a while: start the backoff afresh.
			attempt = 0
		}
		attempt++
		delay := w.backoff(attempt)
		w.recordError(err)
		w.log.Warn("imap connection ended, reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.poke:
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff returns the delay before retry number attempt (1-based):
// BackoffMin doubled per attempt up to BackoffMax, then scaled by a random
// factor in [0.5, 1) so that many watchers do not reconnect in lockstep.
func (w *Watcher) backoff(attempt int) time.Duration {
	d := w.cfg.BackoffMin
	for i := 1; i < attempt && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}
