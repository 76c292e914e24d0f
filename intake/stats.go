package intake

import (
	"maps"
	"sync"

	"github.com/casemail/casemail/intake/mailparse"
)

// StatKey names one counter of Stats: a mailbox and an outcome or an
// automatic-mail kind.
type StatKey struct {
	Mailbox string
	Value   string
}

// Stats counts what a Processor committed since it was made, for metrics.
// Mail skipped as handled before (by another instance or an earlier run)
// is not counted, so the counts of several instances add up.
type Stats struct {
	// Outcomes counts mails by mailbox and outcome: case, message,
	// duplicate, quarantined or answered.
	Outcomes map[StatKey]int64
	// Automatic counts automatic mails (never acknowledged) by mailbox and
	// kind: reply, generated, bulk, list, bounce or loop.
	Automatic map[StatKey]int64
	// Conflicts counts transactions that collided with another (deadlock,
	// serialization, lock_timeout, unique) and were run again, by reason.
	Conflicts map[string]int64
	// Capped counts the caps that bit (ack_sender, ack_mailbox,
	// ack_unauthenticated, relay: each also an event on its case; mine:
	// an answer to a mail to a mine address, logged).
	Capped map[string]int64
}

type stats struct {
	mu        sync.Mutex
	outcomes  map[StatKey]int64
	automatic map[StatKey]int64
	conflicts map[string]int64
	caps      map[string]int64
}

func (s *stats) capped(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.caps == nil {
		s.caps = map[string]int64{}
	}
	s.caps[c]++
}

func (s *stats) conflict(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conflicts == nil {
		s.conflicts = map[string]int64{}
	}
	s.conflicts[reason]++
}

func (s *stats) record(mailbox string, r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outcomes == nil {
		s.outcomes, s.automatic = map[StatKey]int64{}, map[StatKey]int64{}
	}
	s.outcomes[StatKey{mailbox, r.Outcome}]++
	if r.Auto != mailparse.AutoNone {
		s.automatic[StatKey{mailbox, r.Auto.String()}]++
	}
}

// Stats returns a copy of the counts so far.
func (p *Processor) Stats() Stats {
	s := &p.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Outcomes: make(map[StatKey]int64, len(s.outcomes)), Automatic: make(map[StatKey]int64, len(s.automatic))}
	for k, v := range s.outcomes {
		out.Outcomes[k] = v
	}
	for k, v := range s.automatic {
		out.Automatic[k] = v
	}
	out.Conflicts = maps.Clone(s.conflicts)
	out.Capped = maps.Clone(s.caps)
	return out
}
