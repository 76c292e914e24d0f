package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/casemail/casemail/config"
)

func cmdRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: casemail rules check [FILE] | explain MAIL.eml | replay [-since 30d] NEWFILE")
	}
	switch args[0] {
	case "check":
		return cmdRulesCheck(args[1:], stdout, stderr)
	case "explain":
		return cmdRulesExplain(ctx, args[1:], stdout, stderr)
	case "replay":
		return cmdRulesReplay(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown rules command %q (check, explain, replay)", args[0])
	}
}

// rulesPath is FILE when given, else the rules file casemail.yaml names.
func rulesPath(cfgPath string, pos []string) (string, error) {
	if len(pos) > 0 {
		return pos[0], nil
	}
	cfg, err := loadDaemonConfig(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.RulesFile, nil
}

func cmdRulesCheck(args []string, stdout, stderr io.Writer) error {
	f := newFlags("rules check", stderr)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("usage: casemail rules check [FILE]")
	}
	path, err := rulesPath(*f.config, pos)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	r, err := config.LoadRules(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok (%d services, %d rules, %d people, %d units)\n",
		path, len(r.Services), len(r.Rules), len(r.People), len(r.Units))
	return nil
}
