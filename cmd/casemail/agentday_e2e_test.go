package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/notify/langtest"
	"github.com/casemail/casemail/store"
)

// attachmentMail is a mail with a text and one attachment, as a mail
// client sends it.
func attachmentMail(from, to, subject, msgID, body, filename string, data []byte) []byte {
	const b = "agentday-boundary"
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=%q\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--%s\r\nContent-Type: image/png\r\n"+
		"Content-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n",
		from, to, subject, msgID, time.Now().Format(time.RFC1123Z), b, b, body, b, filename,
		base64.StdEncoding.EncodeToString(data), b))
}

// attached reports whether a mail carries an attachment of that name with
// exactly that content. (It reads the body: give it an unread mail.)
func attached(t *testing.T, m *mail.Message, name string, data []byte) bool {
	t.Helper()
	for _, a := range decodeMail(t, m).Attachments {
		if a.Filename == name && string(a.Data) == string(data) {
			return true
		}
	}
	return false
}

// TestAgentDayEndToEnd works a case the way agents hand it between them,
// on real Dovecot, PostgreSQL and SMTP: the first notice carries the
// requester's attachment; an #escalate's comment reaches the new holder
// and never the requester, and the new holder's notice carries the
// earlier public reply, the internal note and the attachment; the one who
// escalated gets no notice of it; under #assign, only the text below
// #public reaches the requester; #history, #mine and #help answer by mail,
// and so does a mail to the mine address; a mistyped command gets a
// did-you-mean in the agent's language;
// requesters are answered in the language they wrote in.
func TestAgentDayEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.start(t)
	const (
		ola  = "ola@bryne.example.no"
		anna = "anna@example.org"
		per  = "per@example.org"
		eva  = "eva@example.org"
	)
	png := []byte("\x89PNG\r\n\x1a\nfeil-skjerm")
	w.dovecot.Append(t, w.helpdesk, "INBOX", attachmentMail(`"Ola Nordmann" <`+ola+`>`, w.helpdesk, "Feil i e-håndbok",
		"day-first@bryne.example.no", "Jeg får en feilmelding når jeg åpner e-håndboka.", "feil-skjerm.png", png))
	w.waitMail(t, ola, 1)
	first := w.waitMail(t, anna, 1)
	if !attached(t, first, "feil-skjerm.png", png) {
		t.Errorf("the first assignment notice does not carry the requester's attachment:\n%s", decodeBody(t, first))
	}
	n := mustCaseNumber(t, w.store)
	c, err := store.CaseByNumber(context.Background(), w.store.DB(), n)
	if err != nil {
		t.Fatal(err)
	}

	// A public answer and an internal note, then the escalation.
	w.answer(t, first, "Anna Berg <"+anna+">", "Har du prøvd å logge ut og inn igjen?", true)
	w.waitMail(t, ola, 2)
	w.answer(t, first, "Anna Berg <"+anna+">", "#note\nRingte Ola, feilen kommer fortsatt.", true)
	w.waitIncoming(t, 3)
	w.answer(t, first, "Anna Berg <"+anna+">",
		"#escalate Trenger koordinator\nPer, kan du se på dette? Intern kommentar om lisensen.", true)
	taken := w.waitMail(t, per, 1)
	body := decodeBody(t, taken)
	for _, want := range []string{"Per, kan du se på dette? Intern kommentar om lisensen.", "Trenger koordinator",
		"Har du prøvd å logge ut og inn igjen?", "Ringte Ola, feilen kommer fortsatt.", "feil-skjerm.png",
		"Jeg får en feilmelding"} {
		if !strings.Contains(body, want) {
			t.Errorf("the new holder's notice lacks %q:\n%s", want, body)
		}
	}
	if !attached(t, w.waitMail(t, per, 1), "feil-skjerm.png", png) {
		t.Errorf("the new holder's notice does not carry the requester's attachment")
	}
	if got := queuedTo(t, w.store, c.ID, ola); got != 2 {
		t.Errorf("after the #escalate the requester has %d mails queued, want 2 (ack, answer)", got)
	}
	if got := queuedTo(t, w.store, c.ID, anna); got != 1 {
		t.Errorf("anna has %d mails queued, want only her first notice: no notice of her own escalation", got)
	}

	// #assign with a comment and a public part.
	w.answer(t, taken, "Per Dahl <"+per+">",
		"#assign eva\nEva, du kan lisensene, ta over.\n#public\nHei Ola, saken er sendt videre til systemansvarlig.", true)
	public := w.waitMail(t, ola, 3)
	if body := decodeBody(t, public); !strings.Contains(body, "saken er sendt videre") || strings.Contains(body, "du kan lisensene") ||
		strings.Contains(body, "#public") {
		t.Errorf("the requester should get the text under #public and nothing above it:\n%s", body)
	}
	handed := w.waitMail(t, eva, 1)
	if body := decodeBody(t, handed); !strings.Contains(body, "Eva, du kan lisensene, ta over.") ||
		!strings.Contains(body, "Per Dahl har overlevert sak") {
		t.Errorf("eva's notice lacks per's comment or says it was no hand-over:\n%s", body)
	}
	for _, m := range w.mailsTo(t, ola) {
		for _, leak := range []string{"Intern kommentar", "du kan lisensene", "Ringte Ola"} {
			if body := decodeBody(t, m); strings.Contains(body, leak) {
				t.Errorf("internal text %q reached the requester:\n%s", leak, body)
			}
		}
	}

	// Commands that answer by mail.
	w.answer(t, handed, "Eva Holm <"+eva+">", "#histroy", true)
	if body := decodeBody(t, w.waitMail(t, eva, 2)); !strings.Contains(body, "mente du #history?") {
		t.Errorf("a mistyped command gets no did-you-mean:\n%s", body)
	}
	w.answer(t, handed, "Eva Holm <"+eva+">", "#history", true)
	hist := w.waitMail(t, eva, 3)
	body = decodeBody(t, hist)
	for _, want := range []string{"Jeg får en feilmelding", "Har du prøvd å logge ut", "Ringte Ola", "Intern kommentar om lisensen",
		"saken er sendt videre", "eskalert: "} {
		if !strings.Contains(body, want) {
			t.Errorf("#history lacks %q:\n%s", want, body)
		}
	}
	if w := langtest.English(body); len(w) > 0 {
		t.Errorf("English %q in the Norwegian #history:\n%s", w, body)
	}
	// per's #assign mail: its comment is internal, its public part an answer.
	if !strings.Contains(body, "internt notat: Per Dahl\n  #assign eva\n  Eva, du kan lisensene, ta over.") ||
		!strings.Contains(body, "svar til innmelder: Per Dahl\n  Hei Ola, saken er sendt videre") {
		t.Errorf("#history does not tell per's comment from his answer:\n%s", body)
	}
	if !attached(t, w.waitMail(t, eva, 3), "feil-skjerm.png", png) {
		t.Errorf("#history does not carry the attachment")
	}
	w.answer(t, handed, "Eva Holm <"+eva+">", "#mine", true)
	if body := decodeBody(t, w.waitMail(t, eva, 4)); !strings.Contains(body, fmt.Sprintf("#%d  Feil i e-håndbok", n)) {
		t.Errorf("#mine does not list eva's case:\n%s", body)
	}
	w.answer(t, handed, "Eva Holm <"+eva+">", "#help", true)
	if body := decodeBody(t, w.waitMail(t, eva, 5)); !strings.Contains(body, "#public") || !strings.Contains(body, "#escalate") {
		t.Errorf("#help does not list the commands:\n%s", body)
	}
	// "My cases" by a mail of her own to the mine address, not a reply.
	w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail("Eva Holm <"+eva+">", "mine@example.org", "mine", "eva-mine@example.org", "", ""))
	if body := decodeBody(t, w.waitMail(t, eva, 6)); !strings.Contains(body, fmt.Sprintf("#%d  Feil i e-håndbok", n)) {
		t.Errorf("the mine address does not list eva's case:\n%s", body)
	}
	if got := queuedTo(t, w.store, c.ID, ola); got != 3 {
		t.Errorf("the agents' questions reached the requester: %d mails queued, want 3", got)
	}

	// Languages on a Swedish mailbox: English by Content-Language, Norwegian
	// detected from the text, Swedish by default.
	for i, tc := range []struct{ from, header, body, want string }{
		{"john@example.com", "Content-Language: en\r\n", "Hi, my account is locked.", "We have received your request"},
		{"kari@example.net", "", "Hei, jeg får ikke logget inn. Kan dere hjelpe meg? Takk!", "Vi har mottatt henvendelsen din"},
		{"sven@example.se", "", "ok", "Vi har tagit emot ditt ärende"},
	} {
		w.dovecot.Append(t, w.helpdesk, "INBOX", rawMail(tc.from, w.helpdesk, "Konto", fmt.Sprintf("lang%d@example.com", i),
			tc.header, tc.body))
		if body := decodeBody(t, w.waitMail(t, tc.from, 1)); !strings.Contains(body, tc.want) {
			t.Errorf("%s's acknowledgement lacks %q:\n%s", tc.from, tc.want, body)
		}
	}
}
