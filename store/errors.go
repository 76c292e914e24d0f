package store

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// What the database said, classified here so that callers never inspect
// PostgreSQL's error codes themselves.

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique-constraint conflict,
// which the intake retries: another instance committed the same mail first.
func IsUniqueViolation(err error) bool { return pgCode(err) == "23505" }

// IsUndefinedTable reports whether err says a table is missing: the
// database is not migrated (yet).
func IsUndefinedTable(err error) bool { return pgCode(err) == "42P01" }

// IsDatabase reports whether err came from the database server (any SQL
// error), as opposed to a decision of the caller's.
func IsDatabase(err error) bool { return pgCode(err) != "" }

// Conflict says whether err is a conflict between concurrent transactions
// that is worth running again: a deadlock, a serialization failure, or a
// lock not granted in time. reason names it for logs and metrics.
func Conflict(err error) (reason string, ok bool) {
	switch pgCode(err) {
	case "40P01":
		return "deadlock", true
	case "40001":
		return "serialization", true
	case "55P03":
		return "lock_timeout", true
	}
	return "", false
}

// ConflictDetail is what PostgreSQL said about a conflict (for a deadlock:
// which processes waited on which locks), for a WARN line.
func ConflictDetail(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	if pe.Detail != "" {
		return pe.Message + ": " + pe.Detail
	}
	return pe.Message
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Describe says what the database server answered, in words safe to show
// anyone (no host, user or database name); ok is false when err is not
// the server's answer.
func Describe(err error) (what string, ok bool) {
	code := pgCode(err)
	switch code {
	case "":
		return "", false
	case "28P01", "28000":
		return "the login was refused: check the user and password in the configuration", true
	case "3D000":
		return "the database does not exist", true
	case "53300":
		return "too many connections", true
	case "57P01", "57P02", "57P03":
		return "the server is shutting down or starting up", true
	case "55000":
		return "the database is not accepting connections", true
	case "42P01":
		return "a table is missing: the database is not migrated (run casemail migrate)", true
	}
	return "the server answered with SQLSTATE " + code, true
}
