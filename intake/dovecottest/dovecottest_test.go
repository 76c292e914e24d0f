package dovecottest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func rawMail(i int) []byte {
	return []byte(fmt.Sprintf("From: Ola Nordmann <ola@bryne.example.no>\r\n"+
		"To: helpdesk@example.org\r\n"+
		"Subject: Mail %d\r\n"+
		"Message-ID: <m%d@bryne.example.no>\r\n"+
		"Date: Mon, 2 Nov 2026 10:00:00 +0100\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"\r\n"+
		"Hei, dette er melding %d. Blåbær.\r\n", i, i, i))
}

type fetched struct {
	uid   imap.UID
	flags []imap.Flag
	body  []byte
}

func fetchAll(t *testing.T, c *imapclient.Client, folder string) (uint32, []fetched) {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("SELECT %s: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return sel.UIDValidity, nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID:         true,
		Flags:       true,
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	var out []fetched
	for _, m := range msgs {
		out = append(out, fetched{uid: m.UID, flags: m.Flags, body: m.FindBodySection(section)})
	}
	return sel.UIDValidity, out
}

func TestAppendAndFetch(t *testing.T) {
	t.Parallel()
	s := Start(t, User{"helpdesk", "hd-secret"}, User{"anna", "a"})
	var uids []imap.UID
	for i := 1; i <= 3; i++ {
		var flags []imap.Flag
		if i == 2 {
			flags = []imap.Flag{imap.FlagSeen}
		}
		uids = append(uids, s.Append(t, "helpdesk", "INBOX", rawMail(i), flags...))
	}
	if !slices.Equal(uids, []imap.UID{1, 2, 3}) {
		t.Errorf("APPENDUIDs = %v, want 1 2 3", uids)
	}

	c := s.Login(t, "helpdesk")
	_, msgs := fetchAll(t, c, "INBOX")
	if len(msgs) != 3 {
		t.Fatalf("fetched %d mails, want 3", len(msgs))
	}
	for i, m := range msgs {
		if !bytes.Equal(m.body, rawMail(i+1)) {
			t.Errorf("mail %d came back changed:\n%q\nwant\n%q", i+1, m.body, rawMail(i+1))
		}
		if seen := slices.Contains(m.flags, imap.FlagSeen); seen != (i == 1) {
			t.Errorf("mail %d: flags %v", i+1, m.flags)
		}
	}

	// Another user's mailbox is separate, and a folder is created on demand.
	s.Append(t, "anna", "Processed", rawMail(9))
	_, helpdeskProcessed := fetchAll(t, c, "INBOX")
	if len(helpdeskProcessed) != 3 {
		t.Errorf("helpdesk INBOX has %d mails after appending to anna", len(helpdeskProcessed))
	}
	_, annas := fetchAll(t, s.Login(t, "anna"), "Processed")
	if len(annas) != 1 || !bytes.Equal(annas[0].body, rawMail(9)) {
		t.Errorf("anna/Processed = %v", annas)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	t.Parallel()
	s := Start(t, User{"helpdesk", "right"})
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("helpdesk", "wrong").Wait(); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
}

func TestIdleAndMove(t *testing.T) {
	t.Parallel()
	s := Start(t, User{"helpdesk", "pw"})
	s.Append(t, "helpdesk", "INBOX", rawMail(1))

	exists := make(chan uint32, 16)
	c := s.Login(t, "helpdesk", &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if !c.Caps().Has(imap.CapIdle) || !c.Caps().Has(imap.CapMove) {
		t.Fatalf("server lacks IDLE or MOVE: %v", c.Caps())
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	s.Append(t, "helpdesk", "INBOX", rawMail(2))
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("IDLE reported %d EXISTS, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EXISTS during IDLE within 10s of a delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	if err := c.Create("Processed", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.UIDSetNum(1), "Processed").Wait(); err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	_, inbox := fetchAll(t, c, "INBOX")
	_, processed := fetchAll(t, c, "Processed")
	if len(inbox) != 1 || inbox[0].uid != 2 || len(processed) != 1 || !bytes.Equal(processed[0].body, rawMail(1)) {
		t.Errorf("after MOVE: INBOX %d mails (uid %v), Processed %d", len(inbox), inbox, len(processed))
	}
}

func TestRestartKeepsPortAndMail(t *testing.T) {
	t.Parallel()
	s := Start(t, User{"helpdesk", "pw"})
	addr := s.Addr()
	s.Append(t, "helpdesk", "INBOX", rawMail(1))
	c := s.Login(t, "helpdesk")
	validity, before := fetchAll(t, c, "INBOX")

	s.Stop()
	if err := c.Noop().Wait(); err == nil {
		t.Error("a connection survived Stop")
	}
	if _, err := imapclient.DialInsecure(addr, nil); err == nil {
		t.Error("a stopped server accepted a connection")
	}
	s.Stop() // idempotent

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("address changed from %s to %s", addr, s.Addr())
	}
	validity2, after := fetchAll(t, s.Login(t, "helpdesk"), "INBOX")
	if validity2 != validity || len(after) != len(before) || after[0].uid != before[0].uid {
		t.Errorf("after restart: UIDVALIDITY %d→%d, %d→%d mails", validity, validity2, len(before), len(after))
	}
	s.Append(t, "helpdesk", "INBOX", rawMail(2))
}

func TestTwoServersAtOnce(t *testing.T) {
	t.Parallel()
	a := Start(t, User{"u", "p"})
	b := Start(t, User{"u", "p"})
	if a.Addr() == b.Addr() {
		t.Fatalf("both on %s", a.Addr())
	}
	a.Append(t, "u", "INBOX", rawMail(1))
	if _, msgs := fetchAll(t, b.Login(t, "u"), "INBOX"); len(msgs) != 0 {
		t.Errorf("server b sees %d mails appended to server a", len(msgs))
	}
}
