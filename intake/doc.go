// Package intake takes mail in: it watches the IMAP mailboxes, has each
// mail parsed by intake/mailparse, claims it exactly once (UID claims and
// cursors, a content identity across mailboxes), matches it to a case
// (reply token, signed references, bounces, the subject tag from someone
// on the case), and hands the result to intake/casework in the same
// transaction. A mail mailparse cannot read is quarantined, never lost.
//
//   - watch*.go: the IMAP watcher (IDLE, polling, reconnects, batches);
//     watch_lease.go: Leases, which runs the watchers of the mailboxes this
//     instance holds the lease of, so that each mailbox has one watcher
//     among all instances.
//   - process.go: the Processor, one mail at a time; Retry of quarantine.
//   - batch.go: backlog batches, split into parallel transactions that
//     never contend for the same locks.
//   - deliver.go: one mail's transaction: claim, duplicate, quarantine,
//     hand-over.
//   - thread.go: which case a mail belongs to.
//
// intake never changes a case itself, never talks SMTP and never decides
// routing: that is casework's, notify's and routing's.
package intake
