package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake/oauth2"
	"github.com/casemail/casemail/store"
)

// oauth2Stdin is where `oauth2 login` reads a pasted address in the
// browser flow; tests replace it.
var oauth2Stdin io.Reader = os.Stdin

const oauth2Usage = "usage: casemail oauth2 login MAILBOX | login -smtp | status"

// cmdOAuth2 is `casemail oauth2 login MAILBOX|-smtp` and `casemail oauth2 status`.
func cmdOAuth2(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(oauth2Usage)
	}
	switch args[0] {
	case "login":
		return cmdOAuth2Login(ctx, args[1:], stdout, stderr)
	case "status":
		return cmdOAuth2Status(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown oauth2 command %q (%s)", args[0], oauth2Usage)
	}
}

// oauth2Login is one login the configuration asks for.
type oauth2Login struct {
	acct     oauth2.Account
	cfg      config.OAuth2
	username string
}

// oauth2Logins lists every login of cfg that uses OAuth2.
func oauth2Logins(cfg *config.Daemon) []oauth2Login {
	var out []oauth2Login
	for _, mb := range cfg.Mailboxes {
		if mb.IMAP.OAuth2 != nil {
			out = append(out, oauth2Login{oauth2.IMAP(mb.Name), *mb.IMAP.OAuth2, mb.IMAP.Username})
		}
	}
	if cfg.SMTP.OAuth2 != nil {
		out = append(out, oauth2Login{oauth2.SMTP(), *cfg.SMTP.OAuth2, cfg.SMTP.Username})
	}
	return out
}

var providerNames = map[string]string{"microsoft": "Microsoft 365", "google": "Google", "custom": "the OAuth2 provider"}

func cmdOAuth2Login(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("oauth2 login", stderr)
	forSMTP := f.Bool("smtp", false, "log in for the smtp section instead of a mailbox")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if *forSMTP != (len(pos) == 0) || len(pos) > 1 {
		return errors.New("usage: casemail oauth2 login MAILBOX | casemail oauth2 login -smtp")
	}
	// Login migrates the database itself (below): it may run before the first serve.
	cfg, st, err := openDatabase(ctx, *f.config, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := loadSealer(ctx, cfg, st); err != nil {
		return err
	}

	var login oauth2Login
	var opts oauth2.LoginOptions
	if *forSMTP {
		if cfg.SMTP.OAuth2 == nil {
			return fmt.Errorf("smtp does not use OAuth2: %s has no smtp.oauth2 section", cfg.File)
		}
		login = oauth2Login{oauth2.SMTP(), *cfg.SMTP.OAuth2, cfg.SMTP.Username}
	} else {
		var mb *config.Mailbox
		var names []string
		for i := range cfg.Mailboxes {
			names = append(names, cfg.Mailboxes[i].Name)
			if cfg.Mailboxes[i].Name == pos[0] {
				mb = &cfg.Mailboxes[i]
			}
		}
		if mb == nil {
			return fmt.Errorf("no mailbox %q in %s (mailboxes: %s)", pos[0], cfg.File, strings.Join(names, ", "))
		}
		if mb.IMAP.OAuth2 == nil {
			return fmt.Errorf("mailbox %s does not use OAuth2: its imap section in %s has no oauth2", mb.Name, cfg.File)
		}
		login = oauth2Login{oauth2.IMAP(mb.Name), *mb.IMAP.OAuth2, mb.IMAP.Username}
		if scopes, ok := oauth2.SharedLogin(mb.IMAP, cfg.SMTP); ok {
			// One sign-in serves both when SMTP is the same user of the same app.
			opts.Scopes, opts.Also = scopes, []oauth2.Account{oauth2.SMTP()}
		}
	}
	opts.Username = login.username
	// The table may not exist yet when this runs before the first serve.
	if err := st.Migrate(ctx); err != nil {
		return err
	}

	opts.Paste = oauth2Stdin
	show := func(p oauth2.Prompt) error {
		if p.AuthURL != "" {
			_, port, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(p.RedirectURI, "http://"), "/"), ":")
			fmt.Fprintf(stdout, "To let casemail use %s (%s) with %s, open this address in a browser\n", login.acct, login.username, providerNames[login.cfg.Provider])
			fmt.Fprintf(stdout, "and sign in as %s:\n\n  %s\n\n", login.username, p.AuthURL)
			fmt.Fprintf(stdout, "The browser then returns to %s on this machine. If it runs elsewhere, either\n", p.RedirectURI)
			fmt.Fprintf(stdout, "forward the port first (ssh -L %s:127.0.0.1:%s THIS-HOST), or copy the address the\n", port, port)
			fmt.Fprintln(stdout, "browser ends on (it starts with http://127.0.0.1 and cannot load) and paste it here.")
			fmt.Fprintln(stdout, "Waiting for the sign-in…")
			return nil
		}
		fmt.Fprintf(stdout, "To let casemail use %s (%s) with %s:\n", login.acct, login.username, providerNames[login.cfg.Provider])
		fmt.Fprintf(stdout, "  1. open  %s\n", p.VerificationURI)
		fmt.Fprintf(stdout, "  2. enter the code  %s\n", p.UserCode)
		fmt.Fprintf(stdout, "  3. sign in as %s and accept the permissions asked for.\n", login.username)
		if p.VerificationURIComplete != "" {
			fmt.Fprintf(stdout, "(or open %s, which holds the code)\n", p.VerificationURIComplete)
		}
		if !p.Expires.IsZero() {
			fmt.Fprintf(stdout, "The code is valid until %s. Waiting for the sign-in…\n", p.Expires.Local().Format("15:04"))
		}
		return nil
	}
	tok, err := oauth2.Login(ctx, st, login.cfg, login.acct, show, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Signed in. The token for %s is stored in the database for every casemail instance\n", login.acct)
	fmt.Fprintf(stdout, "(scopes: %s; renewed automatically by the running daemon).\n", strings.Join(tok.Scopes, " "))
	if len(opts.Also) > 0 {
		fmt.Fprintln(stdout, "SMTP signs in as the same account with the same app: the token serves SMTP too.")
	} else if !*forSMTP && cfg.SMTP.OAuth2 != nil {
		if _, err := st.OAuth2Token(ctx, store.OAuth2SMTP, "smtp"); errors.Is(err, store.ErrNotFound) {
			fmt.Fprintln(stdout, "SMTP uses OAuth2 as another account or app: run `casemail oauth2 login -smtp` as well.")
		}
	}
	return nil
}

