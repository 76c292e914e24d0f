package intake

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/casemail/casemail/deploy/devworld"
)

// These tests run the watcher against go-imap's own server with its
// in-memory backend (imapmemserver), which supports IDLE, MOVE and UIDPLUS
// when advertised; the no-MOVE paths are exercised by advertising only
// IMAP4rev1 (+UIDPLUS).

const (
	wtUsername = "helpdesk@example.org"
	wtPassword = "secret"
)

// wtServer is an imapmemserver on 127.0.0.1:0 whose connections the test
// can cut.
type wtServer struct {
	user *imapmemserver.User
	addr string
	port int

	mu    sync.Mutex
	conns []net.Conn
}

type wtServerOptions struct {
	caps     imap.CapSet
	security string // "", "tls" or "starttls"
	cert     tls.Certificate
}

type wtListener struct {
	net.Listener
	s *wtServer
}

func (l *wtListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns = append(l.s.conns, c)
		l.s.mu.Unlock()
	}
	return c, err
}

func wtNewServer(t *testing.T, o wtServerOptions) *wtServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(wtUsername, wtPassword)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	caps := o.caps
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: o.security == "",
		Logger:       log.New(io.Discard, "", 0),
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{o.cert}}
	if o.security == "starttls" {
		opts.TLSConfig = tlsConfig
	}
	srv := imapserver.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &wtServer{user: user, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
	var serveLn net.Listener = &wtListener{Listener: ln, s: s}
	if o.security == "tls" {
		serveLn = tls.NewListener(serveLn, tlsConfig)
	}
	go srv.Serve(serveLn)
	t.Cleanup(func() { srv.Close() })
	return s
}

// killConns closes every connection accepted so far, as a crashing or
// restarting server would.
func (s *wtServer) killConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *wtServer) append(t *testing.T, folder, raw string, flags ...imap.Flag) uint32 {
	t.Helper()
	data, err := s.user.Append(folder, bytes.NewReader([]byte(raw)), &imap.AppendOptions{Flags: flags})
	if err != nil {
		t.Fatalf("append to %s: %v", folder, err)
	}
	return uint32(data.UID)
}

// folder returns UID -> flags of every mail in folder, read over IMAP
// read-only (EXAMINE), so looking does not change anything.
func (s *wtServer) folder(t *testing.T, name string) map[uint32][]imap.Flag {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(wtUsername, wtPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("examine %s: %v", name, err)
	}
	out := map[uint32][]imap.Flag{}
	if data.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out[uint32(m.UID)] = m.Flags
	}
	return out
}

func (s *wtServer) uidValidity(t *testing.T, name string) uint32 {
	t.Helper()
	st, err := s.user.Status(name, &imap.StatusOptions{UIDValidity: true})
	if err != nil {
		t.Fatal(err)
	}
	return st.UIDValidity
}

func wtHasFlag(flags []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(flags, func(x imap.Flag) bool { return strings.EqualFold(string(x), string(f)) })
}

type wtKey struct {
	mailbox     string
	uidValidity uint32
	uid         uint32
}

// wtHandler commits into memory: deliveries in order, cursor per mailbox,
// idempotent by (mailbox, uidvalidity, uid).
type wtHandler struct {
	mu      sync.Mutex
	cursors map[string][2]uint32
	got     []Delivery
	seen    map[wtKey]bool
	calls   int
	dups    int
	fail    func(d Delivery) error // when it returns an error, Deliver fails
}

func wtNewHandler() *wtHandler {
	return &wtHandler{cursors: map[string][2]uint32{}, seen: map[wtKey]bool{}}
}

func (h *wtHandler) Cursor(_ context.Context, mailbox string) (uint32, uint32, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.cursors[mailbox]
	return c[0], c[1], ok, nil
}

func (h *wtHandler) Deliver(_ context.Context, d Delivery) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.fail != nil {
		if err := h.fail(d); err != nil {
			return err
		}
	}
	k := wtKey{d.Mailbox, d.UIDValidity, d.UID}
	if h.seen[k] {
		h.dups++
		return nil
	}
	h.seen[k] = true
	h.got = append(h.got, d)
	h.cursors[d.Mailbox] = [2]uint32{d.UIDValidity, d.UID}
	return nil
}

func (h *wtHandler) snapshot() (got []Delivery, calls, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got), h.calls, h.dups
}

