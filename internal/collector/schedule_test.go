package collector

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// utc is shorthand for a UTC instant in the tables below; the expected
// values were worked out by hand from the zone rules (offsets in comments),
// not copied from the engine's output. internal/cron holds the engine's own
// tests (every finding of issue 10, the oracle and the differential tests);
// these check the exporter's use of it.
func utc(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

func TestScheduleFireTimes(t *testing.T) {
	never := time.Time{}
	tests := []struct {
		name, expr, tz  string
		now, prev, next time.Time
	}{
		// UTC and the zone defaults.
		{"daily UTC", "0 17 * * *", "UTC", utc(2025, 11, 20, 18, 0), utc(2025, 11, 20, 17, 0), utc(2025, 11, 21, 17, 0)},
		{"null zone is UTC", "0 17 * * *", "", utc(2025, 11, 20, 18, 0), utc(2025, 11, 20, 17, 0), utc(2025, 11, 21, 17, 0)},
		{"now on a fire time counts as previous", "0 17 * * *", "UTC", utc(2025, 11, 20, 17, 0), utc(2025, 11, 20, 17, 0), utc(2025, 11, 21, 17, 0)},
		{"one second before a fire", "0 17 * * *", "UTC", utc(2025, 11, 20, 17, 0).Add(-time.Second), utc(2025, 11, 19, 17, 0), utc(2025, 11, 20, 17, 0)},
		{"surrounding whitespace", "  0 17 * * *\n", "UTC", utc(2025, 11, 20, 18, 0), utc(2025, 11, 20, 17, 0), utc(2025, 11, 21, 17, 0)},

		// Steps, ranges, lists and names.
		{"step", "*/15 * * * *", "UTC", utc(2025, 11, 20, 10, 7).Add(30 * time.Second), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 10, 15)},
		{"range with step", "0 8-18/2 * * *", "UTC", utc(2025, 11, 20, 11, 0), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 12, 0)},
		{"range with step, after the last", "0 8-18/2 * * *", "UTC", utc(2025, 11, 20, 19, 0), utc(2025, 11, 20, 18, 0), utc(2025, 11, 21, 8, 0)},
		{"list", "5,35 * * * *", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 20, 10, 5), utc(2025, 11, 20, 10, 35)},
		{"weekday names over a weekend", "0 9 * * MON-FRI", "UTC", utc(2025, 11, 22, 12, 0), utc(2025, 11, 21, 9, 0), utc(2025, 11, 24, 9, 0)},
		{"lower-case names", "0 9 * * mon-fri", "UTC", utc(2025, 11, 22, 12, 0), utc(2025, 11, 21, 9, 0), utc(2025, 11, 24, 9, 0)},
		{"month name", "0 0 1 JAN *", "UTC", utc(2025, 11, 20, 0, 0), utc(2025, 1, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
		{"month range names", "30 6 15 MAR-MAY *", "UTC", utc(2025, 11, 20, 0, 0), utc(2025, 5, 15, 6, 30), utc(2026, 3, 15, 6, 30)},
		// 7 is Sunday for Temporal.
		{"7 is Sunday", "0 0 * * 7", "UTC", utc(2025, 11, 20, 12, 0), utc(2025, 11, 16, 0, 0), utc(2025, 11, 23, 0, 0)},
		{"range ending in 7", "0 0 * * 5-7", "UTC", utc(2025, 11, 20, 12, 0), utc(2025, 11, 16, 0, 0), utc(2025, 11, 21, 0, 0)},
		{"stepped range ending in 7", "0 0 * * 1-7/3", "UTC", utc(2025, 11, 22, 12, 0), utc(2025, 11, 20, 0, 0), utc(2025, 11, 23, 0, 0)}, // Mon, Thu, Sun
		{"name range ending in 7", "0 0 * * FRI-7", "UTC", utc(2025, 11, 20, 12, 0), utc(2025, 11, 16, 0, 0), utc(2025, 11, 21, 0, 0)},
		// Day of month AND day of week, as Temporal matches (Vixie cron would
		// fire on every Monday and every 1st).
		{"first of the month that is a Monday", "0 0 1 * MON", "UTC", utc(2025, 11, 20, 0, 0), utc(2025, 9, 1, 0, 0), utc(2025, 12, 1, 0, 0)},
		{"Friday the 13th", "0 0 13 * 5", "UTC", utc(2025, 11, 20, 0, 0), utc(2025, 6, 13, 0, 0), utc(2026, 2, 13, 0, 0)},
		{"every minute of Friday the 13th", "* * 13 * FRI", "UTC", utc(2025, 6, 13, 12, 0).Add(30 * time.Second), utc(2025, 6, 13, 12, 0), utc(2025, 6, 13, 12, 1)},

		// Descriptors: Thursday 2025-11-20.
		{"@hourly", "@hourly", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 11, 0)},
		{"@daily", "@daily", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 20, 0, 0), utc(2025, 11, 21, 0, 0)},
		{"@midnight", "@midnight", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 20, 0, 0), utc(2025, 11, 21, 0, 0)},
		{"@weekly is Sunday midnight", "@weekly", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 16, 0, 0), utc(2025, 11, 23, 0, 0)},
		{"@monthly", "@monthly", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 11, 1, 0, 0), utc(2025, 12, 1, 0, 0)},
		{"@yearly", "@yearly", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 1, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
		{"@annually", "@annually", "UTC", utc(2025, 11, 20, 10, 20), utc(2025, 1, 1, 0, 0), utc(2026, 1, 1, 0, 0)},
		{"@daily in New York", "@daily", "America/New_York", utc(2025, 11, 20, 10, 20), utc(2025, 11, 20, 5, 0), utc(2025, 11, 21, 5, 0)}, // EST -5

		// Other zones.
		{"New York 09:00 EST", "0 9 * * *", "America/New_York", utc(2025, 11, 20, 18, 0), utc(2025, 11, 20, 14, 0), utc(2025, 11, 21, 14, 0)},
		{"New York 09:00 EDT", "0 9 * * *", "America/New_York", utc(2025, 7, 1, 18, 0), utc(2025, 7, 1, 13, 0), utc(2025, 7, 2, 13, 0)},
		{"Kolkata +05:30 weekdays", "0 9 * * MON-FRI", "Asia/Kolkata", utc(2025, 11, 20, 18, 0), utc(2025, 11, 20, 3, 30), utc(2025, 11, 21, 3, 30)},
		{"Kolkata across the weekend", "0 9 * * MON-FRI", "Asia/Kolkata", utc(2025, 11, 22, 0, 0), utc(2025, 11, 21, 3, 30), utc(2025, 11, 24, 3, 30)},
		{"Lord Howe +11 in summer", "0 3 * * *", "Australia/Lord_Howe", utc(2025, 11, 20, 0, 0), utc(2025, 11, 19, 16, 0), utc(2025, 11, 20, 16, 0)},
		{"Lord Howe +10:30 in winter", "0 3 * * *", "Australia/Lord_Howe", utc(2025, 7, 1, 0, 0), utc(2025, 6, 30, 16, 30), utc(2025, 7, 1, 16, 30)},

		// US spring forward, 2025-03-09: 02:00 EST (-5) becomes 03:00 EDT (-4).
		{"spring forward: 01:30 still happens", "30 1 * * *", "America/New_York", utc(2025, 3, 9, 12, 0), utc(2025, 3, 9, 6, 30), utc(2025, 3, 10, 5, 30)},
		// 02:00 and 02:30 do not exist that day: skipped, as Temporal's
		// calendar does (Vixie cron would run them at 03:00).
		{"spring forward: 02:00 is skipped", "0 2 * * *", "America/New_York", utc(2025, 3, 9, 12, 0), utc(2025, 3, 8, 7, 0), utc(2025, 3, 10, 6, 0)},
		{"spring forward: 02:30 is skipped", "30 2 * * *", "America/New_York", utc(2025, 3, 9, 12, 0), utc(2025, 3, 8, 7, 30), utc(2025, 3, 10, 6, 30)},
		{"spring forward: 03:00 happens", "0 3 * * *", "America/New_York", utc(2025, 3, 9, 12, 0), utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 7, 0)},
		{"spring forward: every 30 minutes jumps the gap", "*/30 * * * *", "America/New_York", utc(2025, 3, 9, 6, 45), utc(2025, 3, 9, 6, 30), utc(2025, 3, 9, 7, 0)}, // 01:30 EST, then 03:00 EDT
		// US fall back, 2025-11-02: 02:00 EDT (-4) becomes 01:00 EST (-5), so
		// 01:00–01:59 happens twice. Both passes fire, as Temporal's calendar
		// does (Vixie cron runs once).
		{"fall back: first 01:30", "30 1 * * *", "America/New_York", utc(2025, 11, 2, 5, 45), utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 6, 30)},
		{"fall back: second 01:30", "30 1 * * *", "America/New_York", utc(2025, 11, 2, 6, 45), utc(2025, 11, 2, 6, 30), utc(2025, 11, 3, 6, 30)},
		{"fall back: 02:00 once", "0 2 * * *", "America/New_York", utc(2025, 11, 2, 12, 0), utc(2025, 11, 2, 7, 0), utc(2025, 11, 3, 7, 0)},
		{"fall back: 02:00 during the repeated hour", "0 2 * * *", "America/New_York", utc(2025, 11, 2, 6, 30), utc(2025, 11, 1, 6, 0), utc(2025, 11, 2, 7, 0)},
		{"fall back: hourly fires every real hour", "0 * * * *", "America/New_York", utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 5, 0), utc(2025, 11, 2, 6, 0)},
		// Europe/Berlin: spring forward 2025-03-30 02:00 CET (+1) to 03:00
		// CEST (+2); fall back 2025-10-26 03:00 CEST to 02:00 CET.
		{"Berlin spring forward skips 02:30", "30 2 * * *", "Europe/Berlin", utc(2025, 3, 30, 12, 0), utc(2025, 3, 29, 1, 30), utc(2025, 3, 31, 0, 30)},
		{"Berlin fall back: first 02:30", "30 2 * * *", "Europe/Berlin", utc(2025, 10, 26, 1, 0), utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30)},
		{"Berlin fall back: second 02:30", "30 2 * * *", "Europe/Berlin", utc(2025, 10, 26, 2, 0), utc(2025, 10, 26, 1, 30), utc(2025, 10, 27, 1, 30)},
		{"Berlin 09:00 after the change", "0 9 * * *", "Europe/Berlin", utc(2025, 10, 26, 12, 0), utc(2025, 10, 26, 8, 0), utc(2025, 10, 27, 8, 0)},
		// Lord Howe's half-hour change (2025-10-05 02:00 +10:30 becomes 02:30
		// +11): that day's 03:00 exists (16:00Z on the 4th).
		{"Lord Howe half-hour change", "0 3 * * *", "Australia/Lord_Howe", utc(2025, 10, 4, 12, 0), utc(2025, 10, 3, 16, 30), utc(2025, 10, 4, 16, 0)},

		// Parses, never fires: no times.
		{"30 February", "0 0 30 2 *", "UTC", utc(2025, 11, 20, 0, 0), never, never},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSchedule(tt.expr, tt.tz)
			if err != nil {
				t.Fatalf("parseSchedule(%q, %q): %v", tt.expr, tt.tz, err)
			}
			if got := s.Previous(tt.now); !got.Equal(tt.prev) {
				t.Errorf("Previous(%s) = %s, want %s", tt.now, got.UTC(), tt.prev)
			}
			if got := s.Next(tt.now); !got.Equal(tt.next) {
				t.Errorf("Next(%s) = %s, want %s", tt.now, got.UTC(), tt.next)
			}
		})
	}
}

