package devworld

import (
	"context"
	"log/slog"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomail "github.com/wneessen/go-mail"
)

func startWorld(t *testing.T) *World {
	t.Helper()
	w, err := Start(context.Background(), Options{
		IMAPAddr: "127.0.0.1:0", SMTPAddr: ":0",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// inbox logs in over IMAP and returns the raw mails of the user's INBOX.
func inbox(t *testing.T, w *World, user, password string) []string {
	t.Helper()
	c, err := imapclient.DialInsecure(w.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.FindBodySection(&imap.FetchItemBodySection{})))
	}
	return out
}

func header(raw, name string) []string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	var out []string
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func TestSMTPToIMAPWithPlusAddressing(t *testing.T) {
	w := startWorld(t)
	host, port, _ := net.SplitHostPort(w.SMTPAddr())
	p, _ := strconv.Atoi(port)

	// go-mail with AUTH PLAIN (any credentials are accepted).
	client, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.NoTLS),
		gomail.WithSMTPAuth(gomail.SMTPAuthPlainNoEnc), gomail.WithUsername("anyone"), gomail.WithPassword("anything"),
		gomail.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg := gomail.NewMsg()
	if err := msg.From("user@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("helpdesk+T0K3N@example.org", "Alice@Example.org"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("Printer on fire")
	msg.SetBodyString(gomail.TypeTextPlain, "It is really on fire.")
	if err := client.DialAndSend(msg); err != nil {
		t.Fatalf("send: %v", err)
	}

	got := inbox(t, w, "helpdesk@example.org", DefaultPassword)
	if len(got) != 1 {
		t.Fatalf("helpdesk INBOX has %d mails, want 1", len(got))
	}
	m := got[0]
	if d := header(m, "Delivered-To"); len(d) != 1 || d[0] != "helpdesk+T0K3N@example.org" {
		t.Errorf("Delivered-To = %q", d)
	}
	if d := header(m, "X-Original-To"); len(d) != 1 || d[0] != "helpdesk+T0K3N@example.org" {
		t.Errorf("X-Original-To = %q", d)
	}
	if r := header(m, "Return-Path"); len(r) != 1 || r[0] != "<user@example.com>" {
		t.Errorf("Return-Path = %q", r)
	}
	if !strings.HasPrefix(m, "Return-Path: ") || len(header(m, "Received")) != 1 {
		t.Errorf("trace headers missing or misplaced:\n%s", m)
	}
	if s := header(m, "Subject"); len(s) != 1 || s[0] != "Printer on fire" || !strings.Contains(m, "It is really on fire.") {
		t.Errorf("mail content lost:\n%s", m)
	}

	// The other recipient has its own copy, found under the lower-cased
	// address.
	alice := inbox(t, w, "alice@example.org", DefaultPassword)
	if len(alice) != 1 || header(alice[0], "Delivered-To")[0] != "Alice@Example.org" {
		t.Errorf("alice INBOX = %q", alice)
	}

	// Wrong password is refused.
	c, err := imapclient.DialInsecure(w.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("helpdesk@example.org", "wrong").Wait(); err == nil {
		t.Error("login with a wrong password succeeded")
	}
}

func TestSMTPWithoutAuthAndDirectDeliver(t *testing.T) {
	w := startWorld(t)
	// net/smtp without AUTH; LF-only data is sent as CRLF by net/smtp's
	// dot-writer anyway.
	err := smtp.SendMail(w.SMTPAddr(), nil, "", []string{"bob@example.net"},
		[]byte("Subject: bounce\r\n\r\nnull sender\r\n"))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	// A direct Deliver with bare LF line ends is stored with CRLF.
	if err := w.Deliver("carol@example.com", []string{"bob+x@example.net"}, []byte("Subject: direct\n\nline one\nline two\n")); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, w, "Bob@example.net", DefaultPassword)
	if len(got) != 2 {
		t.Fatalf("bob INBOX has %d mails, want 2", len(got))
	}
	if r := header(got[0], "Return-Path"); len(r) != 1 || r[0] != "<>" {
		t.Errorf("null sender Return-Path = %q", r)
	}
	if !strings.Contains(got[1], "line one\r\nline two\r\n") || strings.Contains(strings.ReplaceAll(got[1], "\r\n", ""), "\n") {
		t.Errorf("direct delivery not CRLF:\n%q", got[1])
	}
	if d := header(got[1], "Delivered-To"); len(d) != 1 || d[0] != "bob+x@example.net" {
		t.Errorf("Delivered-To = %q", d)
	}
	if err := w.Deliver("a@b.c", []string{"not-an-address"}, []byte("x")); err == nil {
		t.Error("Deliver to a non-address succeeded")
	}
}

func TestLoginCreatesUserAndOptions(t *testing.T) {
	w, err := Start(context.Background(), Options{IMAPAddr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", Password: "pw",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := inbox(t, w, "new@example.org", "pw"); len(got) != 0 {
		t.Errorf("new user's INBOX = %q", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := net.DialTimeout("tcp", w.IMAPAddr(), time.Second); err == nil {
		t.Error("IMAP still listening after Close")
	}

	if _, err := Start(context.Background(), Options{IMAPAddr: "0.0.0.0:0", SMTPAddr: "127.0.0.1:0"}); err == nil {
		t.Error("non-loopback IMAP address accepted")
	}
	if _, err := Start(context.Background(), Options{IMAPAddr: "127.0.0.1:0", SMTPAddr: "192.0.2.1:25"}); err == nil {
		t.Error("non-loopback SMTP address accepted")
	}

	// Cancelling the context closes the world.
	ctx, cancel := context.WithCancel(context.Background())
	w2, err := Start(ctx, Options{IMAPAddr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", w2.SMTPAddr(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("SMTP still listening after ctx cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUserKey(t *testing.T) {
	for in, want := range map[string]string{
		"helpdesk+T0K3N@example.org": "helpdesk@example.org",
		"Helpdesk@Example.ORG":       "helpdesk@example.org",
		"<a+b+c@x.y>":                "a@x.y",
		"Name <n@x.y>":               "n@x.y",
	} {
		if got, err := userKey(in); err != nil || got != want {
			t.Errorf("userKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "nobody", "@x.y", "+tag@x.y", "a@"} {
		if got, err := userKey(bad); err == nil {
			t.Errorf("userKey(%q) = %q, want error", bad, got)
		}
	}
}

// Mail to an alias lands in its target's INBOX, Delivered-To naming the
// alias, and OnDeliver sees it under the target.
func TestAliasDelivery(t *testing.T) {
	var got []string
	w, err := Start(context.Background(), Options{
		IMAPAddr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0",
		Aliases:   map[string]string{"QM@example.org": "helpdesk@example.org"},
		OnDeliver: func(user string, raw []byte) { got = append(got, user) },
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Deliver("ola@bryne.example.no", []string{"qm+x@example.org"}, []byte("Subject: hei\n\nhei\n")); err != nil {
		t.Fatal(err)
	}
	mails := inbox(t, w, "helpdesk@example.org", DefaultPassword)
	if len(mails) != 1 || !strings.Contains(mails[0], "Delivered-To: qm+x@example.org\r\n") {
		t.Fatalf("helpdesk INBOX = %q", mails)
	}
	if n := len(inbox(t, w, "qm@example.org", DefaultPassword)); n != 0 {
		t.Errorf("the alias has a mailbox of its own with %d mails", n)
	}
	if len(got) != 1 || got[0] != "helpdesk@example.org" {
		t.Errorf("OnDeliver saw %q", got)
	}
}
