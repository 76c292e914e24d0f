// Package devworld is the embedded mail world of `casemail dev`: an IMAP
// server and an SMTP server on loopback, sharing in-memory mailboxes, so
// casemail can be tried without a real mail system.
//
// Every address is a user, created on its first delivery or login; the
// password of every user is Options.Password. Plus-addressing works like a
// real MTA with recipient_delimiter "+": helpdesk+TOKEN@example.org lands in
// helpdesk@example.org's INBOX, with Delivered-To naming the full address.
// The SMTP server accepts any sender and any recipient and never relays
// anywhere; it is a sandbox. Options.Aliases send mail for some addresses
// (a service catalogue's aliases) to another user's INBOX, as a real
// server's alias table does.
//
// devworld never listens on a non-loopback address, never uses TLS, and
// keeps nothing on disk: Close loses all mail.
package devworld

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Defaults for Options.
const (
	DefaultIMAPAddr = "127.0.0.1:1143"
	// DefaultSMTPAddr avoids 1025, where MailHog and Mailpit listen.
	DefaultSMTPAddr = "127.0.0.1:2525"
	DefaultPassword = "dev"
	// MaxMessageBytes is the largest mail the SMTP server accepts.
	MaxMessageBytes = 50 << 20
	// hostname names the world in Received headers and the SMTP greeting.
	hostname = "devworld.localhost"
)

// Options configures Start.
type Options struct {
	// IMAPAddr and SMTPAddr are the listen addresses (defaults
	// 127.0.0.1:1143 and 127.0.0.1:2525). A port of 0 picks a free one; an
	// empty host means 127.0.0.1. Non-loopback hosts are refused.
	IMAPAddr, SMTPAddr string
	// Password is every user's IMAP password (default "dev"). SMTP AUTH, if
	// a client uses it, accepts anything.
	Password string
	// Aliases maps an address (any case, no +tag) to the address whose
	// INBOX receives its mail; Delivered-To keeps the alias.
	Aliases map[string]string
	// OnDeliver, when set, is called after each delivery with the
	// recipient's user (aliases resolved) and the mail as stored.
	OnDeliver func(user string, raw []byte)
	Logger    *slog.Logger
}

// World is a running mail world.
type World struct {
	password string
	log      *slog.Logger
	imap     *imapserver.Server
	smtp     *smtp.Server
	imapLn   net.Listener
	smtpLn   net.Listener

	aliases   map[string]string
	onDeliver func(user string, raw []byte)
	closing   atomic.Bool // set by Close: errors of dropped connections are expected then

	mu    sync.Mutex
	users map[string]*imapmemserver.User

	closeOnce sync.Once
	closeErr  error
	stop      func() bool // guarded by mu
}

// Start listens on both addresses and serves until Close or until ctx is
// done.
func Start(ctx context.Context, opts Options) (*World, error) {
	imapAddr, err := loopbackAddr(opts.IMAPAddr, DefaultIMAPAddr)
	if err != nil {
		return nil, fmt.Errorf("devworld IMAP: %w", err)
	}
	smtpAddr, err := loopbackAddr(opts.SMTPAddr, DefaultSMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("devworld SMTP: %w", err)
	}
	w := &World{
		password:  opts.Password,
		log:       opts.Logger,
		users:     map[string]*imapmemserver.User{},
		aliases:   map[string]string{},
		onDeliver: opts.OnDeliver,
	}
	for alias, target := range opts.Aliases {
		a, err := userKey(alias)
		if err != nil {
			return nil, err
		}
		if w.aliases[a], err = userKey(target); err != nil {
			return nil, err
		}
	}
	if w.password == "" {
		w.password = DefaultPassword
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("component", "devworld")

	var lc net.ListenConfig
	w.imapLn, err = lc.Listen(ctx, "tcp", imapAddr)
	if err != nil {
		return nil, fmt.Errorf("devworld IMAP: listening on %s: %w", imapAddr, err)
	}
	w.smtpLn, err = lc.Listen(ctx, "tcp", smtpAddr)
	if err != nil {
		w.imapLn.Close()
		return nil, fmt.Errorf("devworld SMTP: listening on %s: %w", smtpAddr, err)
	}

	w.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{w: w}, nil, nil
		},
		// IMAP4rev2 brings IDLE, MOVE, UIDPLUS: what intake uses on real servers.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback only
		Logger:       printfLogger{w.log.With("server", "imap"), &w.closing},
	})
	w.smtp = smtp.NewServer(&smtpBackend{w: w})
	w.smtp.Domain = hostname
	w.smtp.AllowInsecureAuth = true
	w.smtp.MaxMessageBytes = MaxMessageBytes
	w.smtp.MaxRecipients = 100
	w.smtp.ReadTimeout = 5 * time.Minute
	w.smtp.WriteTimeout = time.Minute
	w.smtp.ErrorLog = printfLogger{w.log.With("server", "smtp"), &w.closing}

	go w.imap.Serve(w.imapLn)
	go w.smtp.Serve(w.smtpLn)
	w.mu.Lock() // Close may run before the assignment when ctx is done already
	w.stop = context.AfterFunc(ctx, func() { w.Close() })
	w.mu.Unlock()
	w.log.Info("mail world started", "imap", w.IMAPAddr(), "smtp", w.SMTPAddr())
	return w, nil
}

