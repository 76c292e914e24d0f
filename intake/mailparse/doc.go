// Package mailparse reads one raw mail into a Message: header recovery,
// MIME structure, transfer encodings, charsets (UTF-7 included), RFC 2047
// and RFC 2231 words, addresses, attachments and their names, HTML to text,
// quoted history (SplitQuoted), case tags in subjects (CaseTag), and the
// classification of automatic mail and bounces.
//
// Parsing never loses a mail: a part that cannot be decoded is recorded in
// Message.Problems and the rest is kept; only input without any header is an
// error (ErrNoHeader), and the caller quarantines it.
//
// mailparse is pure: it works on bytes in memory and never touches the
// store, the network (IMAP, SMTP), notify or the clock beyond parsing dates.
// What a parsed mail means for a case is intake's decision.
package mailparse
