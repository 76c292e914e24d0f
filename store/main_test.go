package store

import (
	"context"
	"testing"

	"github.com/casemail/casemail/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// openTestStore returns a migrated store on a fresh database of its own.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, storetest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st.SetSealer(testSealer(t, "store test key A, 32 bytes long!"))
	return st
}

func testSealer(t testing.TB, keys ...string) *Sealer {
	t.Helper()
	var ks [][]byte
	for _, k := range keys {
		ks = append(ks, []byte(k))
	}
	sl, err := NewSealer(ks)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}
