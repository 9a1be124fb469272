package collector

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads what the control plane accepts: five fields with ranges,
// steps, lists and month/weekday names, plus @hourly-style macros.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// schedule is a parsed cron_schedule in its job's time zone.
type schedule struct {
	spec *cron.SpecSchedule
	// dow, when not zero, is the set of weekdays (bit 0 = Sunday) a fire
	// time must also fall on: set when both day-of-month and day-of-week
	// are restricted, where Temporal requires both to match (spec then
	// holds only the day-of-month part; robfig/cron would match either).
	dow uint64
}

// starBit is robfig/cron's marker for a field written as "*" (unexported
// there); a day field that has it does not restrict the day.
const starBit = 1 << 63

// allWeekdays is robfig/cron's bit set of "*" in the day-of-week field.
const allWeekdays = 1<<7 - 1 | starBit

// maxScheduleLen bounds a cron_schedule the exporter parses, in bytes.
const maxScheduleLen = 1024

// maxLookahead bounds the search for a fire time, like robfig/cron's own
// five-year limit: a schedule that fires less often reports no time.
const maxLookahead = 5 * 366 * 24 * time.Hour

// parseSchedule parses expr in the IANA zone tz (UTC when empty).
func parseSchedule(expr, tz string) (*schedule, error) {
	loc := time.UTC
	if tz != "" {
		// "Local" is Go's name for the exporter host's zone, not an IANA
		// name the control plane accepts.
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, fmt.Errorf("unknown time zone %q", labelValue(tz))
		}
		loc = l
	}
	expr = strings.TrimSpace(expr)
	// Five fields of explicit lists fit in a few hundred bytes; refusing
	// more up front keeps a megabyte-long value from costing the cron
	// parser seconds (and its error text a megabyte).
	if len(expr) > maxScheduleLen {
		return nil, fmt.Errorf("cron schedule of %d bytes: longer than %d", len(expr), maxScheduleLen)
	}
	// The control plane has no @every or CRON_TZ= prefix; refuse them rather
	// than compute something it does not.
	if strings.HasPrefix(expr, "@every") || strings.Contains(expr, "TZ=") {
		return nil, fmt.Errorf("unsupported cron syntax")
	}
	s, err := cronParser.Parse(sundaySeven(expr))
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported cron syntax")
	}
	spec.Location = loc
	sched := &schedule{spec: spec}
	if spec.Dom&starBit == 0 && spec.Dow&starBit == 0 {
		sched.dow = spec.Dow &^ starBit
		spec.Dow = allWeekdays
	}
	return sched, nil
}

// sundaySeven rewrites 7 in the day-of-week field to 0: Temporal and
// croniter take 7 as Sunday, robfig/cron refuses it. Only elements with a
// literal 7 endpoint change ("7", "7/2", "5-7", "1-7/2"); everything else,
// including every error, is left for the cron parser to judge.
func sundaySeven(expr string) string {
	fields := strings.Fields(expr)
	if len(fields) != 5 || !strings.Contains(fields[4], "7") {
		return expr
	}
	elems := strings.Split(fields[4], ",")
	for i, el := range elems {
		base, step, hasStep := strings.Cut(el, "/")
		lo, hi, isRange := strings.Cut(base, "-")
		switch {
		case !isRange && base == "7":
			elems[i] = "0" // "7" and "7/n" are Sunday alone
		case isRange && hi == "7" && lo == "7":
			elems[i] = "0"
		case isRange && hi == "7":
			elems[i] = lo + "-6"
			n, err := strconv.Atoi(step)
			first, ok := weekdayNumber(lo)
			if !hasStep {
				elems[i] += ",0"
			} else if err == nil && n > 0 && ok && (7-first)%n == 0 {
				elems[i] += "/" + step + ",0"
			} else {
				elems[i] += "/" + step
			}
		}
	}
	fields[4] = strings.Join(elems, ",")
	return strings.Join(fields, " ")
}

// weekdayNumber reads a day-of-week range start as robfig/cron does (a
// number or a three-letter name).
func weekdayNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	for i, name := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		if strings.EqualFold(s, name) {
			return i, true
		}
	}
	return 0, false
}

// next is the first fire time strictly after t; zero when there is none
// within maxLookahead.
func (s *schedule) next(t time.Time) time.Time {
	if s.dow == 0 {
		return s.spec.Next(t)
	}
	limit := t.Add(maxLookahead)
	for {
		f := s.spec.Next(t)
		if f.IsZero() || f.After(limit) {
			return time.Time{}
		}
		local := f.In(s.spec.Location)
		if s.dow&(1<<uint(local.Weekday())) != 0 {
			return f
		}
		// The day of month matched but not the weekday: skip the rest of
		// that local day (fire times have second 0, so 23:59:59 is later).
		y, m, d := local.Date()
		t = time.Date(y, m, d, 23, 59, 59, 0, s.spec.Location)
	}
}

// previous is the latest fire time at or before t: it looks back over
// doubling windows and walks forward, so the cost grows with the log of the
// gap, not with the schedule's density.
func (s *schedule) previous(t time.Time) time.Time {
	for w := time.Minute; w <= maxLookahead; w *= 2 {
		f := s.next(t.Add(-w))
		if f.IsZero() || f.After(t) {
			continue
		}
		for {
			n := s.next(f)
			if n.IsZero() || n.After(t) {
				return f
			}
			f = n
		}
	}
	return time.Time{}
}

// scheduleState is what the exporter knows of one job's schedule.
type scheduleState struct {
	expr, tz   string
	sched      *schedule // nil when the schedule does not parse
	prev, next time.Time // valid while prev <= now < next (next zero: no more fires)
	computed   bool
}

// scheduleCache keeps parsed schedules and their fire times across scrapes:
// they change only when the schedule changes or the next fire time passes.
type scheduleCache struct {
	mu          sync.Mutex
	jobs        map[string]*scheduleState
	computeRuns int // fire-time computations, for tests of the cache
}

func newScheduleCache() *scheduleCache {
	return &scheduleCache{jobs: make(map[string]*scheduleState)}
}

// lookup returns the previous and next fire times at now, and whether the
// schedule is valid. changed is true when the schedule is newly seen or
// differs from the last lookup, so the caller logs an invalid one only once.
func (c *scheduleCache) lookup(jobID, expr, tz string, now time.Time) (prev, next time.Time, valid, changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.jobs[jobID]
	if st == nil || st.expr != expr || st.tz != tz {
		st = &scheduleState{expr: expr, tz: tz}
		st.sched, err = parseSchedule(expr, tz)
		c.jobs[jobID] = st
		changed = true
	}
	if st.sched == nil {
		return time.Time{}, time.Time{}, false, changed, err
	}
	if !st.computed || (!st.next.IsZero() && !now.Before(st.next)) || now.Before(st.prev) {
		// When only the next fire time passed (the usual step for a
		// frequent schedule) one step forward finds both times; otherwise
		// search back for prev.
		var after time.Time
		if st.computed && !st.next.IsZero() && !now.Before(st.next) {
			after = st.sched.next(st.next)
		}
		if after.After(now) {
			st.prev, st.next = st.next, after
		} else {
			st.prev, st.next = st.sched.previous(now), st.sched.next(now)
		}
		st.computed = true
		c.computeRuns++
	}
	return st.prev, st.next, true, changed, nil
}
