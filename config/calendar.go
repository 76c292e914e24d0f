package config

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/no"
	"github.com/rickar/cal/v2/se"
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

// holidaySets are the public-holiday sets a calendar may name, from
// github.com/rickar/cal/v2 (maintained upstream). Sweden's list includes the
// eves workplaces keep closed (midsummer, Christmas and New Year's Eve);
// Easter Sunday and Whit Sunday are added to both, so a calendar with
// Sunday hours closes on them too.
var holidaySets = map[string][]*cal.Holiday{
	"se": append([]*cal.Holiday{se.Paskdagen, se.Pingstdagen}, se.Holidays...),
	"no": append([]*cal.Holiday{aa.Easter, aa.Pentecost}, no.Holidays...),
}

// holidayYears caches the holidays of one set in one year:
// holidayKey → map[Date]bool. Calendars are shared read-only, so the cache
// lives outside them.
var holidayYears sync.Map

type holidayKey struct {
	set  string
	year int
}

func isHoliday(set string, day Date) bool {
	hs := holidaySets[set]
	if hs == nil {
		return false
	}
	k := holidayKey{set, day.Year}
	v, ok := holidayYears.Load(k)
	if !ok {
		days := make(map[Date]bool, len(hs))
		for _, h := range hs {
			actual, observed := h.Calc(day.Year)
			if !actual.IsZero() {
				days[DateOf(actual)] = true
			}
			if !observed.IsZero() {
				days[DateOf(observed)] = true
			}
		}
		v, _ = holidayYears.LoadOrStore(k, days)
	}
	return v.(map[Date]bool)[day]
}

// ClosedOn reports whether the calendar is closed all day on day: a public
// holiday, an extra closed date, or a weekday without hours.
func (c *Calendar) ClosedOn(day Date) bool {
	if c.closed[day] {
		return true
	}
	if len(c.Hours[day.weekday()]) == 0 {
		return true
	}
	return isHoliday(c.Holidays, day)
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

// weekday returns the day of the week d falls on.
func (d Date) weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// next returns the day after d.
func (d Date) next() Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+1, 12, 0, 0, 0, time.UTC))
}

// businessHorizon bounds every search for opening hours: a calendar that
// does not open within it (all days closed) has no business time.
const businessHorizon = 3660 // days, ten years

func (c *Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// wall returns the instant of minute (after midnight) on day d in loc.
// Using the wall clock, not an offset from midnight, is what keeps opening
// hours right on the days daylight saving time begins or ends.
func wall(d Date, minute int, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, minute/60, minute%60, 0, 0, loc)
}

// openSpans calls fn with each opening interval on day d, in order, until
// fn returns false. It reports whether fn asked to stop.
func (c *Calendar) openSpans(d Date, fn func(start, end time.Time) bool) bool {
	if c.ClosedOn(d) {
		return false
	}
	loc := c.loc()
	for _, s := range c.Hours[d.weekday()] {
		if !fn(wall(d, s.Start, loc), wall(d, s.End, loc)) {
			return true
		}
	}
	return false
}

// NextOpen returns t when the calendar is open at t, else the moment it
// next opens; zero when it never opens within ten years.
func (c *Calendar) NextOpen(t time.Time) time.Time {
	t = t.In(c.loc())
	var found time.Time
	day := DateOf(t)
	for i := 0; i < businessHorizon && found.IsZero(); i++ {
		c.openSpans(day, func(start, end time.Time) bool {
			if t.Before(end) {
				found = later(t, start)
				return false
			}
			return true
		})
		day = day.next()
	}
	return found
}

// AddBusiness returns when a business duration that starts at start ends,
// in the calendar's location. The Days part moves to the same clock time
// that many working days on (a start outside opening hours counts from the
// next opening; a clock time outside the target day's hours is moved into
// them: to its opening when earlier, its closing when later, the next span
// when in a break). The Clock part then counts opening hours only, so
// Friday 15:00 plus 4h on mon-fri 08:00-16:30 is Monday 10:30. Wall-clock
// times stay right across daylight-saving changes. It returns the zero
// time when the calendar does not open within ten years.
func (c *Calendar) AddBusiness(start time.Time, d BusinessDuration) time.Time {
	t := start.In(c.loc())
	if d.Days > 0 {
		if t = c.addDays(t, d.Days); t.IsZero() {
			return t
		}
	}
	if d.Clock > 0 {
		t = c.addClock(t, d.Clock)
	}
	return t
}

func (c *Calendar) addDays(t time.Time, n int) time.Time {
	t = c.NextOpen(t)
	if t.IsZero() {
		return t
	}
	h, m, s := t.Clock()
	minute := h*60 + m
	day := DateOf(t)
	for i := 0; n > 0; i++ {
		if i >= businessHorizon {
			return time.Time{}
		}
		day = day.next()
		if !c.ClosedOn(day) {
			n--
		}
	}
	spans := c.Hours[day.weekday()]
	loc := c.loc()
	switch {
	case minute < spans[0].Start:
		return wall(day, spans[0].Start, loc)
	case minute >= spans[len(spans)-1].End:
		return wall(day, spans[len(spans)-1].End, loc)
	}
	for _, sp := range spans {
		if minute < sp.Start {
			return wall(day, sp.Start, loc) // in a break: the next span
		}
		if minute < sp.End {
			break
		}
	}
	return time.Date(day.Year, day.Month, day.Day, h, m, s, t.Nanosecond(), loc)
}

func (c *Calendar) addClock(t time.Time, left time.Duration) time.Time {
	var due time.Time
	day := DateOf(t)
	for i := 0; i < businessHorizon && due.IsZero(); i++ {
		c.openSpans(day, func(start, end time.Time) bool {
			if !t.Before(end) {
				return true
			}
			from := later(t, start)
			if avail := end.Sub(from); left > avail {
				left -= avail
				return true
			}
			due = from.Add(left)
			return false
		})
		day = day.next()
	}
	return due
}

// BusinessBetween returns the opening time of the calendar between a and
// b (zero when b is not after a). SLA clocks use it to give back the
// business time a case spent waiting.
func (c *Calendar) BusinessBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	a, b = a.In(c.loc()), b.In(c.loc())
	var sum time.Duration
	last := DateOf(b)
	day := DateOf(a)
	for i := 0; i < businessHorizon; i++ {
		c.openSpans(day, func(start, end time.Time) bool {
			from, to := later(a, start), end
			if b.Before(to) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
			return true
		})
		if day == last {
			break
		}
		day = day.next()
	}
	return sum
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
