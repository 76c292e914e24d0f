package store

import (
	"context"
	"testing"
	"time"

	"github.com/casemail/casemail/store/storetest"
	"github.com/jackc/pgx/v5"
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

// allowAck records an acknowledgement to addr at now as CreateCaseWithAck
// does, under a limit of 5 an hour; it reports whether one was allowed.
func allowAck(ctx context.Context, st *Store, addr string, now time.Time) (bool, error) {
	var ok bool
	err := st.InTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		lim := AckLimits{PerSender: 5, Mailbox: "helpdesk"}
		addr = queueAllowAck(b, addr, lim, now)
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		a, err := allowAckResult(res, addr, lim)
		if err != nil {
			return err
		}
		ok = a.Allowed
		return res.Close()
	})
	return ok, err
}

// TestBodiesCompressedWithLZ4: where the server has lz4, raw mails,
// attachment bodies and long texts are stored with it (migration 0015).
func TestBodiesCompressedWithLZ4(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	var lz4 bool
	if err := st.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_settings
		WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	if !lz4 {
		t.Skip("the server has no lz4")
	}
	for _, col := range [][2]string{{"raw_mails", "data"}, {"blobs", "data"}, {"messages", "text_body"},
		{"outbox", "text_body"}, {"outbox", "html_body"}} {
		var method string
		if err := st.pool.QueryRow(ctx, `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = $1::regclass AND attname = $2`, col[0], col[1]).Scan(&method); err != nil {
			t.Fatal(err)
		}
		if method != "l" {
			t.Errorf("%s.%s compressed with %q, want lz4 (l)", col[0], col[1], method)
		}
	}
}

// TestNoJIT: the store's connections run without JIT compilation unless
// the url asks for it.
func TestNoJIT(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	for _, c := range []struct{ url, want string }{{url, "off"}, {url + "&jit=on", "on"}} {
		st, err := Open(ctx, c.url)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = st.pool.QueryRow(ctx, `SHOW jit`).Scan(&jit)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if jit != c.want {
			t.Errorf("jit = %s with %s, want %s", jit, Redact(c.url), c.want)
		}
	}
}