func (h *wtHandler) uids() []uint32 {
	got, _, _ := h.snapshot()
	var out []uint32
	for _, d := range got {
		out = append(out, d.UID)
	}
	return out
}

func wtMail(i int) string {
	return fmt.Sprintf("From: user%d@example.com\r\nTo: helpdesk@example.org\r\n"+
		"Subject: printer %d\r\nMessage-ID: <m%d@example.com>\r\n\r\nThe printer is broken (%d).\r\n", i, i, i, i)
}

func wtConfig(s *wtServer) WatcherConfig {
	return WatcherConfig{
		Name:           "helpdesk",
		Host:           "127.0.0.1",
		Port:           s.port,
		Security:       "none",
		Username:       wtUsername,
		Password:       wtPassword,
		PollInterval:   20 * time.Millisecond,
		BackoffMin:     10 * time.Millisecond,
		BackoffMax:     100 * time.Millisecond,
		CommandTimeout: 10 * time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

// wtStart runs a watcher until the returned stop is called (or the test
// ends); stop asserts that Run returned nil.
func wtStart(t *testing.T, cfg WatcherConfig, h Handler) (*Watcher, func()) {
	t.Helper()
	w := NewWatcher(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v after cancel, want nil", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

func wtEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatcherDeliversInOrderSetsSeenAndResumes(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	var raws []string
	for i := 1; i <= 5; i++ {
		raw := wtMail(i)
		raws = append(raws, raw)
		var flags []imap.Flag
		if i == 3 {
			flags = []imap.Flag{imap.FlagSeen} // read by a person before our poll
		}
		s.append(t, "INBOX", raw, flags...)
	}
	uv := s.uidValidity(t, "INBOX")
	h := wtNewHandler()
	w, stop := wtStart(t, wtConfig(s), h)

	wtEventually(t, "5 deliveries", func() bool { return len(h.uids()) == 5 })
	wtEventually(t, "all mails \\Seen", func() bool {
		f := s.folder(t, "INBOX")
		for uid := uint32(1); uid <= 5; uid++ {
			if !wtHasFlag(f[uid], imap.FlagSeen) {
				return false
			}
		}
		return true
	})
	got, _, dups := h.snapshot()
	for i, d := range got {
		if d.UID != uint32(i+1) {
			t.Errorf("delivery %d has UID %d, want %d (UID order)", i, d.UID, i+1)
		}
		if d.Mailbox != "helpdesk" || d.UIDValidity != uv {
			t.Errorf("delivery %d: mailbox %q uidvalidity %d, want helpdesk %d", i, d.Mailbox, d.UIDValidity, uv)
		}
		if string(d.Raw) != raws[i] || d.Size != int64(len(raws[i])) || d.Truncated {
			t.Errorf("delivery %d: raw %q size %d truncated %v, want %q", i, d.Raw, d.Size, d.Truncated, raws[i])
		}
		if d.InternalDate.IsZero() {
			t.Errorf("delivery %d: no internal date", i)
		}
		if seen := wtHasFlag(d.Flags, imap.FlagSeen); seen != (i == 2) {
			t.Errorf("delivery %d: \\Seen at fetch = %v (flags %v)", i, seen, d.Flags)
		}
	}
	if dups != 0 {
		t.Errorf("%d duplicate deliveries", dups)
	}
	if st := w.State(); !st.Connected || st.Delivered != 5 || st.UIDValidity != uv || st.LastSync.IsZero() {
		t.Errorf("state = %+v", st)
	}
	stop()

	// A new watcher with the committed cursor re-delivers nothing.
	w2, _ := wtStart(t, wtConfig(s), h)
	wtEventually(t, "a completed pass after restart", func() bool { return !w2.State().LastSync.IsZero() })
	if _, calls, _ := h.snapshot(); calls != 5 {
		t.Errorf("after restart Deliver was called %d times in total, want 5", calls)
	}
	s.append(t, "INBOX", wtMail(6))
	w2.Poke()
	wtEventually(t, "6th delivery", func() bool { return len(h.uids()) == 6 })
	if _, calls, dups := h.snapshot(); calls != 6 || dups != 0 {
		t.Errorf("calls %d dups %d, want 6 and 0", calls, dups)
	}
}

func TestWatcherMovesToProcessedFolder(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps imap.CapSet
	}{
		{"MOVE", nil},
		{"COPY+UID EXPUNGE", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}},
		{"COPY+EXPUNGE", imap.CapSet{imap.CapIMAP4rev1: {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := wtNewServer(t, wtServerOptions{caps: tc.caps})
			for i := 1; i <= 4; i++ {
				s.append(t, "INBOX", wtMail(i))
			}
			h := wtNewHandler()
			cfg := wtConfig(s)
			cfg.ProcessedFolder = "Processed" // missing: the watcher creates it
			cfg.BatchSize = 3                 // two batches
			wtStart(t, cfg, h)
			wtEventually(t, "4 deliveries", func() bool { return len(h.uids()) == 4 })
			wtEventually(t, "INBOX empty and 4 mails in Processed", func() bool {
				return len(s.folder(t, "INBOX")) == 0 && len(s.folder(t, "Processed")) == 4
			})
			if got := h.uids(); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
				t.Errorf("delivered UIDs %v", got)
			}
			for uid, flags := range s.folder(t, "Processed") {
				if wtHasFlag(flags, imap.FlagSeen) || wtHasFlag(flags, imap.FlagDeleted) {
					t.Errorf("processed mail %d has flags %v", uid, flags)
				}
			}
		})
	}
}

// A commit whose MOVE was lost (crash in between) is moved by the next pass
// without being delivered again.
func TestWatcherRepairsCommittedButUnmovedMail(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	for i := 1; i <= 3; i++ {
		s.append(t, "INBOX", wtMail(i))
	}
	h := wtNewHandler()
	h.cursors["helpdesk"] = [2]uint32{s.uidValidity(t, "INBOX"), 2}
	cfg := wtConfig(s)
	cfg.ProcessedFolder = "Processed"
	wtStart(t, cfg, h)
	wtEventually(t, "INBOX empty and 3 mails in Processed", func() bool {
		return len(s.folder(t, "INBOX")) == 0 && len(s.folder(t, "Processed")) == 3
	})
	if got, calls, _ := h.snapshot(); calls != 1 || len(got) != 1 || got[0].UID != 3 {
		t.Errorf("deliveries %v (calls %d), want only UID 3", h.uids(), calls)
	}
}

func TestWatcherDeliverErrorIsRetriedAndNotMarked(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	for i := 1; i <= 3; i++ {
		s.append(t, "INBOX", wtMail(i))
	}
	h := wtNewHandler()
	var failing atomic.Bool
	var failures atomic.Int32
	failing.Store(true)
	h.fail = func(d Delivery) error {
		if d.UID == 2 && failing.Load() {
			failures.Add(1)
			return errors.New("database unavailable")
		}
		return nil
	}
	w, _ := wtStart(t, wtConfig(s), h)

	wtEventually(t, "UID 2 failing at least 3 times", func() bool { return failures.Load() >= 3 })
	if got := h.uids(); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("while UID 2 fails, delivered %v, want [1] (order kept)", got)
	}
	wtEventually(t, "UID 1 \\Seen", func() bool { return wtHasFlag(s.folder(t, "INBOX")[1], imap.FlagSeen) })
	f := s.folder(t, "INBOX")
	if wtHasFlag(f[2], imap.FlagSeen) || wtHasFlag(f[3], imap.FlagSeen) {
		t.Errorf("uncommitted mails were marked: %v", f)
	}
	if st := w.State(); !strings.Contains(st.LastError, "database unavailable") || !st.Connected {
		t.Errorf("state while failing = %+v", st)
	}

	failing.Store(false)
	wtEventually(t, "all delivered after recovery", func() bool { return len(h.uids()) == 3 })
	if got := h.uids(); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("delivered %v", got)
	}
	wtEventually(t, "all \\Seen", func() bool {
		f := s.folder(t, "INBOX")
		return wtHasFlag(f[2], imap.FlagSeen) && wtHasFlag(f[3], imap.FlagSeen)
	})
	wtEventually(t, "error cleared", func() bool { return w.State().LastError == "" })
}

