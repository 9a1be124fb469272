package cron

import (
	"archive/zip"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the zones below load on a machine without a system tz database
)

// oddZones are checked whatever their transitions: 30- and 45-minute
// offsets and changes, changes at midnight, the extreme fixed offsets.
var oddZones = []string{
	"Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu", "Australia/Eucla",
	"Asia/Beirut", "Africa/Cairo", "Atlantic/Azores", "America/Santiago",
	"Etc/GMT+12", "Pacific/Kiritimati", "UTC",
}

// tzZones lists the zone names of Go's tz database (the zoneinfo.zip that
// time/tzdata embeds is built from), one name per distinct zone file: links
// such as US/Eastern compute the same as their target.
func tzZones(t testing.TB) []string {
	t.Helper()
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	r, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(root)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		t.Fatalf("zone list: %v", err)
	}
	defer r.Close()
	seen := map[string]bool{}
	var names []string
	for _, f := range r.File {
		key := fmt.Sprint(f.CRC32, f.UncompressedSize64)
		if f.FileInfo().IsDir() || seen[key] {
			continue
		}
		seen[key] = true
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// transitions returns the instants in [from, to) at which loc's offset
// changes. (ZoneBounds can return an end that is not after the time asked
// about, at the end of leap years past the tz table: then it steps a day.)
func transitions(loc *time.Location, from, to time.Time) []time.Time {
	var ts []time.Time
	for t := from; t.Before(to); {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(to) {
			break
		}
		if !end.After(t) {
			t = t.Add(24 * time.Hour)
			continue
		}
		_, before := end.Add(-time.Second).In(loc).Zone()
		if _, after := end.In(loc).Zone(); after != before {
			ts = append(ts, end)
		}
		t = end
	}
	return ts
}

// TestDifferential compares Next and Previous with the oracle in every zone
// of the tz database that changes its offset in the next two years, and in
// the odd zones, at now and around each change.
//
// The oracle steps minute by minute, so it cannot cover five years per
// zone in a test's time. Each check uses a window of four days around the
// instant (two before, two after): schedules that fire within the window
// are compared exactly; for sparser ones the engine's answer must lie
// outside the window (TestDifferentialHorizon covers those over the full
// five years). The schedules are the every-minute and hourly kinds, daily,
// dated and weekday schedules at the wall times just before, inside and
// after the change in both the old and the new offset (the gap and overlap
// times themselves), and random expressions.
func TestDifferential(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	zones := map[string]bool{}
	for _, z := range oddZones {
		zones[z] = true
	}
	var names []string
	for _, z := range tzZones(t) {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatalf("load %s: %v", z, err)
		}
		if zones[z] || len(transitions(loc, now, now.AddDate(2, 0, 0))) > 0 {
			names = append(names, z)
		}
		delete(zones, z)
	}
	for z := range zones {
		names = append(names, z) // an odd zone whose data is a link's
	}
	if len(names) < 50 {
		t.Fatalf("only %d zones to test", len(names))
	}
	var windows, checks atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d zones, %d windows, %d Next/Previous checks", len(names), windows.Load(), checks.Load())
	})
	for _, z := range names {
		t.Run(z, func(t *testing.T) {
			t.Parallel()
			loc := load(t, z)
			centres := append([]time.Time{now}, transitions(loc, now, now.AddDate(2, 0, 0))...)
			for _, c := range centres {
				windows.Add(1)
				checks.Add(int64(diffWindow(t, z, loc, c)))
			}
		})
	}
}

