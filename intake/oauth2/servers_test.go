package oauth2

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/intake/oauth2/oauth2test"
)

// Test mail servers that accept only XOAUTH2 with an access token the
// local provider issued for the user and the right scope, and is not
// expired — as Exchange Online and Gmail do.

const (
	testUser  = "helpdesk@example.org"
	imapScope = "https://outlook.office.com/IMAP.AccessAsUser.All"
	smtpScope = "https://outlook.office.com/SMTP.Send"
)

// authLog records the logins a test server saw.
type authLog struct {
	mu       sync.Mutex
	accepted []string // access tokens accepted, in order
	refused  int
}

func (a *authLog) check(p *oauth2test.Provider, scope string) func(user, token string) error {
	return func(user, token string) error {
		err := p.CheckAccess(user, token, scope)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			a.refused++
			return err
		}
		a.accepted = append(a.accepted, token)
		return nil
	}
}

func (a *authLog) snapshot() (accepted []string, refused int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.accepted...), a.refused
}

// imapTestServer is imapmemserver behind XOAUTH2: imapmemserver's own
// session knows only LOGIN/PLAIN with a password, so its UserSession is
// wrapped in one implementing imapserver.SessionSASL.
type imapTestServer struct {
	user *imapmemserver.User
	port int
	auth authLog

	mu    sync.Mutex
	conns []net.Conn
}

type xoauth2Session struct {
	*imapmemserver.UserSession
	check func(user, token string) error
}

func (s *xoauth2Session) Login(string, string) error { return imapserver.ErrAuthFailed }

func (s *xoauth2Session) AuthenticateMechanisms() []string { return []string{XOAUTH2} }

func (s *xoauth2Session) Authenticate(mech string) (sasl.Server, error) {
	if mech != XOAUTH2 {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
	}
	return oauth2test.NewXOAUTH2Server(func(user, token string) error {
		if err := s.check(user, token); err != nil {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed,
				Text: "AUTHENTICATE failed."}
		}
		return nil
	}), nil
}

type trackingListener struct {
	net.Listener
	s *imapTestServer
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns = append(l.s.conns, c)
		l.s.mu.Unlock()
	}
	return c, err
}

func startIMAP(t *testing.T, p *oauth2test.Provider) *imapTestServer {
	t.Helper()
	user := imapmemserver.NewUser(testUser, "no password login")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	s := &imapTestServer{user: user}
	check := s.auth.check(p, imapScope)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &xoauth2Session{UserSession: imapmemserver.NewUserSession(user), check: check}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true, // loopback, no TLS in tests
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(&trackingListener{Listener: ln, s: s})
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *imapTestServer) append(t *testing.T, raw string) {
	t.Helper()
	if _, err := s.user.Append("INBOX", bytes.NewReader([]byte(raw)), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// killConns drops every connection, so that the watcher logs in again.
func (s *imapTestServer) killConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// smtpTestServer is a go-smtp server offering only XOAUTH2 and refusing
// mail from an unauthenticated session.
type smtpTestServer struct {
	port  int
	auth  authLog
	check func(user, token string) error

	mu   sync.Mutex
	msgs [][]byte
}

type smtpSession struct {
	s      *smtpTestServer
	authed bool
}

func (b *smtpTestServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: b}, nil }

func (s *smtpSession) AuthMechanisms() []string { return []string{XOAUTH2} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != XOAUTH2 {
		return nil, smtp.ErrAuthUnsupported
	}
	return oauth2test.NewXOAUTH2Server(func(user, token string) error {
		if err := s.s.check(user, token); err != nil {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 3}, Message: "Authentication unsuccessful"}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.msgs = append(s.s.msgs, b)
	s.s.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T, p *oauth2test.Provider) *smtpTestServer {
	t.Helper()
	b := &smtpTestServer{}
	b.check = b.auth.check(p, smtpScope)
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *smtpTestServer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// memHandler is an intake.Handler committing into memory.
type memHandler struct {
	mu      sync.Mutex
	cursor  [2]uint32
	has     bool
	got     []intake.Delivery
	changed chan struct{}
}

func newMemHandler() *memHandler { return &memHandler{changed: make(chan struct{}, 16)} }

func (h *memHandler) Cursor(context.Context, string) (uint32, uint32, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cursor[0], h.cursor[1], h.has, nil
}

func (h *memHandler) Deliver(_ context.Context, d intake.Delivery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.has && h.cursor[0] == d.UIDValidity && d.UID <= h.cursor[1] {
		return nil
	}
	h.got = append(h.got, d)
	h.cursor, h.has = [2]uint32{d.UIDValidity, d.UID}, true
	select {
	case h.changed <- struct{}{}:
	default:
	}
	return nil
}

// wait waits until n mails were delivered.
func (h *memHandler) wait(t *testing.T, n int) []intake.Delivery {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		h.mu.Lock()
		got := append([]intake.Delivery(nil), h.got...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-h.changed:
		case <-deadline:
			t.Fatalf("waited for %d delivered mails, have %d", n, len(got))
		}
	}
}
