// Package dashboards builds the kubiya_exporter Grafana dashboards from typed
// Go code (grafana-foundation-sdk), so a typo in a panel option is a compile
// error rather than a silently broken panel, and renders them to the JSON
// files committed beside this file.
//
// It also holds helpers for tests that run the dashboards' queries against a
// real Prometheus: Queries extracts every panel target, Variables lists the
// template variables, and Substitute expands Grafana's template variables the
// way Grafana's Prometheus data source does.
//
// Regenerate the JSON with `go generate ./dashboards` (or `make dashboards`).
package dashboards

//go:generate go run ./gen -out .
