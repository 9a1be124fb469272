package collector

import (
	"fmt"
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
}

// parseSchedule parses expr in the IANA zone tz (UTC when empty).
func parseSchedule(expr, tz string) (*schedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", labelValue(tz))
		}
		loc = l
	}
	expr = strings.TrimSpace(expr)
	// The control plane has no @every or CRON_TZ= prefix; refuse them rather
	// than compute something it does not.
	if strings.HasPrefix(expr, "@every") || strings.Contains(expr, "TZ=") {
		return nil, fmt.Errorf("unsupported cron syntax")
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported cron syntax")
	}
	spec.Location = loc
	return &schedule{spec: spec}, nil
}

// next is the first fire time strictly after t.
func (s *schedule) next(t time.Time) time.Time { return s.spec.Next(t) }

// previous is the latest fire time at or before t: it looks back over
// doubling windows and walks forward, so the cost grows with the log of the
// gap, not with the schedule's density.
func (s *schedule) previous(t time.Time) time.Time {
	for w := time.Minute; w <= 6*366*24*time.Hour; w *= 2 {
		f := s.spec.Next(t.Add(-w))
		if f.IsZero() || f.After(t) {
			continue
		}
		for {
			n := s.spec.Next(f)
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
	prev, next time.Time // valid while now < next
}

// scheduleCache keeps parsed schedules and their fire times across scrapes:
// they change only when the schedule changes or the next fire time passes.
type scheduleCache struct {
	mu   sync.Mutex
	jobs map[string]*scheduleState
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
	if st.next.IsZero() || !now.Before(st.next) || now.Before(st.prev) {
		st.prev, st.next = st.sched.previous(now), st.sched.next(now)
	}
	return st.prev, st.next, true, changed, nil
}
