package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fixture builds rows the way intake and notify write them.
type fixture struct {
	t   *testing.T
	st  *Store
	ctx context.Context
	n   int
}

func (f *fixture) newCase(requester, subject string, at time.Time) *Case {
	f.t.Helper()
	c, err := CreateCase(f.ctx, f.st.pool, NewCase{Status: "open", Subject: subject, Requester: requester,
		RequesterName: "Name of " + requester, Mailbox: "helpdesk", Service: "triage", Tier: "2", Rung: 1,
		Role: "central_support", Assignee: "anna", CreatedAt: at})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := AddParticipant(f.ctx, f.st.pool, c.ID, requester, "Name of "+requester, "requester", ""); err != nil {
		f.t.Fatal(err)
	}
	if err := AddParticipant(f.ctx, f.st.pool, c.ID, "anna@example.org", "Anna Berg", "agent", "anna"); err != nil {
		f.t.Fatal(err)
	}
	if err := AddEvent(f.ctx, f.st.pool, c.ID, at, requester, "created", "new mail",
		map[string]any{"from": requester, "mailbox": "helpdesk"}); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// mail stores an incoming message with its raw mail and attachments.
func (f *fixture) mail(caseID int64, from string, cc []string, subject, body string, at time.Time, attachments ...string) int64 {
	f.t.Helper()
	f.n++
	msgID := fmt.Sprintf("m%d@mail.example", f.n)
	raw := fmt.Sprintf("From: %s\r\nTo: helpdesk@example.org\r\nCc: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n%s\r\n",
		from, strings.Join(cc, ", "), subject, msgID, body)
	m := NewMessage{CaseID: caseID, Direction: "in", Kind: "requester", Mailbox: "helpdesk", MessageID: msgID,
		From: from, FromName: "Name of " + from, To: []string{"helpdesk@example.org"}, Cc: cc, Subject: subject,
		Text: body, NewText: body, Raw: []byte(raw), ContentHash: []byte(msgID), CreatedAt: at}
	for i, a := range attachments {
		m.Attachments = append(m.Attachments, NewAttachment{Filename: fmt.Sprintf("file%d.bin", i),
			ContentType: "application/octet-stream", Size: int64(len(a)), Data: []byte(a)})
	}
	id, err := AddMessage(f.ctx, f.st.pool, m)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *fixture) outbox(caseID int64, kind string, to []string, subject, body string, attach ...[]byte) {
	f.t.Helper()
	f.n++
	m := OutMail{CaseID: caseID, Kind: kind, MessageID: fmt.Sprintf("out%d.tok@example.org", f.n),
		From: "Helpdesk <helpdesk@example.org>", To: to, Subject: subject, Text: body}
	for _, a := range attach {
		m.Attachments = append(m.Attachments, OutAttachment{SHA256: a, Filename: "a.bin", ContentType: "application/octet-stream"})
	}
	if _, err := EnqueueMail(f.ctx, f.st.pool, m); err != nil {
		f.t.Fatal(err)
	}
}

// snapshot is every row that belongs to a case, as JSON, for comparing a
// case before and after.
func snapshot(t *testing.T, st *Store, caseID int64) string {
	t.Helper()
	var s string
	err := st.pool.QueryRow(context.Background(), `SELECT jsonb_build_object(
		'case', (SELECT to_jsonb(c) FROM cases c WHERE id = $1),
		'participants', (SELECT jsonb_agg(to_jsonb(p) ORDER BY address) FROM participants p WHERE case_id = $1),
		'messages', (SELECT jsonb_agg(to_jsonb(m) ORDER BY id) FROM messages m WHERE case_id = $1),
		'raw', (SELECT jsonb_agg(md5(r.data) ORDER BY r.sha256) FROM raw_mails r
			WHERE r.sha256 IN (SELECT raw_sha256 FROM messages WHERE case_id = $1)),
		'attachments', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.id) FROM attachments a
			JOIN messages m ON m.id = a.message_id WHERE m.case_id = $1),
		'blobs', (SELECT jsonb_agg(md5(b.data) ORDER BY b.sha256) FROM blobs b WHERE b.sha256 IN (
			SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.case_id = $1)),
		'events', (SELECT jsonb_agg(to_jsonb(e) ORDER BY id) FROM events e WHERE case_id = $1),
		'outbox', (SELECT jsonb_agg(to_jsonb(o) ORDER BY id) FROM outbox o WHERE case_id = $1),
		'sent', (SELECT jsonb_agg(to_jsonb(s) ORDER BY message_id) FROM sent_message_ids s WHERE case_id = $1)
	)::text`, caseID).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t *testing.T, st *Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEraseAddress erases a requester who opened one case and took part in
// another, and finds none of their data anywhere in the database — raw
// mail, attachments, outgoing mail, events, the acknowledgement log, the
// quarantine — while an unrelated case stays exactly as it was and the
// other requester's part of the shared case stays.
func TestEraseAddress(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	f := &fixture{t: t, st: st, ctx: ctx}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	const (
		ola       = "ola.nordmann@bryne.example.no"
		olaBody   = "OLASECRETBODY my printer at home 17 Storgata"
		olaReply  = "OLASECRETREPLY I agree with Kari"
		olaFile   = "OLAFILECONTENT scanned passport"
		shared    = "SHAREDLOGOCONTENT"
		kariBody  = "KARIBODY the projector is broken"
		perBody   = "PERBODY the wifi is slow"
		quarNoise = "QUARANTINEFROMSOMEONEELSE"
	)

	// Ola's own case: their mail with two attachments (one shared with an
	// unrelated case), an agent's reply quoting them, the ack and notice.
	a := f.newCase(ola, "Printer at home", now)
	f.mail(a.ID, ola, nil, "Printer at home", olaBody, now, olaFile, shared)
	f.mail(a.ID, "anna@example.org", nil, "Re: [#1001] Printer at home",
		"Try again.\n\nOla Nordmann <"+ola+"> wrote:\n> "+olaBody, now.Add(time.Hour))
	f.outbox(a.ID, "ack", []string{ola}, "[#1001] Printer at home", "We got your mail: "+olaBody)
	f.outbox(a.ID, "assignment", []string{"anna@example.org"}, "[#1001] Printer at home",
		"From "+ola+":\n"+olaBody)
	if ok, err := allowAck(ctx, st, ola, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := allowAck(ctx, st, "kari@example.no", now); err != nil || !ok {
		t.Fatal(ok, err)
	}

	// Kari's case, with Ola in Cc, who then replies.
	b := f.newCase("kari@example.no", "Projector", now)
	if err := AddParticipant(ctx, st.pool, b.ID, ola, "Ola Nordmann", "cc", ""); err != nil {
		t.Fatal(err)
	}
	kariMsg := f.mail(b.ID, "kari@example.no", []string{ola}, "Projector", kariBody, now)
	f.mail(b.ID, ola, nil, "Re: Projector", olaReply, now.Add(time.Minute))
	f.outbox(b.ID, "reply", []string{ola}, "[#1002] Projector", "Anna answered: fixed")
	// The follow-up telling the owner what Ola wrote passes their words on.
	f.outbox(b.ID, "followup", []string{"anna@example.org"}, "[#1002] Projector", "Ola wrote:\n\n"+olaReply+"\n")
	f.outbox(b.ID, "reply", []string{"kari@example.no"}, "[#1002] Projector", "Anna answered: fixed, as "+ola+" said")
	if err := AddEvent(ctx, st.pool, b.ID, now, ola, "message", "follow-up threaded by references",
		map[string]any{"from": ola}); err != nil {
		t.Fatal(err)
	}

	// Per's case, unrelated, sharing an attachment body with Ola's mail,
	// and a mail being forwarded with it.
	c := f.newCase("per@example.org", "Wifi", now)
	f.mail(c.ID, "per@example.org", nil, "Wifi", perBody, now, shared)
	sharedHash := hashOf(shared)
	f.outbox(c.ID, "forward", []string{"support@vendor.example"}, "[#1003] Wifi", perBody, sharedHash)

	// Quarantined mail: Ola's garbage and someone else's.
	if _, err := Quarantine(ctx, st.pool, "helpdesk", 1, 7, "unparsable mail", []byte("From: "+ola+"\r\n\x00\x01 garbage")); err != nil {
		t.Fatal(err)
	}
	if _, err := Quarantine(ctx, st.pool, "helpdesk", 1, 8, "unparsable mail", []byte(quarNoise+"\x00")); err != nil {
		t.Fatal(err)
	}

	for _, needle := range []string{ola, olaBody, olaReply, olaFile} {
		if tr, err := st.Traces(ctx, needle); err != nil || len(tr) == 0 {
			t.Fatalf("before erasing, %q is in no table (%v): the fixture is wrong", needle, err)
		}
	}
	beforeC := snapshot(t, st, c.ID)

	res, err := st.EraseAddress(ctx, "Ola.Nordmann@Bryne.example.no", "dpo@example.org", now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	// None of Ola's data anywhere: every text, array, JSON and bytea column.
	for _, needle := range []string{ola, "ola nordmann", "Name of " + ola, olaBody, olaReply, olaFile, "Printer at home"} {
		tr, err := st.Traces(ctx, needle)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr) > 0 {
			t.Errorf("after erasing, %q is still in %v", needle, tr)
		}
	}

	// The unrelated case is whole, the shared body included.
	if after := snapshot(t, st, c.ID); after != beforeC {
		t.Errorf("case %d changed:\nbefore %s\nafter  %s", c.Number, beforeC, after)
	}
	if n := count(t, st, `SELECT count(*) FROM blobs WHERE sha256 = $1`, sharedHash); n != 1 {
		t.Errorf("the attachment body Per's mail shares is gone")
	}
	// Kari's part of the shared case stays: her mail, raw mail aside (it
	// named Ola in Cc), her participation, the reply to her.
	var text string
	var cc []string
	if err := st.pool.QueryRow(ctx, `SELECT text_body, cc_addrs FROM messages WHERE id = $1`, kariMsg).Scan(&text, &cc); err != nil {
		t.Fatal(err)
	}
	if text != kariBody || len(cc) != 0 {
		t.Errorf("Kari's message: text %q cc %v; want her text, Ola out of Cc", text, cc)
	}
	if n := count(t, st, `SELECT count(*) FROM participants WHERE case_id = $1`, b.ID); n != 2 {
		t.Errorf("participants of Kari's case = %d, want 2 (Kari, Anna)", n)
	}
	if n := count(t, st, `SELECT count(*) FROM outbox WHERE case_id = $1 AND text_body = $2`, b.ID,
		"Anna answered: fixed, as "+Erased+" said"); n != 1 {
		t.Errorf("the reply to Kari: %d rows with the address replaced, want 1", n)
	}
	if n := count(t, st, `SELECT count(*) FROM ack_log WHERE address = 'kari@example.no'`); n != 1 {
		t.Errorf("Kari's ack log entry is gone")
	}
	if tr, _ := st.Traces(ctx, quarNoise); len(tr) != 1 {
		t.Errorf("the other quarantined mail: %v, want it kept", tr)
	}

	// Ola's case stays for statistics: routing, status and every message
	// row (emptied), with the erasure recorded.
	ea, err := CaseByID(ctx, st.pool, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ea.Number != a.Number || ea.Service != "triage" || ea.Tier != "2" || ea.Status != "open" || ea.Requester != "" || ea.Subject != "" {
		t.Errorf("Ola's case after erasure: %+v", ea)
	}
	if n := count(t, st, `SELECT count(*) FROM messages WHERE case_id = $1`, a.ID); n != 2 {
		t.Errorf("messages on Ola's case = %d, want both rows kept", n)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if n := count(t, st, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'erasure'
			AND data->>'address_sha256' = $2`, id, res.AddressSHA256); n != 1 {
			t.Errorf("case %d: %d erasure events, want 1", id, n)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'erasure'`, c.ID); n != 0 {
		t.Errorf("the unrelated case got an erasure event")
	}
	if res.Cases != 1 || res.OtherCases != 1 || res.RawMails != 4 || res.Blobs != 1 || res.Quarantine != 1 ||
		res.Outbox != 4 || res.AckLog != 1 || res.Participants != 2 || res.Attachments != 2 {
		t.Errorf("counts: %+v", res)
	}

	// The record: the hash of the address, never the address.
	want := hex.EncodeToString(AddressHash(ola))
	if res.AddressSHA256 != want {
		t.Errorf("hash %s, want %s", res.AddressSHA256, want)
	}
	es, err := st.Erasures(ctx, " OLA.nordmann@bryne.example.no")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != res.ID || es[0].RequestedBy != "dpo@example.org" || !strings.Contains(string(es[0].Counts), `"raw_mails": 4`) {
		t.Errorf("erasures = %+v", es)
	}

	// Again: nothing left to remove, and recorded again.
	res2, err := st.EraseAddress(ctx, ola, "dpo@example.org", now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Cases != 0 || res2.Messages != 0 || res2.RawMails != 0 || res2.Outbox != 0 {
		t.Errorf("a second erasure changed data: %+v", res2)
	}
	if es, _ := st.Erasures(ctx, ""); len(es) != 2 {
		t.Errorf("erasures listed = %d, want 2", len(es))
	}
	if _, err := st.EraseAddress(ctx, "Ola <"+ola+">", "", now); err == nil {
		t.Error("a display-name address was accepted; want a bare address")
	}
}

// TestAddressPattern: the address is replaced as a whole, in any case,
// never inside a longer address.
func TestAddressPattern(t *testing.T) {
	st := openTestStore(t)
	pat := addressPattern("ola@x.no")
	for in, want := range map[string]string{
		"mail ola@x.no now":           "mail [erased] now",
		"<OLA@X.NO>, ola@x.no.":       "<[erased]>, [erased].",
		"mailto:ola@x.no":             "mailto:[erased]",
		"pola@x.no and ola.b@x.no":    "pola@x.no and ola.b@x.no",
		"ola@x.no.example, ola@x.nor": "ola@x.no.example, ola@x.nor",
		"k.ola@x.no":                  "k.ola@x.no",
	} {
		var got string
		if err := st.pool.QueryRow(context.Background(), `SELECT regexp_replace($1, $2, $3, 'gi')`, in, pat, Erased).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
