package mailparse

import (
	"errors"
	"fmt"
	"time"
)

// ErrBudget is the error, matched with errors.Is, of a parse that exceeded
// its processing budget (Options.MaxSteps or Options.MaxTime). Every stage
// of Parse is linear in the mail's size, so an ordinary mail stays far
// below the default budget; one that exceeds it is hostile or meets a
// flaw, and belongs in quarantine with the BudgetError's text as reason.
// Parsing it again gives the same result: the caller must not retry it.
var ErrBudget = errors.New("mail exceeds the parsing budget")

// BudgetError says which budget ran out, in which stage, and after how
// much work.
type BudgetError struct {
	Stage   string        // "header", "mime", "decode", "charset", "html", "quotes", "addresses", "classify"
	Steps   int64         // work units spent (about one per byte a stage reads)
	Limit   int64         // the step limit in force
	Elapsed time.Duration // wall time spent
	Timeout bool          // the time limit ran out, not the step limit
}

func (e *BudgetError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("%v: no result after %v (in %s)", ErrBudget, e.Elapsed.Round(time.Millisecond), e.Stage)
	}
	return fmt.Sprintf("%v: %d work units, limit %d (in %s)", ErrBudget, e.Steps, e.Limit, e.Stage)
}

// Is makes errors.Is(err, ErrBudget) true.
func (e *BudgetError) Is(target error) bool { return target == ErrBudget }

// Default budget of a parse: DefaultStepsPerByte work units per byte of
// the raw mail plus DefaultBaseSteps, and DefaultMaxTime of wall time.
// A linear parse spends about 10 to 30 units a byte (each stage reads what
// it is given once, nested multiparts once per level), so the step limit
// only bites on superlinear work; the time limit is a backstop for a
// machine that is simply overloaded.
const (
	DefaultStepsPerByte = 200
	DefaultBaseSteps    = 4 << 20
	DefaultMaxTime      = 20 * time.Second
)

// Options tune ParseWith. The zero value means the defaults of Parse.
type Options struct {
	// MaxText is the number of bytes of Text (and of HTML) kept, cut at a
	// character boundary: 0 means DefaultMaxText, negative no limit.
	MaxText int
	// DropAttachmentData lists attachments with name, type, size and
	// hash but without Data.
	DropAttachmentData bool
	// MaxSteps limits the work units a parse may spend: 0 means
	// DefaultStepsPerByte*len(raw)+DefaultBaseSteps, negative no limit.
	MaxSteps int64
	// MaxTime limits the wall time a parse may take: 0 means
	// DefaultMaxTime, negative no limit.
	MaxTime time.Duration
}

// budget counts a parse's work and stops it, by a panic that ParseWith
// recovers, when a limit is passed.
type budget struct {
	steps, limit int64
	deadline     time.Time // zero: none
	nextCheck    int64     // steps at which the clock is read next
	start        time.Time
	stage        string
}

type budgetExceeded struct{ err *BudgetError }

// timeCheckEvery is how many work units pass between reads of the clock.
const timeCheckEvery = 1 << 16

func newBudget(size int, o Options) *budget {
	b := &budget{start: time.Now(), limit: o.MaxSteps, nextCheck: timeCheckEvery}
	if b.limit == 0 {
		b.limit = DefaultStepsPerByte*int64(size) + DefaultBaseSteps
	}
	switch {
	case o.MaxTime == 0:
		b.deadline = b.start.Add(DefaultMaxTime)
	case o.MaxTime > 0:
		b.deadline = b.start.Add(o.MaxTime)
	}
	return b
}

// spend records n work units in the current stage.
func (b *budget) spend(n int) {
	if b == nil {
		return
	}
	b.steps += int64(n)
	if b.limit > 0 && b.steps > b.limit {
		panic(budgetExceeded{&BudgetError{Stage: b.stage, Steps: b.steps, Limit: b.limit, Elapsed: time.Since(b.start)}})
	}
	if b.steps >= b.nextCheck {
		b.nextCheck = b.steps + timeCheckEvery
		if !b.deadline.IsZero() && time.Now().After(b.deadline) {
			panic(budgetExceeded{&BudgetError{Stage: b.stage, Steps: b.steps, Limit: b.limit,
				Elapsed: time.Since(b.start), Timeout: true}})
		}
	}
}

// enter names the stage that spends next.
func (b *budget) enter(stage string) {
	if b != nil {
		b.stage = stage
	}
}
