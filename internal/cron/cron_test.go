package cron

import (
	"strings"
	"testing"
	"time"
)

func load(t testing.TB, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func bitsOf(vs ...int) uint64 {
	var b uint64
	for _, v := range vs {
		b |= 1 << v
	}
	return b
}

func TestParse(t *testing.T) {
	all := func(lo, hi int) uint64 { return bitsOf(seq(lo, hi, 1)...) }
	tests := []struct {
		name, expr                    string
		minute, hour, dom, month, dow uint64
	}{
		{"stars", "* * * * *", all(0, 59), all(0, 23), all(1, 31), all(1, 12), all(0, 6)},
		{"values and lists", "5,35 1,2 3 4 5", bitsOf(5, 35), bitsOf(1, 2), bitsOf(3), bitsOf(4), bitsOf(5)},
		{"ranges and steps", "*/15 8-18/2 1-5 */4 1-5", bitsOf(0, 15, 30, 45), bitsOf(8, 10, 12, 14, 16, 18), all(1, 5), bitsOf(1, 5, 9), all(1, 5)},
		{"x/y runs to the maximum", "50/3 20/1 30/1 11/1 *", bitsOf(50, 53, 56, 59), bitsOf(20, 21, 22, 23), bitsOf(30, 31), bitsOf(11, 12), all(0, 6)},
		{"step larger than the field", "7/1000 * * * *", bitsOf(7), all(0, 23), all(1, 31), all(1, 12), all(0, 6)},
		// Day of week x/y is x..7, and 7 is Sunday: these include Sunday.
		{"dow 1/2", "0 0 * * 1/2", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 1, 3, 5)},
		{"dow 1/3", "0 0 * * 1/3", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 1, 4)},
		{"dow 3/2", "0 0 * * 3/2", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 3, 5)},
		{"dow 5/2", "0 0 * * 5/2", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 5)},
		{"dow 7 is Sunday", "0 0 * * 7", 1, 1, all(1, 31), all(1, 12), bitsOf(0)},
		{"dow 5-7", "0 0 * * 5-7", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 5, 6)},
		{"dow 1-7/3", "0 0 * * 1-7/3", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 1, 4)},
		{"dow */2", "0 0 * * */2", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 2, 4, 6)},
		// Names as Temporal reads them: month prefixes of 3+ letters, day
		// prefixes of 2+, any case.
		{"names", "0 0 * JAN,Feb,march,SEPT * ", 1, 1, all(1, 31), bitsOf(1, 2, 3, 9), all(0, 6)},
		{"day names", "0 0 * * mo,TUE,wednesday,th-fr,sa-7", 1, 1, all(1, 31), all(1, 12), bitsOf(0, 1, 2, 3, 4, 5, 6)},
		{"@yearly", "@yearly", 1, 1, bitsOf(1), bitsOf(1), all(0, 6)},
		{"@annually", "@annually", 1, 1, bitsOf(1), bitsOf(1), all(0, 6)},
		{"@monthly", "@monthly", 1, 1, bitsOf(1), all(1, 12), all(0, 6)},
		{"@weekly", "@weekly", 1, 1, all(1, 31), all(1, 12), bitsOf(0)},
		{"@daily", "@daily", 1, 1, all(1, 31), all(1, 12), all(0, 6)},
		{"@midnight", "@midnight", 1, 1, all(1, 31), all(1, 12), all(0, 6)},
		{"@hourly", "@hourly", 1, all(0, 23), all(1, 31), all(1, 12), all(0, 6)},
		{"surrounding space", "  @daily\n", 1, 1, all(1, 31), all(1, 12), all(0, 6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			got := [5]uint64{s.minute, s.hour, s.dom, s.month, s.dow}
			want := [5]uint64{tt.minute, tt.hour, tt.dom, tt.month, tt.dow}
			if got != want {
				t.Errorf("Parse(%q) = %x, want %x", tt.expr, got, want)
			}
		})
	}
}

func seq(lo, hi, step int) []int {
	var vs []int
	for v := lo; v <= hi; v += step {
		vs = append(vs, v)
	}
	return vs
}

