// Package intake turns raw mail from IMAP mailboxes into cases and messages:
// it watches the mailboxes, has each mail parsed by intake/mailparse, and
// applies the result to cases through the store. A mail mailparse cannot
// read is quarantined, never lost.
//
// It also works the conversation: replies from requesters, agents,
// consulted colleagues and suppliers land on their case, and agents'
// #commands (proven by their reply token) are applied in the same
// transaction as their mail.
//
// intake never talks SMTP and never decides routing: the mail it means to
// send goes to the outbox through notify's Mailer; service, tier and
// assignee are routing's decisions.
package intake
