package senderauth

import (
	"context"

	"github.com/casemail/casemail/config"
)

// FromConfig returns the Checker for casemail.yaml's sender_auth section
// (validated by config, so an error here means a caller built the section
// by hand). lookup may be nil for the system resolver; tests pass a stub.
//
// At ingest: v := c.Check(ctx, raw); then c.AllowCommand(v) before applying
// an agent's commands, c.AllowParticipant(v) before adding Cc's or relaying
// a participant's post, and v.Acknowledge() before acknowledging.
func FromConfig(sa config.SenderAuth, lookup func(ctx context.Context, name string) ([]string, error)) (*Checker, error) {
	cmd, err := ParseLevel(sa.Commands)
	if err != nil {
		return nil, err
	}
	part, err := ParseLevel(sa.Participants)
	if err != nil {
		return nil, err
	}
	return New(Options{
		AuthservIDs: sa.AuthservIDs,
		VerifyDKIM:  sa.VerifyDKIM,
		LookupTXT:   lookup,
		Policy:      Policy{Commands: cmd, Participants: part},
	}), nil
}
