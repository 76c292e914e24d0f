// Package notify words and sends mail: the reply tokens that bind a mail to
// its case and recipient, the templates (Swedish, Norwegian bokmål,
// English) that word each kind of mail (Kinds lists them all), the one view
// builder of a case (CaseView) and the one rule for a mail's language
// (RecipientLanguage), the wording of command errors (Translate), the
// Mailer that queues mail in the caller's
// transaction, the Sender that delivers the outbox over SMTP with retries,
// the alert policy, and the Scheduler that runs the jobs cmd registers on
// their cron specs, each once across all instances.
//
// It never reads a mailbox, never changes a case (intake/casework does)
// and never decides routing; it imports neither. Every mail it means to
// send is written to the outbox in the same transaction as the change that
// caused it. It holds no SQL, and never logs a mail body, a token
// (Message-IDs carry one) or a password.
package notify
