package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// SMTPConfig says how to reach the submission server.
type SMTPConfig struct {
	Host string
	Port int // 0: 465 for tls, 587 for starttls, 25 for none
	// Security is tls (implicit TLS), starttls (required, never
	// downgraded) or none (plain text, allowed only to a loopback host).
	Security  string
	Username  string // empty: no authentication
	Password  string
	TLSConfig *tls.Config // nil: system roots, ServerName = Host
	HeloName  string      // empty: go-mail's default (the local host name)
	// Timeout bounds dialing and each SMTP command; 0 means 30s.
	Timeout time.Duration
	// TokenSource, when set, authenticates with XOAUTH2: it is asked for a
	// fresh OAuth2 access token for every connection, and Password is
	// ignored.
	TokenSource func(ctx context.Context) (string, error)
	// LoopID is this deployment's identity (Keys.LoopID), put in LoopHeader
	// of every mail; required to send.
	LoopID string
}

// validateSending is Validate plus what sending needs beyond a connection.
func (c SMTPConfig) validateSending() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.LoopID == "" {
		return errors.New("smtp: no loop identity (LoopID) to mark our own mail with")
	}
	return nil
}

// Validate checks the configuration without connecting.
func (c SMTPConfig) Validate() error {
	if c.Host == "" {
		return errors.New("smtp: no host")
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("smtp: port %d out of range", c.Port)
	}
	switch c.Security {
	case "tls", "starttls":
	case "none":
		if !config.IsLoopback(c.Host) {
			return fmt.Errorf("smtp: security none is allowed only to a loopback host, not %q (use tls or starttls)", c.Host)
		}
	default:
		return fmt.Errorf("smtp: security %q: want tls, starttls or none", c.Security)
	}
	return nil
}

// Sender delivers the outbox: it claims due rows, sends them over one
// reused SMTP connection per batch, and records the outcome. Several
// Senders, in one process or many, may share a database; each row is
// claimed by one of them at a time.
//
// Delivery is at least once: a mail is marked sent after the server
// accepted it, so a crash between the two sends it again, with the same
// Message-ID and Date.
type Sender struct {
	st   *store.Store
	cfg  SMTPConfig
	log  *slog.Logger
	wake chan struct{}

	// BatchSize is how many rows one claim takes (default 50).
	BatchSize int
	// Lease is how long a claimed row is ours before another instance may
	// take it over (default 5m). A batch stops early, releasing what it has
	// not tried, when less than twice Timeout of it is left.
	Lease time.Duration
	// PollInterval is how often the queue is checked without a Wake
	// (default 1s).
	PollInterval time.Duration
	// MaxAge ends retries: a mail still failing temporarily this long after
	// it was queued is marked failed (default 5 days, like an MTA queue).
	MaxAge time.Duration
	// OnFailure, if set, is called after a mail is marked failed for good,
	// so that the support manager can be told. It must not block for long.
	OnFailure func(ctx context.Context, row store.OutboxRow, reason string)
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// HTML lays out the HTML part of a mail queued without one from its
	// text part (Templates.LayoutHTML; see RenderQueued); nil sends such
	// mail as text only.
	HTML func(lang, subject, text string) (string, error)

	mu     sync.Mutex // serialises SendOnce within this Sender
	dialer func(ctx context.Context) (*mail.Client, error)
}

// Retry backoff after a temporary failure: 30s, 1m, 2m, … up to 1h.
const (
	retryBase = 30 * time.Second
	retryMax  = time.Hour
)

// NewSender makes a Sender. Nothing connects until Run or SendOnce.
func NewSender(st *store.Store, cfg SMTPConfig, logger *slog.Logger) *Sender {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	s := &Sender{
		st:           st,
		cfg:          cfg,
		log:          logger,
		wake:         make(chan struct{}, 1),
		BatchSize:    50,
		Lease:        5 * time.Minute,
		PollInterval: time.Second,
		MaxAge:       5 * 24 * time.Hour,
		Now:          time.Now,
	}
	s.dialer = s.dial
	return s
}