func TestWatcherIdleDeliversNewMail(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	s.append(t, "INBOX", wtMail(1))
	h := wtNewHandler()
	cfg := wtConfig(s)
	cfg.IDLE = true
	cfg.PollInterval = time.Hour // only IDLE can bring the new mail in
	w, _ := wtStart(t, cfg, h)

	wtEventually(t, "first delivery and idling", func() bool { return len(h.uids()) == 1 && w.State().Idling })
	s.append(t, "INBOX", wtMail(2))
	wtEventually(t, "mail appended during IDLE delivered", func() bool { return len(h.uids()) == 2 })
	wtEventually(t, "idling again", func() bool { return w.State().Idling })
	s.append(t, "INBOX", wtMail(3))
	wtEventually(t, "second mail appended during IDLE delivered", func() bool { return len(h.uids()) == 3 })
	if got := h.uids(); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("delivered %v", got)
	}
}

func TestWatcherReconnectsAfterServerClosesConnection(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	s.append(t, "INBOX", wtMail(1))
	h := wtNewHandler()
	cfg := wtConfig(s)
	cfg.IDLE = true
	cfg.PollInterval = time.Hour
	w, _ := wtStart(t, cfg, h)
	wtEventually(t, "first delivery and idling", func() bool { return len(h.uids()) == 1 && w.State().Idling })

	s.killConns()
	wtEventually(t, "reconnected", func() bool { st := w.State(); return st.Connects >= 2 && st.Idling })
	s.append(t, "INBOX", wtMail(2))
	wtEventually(t, "delivery after reconnect", func() bool { return len(h.uids()) == 2 })
	if _, calls, dups := h.snapshot(); calls != 2 || dups != 0 {
		t.Errorf("calls %d dups %d, want 2 and 0", calls, dups)
	}
}

