// Package notify is everything casemail needs to send mail: the reply
// tokens that bind a mail to its case and recipient, the templates (Swedish,
// Norwegian bokmål, English) that word each kind of mail, and the Sender
// that delivers the outbox over SMTP with retries.
//
// It never decides who gets which mail or when, and never writes a case:
// callers render a mail with Templates, queue it with store.EnqueueMail in
// the transaction that caused it, and the Sender delivers it. It never logs
// a mail body, a token (Message-IDs carry one) or a password.
package notify
