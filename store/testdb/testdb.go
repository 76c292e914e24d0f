// Package testdb gives a test a migrated store on a fresh database of its
// own (see storetest for how the server is chosen). It lives apart from
// storetest because store's own tests use storetest, and a package they
// import cannot import store.
package testdb

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

// Open returns a migrated store on a fresh database, closed when the test
// ends, and the database's URL (for a second pool or a daemon process).
func Open(t testing.TB) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	url := storetest.URL(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	st.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	Seal(t, st)
	return st, url
}

// Seal gives st the key Open's stores seal OAuth2 tokens with, for a
// second store on the same database.
func Seal(t testing.TB, st *store.Store) {
	t.Helper()
	sl, err := store.NewSealer([][]byte{[]byte("testdb sealing key, 32 bytes ok!")})
	if err != nil {
		t.Fatal(err)
	}
	st.SetSealer(sl)
}
