package casework

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/testdb"
)

// schedEnv is a database, DESIGN.md's rules (office calendar: Mon–Fri
// 08:00–16:30, Stockholm) and a scheduler on a simulated clock.
type schedEnv struct {
	t     testing.TB
	url   string
	st    *store.Store
	rules *config.Rules
	m     *notify.Mailer
	desk  *Desk
	s     *notify.Scheduler
	loc   *time.Location
}

func newSchedEnv(t testing.TB) *schedEnv {
	t.Helper()
	st, url := testdb.Open(t)
	e := &schedEnv{t: t, url: url, st: st}
	var err error
	e.loc, err = time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../config/testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if e.rules, err = config.ParseRules("rules.yaml", data); err != nil {
		t.Fatal(err)
	}
	keys, err := notify.NewKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := notify.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Daemon{Location: e.loc, Language: "sv", TokenTTL: config.Duration(90 * 24 * time.Hour)}
	cfg.SMTP.From = "Helpdesk <helpdesk@example.org>"
	mb := config.Mailbox{Name: "helpdesk", Address: "helpdesk@example.org"}
	mb.Defaults.Language = "sv"
	cfg.Mailboxes = []config.Mailbox{mb}
	e.m = &notify.Mailer{Config: cfg, Keys: keys, Templates: tm}
	e.desk = &Desk{Config: cfg, Mailer: e.m, Log: testLogger(t)}
	e.s = e.scheduler(st)
	return e
}

// scheduler returns a Scheduler on st; tests drive it with RunJob/RunDue.
func (e *schedEnv) scheduler(st *store.Store) *notify.Scheduler {
	return &notify.Scheduler{Store: st, Rules: func() *config.Rules { return e.rules }, Location: e.loc,
		Jobs: []notify.Job{e.desk.SLAJob(), e.m.ReminderJob(), e.m.DigestJob()},
		Log:  testLogger(e.t), Now: func() time.Time { panic("the tests pass times explicitly") }}
}

func (e *schedEnv) at(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, e.loc)
}

// openCase opens a qm-handbook case from Bryne skole on rung 1 (anna, the
// unit's superuser), as intake would, SLA included.
func (e *schedEnv) openCase(created time.Time, priority string) *store.Case {
	return e.caseOn(created, "qm-handbook", "bryne", priority, 1, "anna")
}

