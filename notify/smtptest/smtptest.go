// Package smtptest runs an in-process SMTP server for tests: it records
// every mail it accepts, can answer the next DATA commands with a chosen
// failure code, and can go down and come back on the same port, so tests
// can check retries and outage handling of the outbox.
//
// It accepts any AUTH PLAIN credentials without TLS and never relays or
// stores mail anywhere but in memory. It listens on 127.0.0.1 only.
package smtptest

import (
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one mail the server accepted.
type Message struct {
	From     string    // MAIL FROM address
	To       []string  // RCPT TO addresses, in order
	Data     []byte    // the raw message as received after DATA
	At       time.Time // when DATA completed
	Username string    // the AUTH PLAIN username, "" without AUTH
}

// Server is a recording SMTP server. Its methods are safe for concurrent
// use.
type Server struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *smtp.Server // nil while down
	ln       *listener    // srv's listener, nil while down
	msgs     []Message
	changed  chan struct{} // closed and replaced whenever msgs grows
	failLeft int
	failCode int
	rejected int
	closed   bool
	// authUser and authPass, when set, are the only credentials AUTH accepts.
	authUser, authPass string
}

// Start starts a server on a free loopback port; it is closed when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listening: %v", err)
	}
	s := &Server{t: t, addr: l.Addr().String(), changed: make(chan struct{})}
	s.mu.Lock()
	s.serve(l)
	s.mu.Unlock()
	t.Cleanup(s.close)
	return s
}

// Addr returns the server's "127.0.0.1:PORT"; it stays the same across
// SetDown.
func (s *Server) Addr() string { return s.addr }

// Host returns the host part of Addr, "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port returns the port part of Addr.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Messages returns a copy of the mails accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Rejected returns how many DATA commands were answered with a FailNext
// failure.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Wait blocks until at least n mails have been accepted and returns all
// accepted so far. It fails the test if that takes longer than timeout.
// Call it from the test's goroutine.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return msgs
		}
		changed, got := s.changed, len(s.msgs)
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("smtptest: waited %v for %d mails, got %d", timeout, n, got)
			return nil
		}
	}
}

// FailNext makes the next n DATA commands fail with the SMTP reply code
// (for example 451 for a temporary failure, 550 for a permanent one). The
// message body is read first, as a real server does after DATA. A failed
// mail is not recorded.
func (s *Server) FailNext(n int, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failCode = n, code
}

// SetDown(true) closes the listener and every open connection, so new
// connections are refused; SetDown(false) listens again on the same port.
// Call it from the test's goroutine.
func (s *Server) SetDown(down bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if down {
		s.shutdown()
		return
	}
	if s.srv != nil {
		return
	}
	// The port was ours a moment ago; Go listeners set SO_REUSEADDR, so
	// only another process grabbing it in between makes this fail.
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Errorf("smtptest: listening again on %s: %v", s.addr, err)
		return
	}
	s.serve(l)
}

// RequireAuth makes AUTH accept only these credentials (by default it
// accepts any).
func (s *Server) RequireAuth(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authUser, s.authPass = username, password
}

// serve starts a go-smtp server on l. Called with mu held.
func (s *Server) serve(nl net.Listener) {
	l := &listener{Listener: nl, conns: make(map[net.Conn]struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = nopLogger{}
	s.srv, s.ln = srv, l
	go srv.Serve(l) // returns when SetDown or the cleanup closes it
}

func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.shutdown()
}

// shutdown closes the server, its listener and its connections. Called
// with mu held.
func (s *Server) shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Close()
	// go-smtp's Close misses a listener or connection that its Serve has
	// not registered yet; ours does not.
	s.ln.closeAll()
	s.srv, s.ln = nil, nil
}

// data records a mail or answers with the pending failure.
func (s *Server) data(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLeft > 0 {
		s.failLeft--
		s.rejected++
		class := s.failCode / 100
		return &smtp.SMTPError{
			Code:         s.failCode,
			EnhancedCode: smtp.EnhancedCode{class, 0, 0},
			Message:      "smtptest: failure on request",
		}
	}
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

type session struct {
	srv      *Server
	username string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		se.srv.mu.Lock()
		u, p := se.srv.authUser, se.srv.authPass
		se.srv.mu.Unlock()
		if u != "" && (username != u || password != p) {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "smtptest: authentication failed"}
		}
		se.username = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from, se.to = from, nil
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return se.srv.data(Message{
		From:     se.from,
		To:       append([]string(nil), se.to...),
		Data:     b,
		At:       time.Now(),
		Username: se.username,
	})
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// nopLogger drops go-smtp's accept and connection errors, which a closed
// listener (SetDown, cleanup) produces on purpose.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// listener tracks the connections it accepted so that closeAll can cut
// them all, including one accepted while the server was being closed.
type listener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *listener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.Listener.Close()
	for c := range l.conns {
		c.(*trackedConn).Conn.Close()
	}
	clear(l.conns)
}

type trackedConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
