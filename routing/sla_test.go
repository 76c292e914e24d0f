package routing

import (
	"testing"
	"time"

	"github.com/casemail/casemail/config"
)

func TestDueAndWarnAt(t *testing.T) {
	r, err := config.LoadRules("../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sto, _ := time.LoadLocation("Europe/Stockholm")
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, sto) }
	fri := at(6, 15, 0)
	due := Due(r, "qm-handbook", "normal", fri)
	if !due.FirstResponse.Equal(at(9, 10, 30)) || !due.Resolution.Equal(at(11, 15, 0)) {
		t.Errorf("normal: %+v", due)
	}
	if due := Due(r, "qm-handbook", "high", fri); !due.FirstResponse.Equal(at(6, 16, 0)) || !due.Resolution.Equal(at(11, 15, 0)) {
		t.Errorf("high: %+v", due)
	}
	for _, svc := range []string{"triage", "no-such-service"} {
		if due := Due(r, svc, "normal", fri); !due.FirstResponse.IsZero() || !due.Resolution.IsZero() {
			t.Errorf("%s has due times %+v", svc, due)
		}
	}
	_, cal := SLA(r, "qm-handbook")
	// 80% of the 4 business hours from Friday 15:00: 3h12m of opening hours.
	if w := WarnAt(cal, fri, due.FirstResponse, 0.8); !w.Equal(at(9, 9, 42)) {
		t.Errorf("warning at %s, want Monday 09:42", w)
	}
	for _, share := range []float64{0, 1, -0.5} {
		if w := WarnAt(cal, fri, due.FirstResponse, share); !w.IsZero() {
			t.Errorf("share %v: warning at %s", share, w)
		}
	}
	if n, ok := RungOfTier(r.Service("qm-handbook"), config.TierExternal); !ok || n != 4 {
		t.Errorf("external rung = %d, %v", n, ok)
	}
	if n, ok := RungOfTier(r.Service("passwords"), "2"); !ok || n != 1 {
		t.Errorf("passwords tier 2 = rung %d, %v", n, ok)
	}
	if _, ok := RungOfTier(r.Service("passwords"), "1"); ok {
		t.Error("passwords has no tier 1")
	}
}