// diffWindow checks generated schedules at instants around centre against
// the oracle over centre ± 2 days; it returns the number of checks.
func diffWindow(t *testing.T, zone string, loc *time.Location, centre time.Time) int {
	h := fnv.New64a()
	fmt.Fprint(h, zone, centre.Unix())
	r := rand.New(rand.NewPCG(h.Sum64(), 10))
	from, to := centre.Add(-48*time.Hour), centre.Add(48*time.Hour)
	ws, ok := oracleWalls(loc, from, to, time.Minute)
	if !ok {
		t.Fatalf("%s: an offset that is not whole minutes near %s", zone, centre)
	}
	exprs := []string{"* * * * *", "*/7 * * * *", "0 * * * *", "30 * * * *", "45 * * * *", "15,45 */2 * * *"}
	_, offBefore := centre.Add(-time.Second).In(loc).Zone()
	_, offAfter := centre.In(loc).Zone()
	for _, d := range []time.Duration{-time.Hour, -30 * time.Minute, -15 * time.Minute, 0, 15 * time.Minute, 30 * time.Minute, time.Hour} {
		for _, off := range []int{offBefore, offAfter} {
			w := centre.Add(d).Add(time.Duration(off) * time.Second).UTC() // a wall time, maybe in a gap
			switch r.IntN(4) {
			case 0:
				exprs = append(exprs, fmt.Sprintf("%d %d * * *", w.Minute(), w.Hour()))
			case 1:
				exprs = append(exprs, fmt.Sprintf("%d %d %d %d *", w.Minute(), w.Hour(), w.Day(), w.Month()))
			case 2:
				exprs = append(exprs, fmt.Sprintf("%d %d * * %d", w.Minute(), w.Hour(), w.Weekday()))
			default:
				exprs = append(exprs, fmt.Sprintf("%d * %d * *", w.Minute(), w.Day()))
			}
		}
	}
	for range 3 {
		exprs = append(exprs, randomExpr(r))
	}
	var instants []time.Time
	for _, d := range []time.Duration{-25 * time.Hour, -61 * time.Minute, -30 * time.Minute, -time.Second, 0, time.Second, 29 * time.Minute, time.Hour, 25 * time.Hour} {
		instants = append(instants, centre.Add(d))
	}
	instants = append(instants, centre.Add(time.Duration(r.Int64N(int64(48*time.Hour)))-24*time.Hour))
	n := 0
	for _, expr := range exprs {
		s, err := Parse(expr, loc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		fires := oracleFires(s, ws)
		for _, at := range instants {
			checkAgainstOracle(t, fmt.Sprintf("%q in %s", expr, zone), s, fires, from, to, at)
			n += 2
		}
	}
	return n
}

// TestDifferentialHorizon compares with the oracle over the whole five-year
// horizon, both ways, for sparse schedules (yearly, dated, weekday-and-date)
// in the zones with daylight saving time among the odd ones, and a few
// common ones. To afford five years the oracle
// steps 15 minutes, which sees every fire time of a schedule whose minutes
// are multiples of 15 in a zone whose offsets are (checked).
func TestDifferentialHorizon(t *testing.T) {
	now := time.Now().Truncate(time.Minute)
	from, to := now.Add(-Horizon-48*time.Hour), now.Add(Horizon+48*time.Hour)
	exprs := []string{
		"0 0 13 5 FRI", "45 3 5 4 *", "45 2 27 9 *", "0 12 28 3 *", "0 1 28 3 *", "30 1 4 10 *",
		"0 0 29 2 *", "0 0 29 2 MON", "0 0 30 2 *", "0 0 31 * *", "@yearly", "@monthly",
		"30 23 * 10 SAT", "0 0 24 4 *", "15 2 27 9 SUN", "0,30 0-2 1 1,4,10 *",
	}
	zones := []string{"America/New_York", "Europe/London", "Australia/Sydney", "Pacific/Auckland",
		"Australia/Lord_Howe", "Pacific/Chatham", "Asia/Beirut", "Africa/Cairo", "Atlantic/Azores", "America/Santiago"}
	for _, z := range zones {
		t.Run(z, func(t *testing.T) {
			t.Parallel()
			loc := load(t, z)
			ws, ok := oracleWalls(loc, from, to, 15*time.Minute)
			if !ok {
				t.Fatalf("%s: an offset that is not a multiple of 15 minutes", z)
			}
			for _, expr := range exprs {
				s, err := Parse(expr, loc)
				if err != nil {
					t.Fatal(err)
				}
				fires := oracleFires(s, ws)
				for _, d := range []time.Duration{0, -47 * time.Hour, 47 * time.Hour, 13*time.Hour + 7*time.Minute} {
					checkAgainstOracle(t, fmt.Sprintf("%q in %s", expr, z), s, fires, from, to, now.Add(d))
				}
			}
		})
	}
}

// fuzzZones are the zones the fuzz target picks from.
var fuzzZones = append([]string{
	"America/New_York", "Europe/Berlin", "Europe/London", "Australia/Sydney", "Pacific/Auckland",
	"America/Havana", "Asia/Gaza", "Pacific/Apia", "America/St_Johns", "Europe/Dublin", "Africa/Casablanca",
}, oddZones...)

// FuzzSchedule: for a random expression, zone and instant (2000-2100), the
// engine agrees with the oracle over the two days either side, and never
// panics on any expression.
func FuzzSchedule(f *testing.F) {
	seeds := []string{"45 3 5 4 *", "45 3 * * *", "30 1 * * *", "45 2 27 9 *", "0 1 28 3 *", "0 2 * * SUN",
		"0 0 1,,2 * *", "0 0 * * 1/2", "*/7 * * * *", "0 0 13 5 FRI", "@daily", "30 23 * * *", "15 0-3 * * 0,7"}
	r := rand.New(rand.NewPCG(1, 2))
	for i, s := range seeds {
		f.Add(s, uint8(i), int64(1775000000+i*86400*37))
	}
	for i := range 20 {
		f.Add(randomExpr(r), uint8(i), r.Int64())
	}
	f.Fuzz(func(t *testing.T, expr string, zone uint8, unix int64) {
		loc := load(t, fuzzZones[int(zone)%len(fuzzZones)])
		if len(expr) > 1024 {
			return
		}
		s, err := Parse(expr, loc)
		if err != nil {
			if strings.TrimSpace(expr) == "* * * * *" {
				t.Fatal(err)
			}
			return
		}
		const lo, span = 946684800, 100 * 365 * 86400 // 2000-01-01, about a century
		at := time.Unix(lo+(unix%span+span)%span, 0)
		from, to := at.Add(-48*time.Hour), at.Add(48*time.Hour)
		ws, ok := oracleWalls(loc, from, to, time.Minute)
		if !ok {
			return
		}
		checkAgainstOracle(t, fmt.Sprintf("%q in %s", expr, loc), s, oracleFires(s, ws), from, to, at)
	})
}
