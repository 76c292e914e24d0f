package casework

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// supplierRules are DESIGN.md's rules with a contract for the supplier:
// 4h to answer on the office calendar (Mon–Fri 08:00–16:30, Swedish
// holidays), reminded once a business day, twice; and qm-handbook's SLA
// pausing while the supplier has not answered.
func supplierRules(t testing.TB) *config.Rules {
	t.Helper()
	data, err := os.ReadFile("../../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), `  - {id: qm-vendor, name: Qm+ vendor, email: support@vendor.example}`, `  - id: qm-vendor
    name: Qm+ vendor
    email: support@vendor.example
    domains: [vendor.example]
    reference: '(?i)\bINC\d{6,}\b'
    contracts:
      - {id: qm-standard, calendar: office, response: 4h, resolution: 3d, reminders: {every: 1d, limit: 2}}`, 1)
	s = strings.Replace(s, `sla: {calendar: office, first_response: 4h, resolution: 3d, high: {first_response: 1h}}`,
		`sla: {calendar: office, first_response: 4h, resolution: 3d, high: {first_response: 1h}, pause_for_supplier: true}`, 1)
	r, err := config.ParseRules("rules.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newSupplierEnv(t *testing.T) *schedEnv {
	e := newSchedEnv(t)
	e.rules = supplierRules(t)
	e.s = e.scheduler(e.st)
	e.s.Jobs = append(e.s.Jobs, e.desk.SupplierJob())
	return e
}

// forwardAt forwards case c to the supplier at now, as #supplier does.
func (e *schedEnv) forwardAt(c *store.Case, now time.Time) *store.Case {
	e.t.Helper()
	var nc *store.Case
	err := e.st.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		nc, err = e.desk.forward(context.Background(), tx, e.rules, c, e.rules.Supplier("qm-vendor"),
			forwardNote{Text: "Kan dere se på dette?", Actor: "per", Via: "Per Dahl"}, now)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return nc
}

func (e *schedEnv) forwardOf(c *store.Case) *store.SupplierForward {
	e.t.Helper()
	f, err := store.LatestForward(context.Background(), e.st.DB(), c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// TestSupplierClockAcrossWeekendAndHoliday: the contract's 4h response
// time and the reminder interval count business time on the office
// calendar. Forwarded Friday 15:00, the answer is due Monday 10:30;
// forwarded on Maundy Thursday 15:00, Good Friday and Easter Monday are
// closed and the answer is due Tuesday 10:30. The supplier is reminded at
// the due time and one business day later, and the owner is told one
// business day after that: once each, however often the check runs.
func TestSupplierClockAcrossWeekendAndHoliday(t *testing.T) {
	e := newSupplierEnv(t)
	for _, tc := range []struct {
		name      string
		forwarded time.Time
		due       time.Time
		reminder2 time.Time
		ownerTold time.Time
	}{
		{"weekend", e.at(2026, 3, 6, 15, 0), e.at(2026, 3, 9, 10, 30), e.at(2026, 3, 10, 10, 30), e.at(2026, 3, 11, 10, 30)},
		{"easter", e.at(2026, 4, 2, 15, 0), e.at(2026, 4, 7, 10, 30), e.at(2026, 4, 8, 10, 30), e.at(2026, 4, 9, 10, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.caseOn(tc.forwarded.Add(-time.Hour), "qm-handbook", "bryne", "normal", 2, "per")
			c = e.forwardAt(c, tc.forwarded)
			if c.Status != store.StatusWaiting {
				t.Errorf("a qm-handbook case forwarded to the supplier is %s; its SLA pauses: want waiting", c.Status)
			}
			f := e.forwardOf(c)
			if f.ResponseDue == nil || !f.ResponseDue.Equal(tc.due) {
				t.Fatalf("response due %v, want %v", f.ResponseDue, tc.due)
			}
			mark := e.lastOutbox()
			kinds := func() string {
				var out []string
				for _, m := range e.outbox(mark) {
					if m.CaseID == c.ID {
						out = append(out, m.Kind+"→"+strings.Trim(m.To[strings.LastIndex(m.To, "<")+1:], "<>"))
					}
				}
				return strings.Join(out, " ")
			}
			// Checks every hour from the forward to two days after the owner
			// is told: each step happens once, at its time.
			var steps []string
			last := ""
			for at := tc.forwarded; at.Before(tc.ownerTold.Add(48 * time.Hour)); at = at.Add(30 * time.Minute) {
				e.run(notify.JobSupplierCheck, at)
				if k := kinds(); k != last {
					steps = append(steps, at.Format("Mon 01-02 15:04")+" "+strings.TrimPrefix(k, last))
					last = k
				}
			}
			want := []string{
				tc.due.Format("Mon 01-02 15:04") + " supplier_reminder→support@vendor.example",
				tc.reminder2.Format("Mon 01-02 15:04") + "  supplier_reminder→support@vendor.example",
				tc.ownerTold.Format("Mon 01-02 15:04") + "  supplier_late→per@example.org",
			}
			if strings.Join(steps, "\n") != strings.Join(want, "\n") {
				t.Errorf("the supplier's clock:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
			}
			f = e.forwardOf(c)
			if f.Reminders != 2 || f.OwnerToldAt == nil || f.NextCheckAt != nil {
				t.Errorf("after the limit: reminders %d, owner told %v, next check %v", f.Reminders, f.OwnerToldAt, f.NextCheckAt)
			}
			for _, m := range e.outbox(mark) {
				if m.Kind == notify.KindSupplierReminder && (!strings.Contains(m.Subject, "[#") || strings.Contains(m.Text, "ola@example.no")) {
					t.Errorf("a reminder must carry the case tag and never the requester: %q\n%s", m.Subject, m.Text)
				}
			}
		})
	}
}

// TestSupplierAnswerStopsTheClock: an answer before the response time
// stops the clock: no reminder ever; the case's paused SLA resumes with
// the business time spent waiting given back.
func TestSupplierAnswerStopsTheClock(t *testing.T) {
	e := newSupplierEnv(t)
	c := e.caseOn(e.at(2026, 3, 9, 8, 0), "qm-handbook", "bryne", "normal", 2, "per")
	before := e.get(c)
	c = e.forwardAt(c, e.at(2026, 3, 9, 9, 0))
	ctx := context.Background()
	// What conversation.go does with the supplier's mail, by hand: stop.
	f := e.forwardOf(c)
	answered := e.at(2026, 3, 9, 11, 0)
	f.AnsweredAt, f.NextCheckAt = &answered, nil
	if err := store.SaveForward(ctx, e.st.DB(), f); err != nil {
		t.Fatal(err)
	}
	resumed, err := ResumeFromWait(ctx, e.st.DB(), e.rules, c, answered)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Status != store.StatusOpen {
		t.Errorf("after the answer the case is %s, want open", resumed.Status)
	}
	after := e.get(c)
	if got := after.FirstResponseD.Sub(*before.FirstResponseD); got != 2*time.Hour {
		t.Errorf("the first-response due time moved %s, want the 2h spent waiting on the supplier", got)
	}
	mark := e.lastOutbox()
	for at := e.at(2026, 3, 9, 9, 0); at.Before(e.at(2026, 3, 16, 9, 0)); at = at.Add(time.Hour) {
		e.run(notify.JobSupplierCheck, at)
	}
	for _, m := range e.outbox(mark) {
		if m.Kind == notify.KindSupplierReminder || m.Kind == notify.KindSupplierLate {
			t.Errorf("an answered supplier got %s", m.Kind)
		}
	}
}

// TestSupplierRemindersOnceAcrossInstances: two instances running the
// supplier check for the same slots at once send each reminder once.
// Their clocks are up to 600 ms apart, and whichever wins a slot (up to
// the machine's scheduler) sets the next check one business day after its
// own clock: so each day's slot is half an hour later than the last. (At
// 14:00 every day, a slot won by the latest clock put the next check
// 600 ms after the next slot's earliest clock, which then found nothing
// due: under load, a reminder or the owner's notice came a day late.)
func TestSupplierRemindersOnceAcrossInstances(t *testing.T) {
	e := newSupplierEnv(t)
	ctx := context.Background()
	st2, err := store.Open(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st2.Close)
	s2 := e.scheduler(st2)
	s2.Jobs = append(s2.Jobs, e.desk.SupplierJob())
	var cases []*store.Case
	for i := range 5 {
		c := e.caseOn(e.at(2026, 3, 9, 8, i), "qm-handbook", "bryne", "normal", 2, "per")
		cases = append(cases, e.forwardAt(c, e.at(2026, 3, 9, 9, i)))
	}
	mark := e.lastOutbox()
	for _, slot := range []time.Time{e.at(2026, 3, 9, 14, 0), e.at(2026, 3, 10, 14, 30), e.at(2026, 3, 11, 15, 0),
		e.at(2026, 3, 12, 15, 30)} {
		var wg sync.WaitGroup
		for i, s := range []*notify.Scheduler{e.s, s2, e.s, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RunJob(ctx, notify.JobSupplierCheck, slot.Add(time.Duration(i)*200*time.Millisecond)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	perCase := map[int64]map[string]int{}
	for _, m := range e.outbox(mark) {
		if perCase[m.CaseID] == nil {
			perCase[m.CaseID] = map[string]int{}
		}
		perCase[m.CaseID][m.Kind]++
	}
	for _, c := range cases {
		got := perCase[c.ID]
		if got[notify.KindSupplierReminder] != 2 || got[notify.KindSupplierLate] != 1 {
			t.Errorf("case %d: %v, want 2 reminders and the owner told once", c.Number, got)
		}
	}
	if n := e.count(`SELECT count(*) FROM events WHERE kind = 'supplier-reminder'`); n != 10 {
		t.Errorf("%d reminder events, want 10", n)
	}
}

// TestSupplierForwardRestarts: #supplier again ends the current forward
// and starts a new clock; the reference known carries over.
func TestSupplierForwardRestarts(t *testing.T) {
	e := newSupplierEnv(t)
	c := e.caseOn(e.at(2026, 3, 9, 8, 0), "qm-handbook", "bryne", "normal", 2, "per")
	c = e.forwardAt(c, e.at(2026, 3, 9, 9, 0))
	f := e.forwardOf(c)
	f.Reference = "INC0012345"
	if err := store.SaveForward(context.Background(), e.st.DB(), f); err != nil {
		t.Fatal(err)
	}
	e.forwardAt(c, e.at(2026, 3, 10, 9, 0))
	g := e.forwardOf(c)
	if g.ID == f.ID || g.Reference != "INC0012345" || g.ResponseDue == nil || !g.ResponseDue.Equal(e.at(2026, 3, 10, 13, 0)) {
		t.Errorf("the new forward: id %d (old %d), reference %q, due %v", g.ID, f.ID, g.Reference, g.ResponseDue)
	}
	if n := e.count(`SELECT count(*) FROM supplier_forwards WHERE case_id = $1 AND ended_at IS NULL`, c.ID); n != 1 {
		t.Errorf("%d forwards current, want 1", n)
	}
}

// TestDigestListsSupplierWaits: the digest lists the cases waiting on a
// supplier, overdue first, with the supplier and their reference; an
// answered one is not listed.
func TestDigestListsSupplierWaits(t *testing.T) {
	e := newSupplierEnv(t)
	ctx := context.Background()
	later := e.forwardAt(e.caseOn(e.at(2026, 3, 11, 8, 0), "qm-handbook", "bryne", "normal", 2, "per"), e.at(2026, 3, 11, 9, 0))
	overdue := e.forwardAt(e.caseOn(e.at(2026, 3, 9, 8, 0), "qm-handbook", "bryne", "normal", 2, "per"), e.at(2026, 3, 9, 9, 0))
	f := e.forwardOf(overdue)
	f.Reference = "INC0077777"
	if err := store.SaveForward(ctx, e.st.DB(), f); err != nil {
		t.Fatal(err)
	}
	answered := e.forwardAt(e.caseOn(e.at(2026, 3, 9, 8, 0), "qm-handbook", "bryne", "normal", 2, "per"), e.at(2026, 3, 9, 9, 0))
	g := e.forwardOf(answered)
	g.AnsweredAt = timePtr(e.at(2026, 3, 9, 10, 0))
	if err := store.SaveForward(ctx, e.st.DB(), g); err != nil {
		t.Fatal(err)
	}
	mark := e.lastOutbox()
	e.run(notify.JobDigest, e.at(2026, 3, 16, 7, 0))
	var text string
	for _, m := range e.outbox(mark) {
		if m.Kind == notify.KindDigest && strings.Contains(m.To, "eva@example.org") {
			text = m.Text
		}
	}
	i := strings.Index(text, "Väntar på leverantörer") // the support manager reads Swedish
	if i < 0 {
		t.Fatalf("the support manager's digest lists no supplier waits:\n%s", text)
	}
	section := text[i:]
	if j := strings.Index(section, "\n\n"); j > 0 {
		section = section[:j]
	}
	first, second := strings.Index(section, fmt.Sprintf("#%d ", overdue.Number)), strings.Index(section, fmt.Sprintf("#%d ", later.Number))
	if first < 0 || second < 0 || first > second || !strings.Contains(section, "[försenat]") || !strings.Contains(section, "INC0077777") ||
		strings.Contains(section, fmt.Sprintf("#%d ", answered.Number)) {
		t.Errorf("supplier waits, overdue first, the answered one left out:\n%s", section)
	}
}
