package smtptest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"
)

func client(t *testing.T, s *Server) *mail.Client {
	t.Helper()
	c, err := mail.NewClient(s.Host(),
		mail.WithPort(s.Port()),
		mail.WithTLSPolicy(mail.NoTLS),
		mail.WithSMTPAuth(mail.SMTPAuthPlainNoEnc),
		mail.WithUsername("helpdesk@example.org"),
		mail.WithPassword("secret"),
		mail.WithTimeout(10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func msg(t *testing.T, subject string, to ...string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.From("Helpdesk <helpdesk@example.org>"); err != nil {
		t.Fatal(err)
	}
	if err := m.To(to...); err != nil {
		t.Fatal(err)
	}
	m.Subject(subject)
	m.SetBodyString(mail.TypeTextPlain, "Hello.\r\n")
	return m
}

func TestRecordsMail(t *testing.T) {
	s := Start(t)
	c := client(t, s)
	if err := c.DialAndSend(msg(t, "[#1] first", "anna@example.org", "per@example.org")); err != nil {
		t.Fatal(err)
	}
	got := s.Wait(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("got %d mails, want 1", len(got))
	}
	m := got[0]
	if m.From != "helpdesk@example.org" {
		t.Errorf("From = %q", m.From)
	}
	if strings.Join(m.To, ",") != "anna@example.org,per@example.org" {
		t.Errorf("To = %v", m.To)
	}
	if m.Username != "helpdesk@example.org" {
		t.Errorf("Username = %q, want the AUTH PLAIN user", m.Username)
	}
	if !strings.Contains(string(m.Data), "Subject: [#1] first") {
		t.Errorf("Data lacks the subject:\n%s", m.Data)
	}
	if m.At.IsZero() || time.Since(m.At) > time.Minute {
		t.Errorf("At = %v", m.At)
	}
}

func TestTemporaryFailureThenRetry(t *testing.T) {
	s := Start(t)
	c := client(t, s)
	s.FailNext(1, 451)

	err := c.DialAndSend(msg(t, "retry me", "anna@example.org"))
	var se *mail.SendError
	if !errors.As(err, &se) {
		t.Fatalf("send during FailNext(451) = %v, want a *mail.SendError", err)
	}
	if !se.IsTemp() || se.ErrorCode() != 451 {
		t.Errorf("IsTemp = %v, code = %d; want true, 451", se.IsTemp(), se.ErrorCode())
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("a rejected mail was recorded (%d)", n)
	}
	if s.Rejected() != 1 {
		t.Errorf("Rejected = %d, want 1", s.Rejected())
	}

	// The retry goes through.
	if err := c.DialAndSend(msg(t, "retry me", "anna@example.org")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := s.Wait(t, 1, 5*time.Second)
	if !strings.Contains(string(got[0].Data), "Subject: retry me") {
		t.Errorf("recorded the wrong mail:\n%s", got[0].Data)
	}
}

func TestPermanentFailure(t *testing.T) {
	s := Start(t)
	s.FailNext(2, 550)
	c := client(t, s)
	for i := 0; i < 2; i++ {
		err := c.DialAndSend(msg(t, "no", "anna@example.org"))
		var se *mail.SendError
		if !errors.As(err, &se) || se.IsTemp() || se.ErrorCode() != 550 {
			t.Fatalf("send %d = %v, want a permanent 550 SendError", i, err)
		}
	}
	if err := c.DialAndSend(msg(t, "yes", "anna@example.org")); err != nil {
		t.Fatalf("third send after FailNext(2): %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("recorded %d mails, want 1", n)
	}
}

func TestDownAndUp(t *testing.T) {
	s := Start(t)
	addr := s.Addr()
	c := client(t, s)

	// An open connection is cut too, as when a server dies.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if greeting, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(greeting, "220 ") {
		t.Fatalf("greeting %q, %v", greeting, err)
	}

	s.SetDown(true)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.ReadString('\n'); err == nil {
		t.Errorf("connection still open after SetDown(true): read %q", line)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("connection still open after SetDown(true): read timed out")
	}
	if err := c.DialAndSend(msg(t, "lost", "anna@example.org")); err == nil {
		t.Fatal("send to a down server succeeded")
	}
	s.SetDown(true) // idempotent

	s.SetDown(false)
	if s.Addr() != addr {
		t.Fatalf("Addr changed from %s to %s", addr, s.Addr())
	}
	if err := c.DialAndSend(msg(t, "after outage", "anna@example.org")); err != nil {
		t.Fatalf("send after SetDown(false): %v", err)
	}
	got := s.Wait(t, 1, 5*time.Second)
	if len(got) != 1 || !strings.Contains(string(got[0].Data), "after outage") {
		t.Fatalf("got %d mails: %v", len(got), got)
	}
}

func TestConcurrentSenders(t *testing.T) {
	s := Start(t)
	const n = 20
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			c := client(t, s)
			errs <- c.DialAndSend(msg(t, fmt.Sprintf("mail %d", i), "anna@example.org"))
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := s.Wait(t, n, 10*time.Second); len(got) != n {
		t.Errorf("got %d mails, want %d", len(got), n)
	}
}

// fakeTB records a Fatalf instead of failing the real test.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitTimesOut(t *testing.T) {
	s := Start(t)
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Wait(f, 1, 50*time.Millisecond)
	}()
	<-done
	if !strings.Contains(f.fatal, "waited 50ms for 1 mails, got 0") {
		t.Errorf("Wait on timeout: Fatalf(%q)", f.fatal)
	}
}