func TestWatcherUIDValidityChangeRefeedsFolder(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	for i := 1; i <= 3; i++ {
		s.append(t, "INBOX", wtMail(i))
	}
	uv1 := s.uidValidity(t, "INBOX")
	h := wtNewHandler()
	w, _ := wtStart(t, wtConfig(s), h)
	wtEventually(t, "3 deliveries", func() bool { return len(h.uids()) == 3 })

	// The folder is re-created (say, restored from a backup) with the same
	// mails: a new UIDVALIDITY. Real servers disconnect sessions that have
	// the folder selected; the memory server does not, so cut them.
	if err := s.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := s.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		s.append(t, "INBOX", wtMail(i))
	}
	uv2 := s.uidValidity(t, "INBOX")
	if uv1 == uv2 {
		t.Fatal("UIDVALIDITY did not change")
	}
	s.killConns()
	wtEventually(t, "re-feed under the new UIDVALIDITY", func() bool { return len(h.uids()) == 6 })
	got, _, _ := h.snapshot()
	for i, d := range got[3:] {
		if d.UIDValidity != uv2 || d.UID != uint32(i+1) || string(d.Raw) != wtMail(i+1) {
			t.Errorf("re-fed delivery %d: uidvalidity %d uid %d raw %q", i, d.UIDValidity, d.UID, d.Raw)
		}
	}
	if st := w.State(); st.UIDValidity != uv2 {
		t.Errorf("state UIDValidity %d, want %d", st.UIDValidity, uv2)
	}
}

func TestWatcherOversizeMailIsCut(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	big := "From: a@example.com\r\nTo: helpdesk@example.org\r\nSubject: logs\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=log.bin\r\nContent-Disposition: attachment; filename=log.bin\r\n\r\n" +
		strings.Repeat("0123456789abcdef\r\n", 300) + "--b--\r\n"
	s.append(t, "INBOX", wtMail(1))
	s.append(t, "INBOX", big)
	s.append(t, "INBOX", wtMail(3))
	h := wtNewHandler()
	cfg := wtConfig(s)
	cfg.MaxMessageSize = 1000
	wtStart(t, cfg, h)
	wtEventually(t, "3 deliveries", func() bool { return len(h.uids()) == 3 })
	got, _, _ := h.snapshot()
	if got[0].UID != 1 || got[1].UID != 2 || got[2].UID != 3 {
		t.Fatalf("order %v", h.uids())
	}
	d := got[1]
	if !d.Truncated || d.Size != int64(len(big)) || string(d.Raw) != big[:1000] {
		t.Errorf("big mail: truncated %v size %d (want %d) raw len %d", d.Truncated, d.Size, len(big), len(d.Raw))
	}
	mp, ok := d.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 {
		t.Fatalf("big mail body structure = %#v", d.BodyStructure)
	}
	if sp, ok := mp.Children[1].(*imap.BodyStructureSinglePart); !ok || sp.Filename() != "log.bin" {
		t.Errorf("attachment part = %#v", mp.Children[1])
	}
	for _, small := range []Delivery{got[0], got[2]} {
		if small.Truncated || small.BodyStructure != nil || small.Size != int64(len(small.Raw)) {
			t.Errorf("small mail %d: truncated %v size %d", small.UID, small.Truncated, small.Size)
		}
	}
}

