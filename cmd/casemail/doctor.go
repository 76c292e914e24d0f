package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/intake/oauth2"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// doctorCheck is one line of `casemail doctor`.
type doctorCheck struct {
	level string // ok, warn, FAIL
	name  string
	what  string
	fix   string // what to do; empty when nothing
}

// doctorRun collects the checks of one run and prints each as it is made.
type doctorRun struct {
	out    io.Writer
	checks []doctorCheck
}

func (d *doctorRun) add(level, name, what, fix string) {
	c := doctorCheck{level: level, name: name, what: oneLine(what), fix: fix}
	d.checks = append(d.checks, c)
	line := fmt.Sprintf("%-4s  %-20s %s", c.level, c.name, c.what)
	if c.fix != "" {
		line += " — " + c.fix
	}
	fmt.Fprintln(d.out, line)
}

func (d *doctorRun) ok(name, what string)        { d.add("ok", name, what, "") }
func (d *doctorRun) warn(name, what, fix string) { d.add("warn", name, what, fix) }
func (d *doctorRun) fail(name, what, fix string) { d.add("FAIL", name, what, fix) }

func (d *doctorRun) failed() int {
	n := 0
	for _, c := range d.checks {
		if c.level == "FAIL" {
			n++
		}
	}
	return n
}

// cmdDoctor checks everything serve needs, one line per check with what to
// do, without changing anything: no migration, no mail sent, nothing
// marked or created on the IMAP server. Exit status 1 when something would
// stop serve or keep it from working.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("doctor", stderr)
	timeout := f.Duration("timeout", 20*time.Second, "bound on each network check")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "doctor [-config FILE] [-timeout 20s]"); err != nil {
		return err
	}
	d := &doctorRun{out: stdout}
	defer func() {
		if n := d.failed(); n > 0 {
			fmt.Fprintf(stdout, "\n%d problem(s): serve would not start or not work until they are fixed\n", n)
		}
	}()
	cfg, err := loadDaemonConfig(*f.config)
	if err != nil {
		d.fail("config", err.Error(), "fix the file at the position shown")
		return exitError{1}
	}
	d.ok("config", cfg.File)
	if rules, err := loadRules(cfg); err != nil {
		d.fail("rules", err.Error(), "fix "+cfg.RulesFile+" at the position shown; check it with `casemail rules check`")
	} else {
		d.ok("rules", fmt.Sprintf("%s: %d services, %d rules, %d people, %d units", cfg.RulesFile,
			len(rules.Services), len(rules.Rules), len(rules.People), len(rules.Units)))
	}
	checkSecretFile(d, cfg.SecretFile)
	if _, err := notify.LoadTemplates(cfg.Templates); err != nil {
		d.fail("templates", err.Error(), "fix or remove the override in "+cfg.Templates)
	} else if cfg.Templates != "" {
		d.ok("templates", "overrides in "+cfg.Templates)
	}

	log := slog.New(slog.DiscardHandler)
	st := doctorDatabase(ctx, d, cfg, *timeout)
	if st != nil {
		defer st.Close()
	}
	logins := doctorOAuth2(ctx, d, cfg, st, *timeout)
	for _, mb := range cfg.Mailboxes {
		doctorMailbox(ctx, d, mb, st, logins, *timeout, log)
	}
	doctorSMTP(ctx, d, cfg, st, logins, *timeout, log)
	checkSenderAuth(d, cfg.SenderAuth)
	if d.failed() > 0 {
		return exitError{1}
	}
	return nil
}

// checkSecretFile: present, holding valid keys, and readable by no one
// but its owner and group (the unit installs it 0640, group casemail).
func checkSecretFile(d *doctorRun, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		d.fail("secret_file", err.Error(), "create it with one random key of at least 32 bytes a line, e.g. "+
			"(umask 027; head -c 32 /dev/urandom | base64 > "+path+"), group casemail, and keep it with the database backups")
		return
	}
	if _, err := notify.LoadKeys(path); err != nil {
		d.fail("secret_file", err.Error(), "put one random key of at least 32 bytes on each line")
		return
	}
	if m := fi.Mode().Perm(); m&0o027 != 0 {
		d.fail("secret_file", fmt.Sprintf("%s has mode %04o: others can read it or its group can write it", path, m),
			fmt.Sprintf("chmod 0640 %s (owner root or casemail, group casemail)", path))
		return
	}
	d.ok("secret_file", fmt.Sprintf("%s, mode %04o", path, fi.Mode().Perm()))
}

