package store

import "testing"

// TestStatusTransitions holds the case statuses to DESIGN.md: new → open
// (assigned) ⇄ waiting → resolved → closed; a requester's reply reopens a
// resolved case; #reopen brings back a closed or dropped one; nothing
// becomes dropped after it was opened.
func TestStatusTransitions(t *testing.T) {
	all := []Status{StatusNew, StatusOpen, StatusWaiting, StatusResolved, StatusClosed, StatusDropped}
	allowed := map[[2]Status]bool{}
	for _, pair := range [][2]Status{
		{StatusNew, StatusOpen}, {StatusNew, StatusWaiting}, {StatusNew, StatusResolved}, {StatusNew, StatusClosed},
		{StatusOpen, StatusNew}, {StatusOpen, StatusWaiting}, {StatusOpen, StatusResolved}, {StatusOpen, StatusClosed},
		{StatusWaiting, StatusNew}, {StatusWaiting, StatusOpen}, {StatusWaiting, StatusResolved}, {StatusWaiting, StatusClosed},
		{StatusResolved, StatusNew}, {StatusResolved, StatusOpen}, {StatusResolved, StatusClosed},
		{StatusClosed, StatusNew}, {StatusClosed, StatusOpen},
		{StatusDropped, StatusNew}, {StatusDropped, StatusOpen},
	} {
		allowed[pair] = true
	}
	for _, from := range all {
		for _, to := range all {
			want := from == to || allowed[[2]Status{from, to}]
			if got := from.CanBecome(to); got != want {
				t.Errorf("%s → %s allowed = %v, want %v", from, to, got, want)
			}
		}
	}
	if Held("anna", "") != StatusOpen || Held("", "qm-vendor") != StatusOpen || Held("", "") != StatusNew {
		t.Error("Held")
	}
}
