// Package intake turns raw mail from IMAP mailboxes into cases and messages:
// it watches the mailboxes, parses each mail (MIME structure, charsets,
// broken headers, attachments, quoted history, case tags, automatic-mail
// classification and bounces) and applies the result to cases through the
// store.
//
// Parsing never loses a mail: a part that cannot be decoded is recorded in
// Message.Problems and the rest is kept; only input without any header is an
// error, and the caller quarantines it.
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
