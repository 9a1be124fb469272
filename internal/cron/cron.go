// Package cron computes the fire times of five-field cron schedules as
// Temporal's scheduler runs them (the control plane's runs are Temporal
// schedules): every field must match, day of month and day of week
// included; a wall time that a spring-forward gap skips does not fire; a wall
// time that a fall-back overlap repeats fires in both passes.
//
// Fire times are found by walking the local calendar of the schedule's zone,
// date by date and then minute by minute, and mapping each wall time to the
// instants that show it. Every search visits a bounded number of dates, so a
// schedule cannot make it loop.
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Horizon bounds both searches: a schedule whose previous or next fire time
// is further away than this has none (five years, leap days included).
const Horizon = 5 * 366 * 24 * time.Hour

const day = 24 * 60 * 60 // seconds

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	loc                           *time.Location
}

type field struct {
	name     string
	min, max int
	names    []string // full names of min..; a prefix of at least minName letters matches
	minName  int
}

var fields = [5]field{
	{"minute", 0, 59, nil, 0},
	{"hour", 0, 23, nil, 0},
	{"day of month", 1, 31, nil, 0},
	{"month", 1, 12, []string{"january", "february", "march", "april", "may", "june",
		"july", "august", "september", "october", "november", "december"}, 3},
	{"day of week", 0, 7, []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}, 2},
}

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// Parse reads expr as Temporal reads a cron string, less what the control
// plane does not store there: five fields (no seconds or year field), no
// TZ=/CRON_TZ= prefix (the zone is loc), no @every interval.
func Parse(expr string, loc *time.Location) (*Schedule, error) {
	expr = strings.TrimSpace(expr)
	if m, ok := macros[expr]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("expected 5 fields, found %d", len(f))
	}
	var sets [5]uint64
	for i := range f {
		set, err := parseField(f[i], fields[i])
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", fields[i].name, f[i], err)
		}
		sets[i] = set
	}
	sets[4] = (sets[4] | sets[4]>>7) & 0x7f // 7 is Sunday too
	return &Schedule{sets[0], sets[1], sets[2], sets[3], sets[4], loc}, nil
}

