package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// PromQL building blocks of the overview.
var (
	// jobUpFiltered is kubiya_job_up (labelled by job_id only) narrowed to
	// the job filters: it drops jobs whose kubiya_job_info exists but does
	// not match, and keeps jobs that cannot be fetched (they have no info
	// series, so their name is unknown and a filter cannot exclude them).
	jobUpFiltered = fmt.Sprintf(`(kubiya_job_up{%s} unless %s (kubiya_job_info{%s} unless %s kubiya_job_info{%s}))`,
		targetSel, matchJob, targetSel, matchJob, filterSel)

	// overdueJobs is the missed-run alert's logic over the job filters.
	overdueJobs = missedRun(filterSel)

	// failingJobs: failed executions increased over the range, the job
	// cannot be fetched, or the control plane marks it failed.
	failingJobs = fmt.Sprintf(`(max by (job_id) (increase(kubiya_job_executions_failed_total{%s}[$__range]) > 0) or max by (job_id) (%s == 0) or max by (job_id) (kubiya_job_status{%s, status="failed"} == 1))`,
		filterSel, jobUpFiltered, filterSel)
)

// Overview builds the fleet dashboard: every watched job at a glance.
func Overview() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("Kubiya / Jobs overview").
		Uid(OverviewUID).
		Description("Kubiya agent control plane jobs watched by kubiya_exporter: state, schedule, executions and exporter health.").
		Tags([]string{"kubiya", "kubiya_exporter"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Annotations(builtinAnnotations()).
		Variables(commonVariables()).
		Links(dashboardLinks())

	// Counts of jobs. "or vector(0)" shows 0 instead of "No data" when no
	// job matches; max by (job_id) de-duplicates exporters run in pairs.
	b = b.WithPanel(countStat("Jobs watched", "Jobs the exporter watches (including jobs it cannot fetch).",
		fmt.Sprintf(`count(max by (job_id) (%s)) or vector(0)`, jobUpFiltered), "")).
		WithPanel(countStat("Enabled", "Enabled jobs.",
			sel1(`count(max by (job_id) (kubiya_job_enabled{%s}) == 1) or vector(0)`), "")).
		WithPanel(countStat("Disabled", "Disabled jobs: they do not run on their schedule.",
			sel1(`count(max by (job_id) (kubiya_job_enabled{%s}) == 0) or vector(0)`), "orange")).
		WithPanel(countStat("Failing", "Jobs with new failed executions in the selected range, jobs the exporter cannot fetch (kubiya_job_up == 0), or jobs whose status is failed.",
			fmt.Sprintf(`count(%s) or vector(0)`, failingJobs), "red")).
		WithPanel(countStat("Overdue", "Enabled cron jobs that missed a run: a scheduled fire time (exporter-computed, in the job's time zone) at least "+missedRunGrace+" old is newer than the job's last execution, update and creation, and no run is in progress. Same logic as the KubiyaJobMissedRun alert.",
			fmt.Sprintf(`count(max by (job_id) (%s)) or vector(0)`, overdueJobs), "red")).
		WithPanel(countStat("Executions in range", "Executions started in the selected range.",
			sel1(`sum(max by (job_id) (increase(kubiya_job_executions_total{%s}[$__range]))) or vector(0)`), "")).
		WithPanel(countStat("Failures in range", "Executions that failed in the selected range.",
			sel1(`sum(max by (job_id) (increase(kubiya_job_executions_failed_total{%s}[$__range]))) or vector(0)`), "red")).
		WithPanel(statPanel("Control plane", "Whether the control plane answered with valid credentials on the last scrape (kubiya_up), worst of the selected exporters.", 3, 4).
			Unit("none").
			WithTarget(instant(fmt.Sprintf(`min(kubiya_up{%s})`, targetSel), "")).
			Mappings([]dashboard.ValueMapping{upDownMapping}).
			NoValue("No data"))

	b = b.WithPanel(jobsTable())

	b = b.WithRow(row("Executions")).
		WithPanel(tsPanel("Executions started", "Executions started per job (increase of kubiya_job_executions_total over $__rate_interval).", 8, 8).
			Unit("short").
			WithTarget(query(sel1(`max by (job_id, job_name) (increase(kubiya_job_executions_total{%s}[$__rate_interval]))`), "{{job_name}}")).
			Min(0).Decimals(0)).
		WithPanel(tsPanel("Succeeded executions", "Executions that completed successfully, per job.", 8, 8).
			Unit("short").
			WithTarget(query(sel1(`max by (job_id, job_name) (increase(kubiya_job_executions_succeeded_total{%s}[$__rate_interval]))`), "{{job_name}}")).
			Min(0).Decimals(0)).
		WithPanel(tsPanel("Failed executions", "Executions that failed, per job.", 8, 8).
			Unit("short").
			WithTarget(query(sel1(`max by (job_id, job_name) (increase(kubiya_job_executions_failed_total{%s}[$__rate_interval]))`), "{{job_name}}")).
			Min(0).Decimals(0)).
		WithPanel(barGauge("Failure ratio per job (selected range)", "Failed / started executions over the selected range. Jobs that did not run are not shown (no division by zero). Capped at 100%: a run started before the range may fail inside it.", 12, 8).
			WithTarget(instant(sel2(`clamp_max(max by (job_id, job_name) (increase(kubiya_job_executions_failed_total{%s}[$__range])) / (max by (job_id, job_name) (increase(kubiya_job_executions_total{%s}[$__range])) > 0), 1)`), "{{job_name}}")).
			Unit("percentunit").Min(0).Max(1).
			Thresholds(thresholds("green", 0.1, "orange", 0.5, "red"))).
		WithPanel(barGauge("Next scheduled run in", "Countdown to each cron job's next run, computed by the exporter from cron_schedule in the job's time zone (kubiya_job_schedule_next_timestamp_seconds). The API's next_execution_at is not used: it ignores the time zone and is stale for disabled jobs.", 12, 8).
			WithTarget(instant(sel1(`min by (job_id, job_name) (kubiya_job_schedule_next_timestamp_seconds{%s}) - time()`), "{{job_name}}")).
			Unit("s").Min(0).
			Thresholds(thresholds("blue")))

	b = b.WithRow(row("Exporter health")).
		WithPanel(tsPanel("Exporter and control plane up", "up: Prometheus scraped the exporter. kubiya_up: the control plane answered with valid credentials.", 8, 8).
			Unit("none").
			WithTarget(query(fmt.Sprintf(`up{%s}`, targetSel), "{{instance}} scrape")).
			WithTarget(query(fmt.Sprintf(`kubiya_up{%s}`, targetSel), "{{instance}} control plane")).
			Min(0).Max(1).Decimals(0)).
		WithPanel(tsPanel("Scrape duration", "Time the exporter spent on the control plane API during a scrape (kubiya_scrape_duration_seconds).", 8, 8).
			WithTarget(query(fmt.Sprintf(`kubiya_scrape_duration_seconds{%s}`, targetSel), "{{instance}}")).
			Unit("s").Min(0)).
		WithPanel(statPanel("Configuration reload", "Whether the last configuration reload succeeded, worst of the selected exporters.", 4, 8).
			Unit("none").
			WithTarget(instant(fmt.Sprintf(`min(kubiya_exporter_config_last_reload_successful{%s})`, targetSel), "")).
			Mappings([]dashboard.ValueMapping{reloadOKMapping}).NoValue("No data")).
		WithPanel(statPanel("Exporter version", "kubiya_exporter_build_info of the selected exporters.", 4, 8).
			Unit("none").
			WithTarget(instant(fmt.Sprintf(`count by (version, revision) (kubiya_exporter_build_info{%s})`, targetSel), "{{version}} ({{revision}})")).
			TextMode(common.BigValueTextModeName).ColorMode(common.BigValueColorModeNone)).
		WithPanel(tsPanel("API requests by outcome", "Control plane API requests per second by endpoint and outcome class.", 8, 8).
			WithTarget(query(fmt.Sprintf(`sum by (endpoint, code) (rate(kubiya_exporter_api_requests_total{%s}[$__rate_interval]))`, targetSel), "{{endpoint}} {{code}}")).
			Unit("reqps").Min(0)).
		WithPanel(tsPanel("API errors by class", "Failed control plane API requests per second by error class (everything but ok): unauthorized means the key is rejected, rate_limited a gateway 429, timeout/network an unreachable control plane.", 8, 8).
			WithTarget(query(fmt.Sprintf(`sum by (code) (rate(kubiya_exporter_api_requests_total{%s, code!="ok"}[$__rate_interval]))`, targetSel), "{{code}}")).
			Unit("reqps").Min(0)).
		WithPanel(tsPanel("API latency", "Control plane API request latency quantiles by endpoint, from the kubiya_exporter_api_request_duration_seconds histogram.", 8, 8).
			WithTarget(query(latency("0.5", targetSel), "p50 {{endpoint}}")).
			WithTarget(query(latency("0.9", targetSel), "p90 {{endpoint}}")).
			WithTarget(query(latency("0.99", targetSel), "p99 {{endpoint}}")).
			Unit("s").Min(0))

	d, err := b.Build()
	if err != nil {
		return d, err
	}
	finalize(&d)
	return d, nil
}

func latency(q, selector string) string {
	return fmt.Sprintf(`histogram_quantile(%s, sum by (le, endpoint) (rate(kubiya_exporter_api_request_duration_seconds_bucket{%s}[$__rate_interval])))`, q, selector)
}

// sel1 and sel2 put the job filter selector into one or two %s verbs.
func sel1(format string) string { return fmt.Sprintf(format, filterSel) }
func sel2(format string) string { return fmt.Sprintf(format, filterSel, filterSel) }

// jobsTable is one row per job, joined from instant queries by job_id.
// Each value query aggregates "by (job_id)" so the merge transformation
// joins on job_id alone (and exporters run in pairs collapse to one row).
func jobsTable() *table.PanelBuilder {
	queries := []struct{ refID, expr string }{
		{"A", sel1(`max by (job_id, job_name, entity_type, entity_name, status, trigger_type, cron_schedule, cron_timezone) (kubiya_job_info{%s})`)},
		{"B", sel1(`max by (job_id) (kubiya_job_enabled{%s})`)},
		{"C", sel1(`time() - max by (job_id) (kubiya_job_last_execution_timestamp_seconds{%s})`)},
		{"D", sel1(`min by (job_id) (kubiya_job_schedule_next_timestamp_seconds{%s}) - time()`)},
		{"E", sel2(`max by (job_id) (kubiya_job_executions_succeeded_total{%s}) / max by (job_id) (kubiya_job_executions_total{%s} > 0)`)},
		{"F", fmt.Sprintf(`min by (job_id) (%s)`, jobUpFiltered)},
	}
	p := tablePanel("Jobs", "One row per job. Last run: time since the API's last_execution_at. Next run in: countdown to the exporter-computed next fire time (cron jobs). Success ratio: successful / total executions since the job was created. Fetch: whether the exporter could read the job on the last scrape; a job that cannot be fetched shows only its id. Click a job to open its detail dashboard.", 24, 10).
		Unit("none") // per-column units are overrides
	for _, q := range queries {
		p = p.WithTarget(tableQuery(q.expr).RefId(q.refID))
	}
	rename := map[string]string{
		"job_name": "Job", "job_id": "Job ID", "entity_type": "Entity type", "entity_name": "Entity",
		"status": "Status", "trigger_type": "Trigger", "cron_schedule": "Schedule", "cron_timezone": "Time zone",
		"Value #B": "Enabled", "Value #C": "Last run", "Value #D": "Next run in",
		"Value #E": "Success ratio", "Value #F": "Fetch",
	}
	order := []string{"job_name", "entity_type", "entity_name", "Value #B", "status", "trigger_type",
		"cron_schedule", "cron_timezone", "Value #C", "Value #D", "Value #E", "Value #F", "job_id"}
	links := prop("links", jobLinks())
	return p.
		WithTransformation(merge()).
		WithTransformation(organize([]string{"Time", "Value #A"}, rename, order)).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Job")}).
		Filterable(true).
		OverrideByName("Job", []dashboard.DynamicConfigValue{links}).
		OverrideByName("Job ID", []dashboard.DynamicConfigValue{links}).
		OverrideByName("Enabled", []dashboard.DynamicConfigValue{mappings(enabledMapping), cellColorText()}).
		OverrideByName("Status", []dashboard.DynamicConfigValue{mappings(valueText("active", "active", "green", "paused", "paused", "orange", "failed", "failed", "red", "disabled", "disabled", "text")), cellColorText()}).
		OverrideByName("Last run", []dashboard.DynamicConfigValue{prop("unit", "s"), prop("noValue", "never"), prop("decimals", 0)}).
		OverrideByName("Next run in", []dashboard.DynamicConfigValue{prop("unit", "s"), prop("noValue", "-"), prop("decimals", 0)}).
		OverrideByName("Success ratio", []dashboard.DynamicConfigValue{prop("unit", "percentunit"), prop("noValue", "-"), cellColorText(),
			thresholdsProp(thresholds("red", 0.8, "orange", 0.95, "green"))}).
		OverrideByName("Fetch", []dashboard.DynamicConfigValue{mappings(okFailMapping), cellColorText()})
}
