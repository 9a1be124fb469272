// Package e2e holds the end-to-end test of kubiya_exporter with the real
// components: the kubiya-simulator and exporter binaries built from this
// tree, Debian's Prometheus (the shipped rules, with shortened durations) and
// Alertmanager (the example config, pointed at an in-process webhook).
// Faults are injected into the running simulator through its admin API and
// the test asserts which alerts reach the webhook and which do not. See
// docs/e2e.md. The package has tests only.
package e2e