type wtLiteral struct{ *bytes.Reader }

func TestWatchReadLimited(t *testing.T) {
	for _, n := range []int{0, 10, 99, 100, 101, 5000} {
		data := bytes.Repeat([]byte("x"), n)
		r := bytes.NewReader(data)
		raw, size, err := watchReadLimited(wtLiteral{r}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if size != int64(n) || len(raw) != min(n, 100) || r.Len() != 0 {
			t.Errorf("n=%d: size %d raw %d left %d", n, size, len(raw), r.Len())
		}
	}
	// A literal shorter than announced is an error, not a silent cut.
	r := bytes.NewReader([]byte("abc"))
	if _, _, err := watchReadLimited(struct {
		io.Reader
		wtSizer
	}{r, wtSizer(10)}, 100); err == nil {
		t.Error("short literal: no error")
	}
}

type wtSizer int64

func (s wtSizer) Size() int64 { return int64(s) }

func TestWatcherRefusesPlaintextToRemoteHost(t *testing.T) {
	for host, ok := range map[string]bool{
		"127.0.0.1": true, "127.9.8.7": true, "::1": true, "[::1]": true, "localhost": true, "LocalHost": true,
		"imap.example.org": false, "10.0.0.1": false, "::ffff:10.0.0.1": false, "localhost.example.org": false,
	} {
		err := WatcherConfig{Name: "m", Host: host, Security: "none", Username: "u"}.Validate()
		if (err == nil) != ok {
			t.Errorf("host %q: Validate() = %v", host, err)
		}
	}
	// Run refuses before connecting: the host does not even resolve.
	w := NewWatcher(WatcherConfig{Name: "m", Host: "imap.invalid", Security: "none", Username: "u"}, wtNewHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run = %v, want a loopback error", err)
	}
	if err := (WatcherConfig{Name: "m", Host: "h", Security: "ssl", Username: "u"}).Validate(); err == nil {
		t.Error("unknown security accepted")
	}
}

func wtCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "casemail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestWatcherTLSAndStartTLS(t *testing.T) {
	cert, pool := wtCert(t)
	for _, security := range []string{"tls", "starttls"} {
		t.Run(security, func(t *testing.T) {
			s := wtNewServer(t, wtServerOptions{security: security, cert: cert})
			s.append(t, "INBOX", wtMail(1))
			h := wtNewHandler()
			cfg := wtConfig(s)
			cfg.Security = security
			cfg.TLSConfig = &tls.Config{RootCAs: pool}
			if security == "tls" {
				// SASL PLAIN through the Auth hook (where XOAUTH2 plugs in).
				cfg.Password = ""
				cfg.Auth = func(context.Context) (sasl.Client, error) {
					return sasl.NewPlainClient("", wtUsername, wtPassword), nil
				}
			}
			wtStart(t, cfg, h)
			wtEventually(t, "delivery over "+security, func() bool { return len(h.uids()) == 1 })

			// An untrusted certificate is refused and reported.
			h2 := wtNewHandler()
			cfg.TLSConfig = nil
			w2, _ := wtStart(t, cfg, h2)
			wtEventually(t, "certificate error", func() bool {
				return strings.Contains(w2.State().LastError, "certificate")
			})
			if n := len(h2.uids()); n != 0 {
				t.Errorf("%d deliveries over an untrusted connection", n)
			}
		})
	}
}

func TestWatcherWatchdogDropsSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			defer c.Close() // accept, then say nothing at all
		}
	}()
	cfg := WatcherConfig{
		Name: "silent", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: "none",
		Username: "u", Password: "p",
		CommandTimeout: 100 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
	w, _ := wtStart(t, cfg, wtNewHandler())
	// imapclient's own greeting timeout is 30s: only the watchdog is this fast.
	wtEventually(t, "watchdog error and a reconnect", func() bool {
		return strings.Contains(w.State().LastError, "watchdog") && accepts.Load() >= 2
	})
	if w.State().Connected {
		t.Error("connected to a silent server")
	}
}

