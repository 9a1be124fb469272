package simulator

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/kubiya/kubiya_exporter/internal/cron"
)

// Run triggers recorded in execution records.
const (
	trigCron uint8 = iota
	trigWebhook
	trigManual
)

var trigNames = [...]string{"cron", "webhook", "manual"}

// run is one execution record, kept small: at 10,000 jobs the server keeps
// up to MaxExecutions of these per job. Its ID and error text are derived
// from the job's hash on demand.
type run struct {
	fire     int64 // scheduled (or trigger) time, unix µs
	start    int64 // record creation = started_at = last_execution_at, unix µs
	durUS    int64 // run duration, µs
	settled  bool  // completion has been counted
	failed   bool
	canceled bool // synthesized history only: the "lost" runs
	trigger  uint8
}

func (r *run) end() int64 { return r.start + r.durUS }

// jobState is a job plus the bookkeeping that makes time pass for it.
type jobState struct {
	job   Job
	hash  uint64         // stable per-ID hash, mixed into every derived value
	sched *cron.Schedule // fires in cron_timezone; nil when not a runnable cron job
	utc   *cron.Schedule // the same spec in UTC, for the reported next_execution_at

	nextFire     time.Time // next scheduled fire not yet recorded (zero: none)
	nextRecordAt time.Time // nextFire + record delay: when its record appears
	stopped      bool      // "missed run" fault: enabled but silently not running
	failing      bool      // every future run fails

	runs      []run // oldest first, capped at maxRuns
	unsettled int   // runs not yet completed/failed
	earliest  int64 // smallest end() among unsettled runs

	// history is synthesized lazily (on the first executions request) from
	// the template's counts, so 10,000 generated jobs cost nothing up front.
	historyRef  time.Time // the clock when the template was stamped; zero: none
	historyDone bool

	encoded []byte // cached JobResponse JSON; nil after any change
	seq     int    // insertion order, tie-break for sorting
}

// splitmix64 is a tiny, good-enough mixer for deterministic outcomes.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hashString(seed int64, s string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(s))
	return h.Sum64()
}