// Wake makes a running Sender look at the queue now, e.g. right after a
// transaction that queued mail committed. It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is cancelled, then returns nil. Rows claimed but not
// yet tried when it stops are handed back to the queue.
func (s *Sender) Run(ctx context.Context) error {
	if err := s.cfg.validateSending(); err != nil {
		return err
	}
	errDelay := time.Second
	for {
		n, err := s.SendOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := s.PollInterval
		switch {
		case err != nil:
			s.log.Error("outbox: sending batch", "err", err)
			wait = errDelay
			errDelay = min(errDelay*2, time.Minute)
		case n >= s.BatchSize:
			errDelay = time.Second
			continue // more may be due
		default:
			errDelay = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// SendOnce claims one batch of due mail and tries each of it once. It
// returns how many rows it handled (sent, rescheduled or failed). Failures
// of single mails are recorded on their rows, not returned; the error is
// for the queue itself (the database) or ctx. Rows it claimed but did not
// try are handed back to the queue before it returns.
func (s *Sender) SendOnce(ctx context.Context) (handled int, err error) {
	if err := s.cfg.validateSending(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	claimedAt := s.Now()
	rows, err := s.st.ClaimOutbox(ctx, s.BatchSize, s.Lease, claimedAt)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	// Outcomes are recorded even when ctx is cancelled mid-batch: a mail
	// the server accepted must be marked sent.
	bg := context.WithoutCancel(ctx)
	next := 0 // rows[next:] are not tried yet
	var client *mail.Client
	defer func() {
		if client != nil {
			if cerr := client.Close(); cerr != nil {
				s.log.Debug("outbox: closing SMTP connection", "err", cerr)
			}
		}
		if next < len(rows) {
			ids := make([]int64, 0, len(rows)-next)
			for _, r := range rows[next:] {
				ids = append(ids, r.ID)
			}
			if rerr := s.st.ReleaseOutbox(bg, ids); rerr != nil {
				// They come back when their lease ends.
				s.log.Error("outbox: releasing untried mail", "rows", len(ids), "err", rerr)
			}
		}
	}()
	leaseEnd := claimedAt.Add(s.Lease)
	for next < len(rows) {
		if err := ctx.Err(); err != nil {
			return handled, err
		}
		if s.Now().Add(2 * s.cfg.Timeout).After(leaseEnd) {
			// Another instance may take the rest over soon; let it.
			return handled, nil
		}
		row := rows[next]
		next++
		msg, err := s.build(ctx, row)
		if err != nil {
			var perm *permanentError
			if errors.As(err, &perm) {
				err = s.fail(bg, row, err.Error())
			} else {
				err = s.retry(bg, row, err)
			}
			if err != nil {
				return handled, err
			}
			handled++
			continue
		}
		if client == nil {
			client, err = s.dialer(ctx)
			if err != nil {
				// The server is unreachable: the whole batch waits.
				s.log.Warn("outbox: connecting to SMTP server", "host", s.cfg.Host, "err", err)
				for _, r := range rows[next-1:] {
					if err := s.retry(bg, r, err); err != nil {
						return handled, err
					}
					handled++
				}
				next = len(rows)
				return handled, nil
			}
		}
		sendErr := client.Send(msg)
		switch {
		case sendErr == nil || msg.IsDelivered():
			// Delivered: also when only the RSET after DATA failed.
			if err := s.markSent(bg, row); err != nil {
				return handled, err
			}
			if sendErr != nil {
				client.Close()
				client = nil
			}
		case isPermanent(sendErr):
			if err := s.fail(bg, row, sendErr.Error()); err != nil {
				return handled, err
			}
		default:
			if err := s.retry(bg, row, sendErr); err != nil {
				return handled, err
			}
			if !isServerReply(sendErr) {
				// The connection broke; the next row gets a new one.
				client.Close()
				client = nil
			}
		}
		handled++
	}
	return handled, nil
}

// markSent records a delivery, retrying briefly: a mail the server took
// but we could not mark is sent again once its lease ends.
func (s *Sender) markSent(ctx context.Context, row store.OutboxRow) error {
	var err error
	for i, wait := 0, 100*time.Millisecond; i < 5; i, wait = i+1, wait*2 {
		if err = s.st.MarkSent(ctx, row.ID, s.Now()); err == nil {
			s.log.Info("outbox: sent", "outbox_id", row.ID, "kind", row.Kind, "case_id", row.CaseID,
				"recipients", len(row.To)+len(row.Cc), "attempt", row.Attempts)
			return nil
		}
		time.Sleep(wait)
	}
	return fmt.Errorf("mail %d was accepted by the server but not marked sent (it will be sent again): %w", row.ID, err)
}

func (s *Sender) retry(ctx context.Context, row store.OutboxRow, cause error) error {
	cause = errors.New(redactMessageID(row, cause.Error()))
	now := s.Now()
	if s.MaxAge > 0 && now.Sub(row.CreatedAt) > s.MaxAge {
		return s.fail(ctx, row, fmt.Sprintf("gave up after %d attempts over %s: %v",
			row.Attempts, now.Sub(row.CreatedAt).Round(time.Minute), cause))
	}
	next := now.Add(Backoff(row.Attempts))
	s.log.Warn("outbox: temporary failure", "outbox_id", row.ID, "kind", row.Kind, "case_id", row.CaseID,
		"attempt", row.Attempts, "next", next, "err", cause)
	return s.st.MarkRetry(ctx, row.ID, cause.Error(), next)
}

func (s *Sender) fail(ctx context.Context, row store.OutboxRow, reason string) error {
	reason = redactMessageID(row, reason)
	s.log.Error("outbox: mail failed permanently", "outbox_id", row.ID, "kind", row.Kind, "case_id", row.CaseID,
		"attempt", row.Attempts, "err", reason)
	if err := s.st.MarkFailed(ctx, row.ID, reason); err != nil {
		return err
	}
	if s.OnFailure != nil {
		s.OnFailure(ctx, row, reason)
	}
	return nil
}

// redactMessageID keeps a mail's Message-ID, which carries its recipient's
// reply token, out of error texts that are logged and shown (go-mail names
// the Message-ID in its errors); the outbox id identifies the mail instead.
func redactMessageID(row store.OutboxRow, text string) string {
	if row.MessageID == "" {
		return text
	}
	return strings.ReplaceAll(text, row.MessageID, fmt.Sprintf("outbox-%d", row.ID))
}

// Backoff is the wait before the next try after attempt n (1-based)
// failed temporarily: 30s, 1m, 2m, 4m, … capped at 1h.
func Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := retryBase
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= retryMax {
			return retryMax
		}
	}
	return d
}

// isPermanent: the server refused the mail for good (5xx), or go-mail
// found the mail itself unsendable. Everything else — 4xx, a broken or
// refused connection, a timeout — is worth another try.
func isPermanent(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
		return true
	}
	code := se.ErrorCode()
	return code >= 500 && code <= 599
}

// isServerReply: the error is an SMTP reply, so the connection is still
// in a known state and can carry the next mail.
func isServerReply(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	return code >= 400 && code <= 599 && se.Reason != mail.ErrConnCheck && se.Reason != mail.ErrSMTPReset
}

// permanentError marks a row that can never be built into a mail.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// reservedHeaders are set from the row's own fields; a row header of the
// same name would duplicate or contradict them.
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "subject": true,
	"message-id": true, "date": true, "in-reply-to": true, "references": true, "sender": true,
	"mime-version": true, "content-type": true, "content-transfer-encoding": true,
	"x-casemail-loop": true,
}