// TestParseRefuses: what Temporal refuses, and what the control plane does
// not store in cron_schedule.
func TestParseRefuses(t *testing.T) {
	for _, expr := range []string{
		"0 0 1,,2 * *", "0 0 1, * *", ",0 0 * * *", // empty list elements
		"61 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 32 * *", "0 0 * 13 *", "0 0 * * 8",
		"0 0 * * 7-5", "5-1 * * * *", "1-2-3 * * * *", "1/2/3 * * * *", "*/0 * * * *", "*/-1 * * * *",
		"-5 * * * *", "5- * * * *", "*-5 * * * *", "0 0 * * ?", "0 0 ? * *", "0 0 L * *", "0 0 15W * *", "0 0 * * 5#3",
		"0 0 * ja *", "0 0 * * s", "0 0 * * funday", "0 0 * * sat-sun",
		"* * * *", "0 0 0 * * *", "0 0 0 * * * 2026", "", "every day at nine",
		"@every 5m", "@every", "@reboot", "@DAILY", "CRON_TZ=Europe/Berlin 0 9 * * *", "TZ=UTC 0 9 * *",
	} {
		if s, err := Parse(expr, time.UTC); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", expr, *s)
		}
	}
}

func at(zone string, y int, mo time.Month, d, h, mi int) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	return time.Date(y, mo, d, h, mi, 0, 0, loc)
}

func z(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
}