// parseField reads a list of "*", "x", "x-z", each optionally with "/step";
// "x/step" runs from x to the field's maximum.
func parseField(s string, f field) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(s, ",") {
		step := 1
		base, st, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(st)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", st)
			}
			part, step = base, min(n, 64) // a larger step is the same
		}
		lo, hi := f.min, f.max
		if part != "*" {
			a, b, isRange := strings.Cut(part, "-")
			var err error
			if lo, err = value(a, f, f.min); err != nil {
				return 0, err
			}
			switch {
			case isRange:
				if hi, err = value(b, f, lo); err != nil {
					return 0, err
				}
			case !hasStep:
				hi = lo
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// value reads a number or name in [min, f.max].
func value(s string, f field, min int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil && f.names != nil && len(s) >= f.minName {
		for i, name := range f.names {
			if strings.HasPrefix(name, strings.ToLower(s)) {
				v, err = f.min+i, nil
				break
			}
		}
	}
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	if v < min || v > f.max {
		return 0, fmt.Errorf("%d out of range %d-%d", v, min, f.max)
	}
	return v, nil
}

// Next is the first fire time after t, or the zero time if there is none
// within Horizon.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.search(t, 1)
}

// Previous is the last fire time at or before t, or the zero time if there is
// none within Horizon.
func (s *Schedule) Previous(t time.Time) time.Time {
	return s.search(t, -1)
}

// search walks local dates from t in direction dir (1 forward, -1 back) and
// returns the nearest fire time on that side of t. The instants of a date's
// wall times lie within a day of the date (zone offsets are under 24 hours),
// so the walk starts two dates behind t's and stops a day past the best fire
// time found or the horizon.
func (s *Schedule) search(t time.Time, dir int64) time.Time {
	ts := t.Unix() // fire times are whole seconds: at or before t is at or before ts
	if dir > 0 {
		ts++ // and after t is at or after ts+1
	}
	y, m, d := t.In(s.loc).Date()
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - 2*dir*day
	limit := ts + dir*int64(Horizon/time.Second)
	best, found := int64(0), false
	for ; ; date += dir * day {
		near := date - day // the date's instants closest to t are after this
		if dir < 0 {
			near = date + 2*day // or before this
		}
		if dir*(near-limit) > 0 || found && dir*(near-best) > 0 {
			break
		}
		if !s.dateMatches(date) {
			continue
		}
		for _, p := range zonePeriods(s.loc, date-day, date+2*day) {
			// Wall times of this date that this period shows, on t's side.
			lo, hi := max(date, p.start+p.off), min(date+day, p.end+p.off) // [lo, hi)
			if dir > 0 {
				lo = max(lo, ts+p.off)
			} else {
				hi = min(hi, ts+p.off+1)
			}
			if lo >= hi {
				continue
			}
			first, last := (lo-date+59)/60, (hi-1-date)/60 // minutes of the day
			if mi := s.minuteOfDay(first, last, dir); mi >= 0 {
				f := date + 60*mi - p.off
				if !found || dir*(f-best) < 0 {
					best, found = f, true
				}
			}
		}
	}
	if !found || dir*(best-limit) > 0 {
		return time.Time{}
	}
	return time.Unix(best, 0).In(s.loc)
}

// dateMatches reports whether the civil date at unix seconds date (its
// midnight read as UTC) matches the month, day-of-month and day-of-week
// fields.
func (s *Schedule) dateMatches(date int64) bool {
	_, m, d := time.Unix(date, 0).UTC().Date()
	weekday := (date/day%7 + 11) % 7 // 1970-01-01 was a Thursday (4)
	return s.month&(1<<m) != 0 && s.dom&(1<<d) != 0 && s.dow&(1<<weekday) != 0
}

// minuteOfDay is the first (dir 1) or last (dir -1) minute of the day in
// [first, last] that matches the hour and minute fields, or -1.
func (s *Schedule) minuteOfDay(first, last, dir int64) int64 {
	if dir > 0 {
		for h := first / 60; h <= last/60; h++ {
			if s.hour&(1<<h) == 0 {
				continue
			}
			mins := s.minute
			if h == first/60 {
				mins &^= 1<<(first%60) - 1
			}
			if mins != 0 {
				if mi := h*60 + int64(bits.TrailingZeros64(mins)); mi <= last {
					return mi
				}
				return -1
			}
		}
		return -1
	}
	for h := last / 60; h >= first/60; h-- {
		if s.hour&(1<<h) == 0 {
			continue
		}
		mins := s.minute
		if h == last/60 {
			mins &= 1<<(last%60+1) - 1
		}
		if mins != 0 {
			if mi := h*60 + 63 - int64(bits.LeadingZeros64(mins)); mi >= first {
				return mi
			}
			return -1
		}
	}
	return -1
}

// period is a span [start, end) of unix seconds with one UTC offset.
type period struct{ start, end, off int64 }

// zonePeriods returns the periods of loc's offsets that cover [from, to), in
// order. It reads the offset every hour and bisects each change to the
// second (no zone changes its offset twice within an hour). Time.ZoneBounds
// is not used: past the tz table's last year it reports bounds that do not
// contain the time asked about at the end of leap years (Go 1.26).
func zonePeriods(loc *time.Location, from, to int64) []period {
	offset := func(t int64) int64 {
		_, off := time.Unix(t, 0).In(loc).Zone()
		return int64(off)
	}
	ps := []period{{from, to, offset(from)}}
	for a := from; a < to-1; {
		b := min(a+3600, to-1)
		if off := offset(b); off != ps[len(ps)-1].off {
			lo, hi := a, b // the change is in (lo, hi]
			for hi-lo > 1 {
				if mid := lo + (hi-lo)/2; offset(mid) == off {
					hi = mid
				} else {
					lo = mid
				}
			}
			ps[len(ps)-1].end = hi
			ps = append(ps, period{hi, to, off})
		}
		a = b
	}
	return ps
}
