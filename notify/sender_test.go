package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	gomsgmail "github.com/emersion/go-message/mail"
	"github.com/jackc/pgx/v5"
	"github.com/wneessen/go-mail"

	"github.com/casemail/casemail/notify/smtptest"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
	"github.com/casemail/casemail/store/testdb"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testLogger writes through t, so a failing test shows what the sender said.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type senderEnv struct {
	st   *store.Store
	smtp *smtptest.Server
	url  string
}

func newSenderEnv(t testing.TB) *senderEnv {
	t.Helper()
	st, url := testdb.Open(t)
	return &senderEnv{st: st, smtp: smtptest.Start(t), url: url}
}

func (e *senderEnv) config() SMTPConfig {
	return SMTPConfig{Host: e.smtp.Host(), Port: e.smtp.Port(), Security: "none", Timeout: 5 * time.Second, LoopID: testLoopID}
}

func (e *senderEnv) sender(t testing.TB) *Sender {
	return NewSender(e.st, e.config(), testLogger(t))
}

func (e *senderEnv) newCase(t testing.TB) int64 {
	t.Helper()
	c, err := store.CreateCase(context.Background(), e.st.DB(), store.NewCase{
		Subject: "Skrivaren", Requester: "ola@example.no", Mailbox: "helpdesk"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func (e *senderEnv) enqueue(t testing.TB, m store.OutMail) int64 {
	t.Helper()
	id, err := store.EnqueueMail(context.Background(), e.st.DB(), m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *senderEnv) row(t testing.TB, id int64) store.OutboxRow {
	t.Helper()
	r, err := e.st.OutboxByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func simpleMail(n int) store.OutMail {
	return store.OutMail{
		Kind:      KindAck,
		MessageID: NewMessageID("", "example.org"),
		From:      "Helpdesk <helpdesk@example.org>",
		To:        []string{fmt.Sprintf("user%d@example.no", n)},
		Subject:   fmt.Sprintf("[#%d] test", 1000+n),
		Text:      "Hej\n",
		Headers:   map[string]string{"Auto-Submitted": "auto-replied"},
	}
}

func parseMail(t testing.TB, raw []byte) (*gomsgmail.Reader, string) {
	t.Helper()
	r, err := gomsgmail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing sent mail: %v\n%s", err, raw)
	}
	return r, string(raw)
}

func messageIDs(t testing.TB, msgs []smtptest.Message) []string {
	var ids []string
	for _, m := range msgs {
		r, _ := parseMail(t, m.Data)
		id, err := r.Header.MessageID()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestSenderDeliversEveryHeader(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	caseID := env.newCase(t)

	// An attachment stored the way intake stores it.
	attData := []byte("PNG\x00\x01binary data")
	if _, err := store.AddMessage(ctx, env.st.DB(), store.NewMessage{CaseID: caseID, Direction: "in",
		Attachments: []store.NewAttachment{{Filename: "bild.png", ContentType: "image/png", Size: int64(len(attData)), Data: attData}}}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(attData)

	keys := mustKeys(t, keyA)
	tok := keys.Sign(1001, "anna@example.org", time.Now().Add(time.Hour))
	msgID := NewMessageID(tok, "example.org")
	text := "Hej Anna,\n\nÄrendet gäller skrivaren på plan 3. En lång rad som är längre än sjuttiosex tecken för att tvinga fram quoted-printable mjuka radbrytningar.\n"
	id := env.enqueue(t, store.OutMail{
		CaseID:      caseID,
		Kind:        KindAssignment,
		MessageID:   msgID,
		From:        FormatAddress("Helpdesk Östra", "helpdesk@example.org"),
		ReplyTo:     ReplyAddress("helpdesk@example.org", tok),
		To:          []string{"anna@example.org"},
		Cc:          []string{"per@example.org"},
		Subject:     Tag(1001, "Skrivaren på plan 3\r\nBcc: evil@example.com"),
		Text:        text,
		HTML:        "<p>Hej Anna</p>",
		InReplyTo:   "orig@client.example",
		References:  []string{"first@client.example", "orig@client.example"},
		Headers:     map[string]string{"Auto-Submitted": "auto-generated", "X-Casemail-Case": "1001\r\nX-Evil: 1"},
		Attachments: []store.OutAttachment{{SHA256: sum[:], Filename: "bild.png", ContentType: "image/png"}},
		Recipient:   "anna@example.org",
	})
	created := env.row(t, id).CreatedAt

	s := NewSender(env.st, SMTPConfig{Host: env.smtp.Host(), Port: env.smtp.Port(), Security: "none",
		Username: "helpdesk@example.org", Password: "secret", Timeout: 5 * time.Second, LoopID: testLoopID}, testLogger(t))
	n, err := s.SendOnce(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SendOnce = %d, %v", n, err)
	}
	if n, err := s.SendOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second SendOnce = %d, %v; want nothing left", n, err)
	}
	msgs := env.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d mails, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "helpdesk@example.org" || strings.Join(got.To, ",") != "anna@example.org,per@example.org" {
		t.Errorf("envelope: from %q to %v", got.From, got.To)
	}
	if got.Username != "helpdesk@example.org" {
		t.Errorf("AUTH username = %q", got.Username)
	}

	r, raw := parseMail(t, got.Data)
	h := r.Header
	if v, _ := h.MessageID(); v != msgID {
		t.Errorf("Message-ID = %q, want %q", v, msgID)
	}
	if d, err := h.Date(); err != nil || !d.Equal(created.Truncate(time.Second)) {
		t.Errorf("Date = %v (%v), want the row's created_at %v", d, err, created)
	}
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Name != "Helpdesk Östra" || from[0].Address != "helpdesk@example.org" {
		t.Errorf("From = %v", from)
	}
	if rt, _ := h.AddressList("Reply-To"); len(rt) != 1 || rt[0].Address != "helpdesk+"+tok+"@example.org" {
		t.Errorf("Reply-To = %v", rt)
	}
	if cc, _ := h.AddressList("Cc"); len(cc) != 1 || cc[0].Address != "per@example.org" {
		t.Errorf("Cc = %v", cc)
	}
	if subj, _ := h.Subject(); subj != "[#1001] Skrivaren på plan 3 Bcc: evil@example.com" {
		t.Errorf("Subject = %q", subj)
	}
	if h.Has("Bcc") || h.Has("X-Evil") {
		t.Errorf("header injection reached the mail:\n%s", raw)
	}
	if irt, _ := h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "orig@client.example" {
		t.Errorf("In-Reply-To = %v", irt)
	}
	if refs, _ := h.MsgIDList("References"); strings.Join(refs, " ") != "first@client.example orig@client.example" {
		t.Errorf("References = %v", refs)
	}
	for k, want := range map[string]string{
		"Auto-Submitted":  "auto-generated",
		"X-Casemail-Loop": testLoopID, // the deployment, not the mailbox
		"X-Casemail-Case": "1001 X-Evil: 1",
	} {
		if v := h.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}

	var plain, html string
	var att []byte
	var attName string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p.Body)
		switch ph := p.Header.(type) {
		case *gomsgmail.InlineHeader:
			ct, params, _ := ph.ContentType()
			switch ct {
			case "text/plain":
				plain = string(body)
				if params["charset"] != "utf-8" && params["charset"] != "UTF-8" {
					t.Errorf("text charset = %q", params["charset"])
				}
				if enc := ph.Get("Content-Transfer-Encoding"); enc != "quoted-printable" {
					t.Errorf("text encoding = %q, want quoted-printable", enc)
				}
			case "text/html":
				html = string(body)
			}
		case *gomsgmail.AttachmentHeader:
			attName, _ = ph.Filename()
			att = body
		}
	}
	if strings.ReplaceAll(plain, "\r\n", "\n") != text {
		t.Errorf("text body = %q, want %q", plain, text)
	}
	if html != "<p>Hej Anna</p>" {
		t.Errorf("html body = %q", html)
	}
	if attName != "bild.png" || !bytes.Equal(att, attData) {
		t.Errorf("attachment %q = %q, want %q", attName, att, attData)
	}

	row := env.row(t, id)
	if row.Status != "sent" || row.SentAt == nil || row.Attempts != 1 {
		t.Errorf("row after send: status %s sent_at %v attempts %d", row.Status, row.SentAt, row.Attempts)
	}
}

func TestSenderRetriesTemporaryFailure(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	id := env.enqueue(t, simpleMail(1))
	s := env.sender(t)
	clock := time.Now()
	s.Now = func() time.Time { return clock }

	env.smtp.FailNext(1, 451)
	if n, err := s.SendOnce(ctx); err != nil || n != 1 {
		t.Fatalf("SendOnce = %d, %v", n, err)
	}
	row := env.row(t, id)
	if row.Status != "pending" || !strings.Contains(row.LastError, "451") {
		t.Fatalf("after 451: status %s, error %q", row.Status, row.LastError)
	}
	if d := row.NextAttemptAt.Sub(clock); d < 29*time.Second || d > 31*time.Second {
		t.Errorf("first retry in %v, want 30s", d)
	}
	if len(env.smtp.Messages()) != 0 || env.smtp.Rejected() != 1 {
		t.Fatalf("server: %d accepted, %d rejected", len(env.smtp.Messages()), env.smtp.Rejected())
	}
	// Not due yet.
	if n, _ := s.SendOnce(ctx); n != 0 {
		t.Fatalf("retried before the backoff: %d", n)
	}
	clock = clock.Add(31 * time.Second)
	if n, err := s.SendOnce(ctx); err != nil || n != 1 {
		t.Fatalf("retry SendOnce = %d, %v", n, err)
	}
	if n, _ := s.SendOnce(ctx); n != 0 {
		t.Fatalf("sent row claimed again")
	}
	msgs := env.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d mails, want exactly 1", len(msgs))
	}
	if ids := messageIDs(t, msgs); ids[0] != row.MessageID {
		t.Errorf("retried mail Message-ID %q, want %q", ids[0], row.MessageID)
	}
	if r := env.row(t, id); r.Status != "sent" || r.Attempts != 2 {
		t.Errorf("row: status %s attempts %d", r.Status, r.Attempts)
	}
}

func TestSenderPermanentFailure(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	caseID := env.newCase(t)
	m := simpleMail(1)
	m.CaseID = caseID
	id := env.enqueue(t, m)
	okID := env.enqueue(t, simpleMail(2))
	s := env.sender(t)
	var failed []store.OutboxRow
	var reasons []string
	s.OnFailure = func(_ context.Context, row store.OutboxRow, reason string) {
		failed = append(failed, row)
		reasons = append(reasons, reason)
	}

	env.smtp.FailNext(1, 550)
	if n, err := s.SendOnce(ctx); err != nil || n != 2 {
		t.Fatalf("SendOnce = %d, %v", n, err)
	}
	row := env.row(t, id)
	if row.Status != "failed" || !strings.Contains(row.LastError, "550") {
		t.Errorf("after 550: status %s error %q", row.Status, row.LastError)
	}
	if len(failed) != 1 || failed[0].ID != id || failed[0].CaseID != caseID || !strings.Contains(reasons[0], "550") {
		t.Errorf("OnFailure calls: %+v %q", failed, reasons)
	}
	// The connection carried on: the next mail of the batch went out.
	if r := env.row(t, okID); r.Status != "sent" {
		t.Errorf("second mail of the batch: %s", r.Status)
	}
	s.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	if n, _ := s.SendOnce(ctx); n != 0 {
		t.Error("failed mail tried again")
	}
	if msgs := env.smtp.Messages(); len(msgs) != 1 {
		t.Errorf("server got %d mails, want 1", len(msgs))
	}
}

func TestSenderRefusesBadRows(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	bad := simpleMail(1)
	bad.Headers = map[string]string{"Bcc": "evil@example.com"}
	badID := env.enqueue(t, bad)
	bad2 := simpleMail(2)
	bad2.To = []string{"not an address"}
	bad2ID := env.enqueue(t, bad2)
	goodID := env.enqueue(t, simpleMail(3))
	s := env.sender(t)
	if n, err := s.SendOnce(ctx); err != nil || n != 3 {
		t.Fatalf("SendOnce = %d, %v", n, err)
	}
	for _, id := range []int64{badID, bad2ID} {
		if r := env.row(t, id); r.Status != "failed" {
			t.Errorf("row %d: %s %q, want failed", id, r.Status, r.LastError)
		}
	}
	if r := env.row(t, goodID); r.Status != "sent" {
		t.Errorf("good row: %s", r.Status)
	}
	if n := len(env.smtp.Messages()); n != 1 {
		t.Errorf("server got %d mails", n)
	}
}

// The SMTP server goes down, mail piles up, the server comes back: each
// queued mail arrives exactly once.
func TestSenderServerDown(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	env.smtp.SetDown(true)
	var ids []int64
	for i := range 5 {
		ids = append(ids, env.enqueue(t, simpleMail(i)))
	}
	s := env.sender(t)
	clock := time.Now()
	s.Now = func() time.Time { return clock }
	if n, err := s.SendOnce(ctx); err != nil || n != 5 {
		t.Fatalf("SendOnce while down = %d, %v", n, err)
	}
	for _, id := range ids {
		if r := env.row(t, id); r.Status != "pending" || r.LastError == "" {
			t.Errorf("row %d while down: %s %q", id, r.Status, r.LastError)
		}
	}
	// Still down at the first retry: the backoff grows.
	clock = clock.Add(31 * time.Second)
	if n, _ := s.SendOnce(ctx); n != 5 {
		t.Fatalf("second try while down handled %d", n)
	}
	if r := env.row(t, ids[0]); r.NextAttemptAt.Sub(clock) < 59*time.Second {
		t.Errorf("second backoff %v, want 1m", r.NextAttemptAt.Sub(clock))
	}
	env.smtp.SetDown(false)
	clock = clock.Add(61 * time.Second)
	if n, err := s.SendOnce(ctx); err != nil || n != 5 {
		t.Fatalf("SendOnce after outage = %d, %v", n, err)
	}
	msgs := env.smtp.Messages()
	if len(msgs) != 5 {
		t.Fatalf("server got %d mails, want 5", len(msgs))
	}
	seen := map[string]bool{}
	for _, id := range messageIDs(t, msgs) {
		if seen[id] {
			t.Errorf("Message-ID %s delivered twice", id)
		}
		seen[id] = true
	}
}

// A sender that claimed a row and died: after the lease another sender
// takes the row over and sends it with the same Message-ID. When the
// first had already handed the mail to the server, the recipient gets it
// twice — the one duplicate the design allows — with one Message-ID.
func TestSenderCrashResend(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)

	t.Run("died before sending", func(t *testing.T) {
		id := env.enqueue(t, simpleMail(1))
		now := time.Now()
		rows, err := env.st.ClaimOutbox(ctx, 10, time.Minute, now) // the instance that dies
		if err != nil || len(rows) != 1 {
			t.Fatalf("claim: %v %v", rows, err)
		}
		s := env.sender(t)
		s.Now = func() time.Time { return now.Add(30 * time.Second) }
		if n, _ := s.SendOnce(ctx); n != 0 {
			t.Fatal("row taken over during its lease")
		}
		s.Now = func() time.Time { return now.Add(2 * time.Minute) }
		if n, err := s.SendOnce(ctx); err != nil || n != 1 {
			t.Fatalf("takeover SendOnce = %d, %v", n, err)
		}
		msgs := env.smtp.Messages()
		if len(msgs) != 1 || messageIDs(t, msgs)[0] != rows[0].MessageID {
			t.Fatalf("server got %d mails (%v), want the row's Message-ID once", len(msgs), messageIDs(t, msgs))
		}
		if r := env.row(t, id); r.Status != "sent" || r.Attempts != 2 {
			t.Errorf("row: %s, %d attempts", r.Status, r.Attempts)
		}
	})

	t.Run("died after the server accepted", func(t *testing.T) {
		before := len(env.smtp.Messages())
		id := env.enqueue(t, simpleMail(2))
		now := time.Now()
		dying := env.sender(t)
		rows, err := env.st.ClaimOutbox(ctx, 10, time.Minute, now)
		if err != nil || len(rows) != 1 {
			t.Fatalf("claim: %v %v", rows, err)
		}
		// It sends, and dies before MarkSent.
		msg, err := dying.build(ctx, rows[0])
		if err != nil {
			t.Fatal(err)
		}
		c, err := dying.dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(msg); err != nil {
			t.Fatal(err)
		}
		c.Close()

		s := env.sender(t)
		s.Now = func() time.Time { return now.Add(2 * time.Minute) }
		if n, err := s.SendOnce(ctx); err != nil || n != 1 {
			t.Fatalf("takeover SendOnce = %d, %v", n, err)
		}
		msgs := env.smtp.Messages()[before:]
		if len(msgs) != 2 {
			t.Fatalf("server got %d copies, want 2 (accepted before the crash, and the resend)", len(msgs))
		}
		ids := messageIDs(t, msgs)
		if ids[0] != rows[0].MessageID || ids[1] != rows[0].MessageID {
			t.Errorf("copies have Message-IDs %v, want both %s", ids, rows[0].MessageID)
		}
		// Same Date too: the resend is the same mail.
		r0, _ := parseMail(t, msgs[0].Data)
		r1, _ := parseMail(t, msgs[1].Data)
		if r0.Header.Get("Date") != r1.Header.Get("Date") {
			t.Errorf("Dates differ: %q vs %q", r0.Header.Get("Date"), r1.Header.Get("Date"))
		}
		if r := env.row(t, id); r.Status != "sent" {
			t.Errorf("row: %s", r.Status)
		}
	})
}

// Two daemons on one database: every mail is sent exactly once.
func TestTwoSendersSendEachOnce(t *testing.T) {
	ctx := context.Background()
	env := newSenderEnv(t)
	const total = 200
	err := env.st.InTx(ctx, func(tx pgx.Tx) error {
		for i := range total {
			if _, err := store.EnqueueMail(ctx, tx, simpleMail(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, env.url)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, st := range []*store.Store{env.st, st2} {
		s := NewSender(st, env.config(), testLogger(t))
		s.BatchSize = 7
		s.PollInterval = 10 * time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				n, err := s.SendOnce(runCtx)
				if err != nil && runCtx.Err() == nil {
					t.Errorf("sender %d: %v", i, err)
					return
				}
				counts[i] += n
				if n == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	env.smtp.Wait(t, total, 60*time.Second)
	// Give a duplicate, if there were one, time to arrive.
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()

	msgs := env.smtp.Messages()
	if len(msgs) != total {
		t.Errorf("server got %d mails, want %d", len(msgs), total)
	}
	seen := map[string]int{}
	for _, id := range messageIDs(t, msgs) {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if counts[0] == 0 || counts[1] == 0 {
		t.Logf("one sender did all the work (%v); the race was not exercised this run", counts)
	}
	if pending, _, err := env.st.OutboxStats(ctx); err != nil || pending != 0 {
		t.Errorf("left in queue: %d, %v", pending, err)
	}
}

func TestSenderRunWakeAndStop(t *testing.T) {
	env := newSenderEnv(t)
	s := env.sender(t)
	s.PollInterval = time.Hour // only Wake can make it look
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// Let Run reach its wait; then a queued mail goes out only on Wake.
	time.Sleep(100 * time.Millisecond)
	env.enqueue(t, simpleMail(1))
	s.Wake()
	env.smtp.Wait(t, 1, 10*time.Second)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg SMTPConfig
		ok  bool
	}{
		{SMTPConfig{Host: "127.0.0.1", Security: "none"}, true},
		{SMTPConfig{Host: "localhost", Security: "none"}, true},
		{SMTPConfig{Host: "::1", Security: "none"}, true},
		{SMTPConfig{Host: "smtp.example.org", Security: "none"}, false},
		{SMTPConfig{Host: "10.0.0.1", Security: "none"}, false},
		{SMTPConfig{Host: "smtp.example.org", Security: "starttls"}, true},
		{SMTPConfig{Host: "smtp.example.org", Security: "tls"}, true},
		{SMTPConfig{Host: "smtp.example.org", Security: "ssl"}, false},
		{SMTPConfig{Host: "", Security: "tls"}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: err = %v, want ok=%v", c.cfg, err, c.ok)
		}
	}
	s := NewSender(nil, SMTPConfig{Host: "smtp.example.org", Security: "none"}, nil)
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run with plain text to a remote host: %v", err)
	}
	// Without our loop identity a mail could not be recognised when it
	// comes back: nothing is sent.
	s = NewSender(nil, SMTPConfig{Host: "127.0.0.1", Security: "none"}, nil)
	if _, err := s.SendOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "loop identity") {
		t.Errorf("SendOnce without LoopID: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if Backoff(1000) != time.Hour {
		t.Error("Backoff(1000) not capped")
	}
}

// Throughput of the outbox to a loopback SMTP server: queueing, claiming,
// sending over reused connections and marking. Run with
//
//	go test ./notify -run '^$' -bench Outbox -benchtime 2000x
func BenchmarkOutbox(b *testing.B) {
	ctx := context.Background()
	env := newSenderEnv(b)
	s := NewSender(env.st, env.config(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.BatchSize = 100
	err := env.st.InTx(ctx, func(tx pgx.Tx) error {
		for i := range b.N {
			if _, err := store.EnqueueMail(ctx, tx, simpleMail(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n, err := s.SendOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("queue empty after %d of %d", sent, b.N)
		}
		sent += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := len(env.smtp.Messages()); got != b.N {
		b.Fatalf("server got %d mails, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
}

// On shutdown, and when a batch outlives its lease, the rows not yet tried
// go back to the queue at once, their attempt not counted.
func TestSenderHandsBackUntriedRows(t *testing.T) {
	env := newSenderEnv(t)
	var ids []int64
	for i := range 4 {
		ids = append(ids, env.enqueue(t, simpleMail(i)))
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := env.sender(t)
		dial := s.dialer
		s.dialer = func(c context.Context) (*mail.Client, error) {
			cl, err := dial(c)
			cancel() // the daemon is told to stop while the first mail goes out
			return cl, err
		}
		n, err := s.SendOnce(ctx)
		if n != 1 || err == nil {
			t.Fatalf("SendOnce = %d, %v; want 1 and the context error", n, err)
		}
		if r := env.row(t, ids[0]); r.Status != "sent" {
			t.Errorf("mail in flight at cancel: %s", r.Status)
		}
		for _, id := range ids[1:] {
			if r := env.row(t, id); r.Status != "pending" || r.Attempts != 0 {
				t.Errorf("untried row %d: %s, %d attempts", id, r.Status, r.Attempts)
			}
		}
	})

	t.Run("lease running out", func(t *testing.T) {
		s := env.sender(t)
		start := time.Now()
		calls := 0
		s.Now = func() time.Time {
			calls++
			if calls > 3 { // claim, lease check, mark sent; then the lease is nearly over
				return start.Add(s.Lease)
			}
			return start
		}
		n, err := s.SendOnce(context.Background())
		if n != 1 || err != nil {
			t.Fatalf("SendOnce = %d, %v", n, err)
		}
		if r := env.row(t, ids[1]); r.Status != "sent" {
			t.Errorf("first row: %s", r.Status)
		}
		for _, id := range ids[2:] {
			if r := env.row(t, id); r.Status != "pending" || r.Attempts != 0 {
				t.Errorf("untried row %d: %s, %d attempts", id, r.Status, r.Attempts)
			}
		}
	})
	if n := len(env.smtp.Messages()); n != 2 {
		t.Errorf("server got %d mails, want 2", n)
	}
}