// TestFireTimes: each finding of issue 10 and what was right before it, by
// name. Expected instants are worked out from the zone's rules (transitions
// in the comments); each case is also checked against the oracle over a
// fortnight around now.
func TestFireTimes(t *testing.T) {
	none := time.Time{}
	tests := []struct {
		name, expr, zone string
		now, prev, next  time.Time
	}{
		// Pacific/Chatham: 2026-04-05 03:45 +13:45 falls back to 02:45
		// +12:45 (14:00Z on the 4th); 2026-09-27 02:45 +12:45 springs to
		// 03:45 +13:45 (14:00Z on the 26th); 2027-04-04 as 2026-04-05.
		{"Chatham 45 3 5 4 * (hung)", "45 3 5 4 *", "Pacific/Chatham", z(2026, 4, 1, 0, 0), z(2025, 4, 4, 14, 0), z(2026, 4, 4, 15, 0)},
		{"Chatham 45 3 5 4 * from its fire time", "45 3 5 4 *", "Pacific/Chatham", z(2026, 4, 4, 15, 0), z(2026, 4, 4, 15, 0), z(2027, 4, 4, 15, 0)},
		{"Chatham daily 03:45 at 2027-04-03 14:00Z", "45 3 * * *", "Pacific/Chatham", z(2027, 4, 3, 14, 0), z(2027, 4, 2, 14, 0), z(2027, 4, 3, 15, 0)},
		{"Chatham daily 03:45 at 2027-04-04 14:00Z", "45 3 * * *", "Pacific/Chatham", z(2027, 4, 4, 14, 0), z(2027, 4, 3, 15, 0), z(2027, 4, 4, 15, 0)},
		{"Chatham 45 2 27 9 * is in the gap", "45 2 27 9 *", "Pacific/Chatham", z(2026, 9, 1, 0, 0), z(2025, 9, 26, 14, 0), z(2027, 9, 26, 13, 0)},
		{"Chatham first real minute after the gap", "45 3 27 9 *", "Pacific/Chatham", z(2026, 9, 1, 0, 0), z(2025, 9, 26, 15, 0), z(2026, 9, 26, 14, 0)},
		{"Chatham overlap: first 02:45", "45 2 * * *", "Pacific/Chatham", z(2026, 4, 4, 12, 0), z(2026, 4, 3, 13, 0), z(2026, 4, 4, 13, 0)},
		{"Chatham overlap: second 02:45", "45 2 * * *", "Pacific/Chatham", z(2026, 4, 4, 13, 30), z(2026, 4, 4, 13, 0), z(2026, 4, 4, 14, 0)},
		{"Chatham overlap: after both", "45 2 * * *", "Pacific/Chatham", z(2026, 4, 4, 14, 30), z(2026, 4, 4, 14, 0), z(2026, 4, 5, 14, 0)},
		// Australia/Lord_Howe: 2026-10-04 02:00 +10:30 springs to 02:30 +11
		// (15:30Z on the 3rd); 2026-04-05 02:00 +11 falls back to 01:30 +10:30.
		{"Lord Howe 30 1 * * * before the change", "30 1 * * *", "Australia/Lord_Howe", z(2026, 10, 3, 12, 0), z(2026, 10, 2, 15, 0), z(2026, 10, 3, 15, 0)},
		{"Lord Howe 30 1 * * * after the change", "30 1 * * *", "Australia/Lord_Howe", z(2026, 10, 3, 15, 0), z(2026, 10, 3, 15, 0), z(2026, 10, 4, 14, 30)},
		{"Lord Howe 02:15 is in the gap", "15 2 * * *", "Australia/Lord_Howe", z(2026, 10, 3, 12, 0), z(2026, 10, 2, 15, 45), z(2026, 10, 4, 15, 15)},
		{"Lord Howe 02:30 is the first real minute", "30 2 * * *", "Australia/Lord_Howe", z(2026, 10, 3, 12, 0), z(2026, 10, 2, 16, 0), z(2026, 10, 3, 15, 30)},
		{"Lord Howe overlap: 01:45 twice", "45 1 * * *", "Australia/Lord_Howe", z(2026, 4, 4, 14, 50), z(2026, 4, 4, 14, 45), z(2026, 4, 4, 15, 15)},
		{"Lord Howe 03:00 on the change day", "0 3 * * *", "Australia/Lord_Howe", z(2025, 10, 4, 12, 0), z(2025, 10, 3, 16, 30), z(2025, 10, 4, 16, 0)},
		// Asia/Beirut: 2026-03-29 00:00 +02 springs to 01:00 +03 (22:00Z on
		// the 28th); 2027-03-28 likewise; 2026-10-24 24:00 +03 falls back to
		// 23:00 +02.
		{"Beirut 0 1 28 3 *", "0 1 28 3 *", "Asia/Beirut", z(2026, 3, 1, 0, 0), z(2025, 3, 27, 23, 0), z(2026, 3, 27, 23, 0)},
		{"Beirut 0 12 28 3 * on a change day", "0 12 28 3 *", "Asia/Beirut", z(2026, 12, 1, 0, 0), z(2026, 3, 28, 10, 0), z(2027, 3, 28, 9, 0)},
		{"Beirut 0 2 * * SUN on the DST Sunday", "0 2 * * SUN", "Asia/Beirut", z(2026, 3, 25, 0, 0), z(2026, 3, 22, 0, 0), z(2026, 3, 28, 23, 0)},
		{"Beirut midnight is in the gap", "0 0 * * *", "Asia/Beirut", z(2026, 3, 28, 12, 0), z(2026, 3, 27, 22, 0), z(2026, 3, 29, 21, 0)},
		{"Beirut 23:30 twice", "30 23 * * *", "Asia/Beirut", z(2026, 10, 24, 20, 40), z(2026, 10, 24, 20, 30), z(2026, 10, 24, 21, 30)},
		// Africa/Cairo: 2026-04-24 00:00 +02 springs to 01:00 +03;
		// 2026-10-29 24:00 +03 falls back to 23:00 +02.
		{"Cairo midnight on the spring day is in the gap", "0 0 24 4 *", "Africa/Cairo", z(2026, 4, 1, 0, 0), z(2025, 4, 23, 22, 0), z(2027, 4, 23, 22, 0)},
		{"Cairo 01:00 on the spring day", "0 1 24 4 *", "Africa/Cairo", z(2026, 4, 1, 0, 0), z(2025, 4, 23, 23, 0), z(2026, 4, 23, 22, 0)},
		{"Cairo 23:30 twice", "30 23 29 10 *", "Africa/Cairo", z(2026, 10, 29, 21, 0), z(2026, 10, 29, 20, 30), z(2026, 10, 29, 21, 30)},
		// Atlantic/Azores: 2026-03-29 00:00 -01 springs to 01:00 +00;
		// 2026-10-25 01:00 +00 falls back to 00:00 -01.
		{"Azores @daily skips the spring day", "@daily", "Atlantic/Azores", z(2026, 3, 28, 12, 0), z(2026, 3, 28, 1, 0), z(2026, 3, 30, 0, 0)},
		{"Azores @daily twice on the fall day", "@daily", "Atlantic/Azores", z(2026, 10, 25, 0, 30), z(2026, 10, 25, 0, 0), z(2026, 10, 25, 1, 0)},
		// America/Santiago: 2026-04-05 00:00 -03 falls back to 04-04 23:00
		// -04; 2026-09-06 00:00 -04 springs to 01:00 -03.
		{"Santiago 23:30 twice", "30 23 4 4 *", "America/Santiago", z(2026, 4, 5, 3, 0), z(2026, 4, 5, 2, 30), z(2026, 4, 5, 3, 30)},
		{"Santiago midnight of the spring day is in the gap", "0 0 6 9 *", "America/Santiago", z(2026, 9, 1, 0, 0), z(2025, 9, 6, 4, 0), z(2027, 9, 6, 3, 0)},
		{"Santiago 01:00 of the spring day", "0 1 6 9 *", "America/Santiago", z(2026, 9, 1, 0, 0), z(2025, 9, 6, 5, 0), z(2026, 9, 6, 4, 0)},
		// Horizon: five years both ways.
		{"previous Friday 13 May is 4.6 years back", "0 0 13 5 FRI", "UTC", z(2026, 12, 5, 0, 0), z(2022, 5, 13, 0, 0), none},
		{"next Friday 13 May is 6.4 years ahead: none", "0 0 13 5 FRI", "UTC", z(2026, 12, 5, 0, 0), z(2022, 5, 13, 0, 0), none},
		{"never fires", "0 0 30 2 *", "UTC", z(2026, 12, 5, 0, 0), none, none},
		// What was right: whole-hour zones at 01:00-03:00 on change days.
		{"New York 02:30 skipped in spring", "30 2 * * *", "America/New_York", z(2026, 3, 8, 3, 0), z(2026, 3, 7, 7, 30), z(2026, 3, 9, 6, 30)},
		{"New York 01:30 twice in autumn", "30 1 * * *", "America/New_York", z(2026, 11, 1, 5, 45), z(2026, 11, 1, 5, 30), z(2026, 11, 1, 6, 30)},
		{"London 01:30 skipped in spring", "30 1 * * *", "Europe/London", z(2026, 3, 28, 12, 0), z(2026, 3, 28, 1, 30), z(2026, 3, 30, 0, 30)},
		{"London 01:30 twice in autumn", "30 1 * * *", "Europe/London", z(2026, 10, 25, 0, 45), z(2026, 10, 25, 0, 30), z(2026, 10, 25, 1, 30)},
		{"Berlin 02:30 skipped in spring", "30 2 * * *", "Europe/Berlin", z(2026, 3, 28, 12, 0), z(2026, 3, 28, 1, 30), z(2026, 3, 30, 0, 30)},
		{"Berlin 02:30 twice in autumn", "30 2 * * *", "Europe/Berlin", z(2026, 10, 25, 0, 45), z(2026, 10, 25, 0, 30), z(2026, 10, 25, 1, 30)},
		{"Sydney 02:30 twice in autumn", "30 2 * * *", "Australia/Sydney", z(2026, 4, 4, 15, 45), z(2026, 4, 4, 15, 30), z(2026, 4, 4, 16, 30)},
		{"Sydney 02:30 skipped in spring", "30 2 * * *", "Australia/Sydney", z(2026, 10, 3, 12, 0), z(2026, 10, 2, 16, 30), z(2026, 10, 4, 15, 30)},
		{"Auckland 02:30 twice in autumn", "30 2 * * *", "Pacific/Auckland", z(2026, 4, 4, 13, 45), z(2026, 4, 4, 13, 30), z(2026, 4, 4, 14, 30)},
		{"Auckland 02:30 skipped in spring", "30 2 * * *", "Pacific/Auckland", z(2026, 9, 26, 12, 0), z(2026, 9, 25, 14, 30), z(2026, 9, 27, 13, 30)},
		{"Auckland 03:00 after the gap", "0 3 * * *", "Pacific/Auckland", z(2026, 9, 26, 12, 0), z(2026, 9, 25, 15, 0), z(2026, 9, 26, 14, 0)},
		// Day of month AND day of week; 7 is Sunday.
		{"1st that is a Monday", "0 0 1 * MON", "UTC", z(2026, 7, 1, 0, 0), z(2026, 6, 1, 0, 0), z(2027, 2, 1, 0, 0)},
		{"Friday 13th", "0 0 13 * 5", "UTC", z(2026, 12, 5, 0, 0), z(2026, 11, 13, 0, 0), z(2027, 8, 13, 0, 0)},
		{"7 is Sunday", "0 0 * * 7", "UTC", z(2026, 12, 5, 0, 0), z(2026, 11, 29, 0, 0), z(2026, 12, 6, 0, 0)},
		{"dow 5/2 includes Sunday", "0 9 * * 5/2", "UTC", z(2026, 12, 5, 12, 0), z(2026, 12, 4, 9, 0), z(2026, 12, 6, 9, 0)},
		// Past the tz table (2037) Go's Time.ZoneBounds misreports the end
		// of a leap year; the engine does not rely on it.
		{"end of 2040 in Chicago", "0 12 31 12 *", "America/Chicago", z(2040, 12, 30, 0, 0), z(2039, 12, 31, 18, 0), z(2040, 12, 31, 18, 0)},
		{"end of 2040 in Sydney, every minute", "* * * * *", "Australia/Sydney", z(2040, 12, 31, 6, 30), z(2040, 12, 31, 6, 30), z(2040, 12, 31, 6, 31)},
		// Boundaries: now on a fire time is previous; sub-second now.
		{"now on a fire time", "0 17 * * *", "UTC", z(2026, 11, 20, 17, 0), z(2026, 11, 20, 17, 0), z(2026, 11, 21, 17, 0)},
		{"just before a fire time", "0 17 * * *", "UTC", z(2026, 11, 20, 17, 0).Add(-time.Nanosecond), z(2026, 11, 19, 17, 0), z(2026, 11, 20, 17, 0)},
		{"fixed zone west of the date line", "0 0 * * *", "Etc/GMT+12", z(2026, 12, 5, 0, 0), z(2026, 12, 4, 12, 0), z(2026, 12, 5, 12, 0)},
		{"Kiritimati +14", "0 0 * * *", "Pacific/Kiritimati", z(2026, 12, 5, 0, 0), z(2026, 12, 4, 10, 0), z(2026, 12, 5, 10, 0)},
		{"Kathmandu +05:45", "0 9 * * *", "Asia/Kathmandu", z(2026, 12, 5, 0, 0), z(2026, 12, 4, 3, 15), z(2026, 12, 5, 3, 15)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := load(t, tt.zone)
			s, err := Parse(tt.expr, loc)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Previous(tt.now); !got.Equal(tt.prev) {
				t.Errorf("Previous(%s) = %s, want %s", show(tt.now), show(got), show(tt.prev))
			}
			if got := s.Next(tt.now); !got.Equal(tt.next) {
				t.Errorf("Next(%s) = %s, want %s", show(tt.now), show(got), show(tt.next))
			}
			from, to := tt.now.Add(-7*24*time.Hour), tt.now.Add(7*24*time.Hour)
			ws, ok := oracleWalls(loc, from, to, time.Minute)
			if !ok {
				t.Fatal("oracle does not apply")
			}
			checkAgainstOracle(t, tt.name, s, oracleFires(s, ws), from, to, tt.now)
		})
	}
}