func (e *schedEnv) caseOn(created time.Time, service, unit, priority string, rung int, assignee string) *store.Case {
	e.t.Helper()
	ctx := context.Background()
	svc := e.rules.Service(service)
	r := svc.Chain[rung-1]
	status := "new"
	if assignee != "" || r.Supplier != "" {
		status = "open"
	}
	var area string
	if u := e.rules.Unit(unit); u != nil {
		area = u.WorkArea
	}
	c, err := store.CreateCase(ctx, e.st.DB(), store.NewCase{Status: store.Status(status), Subject: "Handboken visar fel version",
		Requester: "ola@example.no", RequesterName: "Ola Nordmann", Mailbox: "helpdesk", Language: "nb",
		Priority: priority, Service: service, Unit: unit, WorkArea: area, Tier: r.Tier, Rung: rung, Role: r.Role,
		Supplier: r.Supplier, Assignee: assignee, CreatedAt: created})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := store.AddMessage(ctx, e.st.DB(), store.NewMessage{CaseID: c.ID, Direction: "in", Kind: "requester",
		Mailbox: "helpdesk", MessageID: fmt.Sprintf("m%d@bryne.example.no", c.Number), From: "ola@example.no",
		FromName: "Ola Nordmann", Subject: c.Subject, Text: "Handboken visar fel version.", NewText: "Handboken visar fel version.",
		CreatedAt: created}); err != nil {
		e.t.Fatal(err)
	}
	c.FirstResponseD, c.ResolutionDue = slaDue(e.rules, c.Service, c.Priority, c.Status, c.CreatedAt)
	if err := store.SetDue(ctx, e.st.DB(), c.ID, c.FirstResponseD, c.ResolutionDue); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *schedEnv) get(c *store.Case) *store.SLACase {
	e.t.Helper()
	sc, err := store.SLACaseByID(context.Background(), e.st.DB(), c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return sc
}

func (e *schedEnv) run(job string, at time.Time) bool {
	e.t.Helper()
	ran, err := e.s.RunJob(context.Background(), job, at)
	if err != nil {
		e.t.Fatalf("%s at %s: %v", job, at, err)
	}
	return ran
}

// sent is one queued mail: kind and recipient address, with its text.
type sent struct {
	ID       int64
	Kind, To string
	CaseID   int64
	Subject  string
	Text     string
}

// outbox returns the mails queued after id after.
func (e *schedEnv) outbox(after int64) []sent {
	e.t.Helper()
	rows, err := e.st.DB().Query(context.Background(), `SELECT id, kind, to_addrs[1], coalesce(case_id, 0), subject, text_body
		FROM outbox WHERE id > $1 ORDER BY id`, after)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sent, error) {
		var s sent
		err := r.Scan(&s.ID, &s.Kind, &s.To, &s.CaseID, &s.Subject, &s.Text)
		return s, err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *schedEnv) lastOutbox() int64 {
	var id int64
	if err := e.st.DB().QueryRow(context.Background(), `SELECT coalesce(max(id), 0) FROM outbox`).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// summary renders mails as sorted "kind→address" for comparison.
func summary(ms []sent) string {
	var parts []string
	for _, m := range ms {
		addr := m.To
		if i := strings.LastIndex(addr, "<"); i >= 0 {
			addr = strings.Trim(addr[i:], "<>")
		}
		parts = append(parts, m.Kind+"→"+addr)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (e *schedEnv) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestSLADueTimes(t *testing.T) {
	e := newSchedEnv(t)
	tests := []struct {
		name             string
		created          time.Time
		service, prio    string
		wantFirst, wantR time.Time
	}{
		{"4h first response from Friday 15:00 is Monday 10:30", e.at(2026, 3, 6, 15, 0), "qm-handbook", "normal",
			e.at(2026, 3, 9, 10, 30), e.at(2026, 3, 11, 15, 0)},
		{"a Swedish public holiday on the Monday moves it to Tuesday", e.at(2025, 1, 3, 15, 0), "qm-handbook", "normal",
			e.at(2025, 1, 7, 10, 30), e.at(2025, 1, 9, 15, 0)},
		{"across the end of daylight saving time", e.at(2026, 10, 23, 15, 0), "qm-handbook", "normal",
			e.at(2026, 10, 26, 10, 30), e.at(2026, 10, 28, 15, 0)},
		{"high priority overrides the first response", e.at(2026, 3, 6, 15, 0), "qm-handbook", "high",
			e.at(2026, 3, 6, 16, 0), e.at(2026, 3, 11, 15, 0)},
		{"a service without sla has no due times", e.at(2026, 3, 6, 15, 0), "triage", "normal", time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		c := e.caseOn(tt.created, tt.service, "bryne", tt.prio, 1, "eva")
		got := e.get(c)
		check := func(what string, p *time.Time, want time.Time) {
			switch {
			case want.IsZero() && p != nil:
				t.Errorf("%s: %s due %s, want none", tt.name, what, p)
			case !want.IsZero() && (p == nil || !p.Equal(want)):
				t.Errorf("%s: %s due %v, want %s", tt.name, what, p, want)
			}
		}
		check("first response", got.FirstResponseD, tt.wantFirst)
		check("resolution", got.ResolutionDue, tt.wantR)
		check("first response (in memory)", c.FirstResponseD, tt.wantFirst)
	}
	// The DST case at the right hour in absolute terms too: 10:30 CET.
	c := e.get(e.openCase(e.at(2026, 10, 23, 15, 0), "normal"))
	if got := c.FirstResponseD.UTC(); got.Hour() != 9 || got.Minute() != 30 {
		t.Errorf("DST: due %s UTC, want 09:30 UTC", got)
	}
	// A dropped case gets no SLA.
	if first, res := slaDue(e.rules, "qm-handbook", "normal", store.StatusDropped, e.at(2026, 3, 6, 15, 0)); first != nil || res != nil {
		t.Errorf("dropped case: due %v, %v", first, res)
	}
}

// TestBreachEscalatesOncePerRung follows a case nobody answers through a
// simulated week: a warning at 80%, the breach at Monday 10:30, then one
// rung per further 4 business hours up to the supplier and the support
// manager, each notice once, however often the check runs.
func TestBreachEscalatesOncePerRung(t *testing.T) {
	e := newSchedEnv(t)
	c := e.openCase(e.at(2026, 3, 6, 15, 0), "normal") // Friday 15:00; due Monday 10:30
	steps := []struct {
		at   time.Time
		want string // the mails queued by this check
		rung int
	}{
		{e.at(2026, 3, 6, 15, 1), "", 1}, // arms the warnings
		{e.at(2026, 3, 9, 9, 41), "", 1}, // 80% of 4h from Fri 15:00 is Mon 09:42
		{e.at(2026, 3, 9, 9, 42), "reminder→anna@example.org", 1},
		{e.at(2026, 3, 9, 9, 43), "", 1},
		{e.at(2026, 3, 9, 10, 29), "", 1},
		// Breach: per (coordinator, schools) takes it; anna and eva are told.
		{e.at(2026, 3, 9, 10, 30), "assignment→per@example.org escalation→anna@example.org escalation→eva@example.org", 2},
		{e.at(2026, 3, 9, 10, 31), "", 2},
		{e.at(2026, 3, 9, 14, 29), "", 2},
		// Four business hours later: eva (system responsible) takes it; she
		// is the support manager too and gets one mail.
		{e.at(2026, 3, 9, 14, 30), "assignment→eva@example.org escalation→per@example.org", 3},
		{e.at(2026, 3, 9, 23, 0), "", 3},
		{e.at(2026, 3, 10, 9, 59), "", 3},
		// Then (14:30 + 4 business hours) the supplier, with its own token;
		// eva told as the previous holder.
		{e.at(2026, 3, 10, 10, 0), "escalation→eva@example.org forward→support@vendor.example", 4},
		// Top of the chain: the support manager only; the case stays.
		{e.at(2026, 3, 10, 13, 59), "", 4},
		{e.at(2026, 3, 10, 14, 0), "escalation→eva@example.org", 4},
		{e.at(2026, 3, 10, 18, 30), "", 4},
		// The resolution target (3d: Wednesday 15:00) breaches too: at the
		// top, the support manager is told once more, for that target.
		// 80% of the resolution time (Wednesday 09:54): the supplier holds
		// the case, so the coordinator of the unit's work area is warned.
		{e.at(2026, 3, 11, 9, 53), "", 4},
		{e.at(2026, 3, 11, 9, 54), "reminder→per@example.org", 4},
		{e.at(2026, 3, 11, 14, 59), "", 4},
		{e.at(2026, 3, 11, 15, 0), "escalation→eva@example.org", 4},
		{e.at(2026, 3, 13, 12, 0), "", 4},
	}
	for _, s := range steps {
		before := e.lastOutbox()
		e.run(notify.JobSLACheck, s.at)
		if got := summary(e.outbox(before)); got != s.want {
			t.Fatalf("%s: queued %q, want %q", s.at.Format("Mon 02 15:04"), got, s.want)
		}
		if got := e.get(c); got.Rung != s.rung {
			t.Fatalf("%s: case on rung %d, want %d", s.at.Format("Mon 02 15:04"), got.Rung, s.rung)
		}
	}
	sc := e.get(c)
	if sc.Tier != "external" || sc.Supplier != "qm-vendor" || sc.Assignee != "" || sc.Status != "open" {
		t.Errorf("at the end the case is %+v", sc.Case)
	}
	if sc.FirstResponseOutcome != store.SLABreached || sc.ResolutionOutcome != store.SLABreached {
		t.Errorf("outcomes %q %q", sc.FirstResponseOutcome, sc.ResolutionOutcome)
	}
	if n := e.count(`SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'transfer' AND (data->>'moved')::boolean`, c.ID); n != 3 {
		t.Errorf("%d transfers between tiers, want 3", n)
	}
	if n := e.count(`SELECT count(*) FROM events WHERE case_id = $1 AND kind = 'sla' AND data->>'outcome' = 'breached'`, c.ID); n != 2 {
		t.Errorf("%d breaches recorded, want 2", n)
	}
	// The supplier's forward carries its own reply token, and the requester's text.
	var replyTo, text string
	if err := e.st.DB().QueryRow(context.Background(), `SELECT reply_to, text_body FROM outbox WHERE kind = 'forward'`).
		Scan(&replyTo, &text); err != nil {
		t.Fatal(err)
	}
	tok, ok := notify.TokenFromAddress(replyTo, "helpdesk@example.org")
	if !ok {
		t.Fatalf("forward reply-to %q has no token", replyTo)
	}
	if _, err := e.m.Keys.Verify(tok, "support@vendor.example", e.at(2026, 3, 10, 11, 0)); err != nil {
		t.Errorf("the forward's token is not the supplier's: %v", err)
	}
	if !strings.Contains(text, "Handboken visar fel version.") {
		t.Errorf("forward lacks the requester's text:\n%s", text)
	}
	// The breach notice to per is in Swedish (his language: the default) and names the due time.
	var notice string
	if err := e.st.DB().QueryRow(context.Background(), `SELECT text_body FROM outbox WHERE kind = 'assignment'
		AND to_addrs[1] LIKE '%per@example.org%'`).Scan(&notice); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "Per") || !strings.Contains(notice, "2026-03-09 10:30") {
		t.Errorf("breach notice to per:\n%s", notice)
	}
}

func TestFirstResponseMet(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	c := e.openCase(e.at(2026, 3, 6, 15, 0), "normal")
	e.run(notify.JobSLACheck, e.at(2026, 3, 6, 15, 1))
	// The agent answers Monday 09:00 (the conversation sets first_response_at).
	if _, err := e.st.DB().Exec(ctx, `UPDATE cases SET first_response_at = $2 WHERE id = $1`, c.ID, e.at(2026, 3, 9, 9, 0)); err != nil {
		t.Fatal(err)
	}
	before := e.lastOutbox()
	for _, at := range []time.Time{e.at(2026, 3, 9, 9, 1), e.at(2026, 3, 9, 9, 50), e.at(2026, 3, 9, 11, 0)} {
		e.run(notify.JobSLACheck, at)
	}
	if got := summary(e.outbox(before)); got != "" {
		t.Errorf("an answered case got %q", got)
	}
	sc := e.get(c)
	if sc.FirstResponseOutcome != store.SLAMet || sc.Rung != 1 {
		t.Errorf("outcome %q, rung %d", sc.FirstResponseOutcome, sc.Rung)
	}
	// Resolved Tuesday: resolution met.
	if err := store.SetCaseStatus(ctx, e.st.DB(), c.ID, "resolved", e.at(2026, 3, 10, 12, 0)); err != nil {
		t.Fatal(err)
	}
	e.run(notify.JobSLACheck, e.at(2026, 3, 10, 12, 1))
	if sc := e.get(c); sc.ResolutionOutcome != store.SLAMet {
		t.Errorf("resolution outcome %q", sc.ResolutionOutcome)
	}
	r, err := store.BuildReport(ctx, e.st.DB(), e.at(2026, 3, 1, 0, 0), e.at(2026, 4, 1, 0, 0), nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	if met, breached := r.SLATotals(); met != 2 || breached != 0 {
		t.Errorf("report: %d met, %d breached", met, breached)
	}
	if r.MedianFirstResponse == nil || *r.MedianFirstResponse != 66*time.Hour {
		t.Errorf("median first response %v, want 66h (Friday 15:00 to Monday 09:00)", r.MedianFirstResponse)
	}
}

// TestWaitPausesAndWakes: #wait 2d stops the SLA clock; when it ends the
// case wakes, its owner is told and the due time has moved on by the
// business time spent waiting.
func TestWaitPausesAndWakes(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	c := e.openCase(e.at(2026, 3, 9, 9, 0), "normal") // Monday 09:00; first response due 13:00
	e.run(notify.JobSLACheck, e.at(2026, 3, 9, 9, 1))
	// #wait 2d at 10:00 (calendar time: until Wednesday 10:00), as the conversation does it.
	if err := store.SetWaiting(ctx, e.st.DB(), c.ID, e.at(2026, 3, 11, 10, 0), e.at(2026, 3, 9, 10, 0)); err != nil {
		t.Fatal(err)
	}
	before := e.lastOutbox()
	for at := e.at(2026, 3, 9, 10, 5); at.Before(e.at(2026, 3, 11, 10, 0)); at = at.Add(30 * time.Minute) {
		e.run(notify.JobSLACheck, at)
	}
	if got := summary(e.outbox(before)); got != "" {
		t.Fatalf("while waiting: %q", got)
	}
	if sc := e.get(c); sc.Status != "waiting" || sc.FirstResponseOutcome != "" {
		t.Fatalf("while waiting: status %s, outcome %q", sc.Status, sc.FirstResponseOutcome)
	}
	e.run(notify.JobSLACheck, e.at(2026, 3, 11, 10, 1))
	mails := e.outbox(before)
	if got := summary(mails); got != "reminder→anna@example.org" {
		t.Fatalf("wake-up: %q", got)
	}
	if !strings.Contains(mails[0].Text, "Väntetiden för ärende") || mails[0].CaseID != c.ID {
		t.Errorf("wake-up mail:\n%s", mails[0].Text)
	}
	sc := e.get(c)
	// Three business hours were left at 10:00 Monday; the clock resumed at
	// 10:01 Wednesday: due 13:01.
	if sc.Status != "open" || sc.WaitUntil != nil || sc.FirstResponseD == nil || !sc.FirstResponseD.Equal(e.at(2026, 3, 11, 13, 1)) {
		t.Errorf("after the wait: status %s, wait_until %v, due %v", sc.Status, sc.WaitUntil, sc.FirstResponseD)
	}
	if sc.WaitingSince != nil || sc.WaitingEnded != nil {
		t.Errorf("pause not cleared: %v %v", sc.WaitingSince, sc.WaitingEnded)
	}
	before = e.lastOutbox()
	e.run(notify.JobSLACheck, e.at(2026, 3, 11, 13, 0))
	if got := summary(e.outbox(before)); got != "reminder→anna@example.org" { // the 80% warning, moved too
		t.Errorf("Wednesday 13:00: %q", got)
	}
	e.run(notify.JobSLACheck, e.at(2026, 3, 11, 13, 1))
	if sc := e.get(c); sc.FirstResponseOutcome != store.SLABreached || sc.Rung != 2 {
		t.Errorf("Wednesday 13:01: outcome %q rung %d", sc.FirstResponseOutcome, sc.Rung)
	}

	// Answered while waiting: ResumeFromWait gives the hour back at once.
	c2 := e.openCase(e.at(2026, 3, 9, 9, 0), "normal")
	if err := store.SetWaiting(ctx, e.st.DB(), c2.ID, e.at(2026, 3, 11, 10, 0), e.at(2026, 3, 9, 10, 0)); err != nil {
		t.Fatal(err)
	}
	c2.Status = "waiting"
	got, err := ResumeFromWait(ctx, e.st.DB(), e.rules, c2, e.at(2026, 3, 9, 11, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "open" || got.FirstResponseD == nil || !got.FirstResponseD.Equal(e.at(2026, 3, 9, 14, 0)) {
		t.Errorf("resumed: status %s, due %v, want open, 14:00", got.Status, got.FirstResponseD)
	}
}

func TestTransferKinds(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	now := e.at(2026, 3, 9, 9, 0)
	c := e.openCase(e.at(2026, 3, 9, 8, 30), "normal")
	move := func(c *store.Case, tr Transfer) (*store.Case, string) {
		t.Helper()
		before := e.lastOutbox()
		var out *store.Case
		err := e.st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			out, err = e.desk.Transfer(ctx, tx, e.rules, c, tr, now)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", tr.Kind, err)
		}
		return out, summary(e.outbox(before))
	}
	c, got := move(c, Transfer{Kind: TransferEscalate, Actor: "anna", Reason: "behöver samordnaren"})
	if c.Rung != 2 || c.Assignee != "per" || got != "assignment→per@example.org escalation→anna@example.org escalation→eva@example.org" {
		t.Errorf("#escalate: rung %d %s, mails %q", c.Rung, c.Assignee, got)
	}
	c, got = move(c, Transfer{Kind: TransferTier, Rung: 1, Actor: "per"})
	if c.Rung != 1 || c.Assignee != "anna" || got != "assignment→anna@example.org escalation→per@example.org" {
		t.Errorf("#tier 1: rung %d %s, mails %q", c.Rung, c.Assignee, got)
	}
	c, got = move(c, Transfer{Kind: TransferAssign, Person: "eva", Actor: "anna"})
	if c.Rung != 3 || c.Tier != "3" || c.Assignee != "eva" || got != "assignment→eva@example.org escalation→anna@example.org" {
		t.Errorf("#assign eva: rung %d %s, mails %q", c.Rung, c.Assignee, got)
	}
	c, got = move(c, Transfer{Kind: TransferAssign, Person: "per", Actor: "eva"}) // per holds rung 2
	if c.Rung != 2 || c.Assignee != "per" || got != "assignment→per@example.org escalation→eva@example.org" {
		t.Errorf("#assign per: rung %d %s, mails %q", c.Rung, c.Assignee, got)
	}
	c, got = move(c, Transfer{Kind: TransferTier, Rung: 4, Actor: "per"})
	if c.Rung != 4 || c.Supplier != "qm-vendor" || c.Assignee != "" || got != "escalation→per@example.org forward→support@vendor.example" {
		t.Errorf("#tier external: rung %d %q %q, mails %q", c.Rung, c.Supplier, c.Assignee, got)
	}
	top, got := move(c, Transfer{Kind: TransferEscalate, Actor: "per"})
	if top.Rung != 4 || got != "escalation→eva@example.org" {
		t.Errorf("#escalate at the top: rung %d, mails %q", top.Rung, got)
	}
	err := e.st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := e.desk.Transfer(ctx, tx, e.rules, c, Transfer{Kind: TransferTier, Rung: 9}, now)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no rung 9") {
		t.Errorf("#tier 9: %v", err)
	}
	r, err := store.BuildReport(ctx, e.st.DB(), e.at(2026, 3, 9, 0, 0), e.at(2026, 3, 10, 0, 0), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Transfers != 5 {
		t.Errorf("report: %d transfers between tiers, want 5 (%+v)", r.Transfers, r.TierMoves)
	}
	if !slices.Contains(r.TierMoves, store.TierMove{From: "1", To: "2", N: 1}) ||
		!slices.Contains(r.TierMoves, store.TierMove{From: "2", To: "external", N: 1}) {
		t.Errorf("tier moves %+v", r.TierMoves)
	}
}

// TestRemindersAndDigest: each owner gets one reminder, overdue first;
// unassigned cases go to the coordinator (or the support manager); the
// digest goes to coordinators and the support manager whole, and to the
// superuser for her unit.
func TestRemindersAndDigest(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	late := e.openCase(e.at(2026, 3, 6, 9, 0), "normal")   // due Friday 13:00: overdue on Monday
	fresh := e.openCase(e.at(2026, 3, 6, 16, 0), "normal") // due Monday 11:30
	unassigned := e.caseOn(e.at(2026, 3, 6, 10, 0), "qm-handbook", "bryne", "normal", 1, "")
	nowhere := e.caseOn(e.at(2026, 3, 6, 10, 0), "triage", "", "normal", 1, "")
	if _, err := store.CreateCase(ctx, e.st.DB(), store.NewCase{Status: "dropped", Requester: "spam@example.com",
		Mailbox: "helpdesk", Subject: "Vinn en resa", CreatedAt: e.at(2026, 3, 5, 10, 0)}); err != nil {
		t.Fatal(err)
	}
	if !e.run(notify.JobReminders, e.at(2026, 3, 9, 8, 0)) {
		t.Fatal("reminders did not run")
	}
	mails := e.outbox(0)
	if got := summary(mails); got != "reminder→anna@example.org reminder→eva@example.org reminder→per@example.org" {
		t.Fatalf("reminders: %q", got)
	}
	for _, m := range mails {
		if m.CaseID != 0 {
			t.Errorf("reminder to %s belongs to case %d", m.To, m.CaseID)
		}
		switch {
		case strings.Contains(m.To, "anna"):
			i, j := strings.Index(m.Text, fmt.Sprintf("#%d ", late.Number)), strings.Index(m.Text, fmt.Sprintf("#%d ", fresh.Number))
			if i < 0 || j < 0 || i > j || !strings.Contains(m.Text, "[försenat]") {
				t.Errorf("anna's reminder (overdue first):\n%s", m.Text)
			}
		case strings.Contains(m.To, "per"):
			if !strings.Contains(m.Text, fmt.Sprintf("#%d ", unassigned.Number)) || strings.Contains(m.Text, fmt.Sprintf("#%d ", nowhere.Number)) {
				t.Errorf("per's reminder (the unassigned case of his work area):\n%s", m.Text)
			}
		case strings.Contains(m.To, "eva"):
			if !strings.Contains(m.Text, fmt.Sprintf("#%d ", nowhere.Number)) {
				t.Errorf("eva's reminder (the unassigned case without unit):\n%s", m.Text)
			}
		}
	}
	// One transfer for the digest to count.
	if err := e.st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := e.desk.Transfer(ctx, tx, e.rules, late, Transfer{Kind: TransferEscalate, Actor: "anna"}, e.at(2026, 3, 9, 9, 0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := e.lastOutbox()
	if !e.run(notify.JobDigest, e.at(2026, 3, 9, 10, 0)) {
		t.Fatal("digest did not run")
	}
	digests := e.outbox(before)
	if got := summary(digests); got != "digest→anna@example.org digest→eva@example.org digest→per@example.org" {
		t.Fatalf("digests: %q", got)
	}
	for _, m := range digests {
		switch {
		case strings.Contains(m.To, "anna"):
			if !strings.Contains(m.Subject, "Bryne skole") || strings.Contains(m.Text, "Central triage") {
				t.Errorf("anna's digest is not for her unit only:\n%s\n%s", m.Subject, m.Text)
			}
		default:
			for _, want := range []string{"Flyttade mellan nivåer:    1", "Per enhet", "Bryne skole: 3 / 0 / 3",
				"Per tjänst", "Central triage: 1 / 0 / 1", "1 → 2: 1", "Avvisade av regler:        1", "Vinn en resa",
				"Äldsta öppna ärenden", "Ej tilldelade"} {
				if !strings.Contains(m.Text, want) {
					t.Errorf("digest to %s lacks %q:\n%s", m.To, want, m.Text)
				}
			}
		}
	}
}

// TestTwoInstances: two schedulers with their own pools on one database
// fire the same slots; each reminder and digest goes out once.
func TestTwoInstances(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	st2, err := store.Open(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st2.Close)
	s2 := e.scheduler(st2)
	e.openCase(e.at(2026, 3, 6, 9, 0), "normal")
	e.caseOn(e.at(2026, 3, 6, 10, 0), "triage", "", "normal", 1, "eva")
	// Both instances ran before (last runs recorded), as after a first start.
	if _, err := e.s.RunDue(ctx, e.at(2026, 3, 6, 12, 0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ranCount := map[string]int{}
	var mu sync.Mutex
	for _, slot := range []struct {
		job string
		at  time.Time
	}{{notify.JobDigest, e.at(2026, 3, 9, 7, 0)}, {notify.JobReminders, e.at(2026, 3, 9, 8, 0)}, {notify.JobReminders, e.at(2026, 3, 10, 8, 0)}} {
		for i, s := range []*notify.Scheduler{e.s, s2, e.s, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				at := slot.at.Add(time.Duration(i) * 300 * time.Millisecond) // clocks a little apart
				ran, err := s.RunJob(ctx, slot.job, at)
				if err != nil {
					t.Error(err)
				}
				if ran {
					mu.Lock()
					ranCount[slot.job+slot.at.Format(" Mon")]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	for slot, n := range ranCount {
		if n != 1 {
			t.Errorf("%s ran %d times", slot, n)
		}
	}
	if len(ranCount) != 3 {
		t.Errorf("slots run: %v", ranCount)
	}
	// anna and eva: one reminder each per day, one digest each for eva and
	// per (anna's unit digest too).
	if got := summary(e.outbox(0)); got != "digest→anna@example.org digest→eva@example.org digest→per@example.org "+
		"reminder→anna@example.org reminder→anna@example.org reminder→eva@example.org reminder→eva@example.org" {
		t.Errorf("queued: %q", got)
	}
}

// TestCatchUpAfterDowntime: a scheduler down from Friday to Tuesday noon
// runs the SLA check, the reminders and the digest once each, and the
// breach it finds escalates one rung, not one per missed check.
func TestCatchUpAfterDowntime(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	c := e.openCase(e.at(2026, 3, 6, 15, 0), "normal")
	if ran, err := e.s.RunDue(ctx, e.at(2026, 3, 6, 15, 1)); err != nil || len(ran) != 0 {
		t.Fatalf("first start: ran %v, %v (a new installation only records its start)", ran, err)
	}
	if ran, err := e.s.RunDue(ctx, e.at(2026, 3, 6, 15, 2)); err != nil || !slices.Equal(ran, []string{notify.JobSLACheck}) {
		t.Fatalf("a minute later: ran %v, %v", ran, err)
	}
	ran, err := e.s.RunDue(ctx, e.at(2026, 3, 10, 12, 0))
	if err != nil || !slices.Equal(ran, []string{notify.JobSLACheck, notify.JobReminders, notify.JobDigest}) {
		t.Fatalf("after downtime: ran %v, %v", ran, err)
	}
	// The breach escalates once (no warning: its moment passed with the
	// breach); one reminder to per, the new holder; digests.
	if got := summary(e.outbox(0)); got != "assignment→per@example.org digest→anna@example.org digest→eva@example.org "+
		"digest→per@example.org escalation→anna@example.org escalation→eva@example.org reminder→per@example.org" {
		t.Errorf("catch-up queued %q", got)
	}
	if sc := e.get(c); sc.Rung != 2 {
		t.Errorf("rung %d after catch-up, want 2", sc.Rung)
	}
	before := e.lastOutbox()
	for _, at := range []time.Time{e.at(2026, 3, 10, 12, 0), e.at(2026, 3, 10, 12, 1), e.at(2026, 3, 10, 12, 30)} {
		if ran, err := e.s.RunDue(ctx, at); err != nil || slices.Contains(ran, notify.JobReminders) || slices.Contains(ran, notify.JobDigest) {
			t.Errorf("%s: ran %v, %v", at.Format("15:04"), ran, err)
		}
	}
	if got := summary(e.outbox(before)); got != "" {
		t.Errorf("repeated notices: %q", got)
	}
}

func TestJobPanicIsRecovered(t *testing.T) {
	e := newSchedEnv(t)
	e.openCase(e.at(2026, 3, 6, 9, 0), "normal")
	e.m.Templates = nil // the reminders job now dereferences nil
	ran, err := e.s.RunJob(context.Background(), notify.JobReminders, e.at(2026, 3, 9, 8, 0))
	if ran || err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	var lastErr string
	if err := e.st.DB().QueryRow(context.Background(), `SELECT last_error FROM job_runs WHERE name = 'reminders'`).Scan(&lastErr); err != nil || !strings.Contains(lastErr, "panicked") {
		t.Errorf("job_runs.last_error = %q, %v", lastErr, err)
	}
}

// TestRetargetSLAKeepsPauseCredit: #priority high moves the due time to the
// high target, keeping the hour already credited for a pause.
func TestRetargetSLAKeepsPauseCredit(t *testing.T) {
	e := newSchedEnv(t)
	ctx := context.Background()
	created := e.at(2026, 11, 23, 9, 0) // Monday
	c := e.openCase(created, "normal")
	if got, want := *c.FirstResponseD, e.at(2026, 11, 23, 13, 0); !got.Equal(want) {
		t.Fatalf("normal first response due %v, want %v", got, want)
	}
	credited := e.at(2026, 11, 23, 14, 0) // an hour of #wait given back
	c.FirstResponseD = &credited
	c.Priority = "high"
	if err := RetargetSLA(ctx, e.st.DB(), e.rules, c, "normal"); err != nil {
		t.Fatal(err)
	}
	if got, want := *c.FirstResponseD, e.at(2026, 11, 23, 11, 0); !got.Equal(want) {
		t.Errorf("high first response due %v, want %v (1h target + 1h credit)", got.In(e.loc), want)
	}
	var stored time.Time
	if err := e.st.DB().QueryRow(ctx, `SELECT first_response_due FROM cases WHERE id = $1`, c.ID).Scan(&stored); err != nil || !stored.Equal(*c.FirstResponseD) {
		t.Errorf("stored due %v (%v), want %v", stored, err, *c.FirstResponseD)
	}
}
