package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestTakeLeasesNeverTwice has eight instances grab the same free
// mailboxes at once, again and again: every mailbox ends with exactly one
// holder, none is handed to two, and a lease that has not expired is never
// taken from its holder.
func TestTakeLeasesNeverTwice(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	var names []string
	var holder string // of mb00 after the last round
	for i := range 40 {
		names = append(names, fmt.Sprintf("mb%02d", i))
	}
	for round := range 5 {
		if _, err := st.pool.Exec(ctx, `DELETE FROM mailbox_leases`); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 8 {
			inst := fmt.Sprintf("i%d", i)
			wg.Go(func() {
				taken, err := st.TakeLeases(ctx, inst, names, len(names), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, tl := range taken {
					got[tl.Mailbox] = append(got[tl.Mailbox], inst)
				}
			})
		}
		wg.Wait()
		if len(got[names[0]]) > 0 {
			holder = got[names[0]][0]
		}
		for _, mb := range names {
			if len(got[mb]) != 1 {
				t.Errorf("round %d: mailbox %s taken by %v, want exactly one instance", round, mb, got[mb])
			}
		}
	}

	// Held and unexpired: nobody else gets it; expired: taken, naming the
	// instance it came from.
	held, err := st.RenewLeases(ctx, holder, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) == 0 {
		t.Fatalf("%q holds nothing to test with", holder)
	}
	if taken, err := st.TakeLeases(ctx, "thief", held, len(held), time.Minute); err != nil || len(taken) != 0 {
		t.Errorf("took %v (err %v) from a holder whose leases are valid", taken, err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE mailbox_leases SET expires_at = now() - interval '1 second' WHERE instance = $1`, holder); err != nil {
		t.Fatal(err)
	}
	taken, err := st.TakeLeases(ctx, "heir", held, len(held), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(taken) != len(held) {
		t.Errorf("took %d of %d expired leases", len(taken), len(held))
	}
	for _, tl := range taken {
		if tl.From != holder {
			t.Errorf("lease of %s taken from %q, want %q", tl.Mailbox, tl.From, holder)
		}
	}
	if again, err := st.RenewLeases(ctx, holder, time.Minute); err != nil || len(again) != 0 {
		t.Errorf("%s renewed %v (err %v) after its leases were taken", holder, again, err)
	}
	// A clean stop releases all and stops counting as sharing mailboxes.
	if err := st.ReleaseLeases(ctx, "heir", nil); err != nil {
		t.Fatal(err)
	}
	live, err := st.LiveInstances(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, li := range live {
		if li.ID == "heir" {
			t.Errorf("heir still counted live after releasing its leases: %+v", li)
		}
	}
}
