// Package senderauth decides, from a mail's raw header (and, when asked,
// its DKIM signatures), whether the mail's From address is authentic: a
// Verdict of pass, fail or none, with the domain and its findings: English
// formats with their data (domains, methods, results), which a mail words
// in its reader's language ("command refused because …").
//
// It trusts two sources only:
//
//   - Authentication-Results (RFC 8601) written by the organisation's own
//     receiving server: a field counts only when its authserv-id is one the
//     operator configured, and only the topmost such field counts. Every
//     server on the way prepends its header fields, so the receiving
//     server's own field stands above anything the sender wrote; a forged
//     field with the same authserv-id can only be lower down, and is never
//     read. The server must stamp every mail and should remove incoming
//     fields that carry its authserv-id (RFC 8601 section 5; SECURITY.md
//     shows how), so that a mail it did not stamp cannot bring its own.
//     Mailman 3 decides the same way (it reads only the most recent field,
//     and only from an authserv-id it is configured to trust), as does
//     OpenDMARC with TrustedAuthservIDs; Delta Chat, lacking configuration,
//     learns the id instead, which a helpdesk need not.
//   - DKIM signatures it verifies itself (go-msgauth), when configured,
//     with a bounded number of signatures and DNS lookups only for
//     signing domains aligned with From.
//
// A pass needs a result aligned with the From domain in the DMARC sense
// (relaxed: the same organisational domain, by the public suffix list):
// dmarc=pass for that domain, or a DKIM or SPF pass of an aligned domain.
// A fail needs positive evidence: dmarc=fail, or an aligned DKIM signature
// or SPF check that failed with nothing aligned passing. Everything else
// (no results, temporary errors, a pass for an unrelated domain) is none.
//
// The package is pure apart from DNS lookups for its own DKIM checks (a
// resolver the caller may replace). It never stores, logs or changes mail,
// and it never decides what a verdict means for a case: Policy says
// whether a verdict is enough for a command or a participant, and the
// caller acts on it.
package senderauth
