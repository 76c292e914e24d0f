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

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/deploy/devworld"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/pgtemp"
)

// Default addresses of `casemail dev`: none is MailHog's or Mailpit's
// (1025, 8025), which developers often run next to it.
const (
	devIMAPAddr = devworld.DefaultIMAPAddr
	devSMTPAddr = devworld.DefaultSMTPAddr
	devHTTPAddr = "127.0.0.1:8180"
)

// cmdDev runs the daemon against an embedded mail world on loopback: every
// mailbox's IMAP and the SMTP relay point at it, whatever the config says.
// With no database url it starts a throwaway PostgreSQL cluster too.
// `casemail dev mail USER [N]` reads a mailbox of a running dev world.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "mail" {
		return cmdDevMail(ctx, args[1:], stdout, stderr)
	}
	f := newFlags("dev", stderr)
	imapAddr := f.String("imap", devIMAPAddr, "IMAP `address` of the embedded mail world (port 0: any free port)")
	smtpAddr := f.String("smtp", devSMTPAddr, "SMTP `address` of the embedded mail world")
	httpAddr := f.String("http", devHTTPAddr, "HTTP listen `address` for /healthz, /readyz, /metrics")
	state := f.String("state", filepath.Join(os.TempDir(), "casemail-dev"), "`dir` for the dev secret and a throwaway database")
	if _, err := f.parse(args); err != nil {
		return err
	}
	cfg, err := loadDaemonConfig(*f.config)
	if err != nil {
		return err
	}
	cfg.HTTP.Listen = *httpAddr
	log := newLogger(cfg, stderr)
	setMemoryLimit()
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	rules, err := loadRules(cfg)
	if err != nil {
		return err
	}

	out := &lockedWriter{w: stdout}
	hints := &devHints{out: out, rules: rules, cfg: cfg, self: selfCommand(), ready: make(chan struct{})}
	// The world outlives the daemon: it closes after the daemon has logged
	// out, so that Ctrl-C drops no connection in use.
	world, err := devworld.Start(context.WithoutCancel(ctx), devworld.Options{IMAPAddr: *imapAddr, SMTPAddr: *smtpAddr,
		Aliases: devAliases(cfg, rules), OnDeliver: hints.delivered, Logger: log.With("part", "devworld")})
	if err != nil {
		return fmt.Errorf("starting the embedded mail world: %w (choose other ports with -imap and -smtp)", err)
	}
	defer world.Close()
	hints.smtpAddr, hints.imapAddr = world.SMTPAddr(), world.IMAPAddr()
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
		hints.dbEnv = "CASEMAIL_DATABASE_URL='" + dbURL + "' "
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
		hints.printStart(httpAddr, store.Redact(dbURL))
		close(hints.ready)
	case err := <-errc:
		return err
	}
	if err := <-errc; err != nil && ctx.Err() == nil {
		return err
	}
	// Ctrl-C is how dev is meant to end: quietly, with status 0.
	return nil
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
