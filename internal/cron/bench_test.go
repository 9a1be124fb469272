package cron

import (
	"testing"
	"time"
)

// BenchmarkSearch: one Next and one Previous, as a cache miss of the
// exporter's schedule cache costs, for a frequent, a daily, a dated and a
// never-firing schedule (the worst case: five years each way).
func BenchmarkSearch(b *testing.B) {
	now := time.Date(2026, 12, 5, 10, 17, 0, 0, time.UTC)
	for _, tc := range []struct{ name, expr, zone string }{
		{"minutely", "* * * * *", "Europe/Berlin"},
		{"daily", "30 2 * * *", "Australia/Lord_Howe"},
		{"dated", "45 3 5 4 *", "Pacific/Chatham"},
		{"never", "0 0 30 2 *", "America/New_York"},
	} {
		s, err := Parse(tc.expr, load(b, tc.zone))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				s.Next(now)
				s.Previous(now)
			}
		})
	}
}