// loopbackAddr applies the default, maps an empty host to 127.0.0.1 and
// refuses any host that is not loopback.
func loopbackAddr(addr, def string) (string, error) {
	if addr == "" {
		addr = def
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("refusing to listen on %q: the dev mail world accepts any login and must stay on loopback", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// IMAPAddr is the address the IMAP server listens on (host:port).
func (w *World) IMAPAddr() string { return w.imapLn.Addr().String() }

// SMTPAddr is the address the SMTP server listens on (host:port).
func (w *World) SMTPAddr() string { return w.smtpLn.Addr().String() }

// Close stops both servers and drops their connections. All mail is lost.
func (w *World) Close() error {
	w.closeOnce.Do(func() {
		w.closing.Store(true)
		w.mu.Lock()
		stop := w.stop
		w.mu.Unlock()
		if stop != nil {
			stop()
		}
		// The servers close only listeners their Serve goroutine has
		// registered already; close ours in case it has not.
		w.closeErr = errors.Join(ignoreClosed(w.imap.Close()), ignoreClosed(w.smtp.Close()),
			ignoreClosed(w.imapLn.Close()), ignoreClosed(w.smtpLn.Close()))
		w.log.Info("mail world stopped")
	})
	return w.closeErr
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Deliver puts raw into the INBOX of every recipient, as the SMTP server
// does for a received mail: bare LF line ends become CRLF, and Return-Path,
// X-Original-To and Delivered-To (both the recipient as given, +tag
// included) and Received headers are prepended, as Postfix does. A recipient that is not an address fails the whole call
// before anything is delivered.
func (w *World) Deliver(from string, to []string, raw []byte) error {
	return w.deliver(from, to, raw, "localhost")
}

func (w *World) deliver(from string, to []string, raw []byte, helo string) error {
	if len(to) == 0 {
		return errors.New("devworld: no recipients")
	}
	keys := make([]string, len(to))
	for i, rcpt := range to {
		k, err := userKey(rcpt)
		if err != nil {
			return err
		}
		if target, ok := w.aliases[k]; ok {
			k = target
		}
		keys[i] = k
	}
	body := crlf(raw)
	id := newID()
	now := time.Now()
	seen := map[string]bool{}
	for i, rcpt := range to {
		if seen[strings.ToLower(rcpt)] {
			continue
		}
		seen[strings.ToLower(rcpt)] = true
		var b bytes.Buffer
		b.Grow(len(body) + 512)
		fmt.Fprintf(&b, "Return-Path: <%s>\r\n", from)
		fmt.Fprintf(&b, "X-Original-To: %s\r\n", rcpt)
		fmt.Fprintf(&b, "Delivered-To: %s\r\n", rcpt)
		fmt.Fprintf(&b, "Received: from %s by %s (casemail devworld) with ESMTP id %s\r\n\tfor <%s>; %s\r\n",
			helo, hostname, id, rcpt, now.Format(time.RFC1123Z))
		b.Write(body)
		u := w.user(keys[i])
		if _, err := u.Append("INBOX", bytes.NewReader(b.Bytes()), &imap.AppendOptions{Time: now}); err != nil {
			return fmt.Errorf("devworld: delivering to %s: %w", rcpt, err)
		}
		w.log.Info("mail delivered", "from", from, "to", rcpt, "mailbox", keys[i], "size", b.Len(), "id", id)
		if w.onDeliver != nil {
			w.onDeliver(keys[i], b.Bytes())
		}
	}
	return nil
}

// userKey maps an address to its user: lower case, "+tag" dropped.
func userKey(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	if p, err := mail.ParseAddress(a); err == nil {
		a = p.Address
	}
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(a, " <>\r\n") {
		return "", fmt.Errorf("devworld: %q is not an address", addr)
	}
	local, _, _ = strings.Cut(local, "+")
	if local == "" {
		return "", fmt.Errorf("devworld: %q is not an address", addr)
	}
	return strings.ToLower(local + "@" + domain), nil
}

// user returns the user for key, creating it with an empty INBOX.
func (w *World) user(key string) *imapmemserver.User {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.users[key]
	if u == nil {
		u = imapmemserver.NewUser(key, w.password)
		if err := u.Create("INBOX", nil); err != nil {
			panic("devworld: creating INBOX of a new user: " + err.Error()) // cannot happen: new user
		}
		w.users[key] = u
		w.log.Info("user created", "user", key)
	}
	return u
}

// crlf turns bare LF line ends into CRLF, as IMAP requires.
func crlf(raw []byte) []byte {
	if !bytes.Contains(raw, []byte("\n")) {
		return raw
	}
	out := make([]byte, 0, len(raw)+bytes.Count(raw, []byte("\n")))
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// imapSession logs anybody in with the world's password, creating the user.
type imapSession struct {
	*imapmemserver.UserSession // nil until logged in
	w                          *World
}

func (s *imapSession) Login(username, password string) error {
	key, err := userKey(username)
	if err != nil || password != s.w.password {
		return imapserver.ErrAuthFailed
	}
	u := s.w.user(key)
	if err := u.Login(key, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(u)
	return nil
}

type smtpBackend struct{ w *World }

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{w: b.w, helo: c.Hostname()}, nil
}

// smtpSession accepts any sender and recipient; AUTH PLAIN with any
// credentials is accepted and not required.
type smtpSession struct {
	w    *World
	helo string
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, err := userKey(to); err != nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Not a mail address"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // go-smtp answers ErrDataTooLarge with 552
	}
	if err := s.w.deliver(s.from, s.to, raw, s.helo); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: err.Error()}
	}
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// printfLogger adapts slog to the Printf/Println loggers of the servers.
// Once the world is closing, the errors of the connections it drops are
// expected and logged at debug level only.
type printfLogger struct {
	l       *slog.Logger
	closing *atomic.Bool
}

func (p printfLogger) Printf(format string, args ...any) { p.log(fmt.Sprintf(format, args...)) }
func (p printfLogger) Println(args ...any) {
	p.log(strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}

func (p printfLogger) log(msg string) {
	if p.closing.Load() || strings.Contains(msg, net.ErrClosed.Error()) {
		p.l.Debug(msg)
		return
	}
	p.l.Warn(msg)
}
