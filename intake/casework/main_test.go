package casework

import (
	"log/slog"
	"testing"

	"github.com/casemail/casemail/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testLogger writes through t, so a failing test shows what case work said.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
