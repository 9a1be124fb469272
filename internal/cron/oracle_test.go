package cron

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// The oracle: step through instants at a fixed step (one minute, or 15
// minutes for schedules whose minutes are all multiples of 15), ask Go's time
// package for each one's offset in the zone, read its wall clock (instant
// plus offset), and keep those whose wall time matches all five fields. A wall time in a gap is never shown, so it never
// fires; one in an overlap is shown twice, so it fires twice. Slow, but
// obviously right, as long as every offset the zone uses is a multiple of the
// step (checked: oracleWalls refuses otherwise).

// wall is one instant and the local wall time it shows.
type wall struct {
	at                        int64
	min, hour, dom, mon, wday uint8
}

// oracleWalls lists the instants from..to (inclusive, aligned to step) with
// their wall times in loc; ok is false if some offset in that span is not a
// multiple of step, where the oracle would miss fire times.
func oracleWalls(loc *time.Location, from, to time.Time, step time.Duration) (ws []wall, ok bool) {
	sec := int64(step / time.Second)
	first := (from.Unix() + sec - 1) / sec * sec
	ws = make([]wall, 0, (to.Unix()-first)/sec+1)
	for at := first; at <= to.Unix(); at += sec {
		_, off := time.Unix(at, 0).In(loc).Zone()
		if int64(off)%sec != 0 {
			return nil, false
		}
		lt := time.Unix(at+int64(off), 0).UTC() // the wall clock, read once
		_, mo, d := lt.Date()
		h, m, _ := lt.Clock()
		ws = append(ws, wall{at, uint8(m), uint8(h), uint8(d), uint8(mo), uint8(lt.Weekday())})
	}
	return ws, true
}

// oracleFires returns the instants of ws whose wall time matches s's fields.
func oracleFires(s *Schedule, ws []wall) []int64 {
	var fires []int64
	for i := range ws {
		w := &ws[i]
		if s.minute&(1<<w.min) != 0 && s.hour&(1<<w.hour) != 0 && s.dom&(1<<w.dom) != 0 &&
			s.month&(1<<w.mon) != 0 && s.dow&(1<<w.wday) != 0 {
			fires = append(fires, w.at)
		}
	}
	return fires
}

// checkAgainstOracle compares s.Next and s.Previous at instant at with the
// oracle's fire times over [from, to]. Where the oracle's span does not
// reach as far as the answer (a fire time beyond the span, or the horizon
// beyond it), the engine's answer need only lie outside the span.
func checkAgainstOracle(t testing.TB, label string, s *Schedule, fires []int64, from, to, at time.Time) {
	t.Helper()
	h := int64(Horizon / time.Second)
	ts := at.Unix()
	// Next: first fire > at within the horizon.
	i := sort.Search(len(fires), func(i int) bool { return fires[i] > ts })
	want, known := int64(0), to.Unix() >= ts+h
	if i < len(fires) && fires[i] <= ts+h {
		want, known = fires[i], true
	}
	if got := s.Next(at); !agrees(got, want, known, to.Unix(), 1) {
		t.Fatalf("%s: Next(%s) = %s, oracle says %s", label, at.UTC().Format(time.RFC3339), show(got), showWant(want, known, to))
	}
	// Previous: last fire <= at within the horizon.
	i = sort.Search(len(fires), func(i int) bool { return fires[i] > ts }) - 1
	want, known = 0, from.Unix() <= ts-h
	if i >= 0 && fires[i] >= ts-h {
		want, known = fires[i], true
	}
	if got := s.Previous(at); !agrees(got, want, known, from.Unix(), -1) {
		t.Fatalf("%s: Previous(%s) = %s, oracle says %s", label, at.UTC().Format(time.RFC3339), show(got), showWant(want, known, from))
	}
}

// agrees: got equals want (unix seconds, 0 for none) when the oracle knows;
// otherwise got is none or beyond edge in direction dir.
func agrees(got time.Time, want int64, known bool, edge int64, dir int64) bool {
	if known || want != 0 {
		if want == 0 {
			return got.IsZero()
		}
		return got.Unix() == want && got.Nanosecond() == 0
	}
	return got.IsZero() || dir*(got.Unix()-edge) > 0
}

func show(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

func showWant(want int64, known bool, edge time.Time) string {
	switch {
	case want != 0:
		return time.Unix(want, 0).UTC().Format(time.RFC3339)
	case known:
		return "none"
	}
	return "none up to " + edge.UTC().Format(time.RFC3339)
}

// randomExpr generates a cron expression: stars, values, ranges, steps,
// lists and names, weighted toward schedules that fire often enough for a
// few days' window to tell.
func randomExpr(r *rand.Rand) string {
	months := []string{"jan", "FEB", "Mar", "april", "may", "jun", "jul", "aug", "sep", "oct", "nov", "December"}
	days := []string{"sun", "MON", "tu", "wed", "thursday", "fri", "SAT", "7"}
	elem := func(lo, hi int, names []string) string {
		name := func(v int) string {
			if names != nil && r.IntN(3) == 0 {
				return names[v-lo]
			}
			return fmt.Sprint(v)
		}
		a := lo + r.IntN(hi-lo+1)
		b := a + r.IntN(hi-a+1)
		switch r.IntN(6) {
		case 0:
			return name(a)
		case 1:
			return name(a) + "-" + name(b)
		case 2:
			return fmt.Sprintf("*/%d", 1+r.IntN(hi-lo+1))
		case 3:
			return fmt.Sprintf("%s/%d", name(a), 1+r.IntN(hi-lo+1))
		case 4:
			return fmt.Sprintf("%s-%s/%d", name(a), name(b), 1+r.IntN(hi-lo+1))
		}
		return "*"
	}
	field := func(lo, hi int, names []string, star int) string {
		if r.IntN(star) != 0 {
			return "*"
		}
		parts := []string{elem(lo, hi, names)}
		for r.IntN(3) == 0 {
			parts = append(parts, elem(lo, hi, names))
		}
		return strings.Join(parts, ",")
	}
	return strings.Join([]string{field(0, 59, nil, 1), field(0, 23, nil, 2),
		field(1, 31, nil, 4), field(1, 12, months, 5), field(0, 7, days, 4)}, " ")
}
