package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Calendar is a set of opening hours in a timezone, less public holidays
// and extra closed days. SLA clocks and the business_hours condition use it.
type Calendar struct {
	Name     string         `yaml:"-" cm:"key"`
	Timezone string         `yaml:"timezone" cm:"required"`
	Location *time.Location `yaml:"-"`
	// Holidays names a public-holiday set: "se" (Sweden) or "no" (Norway).
	Holidays string `yaml:"holidays"`
	// Hours are the opening hours per weekday.
	Hours  Hours  `yaml:"hours" cm:"required"`
	Closed []Date `yaml:"closed"`
	Pos    Pos
	positions

	closed map[Date]bool
}

// Span is an opening interval within a day, in minutes after midnight.
type Span struct{ Start, End int }

// Hours holds the opening spans of each weekday, indexed by time.Weekday.
// Written as a mapping from day or day range to spans:
// {mon-fri: "08:00-16:30", sat: "10:00-14:00"}; several spans are separated
// by commas ("08:00-12:00, 13:00-16:30"); "closed" closes a day.
type Hours [7][]Span

func (*Hours) describe() (string, string) {
	return `a mapping of days to hours such as {mon-fri: "08:00-16:30"}`, "hours"
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func (h *Hours) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected %s, got %s", `a mapping of days to hours such as {mon-fri: "08:00-16:30"}`, got(n))
		return
	}
	var given [7]*yaml.Node
	d.eachPair(n, func(k, v *yaml.Node) {
		days, err := parseDays(k.Value)
		if err != nil {
			d.errorf(k, "%v", err)
			return
		}
		s, ok := d.scalar(v, `hours such as "08:00-16:30"`)
		if !ok {
			return
		}
		spans, err := parseSpans(s)
		if err != nil {
			d.errorf(v, "%v", err)
			return
		}
		for _, wd := range days {
			if prev := given[wd]; prev != nil {
				d.errorf(k, "%s already has hours (line %d)", strings.ToLower(wd.String()[:3]), prev.Line)
				continue
			}
			given[wd] = k
			h[wd] = spans
		}
	})
}

// parseDays reads "mon", "mon-fri", "sat,sun" or "fri-mon" (wrapping).
func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for part := range strings.SplitSeq(strings.ToLower(s), ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok1 := dayNames[strings.TrimSpace(from)]
		b := a
		ok2 := true
		if isRange {
			b, ok2 = dayNames[strings.TrimSpace(to)]
		}
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("bad day %q: want mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri", part)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseSpans(s string) ([]Span, error) {
	if strings.EqualFold(strings.TrimSpace(s), "closed") {
		return nil, nil
	}
	var out []Span
	for part := range strings.SplitSeq(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := parseClock(from)
		b, err2 := parseClock(to)
		if !ok || err1 != nil || err2 != nil || b <= a {
			return nil, fmt.Errorf("bad hours %q: want HH:MM-HH:MM, e.g. \"08:00-16:30\"", strings.TrimSpace(part))
		}
		if len(out) > 0 && a < out[len(out)-1].End {
			return nil, fmt.Errorf("bad hours %q: spans must be in order and not overlap", s)
		}
		out = append(out, Span{a, b})
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// holidaySets are the public-holiday sets a calendar may name.
var holidaySets = map[string]func(year int) []Date{
	"se": swedishHolidays,
	"no": norwegianHolidays,
}

// ClosedOn reports whether the calendar is closed all day on day: a public
// holiday, an extra closed date, or a weekday without hours.
func (c *Calendar) ClosedOn(day Date) bool {
	if c.closed[day] {
		return true
	}
	t := time.Date(day.Year, day.Month, day.Day, 12, 0, 0, 0, time.UTC)
	if len(c.Hours[t.Weekday()]) == 0 {
		return true
	}
	if f := holidaySets[c.Holidays]; f != nil {
		for _, h := range f(day.Year) {
			if h == day {
				return true
			}
		}
	}
	return false
}

// Open reports whether t falls within opening hours.
func (c *Calendar) Open(t time.Time) bool {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	if c.ClosedOn(DateOf(t)) {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, s := range c.Hours[t.Weekday()] {
		if m >= s.Start && m < s.End {
			return true
		}
	}
	return false
}

func (c *Calendar) prepare() {
	c.closed = make(map[Date]bool, len(c.Closed))
	for _, d := range c.Closed {
		c.closed[d] = true
	}
}

// easter returns Easter Sunday (Gregorian, anonymous algorithm).
func easter(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

func offset(t time.Time, days int) Date { return DateOf(t.AddDate(0, 0, days)) }

// firstWeekdayFrom returns the first wd on or after month/day.
func firstWeekdayFrom(y int, month time.Month, day int, wd time.Weekday) Date {
	t := time.Date(y, month, day, 0, 0, 0, 0, time.UTC)
	for t.Weekday() != wd {
		t = t.AddDate(0, 0, 1)
	}
	return DateOf(t)
}

// swedishHolidays are Sweden's public holidays plus the eves that
// workplaces keep closed (midsummer, Christmas and New Year's Eve).
func swedishHolidays(y int) []Date {
	e := easter(y)
	return []Date{
		{y, 1, 1}, {y, 1, 6},
		offset(e, -2), offset(e, 0), offset(e, 1), // Good Friday, Easter, Easter Monday
		{y, 5, 1}, offset(e, 39), offset(e, 49), // Ascension, Pentecost
		{y, 6, 6},
		firstWeekdayFrom(y, 6, 19, time.Friday),    // Midsummer Eve
		firstWeekdayFrom(y, 6, 20, time.Saturday),  // Midsummer Day
		firstWeekdayFrom(y, 10, 31, time.Saturday), // All Saints' Day
		{y, 12, 24}, {y, 12, 25}, {y, 12, 26}, {y, 12, 31},
	}
}

// norwegianHolidays are Norway's public holidays (helligdager and 1 and 17 May).
func norwegianHolidays(y int) []Date {
	e := easter(y)
	return []Date{
		{y, 1, 1},
		offset(e, -3), offset(e, -2), offset(e, 0), offset(e, 1), // Maundy Thursday … Easter Monday
		{y, 5, 1}, {y, 5, 17},
		offset(e, 39), offset(e, 49), offset(e, 50), // Ascension, Whit Sunday, Whit Monday
		{y, 12, 25}, {y, 12, 26},
	}
}