// unit maps a hash to [0,1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// uuidFrom formats two hashes as a version-4-shaped UUID.
func uuidFrom(a, b uint64) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], a)
	binary.BigEndian.PutUint64(u[8:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// derive returns the i-th deterministic value for an event of this job.
func (st *jobState) derive(eventUS int64, i uint64) uint64 {
	return splitmix64(st.hash ^ splitmix64(uint64(eventUS)) ^ (i * 0x9e3779b97f4a7c15))
}

// recordDelay is how long after its fire time a run's record appears
// (1–5 s with microseconds, like a worker picking it up).
func (st *jobState) recordDelay(fire time.Time) time.Duration {
	us := 1_000_000 + int64(st.derive(fire.UnixMicro(), 1)%4_000_000)
	return time.Duration(us) * time.Microsecond
}

func (st *jobState) execID(r *run) string {
	return uuidFrom(st.derive(r.fire, 3), st.derive(r.fire, 4))
}

var runErrors = [...]string{
	"Agent execution failed: tool 'kubectl' exited with status 1",
	"Execution timed out after 300 seconds",
	"Worker lost heartbeat; execution abandoned",
	"LLM provider returned 429 Too Many Requests",
	"Integration 'github' credentials expired",
}

func (st *jobState) errMessage(r *run) string {
	return runErrors[st.derive(r.fire, 5)%uint64(len(runErrors))]
}

// newRun builds the record for a run fired at fire and created at start.
func (st *jobState) newRun(fire, start time.Time, trigger uint8) run {
	f := fire.UnixMicro()
	return run{
		fire:    f,
		start:   start.UnixMicro(),
		durUS:   1_500_000 + int64(st.derive(f, 2)%10_000_000), // 1.5–11.5 s
		failed:  st.failing || unit(st.derive(f, 6)) < st.job.FailureRate,
		trigger: trigger,
	}
}

// parseSchedules compiles cron_schedule for runs (in cron_timezone) and for
// the reported next time (in UTC, the server's quirk), with the exporter's
// engine: Temporal's calendar, as the control plane runs jobs.
func parseSchedules(j *Job, loadLocation func(string) (*time.Location, error)) (inZone, inUTC *cron.Schedule) {
	if j.TriggerType != "cron" || j.CronSchedule == nil {
		return nil, nil
	}
	loc := time.UTC
	if j.CronTimezone != nil && *j.CronTimezone != "" {
		if l, err := loadLocation(*j.CronTimezone); err == nil {
			loc = l
		}
	}
	z, err := cron.Parse(*j.CronSchedule, loc)
	if err != nil {
		return nil, nil
	}
	u, _ := cron.Parse(*j.CronSchedule, time.UTC)
	return z, u
}

// utcNext is the server's next_execution_at: the schedule read in UTC.
func (st *jobState) utcNext(after time.Time) *time.Time {
	if st.utc == nil {
		return nil
	}
	n := st.utc.Next(after).UTC()
	if n.IsZero() {
		return nil
	}
	return &n
}

// reschedule starts the run loop afresh from now: fires missed while the job
// was disabled or stopped are skipped, as the scheduler would.
func (st *jobState) reschedule(now time.Time) {
	st.nextFire, st.nextRecordAt = time.Time{}, time.Time{}
	if st.sched == nil {
		return
	}
	st.nextFire = st.sched.Next(now)
	if !st.nextFire.IsZero() {
		st.nextRecordAt = st.nextFire.Add(st.recordDelay(st.nextFire))
	}
}

func (st *jobState) runnable() bool {
	return st.sched != nil && st.job.Enabled && !st.stopped && !st.nextFire.IsZero()
}

// advance records every run whose record time has passed and settles every
// run whose completion has passed. It reports whether the job changed.
func (st *jobState) advance(now time.Time, maxRuns int) bool {
	changed := false
	var last run
	for st.runnable() && !now.Before(st.nextRecordAt) {
		last = st.newRun(st.nextFire, st.nextRecordAt, trigCron)
		st.record(last, maxRuns)
		st.nextFire = st.sched.Next(st.nextFire)
		if st.nextFire.IsZero() {
			st.nextRecordAt = time.Time{}
			break
		}
		st.nextRecordAt = st.nextFire.Add(st.recordDelay(st.nextFire))
		changed = true
	}
	if last.start != 0 {
		st.markLast(&last) // once per catch-up: only the newest run shows
	}
	if st.unsettled > 0 && now.UnixMicro() >= st.earliest {
		st.settle(now.UnixMicro())
		changed = true
	}
	if changed {
		st.encoded = nil
	}
	return changed
}

// record adds a run as the worker does: a new execution record and
// total+1. The caller then calls markLast for the newest recorded run.
func (st *jobState) record(r run, maxRuns int) {
	st.job.TotalExecutions++
	st.runs = append(st.runs, r)
	if st.unsettled == 0 || r.end() < st.earliest {
		st.earliest = r.end()
	}
	st.unsettled++
	if len(st.runs) > maxRuns {
		// Settle what falls out of the window so the counters stay consistent.
		drop := len(st.runs) - maxRuns
		for i := range drop {
			if !st.runs[i].settled {
				st.finish(&st.runs[i])
			}
		}
		st.runs = append(st.runs[:0], st.runs[drop:]...)
	}
	st.encoded = nil
}

// markLast sets last_execution_* from r, recomputes next_execution_at (in
// UTC) and moves updated_at just past the record's creation.
func (st *jobState) markLast(r *run) {
	j := &st.job
	start := time.UnixMicro(r.start).UTC()
	j.LastExecutionAt = &start
	j.LastExecutionID = Ptr(st.execID(r))
	if j.TriggerType == "cron" {
		if n := st.utcNext(start); n != nil {
			j.NextExecutionAt = n
		}
	}
	st.touch(start.Add(time.Duration(3000+st.derive(r.fire, 7)%9000) * time.Microsecond))
	st.encoded = nil
}

func (st *jobState) finish(r *run) {
	r.settled = true
	st.unsettled--
	if r.failed {
		st.job.FailedExecutions++
	} else {
		st.job.SuccessfulExecutions++
	}
	st.touch(time.UnixMicro(r.end()).UTC())
}

func (st *jobState) settle(nowUS int64) {
	st.earliest = math.MaxInt64
	for i := len(st.runs) - 1; i >= 0 && st.unsettled > 0; i-- {
		r := &st.runs[i]
		if r.settled {
			continue
		}
		if r.end() <= nowUS {
			st.finish(r)
		} else if r.end() < st.earliest {
			st.earliest = r.end()
		}
	}
}

// touch moves updated_at forward (never back).
func (st *jobState) touch(t time.Time) {
	if t.After(st.job.UpdatedAt) {
		st.job.UpdatedAt = t
	}
}

// lastFiresBefore returns up to k fire times of s before t, oldest first.
func lastFiresBefore(s *cron.Schedule, t time.Time, k int) []time.Time {
	if s == nil || k <= 0 {
		return nil
	}
	var fires []time.Time
	for f := s.Previous(t.Add(-time.Nanosecond)); !f.IsZero() && len(fires) < k; f = s.Previous(f.Add(-time.Nanosecond)) {
		fires = append(fires, f)
	}
	slices.Reverse(fires)
	return fires
}

// synthesizeHistory fills the executions list for a template job's
// pre-existing counts with plausible past records (at most maxHist).
func (st *jobState) synthesizeHistory(maxHist int) {
	st.historyDone = true
	if st.historyRef.IsZero() || st.job.TotalExecutions == 0 {
		return
	}
	n := int(min(st.job.TotalExecutions, int64(maxHist)))
	var fires []time.Time
	trig := trigCron
	if st.sched != nil {
		ref := st.historyRef
		if st.job.LastExecutionAt != nil {
			ref = st.job.LastExecutionAt.Add(time.Microsecond)
		}
		fires = lastFiresBefore(st.sched, ref, n)
	} else {
		trig = trigManual
		if st.job.TriggerType == "webhook" {
			trig = trigWebhook
		}
		last := st.historyRef
		if st.job.LastExecutionAt != nil {
			last = *st.job.LastExecutionAt
		}
		for i := n - 1; i >= 0; i-- {
			gap := time.Duration(i) * (5*time.Hour + time.Duration(st.derive(int64(i), 8)%(20*3600))*time.Second)
			fires = append(fires, last.Add(-gap))
		}
	}
	// Mark as many failed/cancelled as the counts imply, newest first.
	failed := st.job.FailedExecutions
	lost := st.job.TotalExecutions - st.job.SuccessfulExecutions - st.job.FailedExecutions
	hist := make([]run, 0, len(fires))
	for i, f := range fires {
		start := f.Add(st.recordDelay(f))
		if trig != trigCron {
			start = f
		}
		if i == len(fires)-1 && st.job.LastExecutionAt != nil {
			// The newest record is the one last_execution_* describes.
			start = *st.job.LastExecutionAt
			if trig != trigCron {
				f = start
			}
		}
		r := run{fire: f.UnixMicro(), start: start.UnixMicro(), settled: true, trigger: trig}
		r.durUS = 1_500_000 + int64(st.derive(r.fire, 2)%10_000_000)
		hist = append(hist, r)
	}
	for i := len(hist) - 1; i >= 0; i-- {
		switch u := st.derive(hist[i].fire, 9); {
		case lost > 0 && u%7 == 0:
			hist[i].canceled = true
			lost--
		case failed > 0 && u%3 == 0:
			hist[i].failed = true
			failed--
		}
	}
	st.runs = append(hist, st.runs...)
}