func TestWatcherBackoffBounds(t *testing.T) {
	w := NewWatcher(WatcherConfig{BackoffMin: time.Second, BackoffMax: time.Minute}, nil)
	for attempt := 1; attempt <= 20; attempt++ {
		want := min(time.Second<<(attempt-1), time.Minute)
		if attempt > 10 {
			want = time.Minute
		}
		for range 20 {
			if d := w.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

// wtProxy forwards TCP connections to a backend and can turn the existing
// ones into black holes (the server's answers are dropped), the way a dead
// NAT entry or a hung server looks to a client.
type wtProxy struct {
	ln      net.Listener
	backend string

	mu     sync.Mutex
	frozen []*atomic.Bool
}

func wtNewProxy(t *testing.T, backend string) *wtProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wtProxy{ln: ln, backend: backend}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			frozen := new(atomic.Bool)
			p.mu.Lock()
			p.frozen = append(p.frozen, frozen)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := b.Read(buf)
					if n > 0 && !frozen.Load() {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *wtProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
}

type wtSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *wtSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *wtSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A connection that goes silent mid-session (here: the answer to IDLE's
// DONE never comes) is dropped by the watchdog and the watcher carries on
// over a new one. Without the watchdog the client would wait forever.
func TestWatcherWatchdogDropsConnectionSilentMidSession(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	p := wtNewProxy(t, s.addr)
	s.append(t, "INBOX", wtMail(1))
	h := wtNewHandler()
	var logs wtSyncBuffer
	cfg := wtConfig(s)
	cfg.Port = p.ln.Addr().(*net.TCPAddr).Port
	cfg.IDLE = true
	cfg.PollInterval = 100 * time.Millisecond
	cfg.CommandTimeout = 300 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w, _ := wtStart(t, cfg, h)
	wtEventually(t, "first delivery and idling", func() bool { return len(h.uids()) == 1 && w.State().Idling })

	p.freeze()
	s.append(t, "INBOX", wtMail(2))
	wtEventually(t, "delivery over a new connection", func() bool { return len(h.uids()) == 2 })
	if st := w.State(); st.Connects < 2 {
		t.Errorf("connects = %d, want a reconnect", st.Connects)
	}
	if !strings.Contains(logs.String(), "watchdog") {
		t.Errorf("no watchdog in the log:\n%s", logs.String())
	}
}

// The watcher against the `casemail dev` mail world: a mail sent over SMTP
// to a +tag address reaches the handler with its Delivered-To, by IDLE, and
// is moved to the processed folder.
func TestWatcherWithDevWorld(t *testing.T) {
	world, err := devworld.Start(context.Background(), devworld.Options{
		IMAPAddr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer world.Close()
	_, port, _ := net.SplitHostPort(world.IMAPAddr())
	cfg := WatcherConfig{
		Name: "helpdesk", Host: "localhost", Security: "none",
		Username: "helpdesk@example.org", Password: devworld.DefaultPassword,
		ProcessedFolder: "Processed", IDLE: true, PollInterval: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
	}
	cfg.Port, _ = strconv.Atoi(port)
	h := wtNewHandler()
	w, _ := wtStart(t, cfg, h)
	wtEventually(t, "idling", func() bool { return w.State().Idling })

	err = smtp.SendMail(world.SMTPAddr(), nil, "user@example.com", []string{"helpdesk+T0K3N@example.org"},
		[]byte("From: user@example.com\r\nSubject: hello\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	wtEventually(t, "delivery", func() bool { return len(h.uids()) == 1 })
	got, _, _ := h.snapshot()
	if !strings.Contains(string(got[0].Raw), "Delivered-To: helpdesk+T0K3N@example.org\r\n") {
		t.Errorf("raw lacks Delivered-To:\n%s", got[0].Raw)
	}
	wtEventually(t, "moved to Processed", func() bool {
		c, err := imapclient.DialInsecure(world.IMAPAddr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login("helpdesk@example.org", devworld.DefaultPassword).Wait(); err != nil {
			t.Fatal(err)
		}
		in, err1 := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		pr, err2 := c.Status("Processed", &imap.StatusOptions{NumMessages: true}).Wait()
		return err1 == nil && err2 == nil && *in.NumMessages == 0 && *pr.NumMessages == 1
	})
}
