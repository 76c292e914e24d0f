package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/deploy/devworld"
	"github.com/casemail/casemail/routing"
)

// The first mail the help suggests sending, and the agent's answer.
const (
	devFrom      = "ola@bryne.example.no"
	devSubject   = "Hjelp med e-håndboka"
	devBody      = "Jeg finner ikke rutinen for avvik i e-håndboka."
	devReplyBody = "Hei! Rutinen står under «Avvik» i e-håndboka."
)

// devHints teaches casemail dev: the commands to send as a requester, to
// read any mailbox decoded and, as each agent's notice arrives, to reply
// as that agent through the notice's own reply address.
type devHints struct {
	out      io.Writer
	cfg      *config.Daemon
	rules    *config.Rules
	self     string // how to run this binary from the current directory
	dbEnv    string // CASEMAIL_DATABASE_URL='…' for a throwaway database
	smtpAddr string
	imapAddr string
	// ready is closed once the fields above are final and the help is
	// printed; delivered waits for it (the world's goroutines read them).
	ready chan struct{}

	mu   sync.Mutex
	seen map[string]int // mails delivered per user: the next one's number
}

func (h *devHints) helpdesk() (addr, defService string) {
	if len(h.cfg.Mailboxes) == 0 {
		return "helpdesk@example.org", ""
	}
	return h.cfg.Mailboxes[0].Address, h.cfg.Mailboxes[0].Defaults.Service
}

// mailCmd is the command that reads user's mailbox (one mail when n > 0).
func (h *devHints) mailCmd(user string, n int) string {
	c := h.self + " dev mail"
	if h.imapAddr != devIMAPAddr {
		c += " -imap " + h.imapAddr
	}
	c += " " + user
	if n > 0 {
		c += fmt.Sprint(" ", n)
	}
	return c
}

func (h *devHints) printStart(httpAddr, dbURL string) {
	helpdesk, defService := h.helpdesk()
	// Route the suggested mail now, without storing it, to name whose
	// mailbox its assignment notice will land in.
	assignee := "" // unknown until the notice arrives
	if dec, err := routing.Route(context.Background(), h.rules, routing.Input{From: devFrom, To: []string{helpdesk},
		Subject: devSubject, Body: devBody, Received: time.Now(), MailboxDefaultService: defService}, nil); err == nil {
		if p := h.rules.Person(dec.Assignee); p != nil && p.Email != "" {
			assignee = p.Email
		}
	}
	var aliases []string
	for _, s := range h.rules.Services {
		aliases = append(aliases, s.Addresses...)
	}
	aliasLine := ""
	if len(aliases) > 0 {
		aliasLine = fmt.Sprintf("  aliases:     %s (reach the helpdesk mailbox)\n", strings.Join(aliases, ", "))
	}
	fmt.Fprintf(h.out, `
casemail dev is running.
  mail world:  SMTP %[1]s, IMAP %[2]s (any address is a mailbox; password %[3]q)
  helpdesk:    %[4]s
%[5]s  health:      http://%[6]s/readyz   metrics: http://%[6]s/metrics
  database:    %[7]s

1. Send a first mail as a requester (in another terminal):
  %[8]s

2. Read the mailboxes, decoded, the way a mail client shows them:
  %[9]s        # the requester's acknowledgement
  %[10]s    # the notice to the assignee
  %[11]s      # one mail in full

3. Reply as the agent: when the notice arrives, the command with its reply
   address is printed here.

See the cases:
  %[12]s%[13]s cases -config %[14]s

Stop with Ctrl-C.
`, h.smtpAddr, h.imapAddr, devworld.DefaultPassword, helpdesk, aliasLine, httpAddr, dbURL,
		h.swaks(devFrom, helpdesk, devSubject, devBody),
		h.mailCmd(devFrom, 0), h.mailCmd(cmp.Or(assignee, "ASSIGNEE"), 0), h.mailCmd(devFrom, 1),
		h.dbEnv, h.self, shellQuote(h.cfg.File))
}

// swaks is a ready command that sends one mail into the dev world.
func (h *devHints) swaks(from, to, subject, body string) string {
	_, port, _ := net.SplitHostPort(h.smtpAddr)
	return fmt.Sprintf("swaks --server 127.0.0.1:%s --from %s --to %s \\\n        --header %s --body %s",
		port, from, shellQuote(to), shellQuote("Subject: "+subject), shellQuote(body))
}

// delivered is devworld's OnDeliver: it names each mail a person gets and,
// for a mail to someone in rules.yaml's people with a reply address, prints
// the command that answers it as them.
func (h *devHints) delivered(user string, raw []byte) {
	select {
	case <-h.ready:
	case <-time.After(time.Minute):
		return // dev failed to start; nobody reads the hints
	}
	for _, mb := range h.cfg.Mailboxes {
		if strings.EqualFold(mb.Address, user) {
			return // casemail's own mailboxes: it reads them itself
		}
	}
	h.mu.Lock()
	if h.seen == nil {
		h.seen = map[string]int{}
	}
	h.seen[user]++
	n := h.seen[user]
	h.mu.Unlock()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil && r == nil {
		return
	}
	subject, _ := r.Header.Subject()
	fmt.Fprintf(h.out, "\nNew mail for %s: %q\n  read it: %s\n", user, subject, h.mailCmd(user, n))
	replyTo, _ := r.Header.AddressList("Reply-To")
	if h.rules.PersonByEmail(user) == nil || len(replyTo) != 1 || !strings.Contains(replyTo[0].Address, "+") {
		return
	}
	fmt.Fprintf(h.out, "  reply as %s (a #note line on top keeps it internal; #resolve resolves):\n  %s\n",
		user, h.swaks(user, replyTo[0].Address, "Re: "+subject, devReplyBody))
}

// devAliases sends every catalogue alias to the helpdesk mailbox of its
// domain (else the first), and each mine address to its mailbox, as the
// alias table of a real mail server would.
func devAliases(cfg *config.Daemon, rules *config.Rules) map[string]string {
	if len(cfg.Mailboxes) == 0 {
		return nil
	}
	own := map[string]bool{}
	for _, mb := range cfg.Mailboxes {
		own[strings.ToLower(mb.Address)] = true
	}
	out := map[string]string{}
	for _, s := range rules.Services {
		for _, a := range s.Addresses {
			if own[strings.ToLower(a)] {
				continue
			}
			target := cfg.Mailboxes[0].Address
			_, dom, _ := strings.Cut(a, "@")
			for _, mb := range cfg.Mailboxes {
				if _, d, _ := strings.Cut(mb.Address, "@"); strings.EqualFold(d, dom) {
					target = mb.Address
					break
				}
			}
			out[a] = target
		}
	}
	for _, mb := range cfg.Mailboxes {
		if mb.MineAddress != "" {
			out[mb.MineAddress] = mb.Address
		}
	}
	return out
}

// selfCommand is how to run this binary again from the current directory:
// `casemail` when that is what PATH finds, a path otherwise, and
// `go run ./cmd/casemail` only when this is a temporary `go run` build.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/casemail"
	}
	if p, err := exec.LookPath("casemail"); err == nil {
		if a, err := filepath.Abs(p); err == nil && sameFile(a, exe) {
			return "casemail"
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.Contains(rel, string(filepath.Separator)) {
				rel = "." + string(filepath.Separator) + rel
			}
			return shellQuote(rel)
		}
	}
	return shellQuote(exe)
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lockedWriter serialises the help and the hints printed on delivery.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
