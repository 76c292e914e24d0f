package config

import (
	"testing"
	"time"
)

// designOffice is DESIGN.md's office calendar: Mon–Fri 08:00–16:30,
// Stockholm, Swedish public holidays.
func designOffice(t *testing.T) *Calendar {
	t.Helper()
	r, err := LoadRules("testdata/design-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := r.Calendar("office")
	if c == nil {
		t.Fatal("design rules have no office calendar")
	}
	return c
}

func stockholm(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestAddBusiness(t *testing.T) {
	office := designOffice(t)
	sto := stockholm(t)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, sto) }
	h4 := BusinessDuration{Clock: 4 * time.Hour}
	d3 := BusinessDuration{Days: 3}
	tests := []struct {
		name  string
		start time.Time
		dur   BusinessDuration
		want  time.Time
	}{
		{"4h from Friday 15:00 is Monday 10:30", at(2026, 3, 6, 15, 0), h4, at(2026, 3, 9, 10, 30)},
		{"a public holiday on the Monday moves it to Tuesday", at(2025, 1, 3, 15, 0), h4, at(2025, 1, 7, 10, 30)}, // Epiphany
		{"across the end of daylight saving time", at(2026, 10, 23, 15, 0), h4, at(2026, 10, 26, 10, 30)},
		{"across the start of daylight saving time", at(2026, 3, 27, 15, 0), h4, at(2026, 3, 30, 10, 30)},
		{"ending exactly at closing time stays on the day", at(2026, 3, 6, 12, 30), h4, at(2026, 3, 6, 16, 30)},
		{"opened on a Saturday counts from Monday 08:00", at(2026, 3, 7, 10, 0), h4, at(2026, 3, 9, 12, 0)},
		{"opened before opening counts from 08:00", at(2026, 3, 9, 6, 0), h4, at(2026, 3, 9, 12, 0)},
		{"3d is the same clock time three working days on", at(2026, 3, 6, 15, 0), d3, at(2026, 3, 11, 15, 0)},
		{"3d skips a holiday", at(2025, 1, 3, 15, 0), d3, at(2025, 1, 9, 15, 0)},
		{"3d across the end of daylight saving time", at(2026, 10, 23, 15, 0), d3, at(2026, 10, 28, 15, 0)},
		{"3d from Friday evening counts from Monday's opening", at(2026, 3, 6, 17, 0), d3, at(2026, 3, 12, 8, 0)},
		{"3d skips the extra closed days and Christmas", at(2026, 12, 22, 9, 0), d3, at(2026, 12, 29, 9, 0)},
		{"1d4h: days first, then business hours", at(2026, 3, 6, 15, 0), BusinessDuration{Days: 1, Clock: 4 * time.Hour}, at(2026, 3, 10, 10, 30)},
		{"zero is the start", at(2026, 3, 6, 15, 0), BusinessDuration{}, at(2026, 3, 6, 15, 0)},
	}
	for _, tt := range tests {
		got := office.AddBusiness(tt.start, tt.dur)
		if !got.Equal(tt.want) || got.Location().String() != "Europe/Stockholm" {
			t.Errorf("%s: AddBusiness(%s, %s) = %s, want %s", tt.name, tt.start, tt.dur, got, tt.want)
		}
	}
	// The DST case in absolute terms: Monday 10:30 CET is 09:30 UTC, where
	// adding 4h of elapsed time to the summer-time Friday would give 08:30.
	if got := office.AddBusiness(at(2026, 10, 23, 15, 0), h4).UTC(); !got.Equal(time.Date(2026, 10, 26, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("DST: due %s UTC, want 09:30 UTC", got)
	}
}

func TestAddBusinessShapes(t *testing.T) {
	sto := stockholm(t)
	at := func(d, h, min int) time.Time { return time.Date(2026, 3, d, h, min, 0, 0, sto) } // 2026-03-02 is a Monday
	c := &Calendar{Name: "shaped", Location: sto}
	split, err := parseSpans("08:00-12:00, 13:00-16:30")
	if err != nil {
		t.Fatal(err)
	}
	short, _ := parseSpans("08:00-12:00")
	for wd := time.Monday; wd <= time.Thursday; wd++ {
		c.Hours[wd] = split
	}
	c.Hours[time.Friday] = short
	c.Closed = []Date{{2026, 3, 4}}
	c.prepare()
	tests := []struct {
		start time.Time
		dur   BusinessDuration
		want  time.Time
	}{
		{at(2, 11, 0), BusinessDuration{Clock: 2 * time.Hour}, at(2, 14, 0)},    // over lunch
		{at(2, 12, 30), BusinessDuration{Clock: time.Hour}, at(2, 14, 0)},       // starts in the break
		{at(3, 16, 0), BusinessDuration{Clock: time.Hour}, at(5, 8, 30)},        // skips the closed Wednesday
		{at(5, 15, 0), BusinessDuration{Days: 1}, at(6, 12, 0)},                 // Friday closes at 12:00
		{at(2, 12, 30), BusinessDuration{Days: 1}, at(3, 13, 0)},                // a start in the break counts from after it
		{at(6, 11, 0), BusinessDuration{Clock: 2 * time.Hour}, at(9, 9, 0)},     // Friday's short day, then Monday
		{at(6, 11, 30), BusinessDuration{Days: 1}, at(9, 11, 30)},               // over the weekend
		{at(2, 9, 0), BusinessDuration{Clock: 90 * time.Minute}, at(2, 10, 30)}, // plain
	}
	for _, tt := range tests {
		if got := c.AddBusiness(tt.start, tt.dur); !got.Equal(tt.want) {
			t.Errorf("AddBusiness(%s, %s) = %s, want %s", tt.start.Format("Mon 02 15:04"), tt.dur, got.Format("Mon 02 15:04"), tt.want.Format("Mon 02 15:04"))
		}
	}

	never := &Calendar{Name: "never", Location: sto}
	never.prepare()
	if got := never.AddBusiness(at(2, 9, 0), BusinessDuration{Clock: time.Hour}); !got.IsZero() {
		t.Errorf("a calendar that never opens: due %s, want zero", got)
	}
	if got := never.BusinessBetween(at(2, 9, 0), at(20, 9, 0)); got != 0 {
		t.Errorf("a calendar that never opens has %s of business time", got)
	}
}

func TestBusinessBetween(t *testing.T) {
	office := designOffice(t)
	sto := stockholm(t)
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, sto) }
	tests := []struct {
		a, b time.Time
		want time.Duration
	}{
		{at(2026, 3, 6, 15, 0), at(2026, 3, 9, 10, 30), 4 * time.Hour},
		{at(2026, 3, 6, 17, 0), at(2026, 3, 8, 12, 0), 0},                     // a weekend
		{at(2026, 3, 9, 8, 0), at(2026, 3, 16, 8, 0), 5 * 510 * time.Minute},  // a whole week
		{at(2026, 10, 23, 15, 0), at(2026, 10, 26, 10, 30), 4 * time.Hour},    // across DST
		{at(2026, 3, 9, 10, 0), at(2026, 3, 9, 9, 0), 0},                      // reversed
		{at(2025, 1, 3, 16, 0), at(2025, 1, 7, 8, 15), 45 * time.Minute},      // holiday Monday
		{at(2026, 3, 9, 12, 0).UTC(), at(2026, 3, 9, 13, 0).UTC(), time.Hour}, // any location in
	}
	for _, tt := range tests {
		if got := office.BusinessBetween(tt.a, tt.b); got != tt.want {
			t.Errorf("BusinessBetween(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
	// AddBusiness and BusinessBetween agree from any open start.
	start := at(2026, 10, 19, 8, 0)
	for i := 0; i < 200; i++ {
		s := start.Add(time.Duration(i) * 37 * time.Minute)
		d := time.Duration(1+i%23) * 25 * time.Minute
		due := office.AddBusiness(s, BusinessDuration{Clock: d})
		if got := office.BusinessBetween(office.NextOpen(s), due); got != d {
			t.Fatalf("from %s: AddBusiness(+%s) = %s, but BusinessBetween gives %s", s, d, due, got)
		}
	}
}