// TestDocExamples checks the gap and overlap days
// docs/schedules.md shows, as local wall times.
func TestDocExamples(t *testing.T) {
	tests := []struct {
		expr, zone string
		from       time.Time
		want       []string // the next fire times, local
	}{
		{"*/30 * * * *", "Australia/Lord_Howe", at("Australia/Lord_Howe", 2026, 10, 4, 1, 0), []string{
			"2026-10-04 01:30 +1030", "2026-10-04 02:30 +1100", "2026-10-04 03:00 +1100"}},
		{"*/30 * * * *", "Australia/Lord_Howe", at("Australia/Lord_Howe", 2026, 4, 5, 1, 0), []string{
			"2026-04-05 01:30 +1100", "2026-04-05 01:30 +1030", "2026-04-05 02:00 +1030"}},
		{"30 * * * *", "Asia/Beirut", at("Asia/Beirut", 2026, 3, 28, 23, 0), []string{
			"2026-03-28 23:30 +0200", "2026-03-29 01:30 +0300", "2026-03-29 02:30 +0300"}},
		{"30 * * * *", "Asia/Beirut", at("Asia/Beirut", 2026, 10, 24, 22, 0), []string{
			"2026-10-24 22:30 +0300", "2026-10-24 23:30 +0300", "2026-10-24 23:30 +0200", "2026-10-25 00:30 +0200"}},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr, load(t, tt.zone))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for f := tt.from; len(got) < len(tt.want); {
			f = s.Next(f)
			got = append(got, f.Format("2006-01-02 15:04 -0700"))
		}
		if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
			t.Errorf("%s in %s from %s:\n got %s\nwant %s", tt.expr, tt.zone, tt.from, got, tt.want)
		}
	}
}