// cmdOAuth2Status lists every OAuth2 login of the configuration with its
// stored grant's state; exit status 1 when one is missing or failing.
func cmdOAuth2Status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("oauth2 status", stderr)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "oauth2 status"); err != nil {
		return err
	}
	// Before the first serve or login there is no table: every grant is missing.
	cfg, st, err := openDatabase(ctx, *f.config, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := loadSealer(ctx, cfg, st); err != nil {
		return err
	}
	logins := oauth2Logins(cfg)
	if len(logins) == 0 {
		fmt.Fprintf(stdout, "%s uses no OAuth2 login\n", cfg.File)
		return nil
	}
	bad := 0
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tPROVIDER\tUSER\tSTATE\tEXPIRES\tREFRESHED\tPROBLEM")
	for _, l := range logins {
		tok, err := st.OAuth2Token(ctx, l.acct.Purpose, l.acct.Name)
		if errors.Is(err, store.ErrNotFound) || store.IsUndefinedTable(err) {
			bad++
			fmt.Fprintf(tw, "%s\t%s\t%s\tmissing\t-\t-\trun `%s`\n", l.acct, l.cfg.Provider, l.username, l.acct.LoginCommand())
			continue
		}
		if err != nil {
			return err
		}
		state, problem := l.grantState(tok, now)
		if state != "ok" && state != "expired" {
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.acct, tok.Provider, tok.Username, state,
			tok.Expiry.Local().Format(time.DateTime), tok.RefreshedAt.Local().Format(time.DateTime), problem)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return exitError{1}
	}
	return nil
}

// grantState judges a stored grant: ok, expired (renewed by the daemon
// at its next use), failing, wrong app or stale, with the problem.
func (l oauth2Login) grantState(tok *store.OAuth2Token, now time.Time) (state, problem string) {
	switch {
	case tok.LastError != "" && !tok.LastErrorAt.Before(tok.RefreshedAt):
		return "failing", oneLine(tok.LastError)
	case tok.Provider != l.cfg.Provider || tok.ClientID != l.cfg.ClientID:
		return "wrong app", fmt.Sprintf("issued to client %s of %s: run `%s`", tok.ClientID, tok.Provider, l.acct.LoginCommand())
	case now.Sub(tok.Expiry) > oauth2.DefaultStaleAfter:
		return "stale", "not refreshed for " + now.Sub(tok.RefreshedAt).Round(time.Minute).String() + ": is the daemon running?"
	case now.After(tok.Expiry):
		return "expired", ""
	}
	return "ok", ""
}