// LoopHeader is set on every mail casemail sends, with this deployment's
// identity (SMTPConfig.LoopID): intake recognises its own mail by it, and
// another casemail's mail as automatic mail.
const LoopHeader = "X-Casemail-Loop"

// build turns a row into a go-mail message. Problems with the row itself
// are permanent; a failure to read an attachment from the database is not.
func (s *Sender) build(ctx context.Context, row store.OutboxRow) (*mail.Msg, error) {
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	m.SetCharset(mail.CharsetUTF8)
	m.SetEncoding(mail.EncodingQP)
	m.SetUserAgent("casemail")

	from, err := netmail.ParseAddress(row.From)
	if err != nil {
		return nil, permanent("bad From %q: %v", row.From, err)
	}
	from.Name = SanitizeHeader(from.Name)
	m.FromMailAddress(from)
	if len(row.To) > 0 {
		if err := m.To(row.To...); err != nil {
			return nil, permanent("bad To: %v", err)
		}
	}
	if len(row.Cc) > 0 {
		if err := m.Cc(row.Cc...); err != nil {
			return nil, permanent("bad Cc: %v", err)
		}
	}
	if row.ReplyTo != "" {
		if err := m.ReplyTo(row.ReplyTo); err != nil {
			return nil, permanent("bad Reply-To: %v", err)
		}
	}
	m.SetMessageIDWithValue(row.MessageID)
	m.SetDateWithValue(row.CreatedAt)
	m.Subject(SanitizeHeader(row.Subject))
	if id := msgID(row.InReplyTo); id != "" {
		m.SetGenHeader(mail.HeaderInReplyTo, id)
	}
	var refs []string
	for _, r := range row.References {
		if id := msgID(r); id != "" {
			refs = append(refs, id)
		}
	}
	if len(refs) > 0 {
		// One value: go-mail would join several with commas.
		m.SetGenHeader(mail.HeaderReferences, strings.Join(refs, " "))
	}
	names := make([]string, 0, len(row.Headers))
	for k := range row.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !validHeaderName(k) || reservedHeaders[strings.ToLower(k)] {
			return nil, permanent("header %q may not be set on an outgoing mail", k)
		}
		m.SetGenHeader(mail.Header(k), SanitizeHeader(row.Headers[k]))
	}
	m.SetGenHeader(mail.Header(LoopHeader), s.cfg.LoopID)

	m.SetBodyString(mail.TypeTextPlain, row.Text)
	html := row.HTML
	if html == "" && row.Text != "" && s.HTML != nil {
		var err error
		if html, err = s.HTML(row.Headers["Content-Language"], row.Subject, row.Text); err != nil {
			// The text part says it all: send it rather than hold the mail.
			s.log.Warn("outbox: no HTML part (the layout failed); sent as text only", "outbox_id", row.ID, "error", err)
			html = ""
		}
	}
	if html != "" {
		m.AddAlternativeString(mail.TypeTextHTML, html)
	}
	for _, a := range row.Attachments {
		data, err := s.st.Blob(ctx, a.SHA256)
		if err != nil {
			return nil, fmt.Errorf("loading attachment %q: %w", a.Filename, err)
		}
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		name := SanitizeHeader(a.Filename)
		if name == "" {
			name = "attachment"
		}
		m.AttachReadSeeker(name, bytes.NewReader(data), mail.WithFileContentType(mail.ContentType(ct)))
	}
	return m, nil
}

