package routing

import (
	"context"
	"fmt"
	"sync"
)

// MemoryAssigner is an in-memory Assigner for the tests:
// round_robin remembers the last pick per pool;
// least_open counts the cases it handed out until Done is called. Positions
// are lost on restart and not shared between processes.
type MemoryAssigner struct {
	mu   sync.Mutex
	last map[string]string
	open map[string]int
}

// NewMemoryAssigner returns an empty MemoryAssigner.
func NewMemoryAssigner() *MemoryAssigner {
	return &MemoryAssigner{last: map[string]string{}, open: map[string]int{}}
}

// Pick implements Assigner.
func (m *MemoryAssigner) Pick(_ context.Context, key, strategy string, candidates []string) (string, error) {
	if len(candidates) == 0 {
		return "", fmt.Errorf("no candidates in pool %s", key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var who string
	switch strategy {
	case "round_robin":
		// The one after the last pick; a list that changed starts over.
		next := 0
		for i, c := range candidates {
			if c == m.last[key] {
				next = (i + 1) % len(candidates)
				break
			}
		}
		who = candidates[next]
		m.last[key] = who
	case "least_open":
		who = candidates[0]
		for _, c := range candidates[1:] {
			if m.open[c] < m.open[who] {
				who = c
			}
		}
	default:
		return "", fmt.Errorf("unknown assignment strategy %q", strategy)
	}
	m.open[who]++
	return who, nil
}

// Done records that one of person's cases is no longer open.
func (m *MemoryAssigner) Done(person string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.open[person] > 0 {
		m.open[person]--
	}
}

// Open returns how many cases Pick handed person that are not Done.
func (m *MemoryAssigner) Open(person string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open[person]
}
