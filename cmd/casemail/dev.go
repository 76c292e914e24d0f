package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/deploy/devworld"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/pgtemp"
)

// cmdDev runs the daemon against an embedded mail world on loopback: every
// mailbox's IMAP and the SMTP relay point at it, whatever the config says.
// With no database url it starts a throwaway PostgreSQL cluster too.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("dev", stderr)
	imapAddr := f.String("imap", "127.0.0.1:1143", "IMAP `address` of the embedded mail world")
	smtpAddr := f.String("smtp", "127.0.0.1:1025", "SMTP `address` of the embedded mail world")
	httpAddr := f.String("http", "", "HTTP listen `address` (default: the config's http.listen)")
	state := f.String("state", filepath.Join(os.TempDir(), "casemail-dev"), "`dir` for the dev secret and a throwaway database")
	if _, err := f.parse(args); err != nil {
		return err
	}
	cfg, err := config.LoadDaemon(*f.config)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		cfg.HTTP.Listen = *httpAddr
	}
	log := newLogger(cfg, stderr)
	setMemoryLimit()
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}

	world, err := devworld.Start(ctx, devworld.Options{IMAPAddr: *imapAddr, SMTPAddr: *smtpAddr, Logger: log.With("part", "devworld")})
	if err != nil {
		return fmt.Errorf("starting the embedded mail world: %w", err)
	}
	defer world.Close()
	if err := pointAtWorld(cfg, world.IMAPAddr(), world.SMTPAddr()); err != nil {
		return err
	}

	if _, err := os.Stat(cfg.SecretFile); errors.Is(err, os.ErrNotExist) {
		cfg.SecretFile = filepath.Join(*state, "secret")
		if _, err := os.Stat(cfg.SecretFile); errors.Is(err, os.ErrNotExist) {
			if err := notify.GenerateSecretFile(cfg.SecretFile); err != nil {
				return err
			}
		}
	}

	dbURL := cfg.Database.URL
	if dbURL == "" {
		fmt.Fprintln(stderr, "casemail dev: no database url set: starting a throwaway PostgreSQL…")
		cl, err := pgtemp.Start(ctx, pgtemp.Options{Logf: func(format string, a ...any) {
			log.Debug(fmt.Sprintf(format, a...), "part", "pgtemp")
		}})
		if err != nil {
			return err
		}
		defer cl.Stop() //nolint:errcheck
		dbURL = cl.URL()
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := newDaemon(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- d.run(ctx) }()
	select {
	case httpAddr := <-d.listening:
		printDevHelp(stdout, cfg, d.rules.Load(), world.IMAPAddr(), world.SMTPAddr(), httpAddr, dbURL)
	case err := <-errc:
		return err
	}
	return <-errc
}

// pointAtWorld points every mailbox and the SMTP relay at the mail world.
func pointAtWorld(cfg *config.Daemon, imapAddr, smtpAddr string) error {
	ih, ip, err := splitHostPort(imapAddr)
	if err != nil {
		return err
	}
	sh, sp, err := splitHostPort(smtpAddr)
	if err != nil {
		return err
	}
	for i := range cfg.Mailboxes {
		im := &cfg.Mailboxes[i].IMAP
		im.Host, im.Port, im.Security = ih, ip, "none"
		im.Username, im.Password, im.PasswordFile, im.OAuth2 = cfg.Mailboxes[i].Address, devworld.DefaultPassword, "", nil
	}
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.Security = sh, sp, "none"
	cfg.SMTP.Username, cfg.SMTP.Password, cfg.SMTP.PasswordFile, cfg.SMTP.OAuth2 = "", "", "", nil
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}

// The first mail the help suggests sending.
const (
	devFrom    = "ola@bryne.example.no"
	devSubject = "Hjelp med e-håndboka"
	devBody    = "Jeg finner ikke rutinen for avvik i e-håndboka."
)

func printDevHelp(w io.Writer, cfg *config.Daemon, rules *config.Rules, imapAddr, smtpAddr, httpAddr, dbURL string) {
	helpdesk := "helpdesk@example.org"
	defService := ""
	if len(cfg.Mailboxes) > 0 {
		helpdesk = cfg.Mailboxes[0].Address
		defService = cfg.Mailboxes[0].Defaults.Service
	}
	// Route the suggested mail now, without storing it, to name whose
	// mailbox its assignment notice will land in.
	assignee := "ASSIGNEE@example.org"
	dec, err := routing.Route(context.Background(), rules, routing.Input{From: devFrom, To: []string{helpdesk},
		Subject: devSubject, Body: devBody, Received: time.Now(), MailboxDefaultService: defService}, nil)
	if err == nil {
		if p := rules.Person(dec.Assignee); p != nil && p.Email != "" {
			assignee = p.Email
		}
	}
	_, smtpPort, _ := net.SplitHostPort(smtpAddr)
	_, imapPort, _ := net.SplitHostPort(imapAddr)
	fmt.Fprintf(w, `
casemail dev is running.
  mail world:  SMTP %[1]s, IMAP %[2]s (any address is a mailbox; password %[3]q)
  helpdesk:    %[4]s
  health:      http://%[5]s/readyz
  database:    %[6]s

Send a first mail (in another terminal):
  swaks --server 127.0.0.1:%[7]s --from %[10]s --to %[4]s \
        --header 'Subject: %[11]s' --body '%[12]s'

Read the acknowledgement the requester got, over IMAP:
  curl -s 'imap://127.0.0.1:%[8]s/INBOX;UID=1' --user '%[10]s:%[3]s'
and the notice the assignee got:
  curl -s 'imap://127.0.0.1:%[8]s/INBOX;UID=1' --user '%[13]s:%[3]s'

See the case:
  CASEMAIL_DATABASE_URL='%[6]s' go run ./cmd/casemail cases -config %[9]s

Stop with Ctrl-C.
`, smtpAddr, imapAddr, devworld.DefaultPassword, helpdesk, httpAddr, store.Redact(dbURL), smtpPort, imapPort, cfg.File,
		devFrom, devSubject, devBody, assignee)
}
