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
// intake never sends mail and never decides routing: acknowledgements and
// notices are notify's job, service, tier and assignee are routing's.
package intake
