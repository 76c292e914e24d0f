// Package casework is the one home of a case's life: every change to a
// case, whether a mail or the clock causes it, is made here, in the
// caller's transaction.
//
//   - open.go: a mail that threads to nothing is routed and opened as a
//     case, acknowledged (within the allowance) and told to its assignee.
//   - message.go, conversation.go: a mail on a case is stored; a merged or
//     closed case redirects it; a requester's follow-up reopens or resumes
//     the case and is told to the owner; an agent's proven reply is relayed
//     or kept internal; a supplier's answer goes to the owner.
//   - command.go, commands.go: the #commands of an agent's reply, parsed,
//     checked against the case, applied all or nothing.
//   - transfer.go: every move between rungs (escalation, #tier, #assign,
//     an SLA breach) and its notices.
//   - sla.go: SLA due times, pauses, wake-ups, retargeting, warnings and
//     breaches: the SLA check, a job the scheduler runs.
//   - supplier.go: the supplier's side: the forward and the contract's
//     clock it starts (#supplier, the external rung, a case that starts at
//     the supplier), the case's SLA paused meanwhile when its service says
//     so, the supplier's answer (their reference, the clock stopped),
//     #supplier-ref, and the supplier check: reminders to a silent
//     supplier, the owner told when they are used up.
//
// Desk is the entry point: Apply for a mail (intake hands it a parsed,
// threaded Mail), SLAJob and SupplierJob for the clock. Statuses change only as
// store.Status.CanBecome allows.
//
// casework never reads a mailbox, never parses MIME (intake/mailparse),
// never decides routing (routing) and never speaks SQL or SMTP: it asks the
// store to record, routing to decide, and notify to word and queue mail.
package casework
