package collector

import (
	"fmt"
	"sync"
	"time"

	"github.com/kubiya/kubiya_exporter/internal/cron"
)

// maxScheduleLen bounds a cron_schedule the exporter parses, in bytes.
const maxScheduleLen = 1024

// parseSchedule parses expr in the IANA zone tz (UTC when empty).
func parseSchedule(expr, tz string) (*cron.Schedule, error) {
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
	// Five fields of explicit lists fit in a few hundred bytes; refusing
	// more up front keeps a megabyte-long value (and its error text) cheap.
	if len(expr) > maxScheduleLen {
		return nil, fmt.Errorf("cron schedule of %d bytes: longer than %d", len(expr), maxScheduleLen)
	}
	return cron.Parse(expr, loc)
}

// scheduleState is what the exporter knows of one job's schedule. It is
// never changed once stored in the cache (a lookup stores a new one), so it
// is read without the lock.
type scheduleState struct {
	expr, tz   string
	sched      *cron.Schedule // nil when the schedule does not parse
	err        error          // why it does not
	prev, next time.Time      // zero: none within cron.Horizon
	until      time.Time      // prev and next hold while prev <= now < until
}

// noFireRecheck is how long "no next fire time" holds: the horizon moves on.
const noFireRecheck = 24 * time.Hour

// fresh reports whether st's fire times still hold at now.
func (st *scheduleState) fresh(now time.Time) bool {
	return st.sched == nil || !now.Before(st.prev) && now.Before(st.until)
}

// scheduleCache keeps parsed schedules and their fire times across scrapes:
// they change only when the schedule changes or the next fire time passes.
// Fire times are computed outside the lock, so one job's search never
// delays another's scrape.
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
	old := c.jobs[jobID]
	c.mu.Unlock()
	same := old != nil && old.expr == expr && old.tz == tz
	if same && old.fresh(now) {
		return old.prev, old.next, old.sched != nil, false, old.err
	}
	st := &scheduleState{expr: expr, tz: tz}
	if same {
		st.sched, st.err = old.sched, old.err
	} else {
		st.sched, st.err = parseSchedule(expr, tz)
	}
	computed := st.sched != nil
	if computed {
		// When only the next fire time passed (the usual step for a
		// frequent schedule) one step forward finds both times; otherwise
		// search back for prev.
		if same && !old.next.IsZero() && !now.Before(old.next) {
			if n := st.sched.Next(old.next); n.After(now) {
				st.prev, st.next = old.next, n
			}
		}
		if st.next.IsZero() {
			st.prev, st.next = st.sched.Previous(now), st.sched.Next(now)
		}
		st.until = st.next
		if st.next.IsZero() {
			st.until = now.Add(noFireRecheck)
		}
	}
	c.mu.Lock()
	// A concurrent scrape may have stored this schedule first; then it was
	// the one to see the change.
	cur := c.jobs[jobID]
	changed = !same && (cur == old || cur == nil || cur.expr != expr || cur.tz != tz)
	c.jobs[jobID] = st
	if computed {
		c.computeRuns++
	}
	c.mu.Unlock()
	return st.prev, st.next, st.sched != nil, changed, st.err
}
