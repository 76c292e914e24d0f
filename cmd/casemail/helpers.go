// Helpers the subcommands share: opening the database and printing tables
// and JSON.

package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/store"
)

// openStore loads the daemon config and connects to its database, which
// must be migrated (openDatabase).
func openStore(ctx context.Context, path string) (*config.Daemon, *store.Store, error) {
	return openDatabase(ctx, path, true)
}

// truncate shortens s to n runes, the last an ellipsis, for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// writeJSON writes v as indented JSON, the -json output of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// orDash shows an empty table cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatPerson is "Name <addr>", or addr alone when there is no name.
func formatPerson(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}