// doctorDatabase connects and reads the migration state; nil when the
// database cannot be used.
func doctorDatabase(ctx context.Context, d *doctorRun, cfg *config.Daemon, timeout time.Duration) *store.Store {
	if err := needDatabaseURL(cfg); err != nil {
		d.fail("database", err.Error(), "")
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := store.Open(cctx, cfg.Database.URL)
	if err == nil {
		err = st.Ping(cctx)
	}
	if err != nil {
		if st != nil {
			st.Close()
		}
		d.fail("database", "unreachable ("+store.Redact(cfg.Database.URL)+"): "+err.Error(),
			"check database.url (host, port, user, password, database) and that PostgreSQL runs and accepts this host")
		return nil
	}
	ms, unknown, err := st.MigrationStatus(cctx)
	if err != nil {
		st.Close()
		d.fail("database", "reading the migration state: "+err.Error(), "check that the database user may read the schema")
		return nil
	}
	version, pending := 0, 0
	for _, m := range ms {
		if m.AppliedAt != nil {
			version = max(version, m.Version)
		} else {
			pending++
		}
	}
	where := store.Redact(cfg.Database.URL)
	switch {
	case pending == len(ms):
		d.warn("database", "reachable ("+where+"), no casemail tables yet", "run `casemail migrate` (serve also migrates at start)")
	case pending > 0:
		d.warn("database", fmt.Sprintf("reachable (%s), version %d, %d migration(s) pending", where, version, pending),
			"run `casemail migrate` (serve also migrates at start; `casemail migrate -status` lists them)")
	case len(unknown) > 0:
		d.warn("database", fmt.Sprintf("reachable (%s), version %d, and %v applied by a newer casemail", where, unknown[len(unknown)-1], unknown),
			"fine during a rolling upgrade; otherwise upgrade this binary")
	default:
		d.ok("database", fmt.Sprintf("reachable (%s), migrated, version %d", where, version))
	}
	return st
}

// doctorOAuth2 reports each OAuth2 login's stored grant; it returns the
// logins whose grant can be used, by account.
func doctorOAuth2(ctx context.Context, d *doctorRun, cfg *config.Daemon, st *store.Store, timeout time.Duration) map[oauth2.Account]bool {
	usable := map[oauth2.Account]bool{}
	for _, l := range oauth2Logins(cfg) {
		name := "oauth2 " + l.acct.String()
		if st == nil {
			d.fail(name, "not checked: no database", "fix the database first")
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		tok, err := st.OAuth2Token(cctx, l.acct.Purpose, l.acct.Name)
		cancel()
		switch {
		case errors.Is(err, store.ErrNotFound) || store.IsUndefinedTable(err):
			d.fail(name, "no sign-in stored", "run `"+l.acct.LoginCommand()+"`")
			continue
		case err != nil:
			d.fail(name, "reading the grant: "+err.Error(), "")
			continue
		}
		state, problem := l.grantState(tok, time.Now())
		switch state {
		case "ok":
			d.ok(name, fmt.Sprintf("%s as %s, token valid until %s", tok.Provider, tok.Username, tok.Expiry.Local().Format(time.DateTime)))
			usable[l.acct] = true
		case "expired":
			d.ok(name, fmt.Sprintf("%s as %s, access token expired %s; serve renews it at its next use", tok.Provider, tok.Username,
				tok.Expiry.Local().Format(time.DateTime)))
			usable[l.acct] = true
		default:
			d.fail(name, state+": "+problem, "run `"+l.acct.LoginCommand()+"`")
		}
	}
	return usable
}

// doctorMailbox logs in as serve would and opens the folder read-only.
func doctorMailbox(ctx context.Context, d *doctorRun, mb config.Mailbox, st *store.Store, usable map[oauth2.Account]bool,
	timeout time.Duration, log *slog.Logger) {
	name := "mailbox " + mb.Name
	wc := watcherConfig(mb, log)
	if mb.IMAP.OAuth2 != nil {
		acct := oauth2.IMAP(mb.Name)
		if st == nil || !usable[acct] {
			d.fail(name, "not checked: its OAuth2 sign-in is not usable (see above)", "run `"+acct.LoginCommand()+"`")
			return
		}
		wc.Auth = oauth2.NewManager(st, *mb.IMAP.OAuth2, acct, oauth2.Options{Logger: log}).SASLFunc(mb.IMAP.Username)
	} else {
		pw, err := mb.IMAP.Secret()
		if err != nil {
			d.fail(name, "imap password: "+err.Error(), "make password_file readable by the casemail user, or set password")
			return
		}
		wc.Password = pw
	}
	if err := wc.Validate(); err != nil {
		d.fail(name, err.Error(), "fix the mailbox's imap section")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := intake.NewWatcher(wc, nil).Check(cctx)
	server := fmt.Sprintf("%s:%d (%s)", mb.IMAP.Host, mb.IMAP.Port, mb.IMAP.Security)
	switch {
	case r.Connect != nil:
		d.fail(name, "connect to "+server+": "+r.Connect.Error(),
			"check imap host, port and security (993: tls, 143: starttls), the firewall and the server's certificate")
		return
	case r.Login != nil:
		d.fail(name, "login at "+server+": "+r.Login.Error(), "check imap username and password (or OAuth2 sign-in); is IMAP enabled for the account?")
		return
	case r.Folder != nil:
		d.fail(name, r.Folder.Error(), "check imap folder (INBOX unless the mail goes elsewhere)")
		return
	case r.ProcessedErr != nil:
		d.fail(name, r.ProcessedErr.Error(), "check processed_folder")
		return
	}
	var notes, fixes []string
	notes = append(notes, fmt.Sprintf("%s, logged in as %s, %s holds %d mail(s)", server, mb.IMAP.Username, wc.Folder, r.Messages))
	if r.IDLE {
		notes = append(notes, "IDLE")
	} else if mb.IMAP.IDLE {
		fixes = append(fixes, fmt.Sprintf("the server has no IDLE: new mail is seen by polling every %v (poll_interval)", time.Duration(mb.IMAP.PollInterval)))
	}
	if r.MOVE {
		notes = append(notes, "MOVE")
	} else if mb.IMAP.ProcessedFolder != "" {
		fixes = append(fixes, "the server has no MOVE: processed mail is copied and expunged instead")
	}
	if r.ProcessedMissing {
		notes = append(notes, "processed_folder "+mb.IMAP.ProcessedFolder+" does not exist yet (serve creates it)")
	}
	if len(fixes) > 0 {
		d.warn(name, strings.Join(notes, ", "), strings.Join(fixes, "; "))
		return
	}
	d.ok(name, strings.Join(notes, ", "))
}

// doctorSMTP connects, starts TLS and authenticates as the outbox would,
// and quits without sending.
func doctorSMTP(ctx context.Context, d *doctorRun, cfg *config.Daemon, st *store.Store, usable map[oauth2.Account]bool,
	timeout time.Duration, log *slog.Logger) {
	sc := smtpConfig(cfg)
	sc.Timeout = timeout
	if cfg.SMTP.OAuth2 != nil {
		acct := oauth2.SMTP()
		if st == nil || !usable[acct] {
			d.fail("smtp", "not checked: its OAuth2 sign-in is not usable (see above)", "run `"+acct.LoginCommand()+"`")
			return
		}
		sc.TokenSource = oauth2.NewManager(st, *cfg.SMTP.OAuth2, acct, oauth2.Options{Logger: log}).Token
	} else {
		pw, err := cfg.SMTP.Secret()
		if err != nil {
			d.fail("smtp", "password: "+err.Error(), "make password_file readable by the casemail user, or set password")
			return
		}
		sc.Password = pw
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	server := fmt.Sprintf("%s:%d (%s)", cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.Security)
	if err := notify.NewSender(nil, sc, log).Check(cctx); err != nil {
		msg := strings.ToLower(err.Error())
		fix := "check smtp host, port and security (465: tls, 587: starttls) and the firewall"
		switch {
		case strings.Contains(msg, "auth") || strings.Contains(msg, "535"):
			fix = "check smtp username and password (or OAuth2 sign-in); is authenticated SMTP enabled for the account?"
		case strings.Contains(msg, "tls") || strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
			fix = "check smtp security (465: tls, 587: starttls) and the server's certificate"
		}
		d.fail("smtp", server+": "+err.Error(), fix)
		return
	}
	how := "connected"
	if cfg.SMTP.Security != "none" {
		how += ", TLS"
	}
	if cfg.SMTP.Username != "" {
		how += ", authenticated as " + cfg.SMTP.Username
	}
	d.ok("smtp", server+": "+how+" (nothing sent)")
}

// checkSenderAuth says what proves a sender (the config's validation has
// refused settings under which no mail could pass), and what the default
// leaves open.
func checkSenderAuth(d *doctorRun, sa config.SenderAuth) {
	var sources []string
	if len(sa.AuthservIDs) > 0 {
		ids := make([]string, len(sa.AuthservIDs))
		for i, id := range sa.AuthservIDs {
			ids[i] = strconv.Quote(id)
		}
		sources = append(sources, "Authentication-Results of "+strings.Join(ids, ", "))
	}
	if sa.VerifyDKIM {
		sources = append(sources, "its own DKIM checks (DNS)")
	}
	what := fmt.Sprintf("commands need: %s, participants need: %s", sa.Commands, sa.Participants)
	if len(sources) == 0 {
		d.ok("sender_auth", what+"; no source of sender authentication is trusted, so a forged From with a leaked token"+
			" is not caught (set authserv_ids to your receiving server, or verify_dkim: true)")
		return
	}
	d.ok("sender_auth", what+"; failed senders are recognised by "+strings.Join(sources, " and "))
}
