// Package notify is how casemail keeps people informed: the reply tokens
// that bind a mail to its case and recipient, the templates (Swedish,
// Norwegian bokmål, English) that word each kind of mail, the Mailer that
// queues case mail in the caller's transaction, the Sender that delivers
// the outbox over SMTP with retries, and the Scheduler that runs the timed
// work on a cron schedule: SLA checks with warnings and escalation
// (Transfer, the one path every move between rungs takes), reminders and
// digests, each job once across all instances.
//
// It never reads a mailbox and never decides routing (that is routing's:
// Transfer asks it which rung and person come next). Every mail it means to
// send is written to the outbox in the same transaction as the change that
// caused it. It never logs a mail body, a token (Message-IDs carry one) or
// a password.
package notify
