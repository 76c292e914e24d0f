package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/intake/senderauth"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/smtptest"
	"github.com/casemail/casemail/store"
)

const mineAddr = "mine@example.org"

// mineMails are the outbox's my-cases mails (they belong to no case).
func (e *procEnv) mineMails(t *testing.T) []store.OutboxRow {
	t.Helper()
	rows, err := e.st.DB().Query(context.Background(), `SELECT id FROM outbox WHERE kind = 'mine' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []store.OutboxRow
	for _, id := range ids {
		r, err := e.st.OutboxByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// sendAll sends the outbox to an SMTP test server and returns what it got.
func (e *procEnv) sendAll(t *testing.T, srv *smtptest.Server) []smtptest.Message {
	t.Helper()
	s := notify.NewSender(e.st, notify.SMTPConfig{Host: srv.Host(), Port: srv.Port(), Security: "none",
		Timeout: 5 * time.Second, LoopID: e.keys.LoopID()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for {
		n, err := s.SendOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return srv.Messages()
		}
	}
}

// TestMineAddressAnswersTheAgent: a mail from an agent to the mailbox's
// mine address is answered with their open cases, overdue first, in
// their language, at their address in rules.yaml (the SMTP server gets it
// there); it opens no case. A mail with the agent's address forged in
// From and its own Reply-To gets the list to the agent, never to the
// forger.
func TestMineAddressAnswersTheAgent(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t) // anna's
	cases := e.count(t, `SELECT count(*) FROM cases`)
	r := e.mailFrom(t, "Anna Berg <anna@example.org>", mineAddr, "mine", "", "")
	if r.Outcome != OutcomeAnswered || r.CaseNumber != 0 {
		t.Fatalf("mail to the mine address: %+v, want answered, no case", r)
	}
	// Forged: the agent's address (in capitals) in From, the forger's in
	// Reply-To and Sender.
	r = e.mailFrom(t, "Anna Berg <ANNA@EXAMPLE.ORG>", "Helpdesk <helpdesk@example.org>, "+mineAddr, "mine",
		"Reply-To: "+stranger+"\nSender: "+stranger+"\n", "send me anna's cases")
	if r.Outcome != OutcomeAnswered {
		t.Fatalf("forged mail to the mine address: %+v", r)
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != cases {
		t.Errorf("mails to the mine address opened %d cases", got-cases)
	}
	mine := e.mineMails(t)
	if len(mine) != 2 {
		t.Fatalf("%d my-cases mails queued, want 2", len(mine))
	}
	for _, m := range mine {
		if len(m.To) != 1 || !strings.Contains(m.To[0], "<anna@example.org>") || !strings.Contains(m.Text, fmt.Sprintf("#%d ", n)) ||
			!strings.Contains(m.Text, "Du har 1 öppet ärende, försenade först") {
			t.Errorf("my-cases mail to %v:\n%s", m.To, m.Text)
		}
	}
	srv := smtptest.Start(t)
	got, lists := map[string]int{}, map[string]int{}
	for _, m := range e.sendAll(t, srv) {
		for _, to := range m.To {
			got[strings.ToLower(to)]++
		}
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if subj, _ := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject")); subj == "Dina öppna ärenden: 1" {
			lists[strings.ToLower(strings.Join(m.To, ","))]++
			if pm.Header.Get("Auto-Submitted") != "auto-generated" || pm.Header.Get("In-Reply-To") == "" {
				t.Errorf("my-cases mail's header: %v", pm.Header)
			}
		}
	}
	if lists["anna@example.org"] != 2 || len(lists) != 1 {
		t.Errorf("the SMTP server got the lists for %v, want 2 for anna@example.org only", lists)
	}
	if got[stranger] != 0 {
		t.Errorf("the forger got %d mails", got[stranger])
	}
}

// TestMineAddressRefuses: a non-agent's mail and an agent's mail whose
// sender authentication failed are not answered but quarantined with the
// reason (and stay so on a retry); automatic mail too. A reply to a
// notice that also names the mine address is the case's, not a request.
func TestMineAddressRefuses(t *testing.T) {
	e := newConvProc(t)
	e.p.Senders = senderauth.New(senderauth.Options{AuthservIDs: []string{"mx.example.org"}})
	n := e.open(t)
	for _, tc := range []struct {
		from, extra, reason string
	}{
		{"Stranger <" + stranger + ">", "", `"stranger@evil.example" is not one of the people in rules.yaml`},
		{"Ola Nordmann <" + ola + ">", "", "is not one of the people"},
		{"Anna Berg <" + anna + ">", "Authentication-Results: mx.example.org; dmarc=fail header.from=example.org\n",
			"the sender's authentication failed (DMARC failed for example.org)"},
		{"Anna Berg <" + anna + ">", "Auto-Submitted: auto-replied\n", "automatic mail"},
	} {
		r := e.mailFrom(t, tc.from, mineAddr, "mine", tc.extra, "")
		if r.Outcome != OutcomeQuarantined || r.Quarantine == 0 {
			t.Errorf("%s: %+v, want quarantined", tc.from, r)
			continue
		}
		q, err := e.st.GetQuarantine(context.Background(), r.Quarantine)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(q.Reason, tc.reason) || len(q.Raw) == 0 {
			t.Errorf("%s: quarantined with %q (%d bytes), want %q", tc.from, q.Reason, len(q.Raw), tc.reason)
		}
		res, err := e.p.Retry(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != OutcomeQuarantined || res.Quarantine != q.ID {
			t.Errorf("%s: retry %+v, want still quarantined as %d", tc.from, res, q.ID)
		}
	}
	if got := len(e.mineMails(t)); got != 0 {
		t.Errorf("%d my-cases mails for refused requests", got)
	}
	if got := e.count(t, `SELECT count(*) FROM cases`); got != 1 {
		t.Errorf("%d cases, want 1: a mail to the mine address opens none", got)
	}
	// A reply to anna's notice that also goes to the mine address: the
	// case's, and the mine address is no participant.
	r := e.answer(t, e.notice(t, n, anna), anna, "Vi ser på det.", "Cc: "+mineAddr+"\n")
	if r.Outcome != OutcomeMessage || r.CaseNumber != n {
		t.Errorf("a reply naming the mine address: %+v, want a message on #%d", r, n)
	}
	if _, ok := e.participants(t, n)[mineAddr]; ok {
		t.Error("the mine address became a participant")
	}
	if got := len(e.sent(t, n, "reply", ola)); got != 1 {
		t.Errorf("the reply reached the requester %d times, want 1", got)
	}
}

// TestMineAddressCap: an agent gets at most ack_limit_per_hour (3 here)
// answers an hour; past it the mail is answered with nothing, counted in
// the caps and logged; an hour later it is answered again.
func TestMineAddressCap(t *testing.T) {
	e := newConvProc(t)
	var logs bytes.Buffer
	e.p.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for i := range 5 {
		r := e.mailFrom(t, "Anna Berg <"+anna+">", mineAddr, "mine", "", "")
		if r.Outcome != OutcomeAnswered {
			t.Fatalf("mail %d: %+v", i, r)
		}
		if i >= 3 && !strings.Contains(r.Reason, "not mailed") {
			t.Errorf("mail %d: reason %q, want the cap", i, r.Reason)
		}
	}
	if got := len(e.mineMails(t)); got != 3 {
		t.Errorf("%d my-cases mails, want 3 (ack_limit_per_hour)", got)
	}
	if got := e.p.Stats().Capped["mine"]; got != 2 {
		t.Errorf("caps{cap=mine} = %d, want 2", got)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"my cases not mailed") || !strings.Contains(logs.String(), "agent=anna") {
		t.Errorf("the cap is not logged at INFO:\n%s", logs.String())
	}
	e.now = e.now.Add(time.Hour)
	e.mailFrom(t, "Anna Berg <"+anna+">", mineAddr, "mine", "", "")
	if got := len(e.mineMails(t)); got != 4 {
		t.Errorf("%d my-cases mails an hour later, want 4", got)
	}
}

// TestMineAddressAnsweredOnce: the same mail to the mine address
// delivered twice — through two mailboxes (the mine address's and
// another it was Cc'd to, in either order), or twice into one — is
// answered once and opens no case; another mail from the agent is
// answered again.
func TestMineAddressAnsweredOnce(t *testing.T) {
	for _, order := range [][]string{{"helpdesk", "qm", "helpdesk"}, {"qm", "helpdesk", "qm"}, {"helpdesk", "helpdesk"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			e := newConvProc(t)
			n := e.open(t)
			cases := e.count(t, `SELECT count(*) FROM cases`)
			raw := mailText("Anna Berg <"+anna+">", mineAddr, "mine", "mine-once@example.org", "Cc: qm@example.org\n", "")
			var outcomes []string
			for _, mb := range order {
				outcomes = append(outcomes, e.deliver(t, mb, raw).Outcome)
			}
			if want := "answered" + strings.Repeat(" duplicate", len(order)-1); strings.Join(outcomes, " ") != want {
				t.Errorf("outcomes %v, want answered once, then duplicates", outcomes)
			}
			if got := len(e.mineMails(t)); got != 1 {
				t.Errorf("%d my-cases mails for one mail, want 1", got)
			}
			if got := e.count(t, `SELECT count(*) FROM cases`); got != cases {
				t.Errorf("the mail opened %d cases", got-cases)
			}
			e.mailFrom(t, "Anna Berg <"+anna+">", mineAddr, "mine", "", "")
			mine := e.mineMails(t)
			if len(mine) != 2 || !strings.Contains(mine[1].Text, fmt.Sprintf("#%d ", n)) {
				t.Errorf("another mail: %d my-cases mails, want 2", len(mine))
			}
		})
	}
}
