// Package routing decides where a mail goes: which service of the
// catalogue, which unit, which rung of the service's escalation chain
// (tier and role, or the supplier), who among the role's holders gets it,
// and why, as a trail of every rule considered. It also reads the same
// rules back for people: the contact overview (NewDirectory) and how a
// stored decision differs from a new one (Replay).
//
// It is pure: no database, network, clock or logging. The only way out is
// the Assigner it is given, which keeps round-robin positions and open
// counts (PostgreSQL in production). Rules are compiled once per loaded
// config.Rules; Route is safe for concurrent use.
package routing
