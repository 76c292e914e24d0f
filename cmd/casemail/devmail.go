package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	_ "github.com/emersion/go-message/charset" // ISO-8859-1, windows-1252… in mails shown
	"github.com/emersion/go-message/mail"

	"github.com/casemail/casemail/deploy/devworld"
)

// cmdDevMail reads a mailbox of a running `casemail dev` world over IMAP,
// the way a mail client shows it: a list, or one mail with its headers,
// its text decoded (no quoted-printable, no base64) and its attachments
// named. It reads with BODY.PEEK and EXAMINE, so nothing is marked read.
func cmdDevMail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("dev mail", stderr)
	imapAddr := f.String("imap", devIMAPAddr, "IMAP `address` of the running dev world")
	password := f.String("password", devworld.DefaultPassword, "the dev world's `password`")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return errors.New("usage: casemail dev mail [-imap ADDR] USER [N]")
	}
	n := 0
	if len(pos) == 2 {
		if n, err = strconv.Atoi(pos[1]); err != nil || n < 1 {
			return fmt.Errorf("%q is not a mail number (1, 2, … as listed)", pos[1])
		}
	}
	c, err := imapclient.DialInsecure(*imapAddr, nil)
	if err != nil {
		return fmt.Errorf("connecting to the dev mail world at %s: %w (is `casemail dev` running? -imap names another address)", *imapAddr, err)
	}
	defer c.Close()
	if err := c.Login(pos[0], *password).Wait(); err != nil {
		return fmt.Errorf("logging in as %s: %w", pos[0], err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return err
	}
	if n == 0 {
		self := selfCommand() + " dev mail "
		if *imapAddr != devIMAPAddr {
			self += "-imap " + *imapAddr + " "
		}
		return listDevMail(c, pos[0], self+pos[0], sel.NumMessages, stdout)
	}
	if uint32(n) > sel.NumMessages {
		return fmt.Errorf("%s has %d mails; there is no mail %d", pos[0], sel.NumMessages, n)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(uint32(n)), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		return err
	}
	if len(msgs) != 1 {
		return fmt.Errorf("mail %d: not returned by the server", n)
	}
	return showMail(stdout, msgs[0].FindBodySection(&imap.FetchItemBodySection{}))
}

// listDevMail lists the INBOX; cmd is the command that lists it again.
func listDevMail(c *imapclient.Client, user, cmd string, count uint32, w io.Writer) error {
	if count == 0 {
		fmt.Fprintf(w, "%s: no mail\n", user)
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: count}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tDATE\tFROM\tSUBJECT")
	for _, m := range msgs {
		e := m.Envelope
		if e == nil {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.SeqNum, e.Date.Local().Format("2006-01-02 15:04"), oneLine(envAddrs(e.From)), oneLine(e.Subject))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nshow one: %s N\n", cmd)
	return nil
}

func envAddrs(as []imap.Address) string {
	var out []string
	for _, a := range as {
		s := a.Addr()
		if a.Name != "" {
			s = a.Name + " <" + s + ">"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// showMail prints a mail as a mail client would: the headers people read,
// the first text part decoded, and the other parts by name and size.
func showMail(w io.Writer, raw []byte) error {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if r == nil {
		return fmt.Errorf("reading the mail: %w", err)
	}
	h := r.Header
	for _, k := range []string{"Date", "From", "To", "Cc", "Reply-To", "Subject"} {
		v := h.Get(k)
		if v == "" {
			continue
		}
		switch k {
		case "Subject":
			v, _ = h.Subject()
		case "Date":
			if d, err := h.Date(); err == nil {
				v = d.Local().Format(time.RFC1123Z)
			}
		default:
			if as, err := h.AddressList(k); err == nil {
				var ss []string
				for _, a := range as {
					// a.String() would encode a non-ASCII name again.
					if a.Name != "" {
						ss = append(ss, a.Name+" <"+a.Address+">")
					} else {
						ss = append(ss, a.Address)
					}
				}
				v = strings.Join(ss, ", ")
			}
		}
		fmt.Fprintf(w, "%s: %s\n", k, v)
	}
	fmt.Fprintln(w)
	shown := false
	var others []string
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the mail's parts: %w", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return fmt.Errorf("reading a part: %w", err)
		}
		switch ph := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := ph.ContentType()
			if !shown && (ct == "text/plain" || ct == "") {
				w.Write(body) //nolint:errcheck
				if len(body) > 0 && body[len(body)-1] != '\n' {
					fmt.Fprintln(w)
				}
				shown = true
				continue
			}
			others = append(others, fmt.Sprintf("%s part, %d bytes", ct, len(body)))
		case *mail.AttachmentHeader:
			name, _ := ph.Filename()
			ct, _, _ := ph.ContentType()
			others = append(others, fmt.Sprintf("attachment %q (%s), %d bytes", name, ct, len(body)))
		}
	}
	for _, o := range others {
		fmt.Fprintf(w, "[%s]\n", o)
	}
	return nil
}
