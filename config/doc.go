// Package config loads and validates casemail's two YAML files: the
// daemon's casemail.yaml (servers, mailboxes, secrets, global settings) and
// the admins' rules.yaml (calendars, people, units, roles, suppliers, the
// service catalogue, routing rules, schedule).
//
// Loading is strict: unknown keys, duplicate keys, missing required keys,
// wrong types, bad references, bad regular expressions and bad cron specs
// are all errors, each reported as "file:line:col: message", and a load
// reports every problem it finds rather than the first. A value returned
// without error is complete (defaults applied) and valid.
//
// The package never opens network connections and never logs; it reads
// only the files it is given (and password files when Secret is called).
package config
