package store

// Status is a case's status (DESIGN.md's case statuses); the cases table
// checks the same set.
type Status string

// Case statuses.
const (
	StatusNew      Status = "new"      // not yet assigned
	StatusOpen     Status = "open"     // assigned to a person or a supplier
	StatusWaiting  Status = "waiting"  // #wait or awaiting approval: SLA paused
	StatusResolved Status = "resolved" // #resolve: reopened by the requester within reopen_window
	StatusClosed   Status = "closed"   // after reopen_window, or #close
	StatusDropped  Status = "dropped"  // a drop rule, a loop, an untrusted list
)

// transitions are the status changes a case may make (DESIGN.md): a
// status may also be set again, unchanged. Nothing becomes dropped: only a
// new case is opened so.
var transitions = map[Status][]Status{
	StatusNew:      {StatusOpen, StatusWaiting, StatusResolved, StatusClosed},
	StatusOpen:     {StatusNew, StatusWaiting, StatusResolved, StatusClosed},
	StatusWaiting:  {StatusNew, StatusOpen, StatusResolved, StatusClosed},
	StatusResolved: {StatusNew, StatusOpen, StatusClosed},
	StatusClosed:   {StatusNew, StatusOpen},
	StatusDropped:  {StatusNew, StatusOpen},
}

// CanBecome reports whether a case with status s may change to t.
func (s Status) CanBecome(t Status) bool {
	if s == t {
		return true
	}
	for _, to := range transitions[s] {
		if to == t {
			return true
		}
	}
	return false
}

// Active reports whether a case with the status is being worked: new or
// open (not waiting, resolved, closed or dropped).
func (s Status) Active() bool { return s == StatusNew || s == StatusOpen }

// Held is the status of a case that is (again) being worked: open when a
// person or a supplier holds it, new otherwise.
func Held(assignee, supplier string) Status {
	if assignee != "" || supplier != "" {
		return StatusOpen
	}
	return StatusNew
}

// Party is what someone is to a case: what a participant is on it, and
// whom a message on it came from. Note, Bounce and Automatic are kinds of
// message only.
type Party string

// Parties.
const (
	PartyRequester   Party = "requester"   // opened the case
	PartyCc          Party = "cc"          // Cc'd on the requester's side
	PartyParticipant Party = "participant" // wrote to the case, on no list of it
	PartyAgent       Party = "agent"       // a person in rules.yaml who holds or held the case
	PartyConsultant  Party = "consultant"  // consulted with #consult
	PartySupplier    Party = "supplier"    // the external supplier
	PartyManager     Party = "manager"     // the support manager
	PartyNote        Party = "note"        // an internal message of an agent's
	PartyBounce      Party = "bounce"      // a bounce of mail we sent
	PartyAutomatic   Party = "automatic"   // other automatic mail
)

// RequesterSide reports whether p is on the requester's side of the case:
// their mail is a follow-up, and public replies go to them.
func (p Party) RequesterSide() bool {
	return p == PartyRequester || p == PartyCc || p == PartyParticipant
}
