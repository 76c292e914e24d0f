package intake

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// helpdeskMail generates mail the way a helpdesk receives it, for the
// benchmarks: a uniform load (every mail a new request from a new sender)
// hides the contention real traffic causes. Deterministic for a seed, and
// generated one mail at a time, so a large backlog costs no memory.
//
//   - senders are Zipf-distributed: a few write often, most once;
//   - about 15% are follow-ups or replies (In-Reply-To/References) to an
//     earlier mail of the same thread, half of them within the last 100
//     mails, so parent and reply often share a batch;
//   - about 20% carry Cc's, a third are multipart/alternative with HTML,
//     8% carry an attachment of 20–150 KB;
//   - about 5% are automatic: out-of-office replies and bounces;
//   - one in 2,000 carries a 3 MB attachment.
type helpdeskMail struct {
	to      string
	rng     *rand.Rand
	zipf    *rand.Zipf
	threads []benchThread // earlier mails that may get a follow-up
	n       int
	// Counts of what was generated, for the benchmark's log.
	Replies, Cc, Attachments, Automatic, Large int
	senders                                    map[uint64]bool
}

type benchThread struct {
	msgID, subject string
	sender         uint64
	at             int
}

func newHelpdeskMail(to string, seed uint64, senders uint64) *helpdeskMail {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &helpdeskMail{to: to, rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, senders-1), senders: map[uint64]bool{}}
}

// Senders reports how many distinct senders the mails so far came from.
func (g *helpdeskMail) Senders() int { return len(g.senders) }

func (g *helpdeskMail) senderAddr(s uint64) (name, addr string) {
	return fmt.Sprintf("Person %d", s), fmt.Sprintf("person%d@unit%d.example.no", s, s%300)
}

var benchTopics = []string{"Kan ikke logge inn i e-håndboken", "Skriveren i 2. etasje virker ikke",
	"Glemt passord til Qm+", "Lisens for Office", "VPN kobler fra hele tiden", "Ny ansatt trenger tilgang",
	"Feil i avviksrutinen", "Teams-møte uten lyd", "Bytte av PC", "Tilgang til felles mappe"}

// Next returns the next mail.
func (g *helpdeskMail) Next() []byte {
	g.n++
	i := g.n
	r := g.rng.Float64()
	var b bytes.Buffer
	msgID := fmt.Sprintf("hd-%d-%d@example.no", i, g.rng.Uint32())
	date := "Mon, 23 Nov 2026 09:00:00 +0100"
	switch {
	case r < 0.03 && len(g.threads) > 0: // out-of-office reply to one of ours
		t := g.threads[g.rng.IntN(len(g.threads))]
		name, addr := g.senderAddr(t.sender)
		g.Automatic++
		fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\nSubject: Automatisk svar: %s\r\nMessage-ID: <%s>\r\n"+
			"In-Reply-To: <%s>\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nDate: %s\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
			"Jeg er på ferie til 4. januar og leser ikke e-post.\r\n", name, addr, g.to, t.subject, msgID, t.msgID, date)
		return b.Bytes()
	case r < 0.05: // a bounce
		g.Automatic++
		fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@mx.example.no>\r\nTo: %s\r\n"+
			"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <%s>\r\nAuto-Submitted: auto-replied\r\nDate: %s\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R%d\"\r\n\r\n"+
			"--R%d\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"+
			"--R%d\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.no\r\n\r\n"+
			"Final-Recipient: rfc822; gone%d@example.no\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--R%d--\r\n",
			g.to, msgID, date, i, i, i, i, i)
		return b.Bytes()
	}

	var sender uint64
	subject := benchTopics[g.rng.IntN(len(benchTopics))] + fmt.Sprintf(" (%d)", i)
	var inReplyTo string
	if r < 0.20 && len(g.threads) > 0 { // follow-up or reply in a thread
		var t benchThread
		if g.rng.IntN(2) == 0 {
			t = g.threads[max(0, len(g.threads)-1-g.rng.IntN(min(len(g.threads), 30)))] // recent: often the same batch
		} else {
			t = g.threads[g.rng.IntN(len(g.threads))]
		}
		sender, subject, inReplyTo = t.sender, "Re: "+t.subject, t.msgID
		g.Replies++
	} else {
		sender = g.zipf.Uint64()
	}
	g.senders[sender] = true
	name, addr := g.senderAddr(sender)
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\n", name, addr, g.to)
	if g.rng.IntN(5) == 0 {
		g.Cc++
		_, cc := g.senderAddr(g.zipf.Uint64())
		fmt.Fprintf(&b, "Cc: %s, leder%d@example.no\r\n", cc, sender%40)
	}
	fmt.Fprintf(&b, "Subject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n", subject, msgID, date)
	if inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", inReplyTo, inReplyTo)
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	text := g.body(i)
	var attach int
	switch {
	case g.rng.IntN(2000) == 0:
		attach = 3 << 20
		g.Large++
	case g.rng.IntN(100) < 8:
		attach = 20<<10 + g.rng.IntN(130<<10)
		g.Attachments++
	}
	html := g.rng.IntN(3) == 0
	switch {
	case attach > 0:
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"M%d\"\r\n\r\n--M%d\r\n", i, i)
		g.writeText(&b, text, html, i)
		fmt.Fprintf(&b, "\r\n--M%d\r\nContent-Type: application/pdf; name=\"skjerm%d.pdf\"\r\n"+
			"Content-Disposition: attachment; filename=\"skjerm%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i, i)
		data := make([]byte, attach)
		for j := range data {
			data[j] = byte(g.rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		fmt.Fprintf(&b, "%s\r\n--M%d--\r\n", enc, i)
	default:
		g.writeText(&b, text, html, i)
	}
	g.threads = append(g.threads, benchThread{msgID: msgID, subject: strings.TrimPrefix(subject, "Re: "), sender: sender, at: i})
	if len(g.threads) > 2000 {
		g.threads = g.threads[1000:]
	}
	return b.Bytes()
}

func (g *helpdeskMail) body(i int) string {
	var sb strings.Builder
	sb.WriteString("Hei,\r\n\r\n")
	for range 1 + g.rng.IntN(8) {
		sb.WriteString("jeg får ikke åpnet rutinen for avvik, og kollegaene mine har samme problem. ")
		sb.WriteString(fmt.Sprintf("Det gjelder sak %d og feilen kommer hver gang.\r\n", i))
	}
	sb.WriteString("\r\nHilsen\r\n")
	return sb.String()
}

func (g *helpdeskMail) writeText(b *bytes.Buffer, text string, html bool, i int) {
	if !html {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text)
		return
	}
	fmt.Fprintf(b, "Content-Type: multipart/alternative; boundary=\"A%d\"\r\n\r\n--A%d\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n--A%d\r\n"+
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"<html><body><p>%s</p><p style=\"color:gray\">Sendt fra Outlook</p></body></html>\r\n--A%d--\r\n",
		i, i, text, i, strings.ReplaceAll(text, "\r\n", "<br>"), i)
}