func TestScheduleInvalid(t *testing.T) {
	tests := []struct{ name, expr, tz, wantErr string }{
		{"minute out of range", "61 * * * *", "UTC", "minute \"61\": 61 out of range 0-59"},
		{"hour out of range", "0 24 * * *", "UTC", "hour \"24\": 24 out of range 0-23"},
		{"day of month 0", "0 0 0 * *", "UTC", "day of month \"0\": 0 out of range 1-31"},
		{"weekday 8", "0 0 * * 8", "UTC", "out of range 0-7"},
		{"range backwards", "0 0 * * 7-5", "UTC", "5 out of range 7-7"},
		{"empty list element", "0 0 1,,2 * *", "UTC", `bad value ""`},
		{"question mark", "0 0 * * ?", "UTC", `bad value "?"`},
		{"four fields", "* * * *", "UTC", "expected 5 fields, found 4"},
		{"six fields (seconds or year)", "0 0 0 * * *", "UTC", "expected 5 fields, found 6"},
		{"@every", "@every 5m", "UTC", "expected 5 fields, found 2"},
		{"CRON_TZ prefix", "CRON_TZ=Europe/Berlin 0 9 * * *", "UTC", "expected 5 fields, found 6"},
		{"TZ prefix", "TZ=UTC 0 9 * *", "UTC", `bad value "TZ=UTC"`},
		{"unknown macro", "@reboot", "UTC", "expected 5 fields, found 1"},
		{"unknown name", "0 0 * * FUNDAY", "UTC", `bad value "FUNDAY"`},
		{"garbage", "every day at nine", "UTC", "expected 5 fields, found 4"},
		{"empty", "", "UTC", "expected 5 fields, found 0"},
		{"a megabyte of fields", strings.Repeat("* ", 1<<19), "UTC", "longer than 1024"},
		{"unknown zone", "0 9 * * *", "Mars/Olympus_Mons", "unknown time zone"},
		{"Go's Local is not a zone name", "0 9 * * *", "Local", "unknown time zone"},
		{"zone path traversal", "0 9 * * *", "../../etc/passwd", "unknown time zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSchedule(tt.expr, tt.tz)
			if err == nil {
				t.Fatalf("parseSchedule(%q, %q) = %+v, want an error", tt.expr, tt.tz, s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestScheduleCacheRecomputesOnlyWhenNextPasses(t *testing.T) {
	c := newScheduleCache()
	const id = "job_a"
	step := func(expr, tz string, now time.Time, wantPrev, wantNext time.Time, wantRuns int, wantChanged bool) {
		t.Helper()
		prev, next, valid, changed, err := c.lookup(id, expr, tz, now)
		if err != nil || !valid {
			t.Fatalf("lookup(%q) invalid: %v", expr, err)
		}
		if !prev.Equal(wantPrev) || !next.Equal(wantNext) {
			t.Errorf("at %s: prev, next = %s, %s; want %s, %s", now, prev.UTC(), next.UTC(), wantPrev, wantNext)
		}
		if changed != wantChanged {
			t.Errorf("at %s: changed = %v, want %v", now, changed, wantChanged)
		}
		if c.computeRuns != wantRuns {
			t.Errorf("at %s: %d computations, want %d", now, c.computeRuns, wantRuns)
		}
	}
	hourly := "0 * * * *"
	step(hourly, "UTC", utc(2025, 11, 20, 10, 5), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 11, 0), 1, true)
	// Scrapes before the next fire time are served from the cache.
	for m := 10; m < 60; m += 5 {
		step(hourly, "UTC", utc(2025, 11, 20, 10, m), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 11, 0), 1, false)
	}
	// Reaching next recomputes once.
	step(hourly, "UTC", utc(2025, 11, 20, 11, 0), utc(2025, 11, 20, 11, 0), utc(2025, 11, 20, 12, 0), 2, false)
	step(hourly, "UTC", utc(2025, 11, 20, 11, 30), utc(2025, 11, 20, 11, 0), utc(2025, 11, 20, 12, 0), 2, false)
	// A clock that went back before prev recomputes.
	step(hourly, "UTC", utc(2025, 11, 20, 10, 30), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 11, 0), 3, false)
	// A schedule change is detected at once, though next has not passed.
	step("30 * * * *", "UTC", utc(2025, 11, 20, 10, 40), utc(2025, 11, 20, 10, 30), utc(2025, 11, 20, 11, 30), 4, true)
	// So is a zone change.
	step("30 * * * *", "Asia/Kolkata", utc(2025, 11, 20, 10, 40), utc(2025, 11, 20, 10, 0), utc(2025, 11, 20, 11, 0), 5, true)
	// A schedule that never fires is computed once a day (the horizon
	// moves on), not on every scrape.
	for m := range 60 {
		c.lookup(id, "0 0 30 2 *", "UTC", utc(2025, 11, 20, 10, m))
	}
	c.lookup(id, "0 0 30 2 *", "UTC", utc(2025, 11, 21, 10, 0))
	if c.computeRuns != 7 {
		t.Errorf("never-firing schedule: %d computations, want 7", c.computeRuns)
	}
	// So is one whose next fire is beyond the horizon: a day later it
	// may be within it.
	step("0 0 13 5 FRI", "UTC", utc(2026, 12, 5, 0, 0), utc(2022, 5, 13, 0, 0), time.Time{}, 8, true)
	step("0 0 13 5 FRI", "UTC", utc(2026, 12, 5, 23, 0), utc(2022, 5, 13, 0, 0), time.Time{}, 8, false)
	step("0 0 13 5 FRI", "UTC", utc(2028, 6, 1, 0, 0), time.Time{}, utc(2033, 5, 13, 0, 0), 9, false)
}

// TestInvalidScheduleLoggedOncePerChange drives emitJobs as scrapes do and
// counts the warnings.
func TestInvalidScheduleLoggedOncePerChange(t *testing.T) {
	logger := &lineLogger{}
	e := New(nil, logger, Options{Jobs: []string{"job_x"}, Now: func() time.Time { return fixedNow }})
	scrape := func(expr, tz string) (valid float64, series int) {
		job := &kubiya.Job{ID: "job_x", Name: "x", TriggerType: "cron", CronSchedule: expr, CronTimezone: tz}
		ch := collectJobs(e, []result{{id: job.ID, job: job}})
		valid = -1
		for m := range ch {
			desc := m.Desc().String()
			switch {
			case strings.Contains(desc, `"kubiya_job_schedule_valid"`):
				valid = metricValue(t, m)
				series++
			case strings.Contains(desc, "kubiya_job_schedule_"):
				series++
			}
		}
		return valid, series
	}
	warnings := func() int {
		n := 0
		for _, l := range logger.Lines() {
			if strings.Contains(l, "cron schedule does not parse") {
				n++
			}
		}
		return n
	}
	steps := []struct {
		expr, tz      string
		wantValid     float64
		wantSeries    int
		wantWarnings  int
		whatIsChecked string
	}{
		{"61 * * * *", "UTC", 0, 1, 1, "first sight of an invalid schedule"},
		{"61 * * * *", "UTC", 0, 1, 1, "same invalid schedule, second scrape"},
		{"61 * * * *", "UTC", 0, 1, 1, "same invalid schedule, third scrape"},
		{"@every 5m", "UTC", 0, 1, 2, "changed to another invalid schedule"},
		{"@every 5m", "UTC", 0, 1, 2, "unchanged"},
		{"0 9 * * *", "UTC", 1, 3, 2, "fixed: valid, prev and next, no warning"},
		{"0 9 * * *", "Nowhere/Town", 0, 1, 3, "zone broken"},
		{"0 9 * * *", "Nowhere/Town", 0, 1, 3, "zone still broken"},
		{"61 * * * *", "UTC", 0, 1, 4, "back to the first invalid schedule: a change again"},
	}
	for _, s := range steps {
		valid, series := scrape(s.expr, s.tz)
		if valid != s.wantValid || series != s.wantSeries {
			t.Errorf("%s: schedule_valid = %v with %d schedule series, want %v with %d", s.whatIsChecked, valid, series, s.wantValid, s.wantSeries)
		}
		if got := warnings(); got != s.wantWarnings {
			t.Errorf("%s: %d warnings logged so far, want %d", s.whatIsChecked, got, s.wantWarnings)
		}
	}
	for _, l := range logger.Lines() {
		if !strings.Contains(l, "level=warn") || !strings.Contains(l, "job_id=job_x") {
			t.Errorf("warning lacks level or job_id: %s", l)
		}
	}
}

// metricValue reads a gauge's or counter's value.
func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if g := pb.GetGauge(); g != nil {
		return g.GetValue()
	}
	return pb.GetCounter().GetValue()
}

// TestScheduleCacheStepsMatchSearch: however the cache moves forward (one
// step when only the next fire time passed, a search otherwise, the clock
// going back), it gives the fire times a fresh computation gives.
func TestScheduleCacheStepsMatchSearch(t *testing.T) {
	for _, tc := range []struct{ expr, tz string }{
		{"*/1 * * * *", "UTC"}, {"*/15 * * * *", "UTC"}, {"30 2 * * *", "Europe/Berlin"},
		{"0 9 * * 1-5", "America/New_York"}, {"0 0 13 * 5", "UTC"}, {"0 0 30 2 *", "UTC"},
	} {
		t.Run(tc.expr+" "+tc.tz, func(t *testing.T) {
			sched, err := parseSchedule(tc.expr, tc.tz)
			if err != nil {
				t.Fatal(err)
			}
			c := newScheduleCache()
			// Steps of 20 s to 3 days, through both 2025 DST changes, and
			// back once.
			now := time.Date(2025, 3, 28, 23, 0, 0, 0, time.UTC)
			steps := []time.Duration{20 * time.Second, 40 * time.Second, time.Minute, 7 * time.Minute, time.Hour, 26 * time.Hour, 72 * time.Hour}
			for i := range 400 {
				now = now.Add(steps[i%len(steps)])
				if i == 200 {
					now = now.Add(-50 * time.Hour)
				}
				prev, next, valid, _, _ := c.lookup("job", tc.expr, tc.tz, now)
				if !valid {
					t.Fatal("not valid")
				}
				if wantPrev, wantNext := sched.Previous(now), sched.Next(now); !prev.Equal(wantPrev) || !next.Equal(wantNext) {
					t.Fatalf("at %s: cache says %s / %s, search says %s / %s", now, prev, next, wantPrev, wantNext)
				}
			}
		})
	}
}

// TestPathologicalSchedulesScrapeWithinDeadline scrapes, through the
// collector and a fake API, jobs whose schedules hung or slowed the old
// engine: Chatham's 03:45 on its fall-back day at the instant of the change,
// schedules that never fire or fire beyond the horizon (a five-year walk
// each way), and a maximal list. Every scrape must answer before its
// deadline with the right fire times.
func TestPathologicalSchedulesScrapeWithinDeadline(t *testing.T) {
	jobs := []struct{ id, expr, tz, prev, next string }{
		{"job_chatham_yearly", "45 3 5 4 *", "Pacific/Chatham", "2025-04-04T14:00:00Z", "2026-04-04T15:00:00Z"},
		{"job_chatham_daily", "45 3 * * *", "Pacific/Chatham", "2026-04-03T14:00:00Z", "2026-04-04T15:00:00Z"},
		{"job_never", "0 0 30 2 *", "Asia/Beirut", "", ""},
		{"job_rare", "0 0 29 2 MON", "Australia/Lord_Howe", "", ""},
		{"job_long_list", strings.TrimSuffix(strings.Repeat("59,", 300), ",") + " 23 31 12 7", "America/Santiago", "2024-01-01T02:59:00Z", "2029-01-01T02:59:00Z"}, // Sundays 31 Dec, -03
	}
	bodies := map[string][]byte{}
	for _, j := range jobs {
		bodies[j.id] = []byte(`{"id":"` + j.id + `","name":"n","enabled":true,"status":"active","trigger_type":"cron",` +
			`"cron_schedule":"` + j.expr + `","cron_timezone":"` + j.tz + `","created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}`)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bodies[strings.TrimPrefix(r.URL.Path, "/api/v1/jobs/")])
	}))
	defer srv.Close()
	client, err := kubiya.NewClient(srv.URL, srv.Client(), kubiya.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	now := time.Date(2026, 4, 4, 14, 0, 0, 0, time.UTC) // Chatham's change: 03:45 +13:45 becomes 02:45 +12:45
	e := New(client, log.NewNopLogger(), Options{Jobs: ids, Now: func() time.Time { return now }})
	for scrape := range 3 {
		c, cancel := scrapeFor(e, 2*time.Second)
		done := make(chan string, 1)
		go func() { done <- gatherText(t, c) }()
		var out string
		select {
		case out = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("scrape %d did not end at its deadline", scrape)
		}
		cancel()
		for _, j := range jobs {
			sel := `{entity_id="",entity_name="",entity_type="",job_id="` + j.id + `",job_name="n"}`
			for metric, want := range map[string]string{"previous": j.prev, "next": j.next} {
				line := "kubiya_job_schedule_" + metric + "_timestamp_seconds" + sel
				if want == "" {
					if strings.Contains(out, line) {
						t.Errorf("%s: %s present, want absent", j.id, metric)
					}
					continue
				}
				w, _ := time.Parse(time.RFC3339, want)
				if !strings.Contains(out, line+" "+strconv.FormatFloat(float64(w.Unix()), 'g', -1, 64)+"\n") {
					t.Errorf("%s: %s fire time is not %s:\n%s", j.id, metric, want, out)
				}
			}
			if !strings.Contains(out, "kubiya_job_schedule_valid"+sel+" 1") {
				t.Errorf("%s: schedule not valid", j.id)
			}
		}
	}
}
