// Package mailparse reads one raw mail into a Message: header recovery,
// MIME structure, transfer encodings (x-uuencode included), charsets
// (declared, or detected for unlabelled 8-bit text; UTF-7 included), RFC
// 2047 and RFC 2231 words, addresses, attachments and their names, TNEF
// (winmail.dat, and its compressed RTF body), format=flowed, HTML to text,
// quoted history
// (SplitQuoted), case tags in subjects (CaseTag), and the classification of
// automatic mail and bounces.
//
// Parsing never loses a mail: a part that cannot be decoded, and every
// repair of a broken header, is recorded in Message.Problems and the rest
// is kept. Only two errors end a parse, and the caller quarantines the
// mail for both: input without any header (ErrNoHeader), and a parse that
// exceeds its processing budget (ErrBudget, see Options). Every step is
// linear in the mail's size, so the budget only stops hostile input or a
// flaw; parsing the same mail again gives the same result.
//
// mailparse is pure: it works on bytes in memory and never touches the
// store, the network (IMAP, SMTP), notify or the clock beyond parsing dates.
// What a parsed mail means for a case is intake's decision.
package mailparse
