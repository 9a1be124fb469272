// Package alerts holds the Prometheus recording and alerting rules for
// kubiya_exporter (kubiya.rules.yml), their promtool unit tests (tests/),
// and an example Alertmanager configuration (alertmanager.example.yml).
// See README.md in this directory.
//
// The Go API is for tests that load the shipped rules into a real Prometheus:
// RuleFile is the rule file as shipped, and WithShortDurations derives a copy
// whose alerts fire within seconds, without editing the shipped file.
package alerts

import (
	_ "embed" // for the rule and Alertmanager files
	"regexp"
)

// RuleFile is alerts/kubiya.rules.yml as shipped.
//
//go:embed kubiya.rules.yml
var RuleFile []byte

// AlertmanagerExample is alerts/alertmanager.example.yml as shipped.
//
//go:embed alertmanager.example.yml
var AlertmanagerExample []byte

var (
	forLine     = regexp.MustCompile(`(?m)^(\s+(?:keep_firing_)?for: ).+$`)
	missedGrace = regexp.MustCompile(`offset 10m\b`)
)

// WithShortDurations returns RuleFile with every alert's `for:` and
// `keep_firing_for:` set to forDuration and the KubiyaJobMissedRun grace period (the `offset 10m` of
// the kubiya_job:schedule_due_timestamp_seconds recording rule) set to grace.
// Both are Prometheus durations such as "5s". Windows that are part of an
// alert's meaning (1h/6h/7h increases, 24h without success, the 1h a run
// gets to finish in KubiyaJobNoRecentSuccess) are left alone.
func WithShortDurations(forDuration, grace string) []byte {
	out := forLine.ReplaceAll(RuleFile, []byte("${1}"+forDuration))
	return missedGrace.ReplaceAll(out, []byte("offset "+grace))
}