// msgID brackets a stored Message-ID for a header; "" if it is unusable.
func msgID(id string) string {
	id = strings.Trim(SanitizeHeader(id), "<>")
	if id == "" || strings.ContainsAny(id, " <>") {
		return ""
	}
	return "<" + id + ">"
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 127 || c == ':' {
			return false
		}
	}
	return true
}

// dial opens one SMTP connection, authenticated when a username is set.
func (s *Sender) dial(ctx context.Context) (*mail.Client, error) {
	cfg := s.cfg
	opts := []mail.Option{mail.WithTimeout(cfg.Timeout), mail.WithoutNoop()}
	port := cfg.Port
	tlsCfg := cfg.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	}
	switch cfg.Security {
	case "tls":
		if port == 0 {
			port = 465
		}
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tlsCfg))
	case "starttls":
		if port == 0 {
			port = 587
		}
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tlsCfg))
	default: // "none", loopback only (Validate)
		if port == 0 {
			port = 25
		}
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	opts = append(opts, mail.WithPort(port))
	if cfg.HeloName != "" {
		opts = append(opts, mail.WithHELO(cfg.HeloName))
	}
	if cfg.Username != "" && cfg.TokenSource != nil {
		token, err := cfg.TokenSource(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting the OAuth2 token for SMTP: %w", err)
		}
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2),
			mail.WithUsername(cfg.Username), mail.WithPassword(token))
	} else if cfg.Username != "" {
		auth := mail.SMTPAuthAutoDiscover // the strongest mechanism offered; PLAIN/LOGIN only under TLS
		if cfg.Security == "none" {
			// Plain text is allowed only to loopback (Validate), where a local
			// relay typically offers just PLAIN.
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth),
			mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	c, err := mail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring SMTP client: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := c.DialWithContext(dctx); err != nil {
		return nil, fmt.Errorf("connecting to %s:%d: %w", cfg.Host, port, err)
	}
	return c, nil
}
