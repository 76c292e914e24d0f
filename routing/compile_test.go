package routing

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestCompiledRulesAreReleased: each loaded Rules is compiled once, and a
// Rules that a reload replaced takes its program with it (a daemon that
// reloads every few minutes must not keep every version).
func TestCompiledRulesAreReleased(t *testing.T) {
	count := func() int {
		n := 0
		programs.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := count()
	for range 5 {
		r := loadSeeds(t)
		if compile(r) != compile(r) {
			t.Fatal("one Rules compiled twice")
		}
		if _, err := Route(context.Background(), r, Input{From: "x@example.org", Subject: "hello"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	latest.Store(nil)
	deadline := time.Now().Add(5 * time.Second)
	for count() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Errorf("%d compiled programs kept after their rules went away", n-before)
	}
}
