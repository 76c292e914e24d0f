// Command casemail is the email-driven helpdesk daemon and its admin tools.
// This package only parses flags and wires the parts together; the work is
// done in intake, routing, store, notify and config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `casemail — email-driven helpdesk daemon

Usage: casemail COMMAND [flags] [args]

Commands:
  serve                          run the daemon (intake, routing, outbox, HTTP)
  dev                            the daemon with an embedded mail world and, when
                                 no database url is set, a throwaway PostgreSQL
  migrate [-status]              apply database migrations / list them
  doctor                         check config, rules, secret_file, database,
                                 mailboxes, SMTP and OAuth2 without changing
                                 anything; exit 1 when serve would not work
  rules check [FILE]             validate rules; errors as FILE:LINE:COL: message
  rules explain MAIL.eml         route one raw mail without storing it
  rules replay [-since 30d] NEWFILE
                                 route stored cases again under NEWFILE, list changes
  directory [-json]              who holds which role where, with addresses; who
                                 is away today; suppliers; units
  cases [-open] [-json]          list cases
  case N [-json]                 show one case with its messages and events
  quarantine list|show ID|retry ID
                                 mail that could not be processed
  report [-since 30d] [-format table|csv|json]
                                 counts per unit, service, tier; transfers between
                                 tiers; SLA met/breached; median first response
  oauth2 login MAILBOX | login -smtp | status
                                 sign a Microsoft 365 or Google mailbox in with
                                 OAuth2; tokens are kept in the database
  erase -requester ADDRESS [-dry-run]
                                 erase a person's personal data (GDPR), raw
                                 mail included; the erasure is recorded
  status [-json]                 the instances sharing the database and which
                                 one watches each mailbox
  version                        print the version

Every command takes -config FILE (default: $CASEMAIL_CONFIG, else
./casemail.yaml, else /etc/casemail/casemail.yaml) and reads
/etc/casemail/env, the systemd unit's environment file, when it exists
(variables already set win). Flags may stand before or after arguments.
`

// exitError carries an exit status through to main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A second signal exits at once: the first started a graceful stop.
	go func() {
		<-ctx.Done()
		stop()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		fmt.Fprintln(os.Stderr, "casemail: second signal, exiting now")
		os.Exit(130)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "casemail:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "dev":
		return cmdDev(ctx, rest, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "rules":
		return cmdRules(ctx, rest, stdout, stderr)
	case "directory":
		return cmdDirectory(ctx, rest, stdout, stderr)
	case "cases":
		return cmdCases(ctx, rest, stdout, stderr)
	case "case":
		return cmdCase(ctx, rest, stdout, stderr)
	case "quarantine":
		return cmdQuarantine(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "oauth2":
		return cmdOAuth2(ctx, rest, stdout, stderr)
	case "erase":
		return cmdErase(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "casemail", version)
		return nil
	default:
		fmt.Fprintf(stderr, "casemail: unknown command %q\n\n%s", cmd, usage)
		return exitError{2}
	}
}

// flags is a FlagSet with the -config flag every command shares.
type flags struct {
	*flag.FlagSet
	config *string
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("casemail "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{FlagSet: fs, config: fs.String("config", "", configUsage)}
}

// parse parses flags that may stand before or after the positional
// arguments ("casemail case 12 -json" and "casemail case -json 12").
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func wantArgs(pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("usage: casemail %s", what)
	}
	return nil
}

// oneLine makes a value safe for a one-line table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
