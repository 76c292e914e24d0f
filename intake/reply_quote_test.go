package intake

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casemail/casemail/store"
)

// answerMIME is answer with the agent anna's own MIME header and body.
func (e *procEnv) answerMIME(t *testing.T, notice store.OutboxRow, mime string) Result {
	t.Helper()
	convSeq++
	e.now = e.now.Add(time.Minute)
	refs := "<" + notice.MessageID + ">"
	return e.deliver(t, "helpdesk", fmt.Sprintf("From: Anna Berg <%s>\nTo: %s\nSubject: Re: %s\nMessage-ID: <mime%d@example.org>\nIn-Reply-To: %s\nReferences: %s\n%s",
		anna, notice.ReplyTo, notice.Subject, convSeq, refs, refs, mime))
}

// Issue 11, attack 4: an agent who replies with nothing above the quote
// (only an attachment, or a mis-click) must relay no quoted text: not the
// routing trail, the internal note nor the command help of the notice.
// Before, quote stripping fell back to the whole text and relayed it.
func TestAgentReplyWithOnlyTheQuoteRelaysNoText(t *testing.T) {
	for _, tc := range []struct{ name, ctype, body string }{
		{"text", "text/plain", "On Mon, 23 Nov 2026, Helpdesk <helpdesk@example.org> wrote:\n> Routing: tier 2\n> hemmelig intern tekst\n"},
		{"html blockquote", "text/html", `<div><br></div><div class="gmail_quote"><blockquote class="gmail_quote"><p>Routing: tier 2</p><p>hemmelig intern tekst</p></blockquote></div>`},
		{"outlook divider", "text/html", `<p class=MsoNormal><o:p>&nbsp;</o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p><b>From:</b> Helpdesk<br><b>Sent:</b> Monday<br><b>To:</b> Anna<br><b>Subject:</b> x</p></div><p>hemmelig intern tekst</p>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newConvProc(t)
			n := e.open(t)
			notice := e.notice(t, n, anna)
			r := e.answerMIME(t, notice, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: "+tc.ctype+"; charset=utf-8\n\n"+tc.body+
				"\n--B\nContent-Type: application/pdf; name=rutine.pdf\nContent-Disposition: attachment; filename=rutine.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n")
			if r.Outcome != OutcomeMessage || r.CaseNumber != n {
				t.Fatalf("agent reply: %v", r)
			}
			rows := e.sent(t, n, "reply", ola)
			if len(rows) != 1 {
				t.Fatalf("replies to the requester: %d, want 1 carrying the attachment (sent: %v)", len(rows), e.kinds(t, n))
			}
			if strings.Contains(rows[0].Text, "hemmelig") || strings.Contains(rows[0].Text, "Routing") {
				t.Errorf("quoted history relayed to the requester:\n%s", rows[0].Text)
			}
			if len(rows[0].Attachments) != 1 || rows[0].Attachments[0].Filename != "rutine.pdf" {
				t.Errorf("attachments = %+v, want rutine.pdf passed on", rows[0].Attachments)
			}
		})
	}
}

// Issue 11: hidden HTML text (display:none) is never a command.
func TestAgentHiddenHTMLIsNoCommand(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	c0 := e.caseOf(t, n)
	before, beforePrio := c0.Status, c0.Priority
	html := `<p>Ser på saken.</p><div style="display:none">#close</div><span hidden>#priority low</span>`
	r := e.answerMIME(t, notice, "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"+html+"\n")
	if r.Outcome != OutcomeMessage || r.CaseNumber != n {
		t.Fatalf("agent reply: %v", r)
	}
	c := e.caseOf(t, n)
	if c.Status != before || c.Priority != beforePrio {
		t.Errorf("status %q priority %q became %q %q: hidden text applied a command", before, beforePrio, c.Status, c.Priority)
	}
	rows := e.sent(t, n, "reply", ola)
	if len(rows) != 1 || strings.Contains(rows[0].Text, "#close") || !strings.Contains(rows[0].Text, "Ser på saken.") {
		t.Errorf("relayed: %+v", rows)
	}
}
