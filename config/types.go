package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a length of time written as "30s", "15m", "4h", "14d", "2w"
// or a combination such as "1d12h". As a plain duration a day is 24 hours.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return formatSpan(0, time.Duration(d)) }

func (*Duration) describe() (string, string) {
	return "a duration such as 30s, 4h or 14d", "durations"
}

func (d *Duration) decodeNode(dec *decoder, n *yaml.Node) {
	s, ok := dec.scalar(n, "a duration such as 30s, 4h or 14d")
	if !ok {
		return
	}
	days, clock, err := parseSpan(s)
	if err != nil {
		dec.errorf(n, "%v", err)
		return
	}
	*d = Duration(time.Duration(days)*24*time.Hour + clock)
}

// ParseDuration parses the duration syntax of the configuration files.
func ParseDuration(s string) (Duration, error) {
	days, clock, err := parseSpan(s)
	if err != nil {
		return 0, err
	}
	return Duration(time.Duration(days)*24*time.Hour + clock), nil
}

// ParseBusinessDuration parses the duration syntax keeping its days apart
// from its clock time, as BusinessDuration holds them: "2d3h" is
// {Days: 2, Clock: 3h}. It reads Go's time.Duration.String too ("5h0m0s").
func ParseBusinessDuration(s string) (BusinessDuration, error) {
	days, clock, err := parseSpan(s)
	return BusinessDuration{Days: days, Clock: clock}, err
}

// BusinessDuration is an SLA duration counted on a calendar: Days are
// working days (the same clock time that many working days on) and Clock is
// business time within opening hours. "3d" is {Days: 3}; "4h" is {Clock: 4h}.
type BusinessDuration struct {
	Days  int
	Clock time.Duration
}

// IsZero reports whether no duration was given.
func (b BusinessDuration) IsZero() bool { return b.Days == 0 && b.Clock == 0 }

func (b BusinessDuration) String() string { return formatSpan(b.Days, b.Clock) }

func (*BusinessDuration) describe() (string, string) {
	return "a duration such as 4h or 3d", "durations"
}

func (b *BusinessDuration) decodeNode(dec *decoder, n *yaml.Node) {
	s, ok := dec.scalar(n, "a duration such as 4h or 3d")
	if !ok {
		return
	}
	days, clock, err := parseSpan(s)
	if err != nil {
		dec.errorf(n, "%v", err)
		return
	}
	*b = BusinessDuration{Days: days, Clock: clock}
}

// parseSpan reads number+unit pairs: w (7 days), d, h, m, s, ms.
func parseSpan(s string) (days int, clock time.Duration, err error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, fmt.Errorf("empty duration")
	}
	if s == "0" {
		return 0, 0, nil
	}
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9') {
			i++
		}
		if i == 0 {
			return 0, 0, fmt.Errorf("bad duration %q: want a number and a unit (s, m, h, d, w), e.g. 30s, 4h, 14d", orig)
		}
		num, perr := strconv.ParseInt(s[:i], 10, 32)
		if perr != nil {
			return 0, 0, fmt.Errorf("bad duration %q: number too large", orig)
		}
		s = s[i:]
		j := 0
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		unit := s[:j]
		s = s[j:]
		switch unit {
		case "w":
			days += int(num) * 7
		case "d":
			days += int(num)
		case "h":
			clock += time.Duration(num) * time.Hour
		case "m":
			clock += time.Duration(num) * time.Minute
		case "s":
			clock += time.Duration(num) * time.Second
		case "ms":
			clock += time.Duration(num) * time.Millisecond
		default:
			return 0, 0, fmt.Errorf("bad duration %q: unknown unit %q (use s, m, h, d or w)", orig, unit)
		}
	}
	return days, clock, nil
}

func formatSpan(days int, clock time.Duration) string {
	if days == 0 && clock > 0 && clock%(24*time.Hour) == 0 {
		days, clock = int(clock/(24*time.Hour)), 0
	}
	var s string
	if days > 0 {
		s = strconv.Itoa(days) + "d"
	}
	if clock > 0 {
		c := clock.String()
		if strings.HasSuffix(c, "m0s") {
			c = strings.TrimSuffix(c, "0s")
		}
		if strings.HasSuffix(c, "h0m") {
			c = strings.TrimSuffix(c, "0m")
		}
		s += c
	}
	if s == "" {
		s = "0s"
	}
	return s
}

// ByteSize is a size in bytes, written as a plain number or with a unit:
// "512KB", "25MB", "1GB" (powers of 1024; KiB, MiB, GiB and K, M, G too).
type ByteSize int64

func (*ByteSize) describe() (string, string) {
	return "a size such as 512KB or 25MB", "sizes"
}

func (b ByteSize) String() string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

func (b *ByteSize) decodeNode(dec *decoder, n *yaml.Node) {
	s, ok := dec.scalar(n, "a size such as 512KB or 25MB")
	if !ok {
		return
	}
	v, err := ParseByteSize(s)
	if err != nil {
		dec.errorf(n, "%v", err)
		return
	}
	*b = v
}

// ParseByteSize parses "25MB", "512KB", "1GiB" or a plain number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("bad size %q: want a number with an optional unit (B, KB, MB, GB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: number too large", s)
	}
	var mult int64
	switch strings.ToUpper(strings.TrimSpace(t[i:])) {
	case "", "B":
		mult = 1
	case "K", "KB", "KIB":
		mult = 1 << 10
	case "M", "MB", "MIB":
		mult = 1 << 20
	case "G", "GB", "GIB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("bad size %q: unknown unit %q (use B, KB, MB or GB)", s, strings.TrimSpace(t[i:]))
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return ByteSize(n * mult), nil
}

// Date is a calendar day without a time or zone, written 2026-12-24.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (*Date) describe() (string, string) { return "a date such as 2026-12-24", "dates" }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.Year == 0 }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

// DateOf returns the day t falls on in t's own location.
func DateOf(t time.Time) Date {
	y, m, day := t.Date()
	return Date{y, m, day}
}

func (d *Date) decodeNode(dec *decoder, n *yaml.Node) {
	s, ok := dec.scalar(n, "a date such as 2026-12-24")
	if !ok {
		return
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		dec.errorf(n, "bad date %q: want YYYY-MM-DD", s)
		return
	}
	*d = DateOf(t)
}
