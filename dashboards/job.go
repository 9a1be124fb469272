package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// one formats a query for the selected job into every %s verb.
func one(format string, n int) string {
	args := make([]any, n)
	for i := range args {
		args[i] = oneJobSel
	}
	return fmt.Sprintf(format, args...)
}

// statusColors colors the last execution status by name; the query keeps
// only the current status, so the stat shows exactly one name.
var statusColors = map[string]string{
	"completed": "green", "failed": "red", "cancelled": "orange",
	"pending": "blue", "running": "blue", "waiting_for_input": "purple",
}

// Job builds the detail dashboard of one job, selected by $job_id.
func Job() (dashboard.Dashboard, error) {
	jobID := labelVariable("job_id", "Job ID",
		"kubiya_job_info{"+filterSel+"}", "job_id", false)

	b := dashboard.NewDashboardBuilder("Kubiya / Job").
		Uid(JobUID).
		Description("One Kubiya job watched by kubiya_exporter: state, schedule, executions and their outcomes.").
		Tags([]string{"kubiya", "kubiya_exporter"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		Annotations(builtinAnnotations()).
		Variables(append(commonVariables(), jobID)).
		Links(append(dashboardLinks(), dashboard.NewDashboardLinkBuilder("Jobs overview").
			Type(dashboard.DashboardLinkTypeLink).
			Url("/d/"+OverviewUID+"/kubiya-overview").
			Icon("dashboard").
			IncludeVars(true).KeepTime(true)))

	// State.
	b = b.WithPanel(statPanel("Fetch", "Whether the exporter could fetch and decode this job on the last scrape (kubiya_job_up). While it cannot, every other panel is empty.", 4, 4).
		Unit("none").
		WithTarget(instant(one(`min(kubiya_job_up{%s})`, 1), "")).
		Mappings([]dashboard.ValueMapping{okFailMapping}).NoValue("No data")).
		WithPanel(statPanel("Enabled", "kubiya_job_enabled.", 4, 4).
			Unit("none").
			WithTarget(instant(one(`max(kubiya_job_enabled{%s})`, 1), "")).
			Mappings([]dashboard.ValueMapping{enabledMapping})).
		WithPanel(statPanel("Status", "The job status the control plane reports (kubiya_job_status).", 4, 4).
			Unit("none").
			WithTarget(instant(one(`max by (status) (kubiya_job_status{%s}) == 1`, 1), "{{status}}")).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Trigger", "How the job is started: cron, webhook or manual.", 4, 4).
			Unit("none").
			WithTarget(instant(one(`max by (trigger_type) (kubiya_job_info{%s})`, 1), "{{trigger_type}}")).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Schedule", "cron_schedule and cron_timezone (UTC when empty). Empty for webhook and manual jobs.", 4, 4).
			Unit("none").
			WithTarget(instant(one(`max by (cron_schedule, cron_timezone) (kubiya_job_info{%s, cron_schedule!=""})`, 1), "{{cron_schedule}} {{cron_timezone}}")).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeNone).NoValue("none")).
		WithPanel(statPanel("Schedule valid", "Whether the exporter can parse cron_schedule in cron_timezone (kubiya_job_schedule_valid). Cron jobs only.", 4, 4).
			Unit("none").
			WithTarget(instant(one(`min(kubiya_job_schedule_valid{%s})`, 1), "")).
			Mappings([]dashboard.ValueMapping{scheduleOKMapping}).NoValue("not cron"))

	// Last and next run.
	b = b.WithRow(row("Last and next run")).
		WithPanel(statPanel("Last run", "When the last execution was created (the API's last_execution_at).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_last_execution_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeFromNow").NoValue("never").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Last scheduled fire time", "The most recent time the schedule fired, computed by the exporter in the job's time zone (kubiya_job_schedule_previous_timestamp_seconds).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_schedule_previous_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeFromNow").NoValue("not cron").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Next run", "The next time the schedule fires, computed by the exporter in the job's time zone (kubiya_job_schedule_next_timestamp_seconds). The API's next_execution_at is not shown: it ignores cron_timezone and is stale for disabled jobs.", 4, 4).
			WithTarget(instant(one(`min(kubiya_job_schedule_next_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeAsIso").NoValue("not cron").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Next run in", "Countdown to the next scheduled run.", 4, 4).
			WithTarget(instant(one(`min(kubiya_job_schedule_next_timestamp_seconds{%s}) - time()`, 1), "")).
			Unit("s").Decimals(0).NoValue("not cron").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Missed run", "Whether the job missed a scheduled run, with the KubiyaJobMissedRun alert's logic: a fire time at least "+missedRunGrace+" old is newer than the last execution, update and creation, the job is enabled and no run is in progress. Empty for jobs without a valid cron schedule.", 4, 4).
			Unit("none").
			WithTarget(instant(fmt.Sprintf(`(count(%s) or vector(0)) and on () count(kubiya_job_schedule_previous_timestamp_seconds{%s})`, missedRun(oneJobSel), oneJobSel), "")).
			Mappings([]dashboard.ValueMapping{valueText("0", "No", "green", "1", "Missed", "red")}).
			NoValue("not cron")).
		WithPanel(statPanel("Last triggered", "The API's last_triggered_at (often empty).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_last_triggered_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeFromNow").NoValue("never").ColorMode(common.BigValueColorModeNone)).
		WithPanel(tsPanel("Time since last run and since last scheduled fire", "Sawtooth lines: each drop is a run (blue) or a schedule fire (green). If the blue line keeps rising past a green drop, a scheduled run was missed.", 24, 8).
			WithTarget(query(one(`time() - max(kubiya_job_last_execution_timestamp_seconds{%s})`, 1), "since last run")).
			WithTarget(query(one(`time() - max(kubiya_job_schedule_previous_timestamp_seconds{%s})`, 1), "since last scheduled fire")).
			Unit("s").Min(0).
			OverrideByName("since last run", []dashboard.DynamicConfigValue{fixedColor("blue")}).
			OverrideByName("since last scheduled fire", []dashboard.DynamicConfigValue{fixedColor("green")}))

	// Executions from the job's counters.
	b = b.WithRow(row("Executions")).
		WithPanel(tsPanel("Executions", "Executions started, succeeded and failed (increase over $__rate_interval of the job's counters).", 12, 8).
			Unit("short").
			WithTarget(query(one(`max(increase(kubiya_job_executions_total{%s}[$__rate_interval]))`, 1), "started")).
			WithTarget(query(one(`max(increase(kubiya_job_executions_succeeded_total{%s}[$__rate_interval]))`, 1), "succeeded")).
			WithTarget(query(one(`max(increase(kubiya_job_executions_failed_total{%s}[$__rate_interval]))`, 1), "failed")).
			Min(0).Decimals(0).
			OverrideByName("started", []dashboard.DynamicConfigValue{fixedColor("blue")}).
			OverrideByName("succeeded", []dashboard.DynamicConfigValue{fixedColor("green")}).
			OverrideByName("failed", []dashboard.DynamicConfigValue{fixedColor("red")})).
		WithPanel(statPanel("Executions since creation", "The job's counters. Other: started minus succeeded minus failed, i.e. in flight, cancelled or lost.", 6, 8).
			Unit("short").
			WithTarget(instant(one(`max(kubiya_job_executions_total{%s})`, 1), "started")).
			WithTarget(instant(one(`max(kubiya_job_executions_succeeded_total{%s})`, 1), "succeeded")).
			WithTarget(instant(one(`max(kubiya_job_executions_failed_total{%s})`, 1), "failed")).
			WithTarget(instant(one(`max(kubiya_job_executions_total{%s}) - max(kubiya_job_executions_succeeded_total{%s}) - max(kubiya_job_executions_failed_total{%s})`, 3), "other")).
			TextMode(common.BigValueTextModeValueAndName).Decimals(0).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Success ratio", "Since creation: successful / started executions. Selected range: the same over the increase of the counters in the range. Empty when nothing ran.", 6, 8).
			WithTarget(instant(one(`max(kubiya_job_executions_succeeded_total{%s}) / (max(kubiya_job_executions_total{%s}) > 0)`, 2), "since creation")).
			WithTarget(instant(one(`clamp_max(max(increase(kubiya_job_executions_succeeded_total{%s}[$__range])) / (max(increase(kubiya_job_executions_total{%s}[$__range])) > 0), 1)`, 2), "selected range")).
			TextMode(common.BigValueTextModeValueAndName).
			Unit("percentunit").NoValue("-").
			Thresholds(thresholds("red", 0.8, "orange", 0.95, "green")))

	// Execution outcomes: the opt-in executions collector (issue 5).
	statusOverrides := func(p *statPanelBuilder) *statPanelBuilder {
		for _, s := range executionStatuses {
			p = p.OverrideByName(s, []dashboard.DynamicConfigValue{fixedColor(statusColors[s])})
		}
		return p
	}
	b = b.WithRow(row("Execution outcomes (executions collector)")).
		WithPanel(statusOverrides(statPanel("Last execution status", "Status of the newest execution (kubiya_job_last_execution_status). Needs the opt-in executions collector (executions: {enabled: true}).", 4, 4).
			Unit("none").
			WithTarget(instant(one(`max by (status) (kubiya_job_last_execution_status{%s}) == 1`, 1), "{{status}}")).
			TextMode(common.BigValueTextModeName).
			NoValue("collector off"))).
		WithPanel(statPanel("Last execution duration", "Duration of the newest execution (kubiya_job_last_execution_duration_seconds).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_last_execution_duration_seconds{%s})`, 1), "")).
			Unit("s").NoValue("-").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Last success", "Newest completed execution in the collector's window (kubiya_job_last_success_timestamp_seconds).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_last_success_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeFromNow").NoValue("none in window").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Last failure", "Newest failed execution in the collector's window (kubiya_job_last_failure_timestamp_seconds).", 4, 4).
			WithTarget(instant(one(`max(kubiya_job_last_failure_timestamp_seconds{%s}) * 1000`, 1), "")).
			Unit("dateTimeFromNow").NoValue("none in window").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("In progress", "Executions pending, running or waiting for input in the collector's window (kubiya_job_executions_in_progress).", 4, 4).
			Unit("short").
			WithTarget(instant(one(`max(kubiya_job_executions_in_progress{%s})`, 1), "")).
			Decimals(0).NoValue("-").
			Thresholds(thresholds("text", 1, "blue"))).
		WithPanel(statPanel("Last success age", "Time since the newest successful execution in the collector's window.", 4, 4).
			WithTarget(instant(one(`time() - max(kubiya_job_last_success_timestamp_seconds{%s})`, 1), "")).
			Unit("s").Decimals(0).NoValue("-").ColorMode(common.BigValueColorModeNone)).
		WithPanel(statusTimeline()).
		WithPanel(tsPanel("Last execution duration and executions in progress", "Duration of the newest execution, and how many executions are in progress.", 12, 8).
			WithTarget(query(one(`max(kubiya_job_last_execution_duration_seconds{%s})`, 1), "last duration")).
			WithTarget(query(one(`max(kubiya_job_executions_in_progress{%s})`, 1), "in progress")).
			Unit("s").Min(0).
			OverrideByName("in progress", []dashboard.DynamicConfigValue{prop("unit", "none"), prop("custom.axisPlacement", "right"), prop("decimals", 0)}))

	// Fetch status, schedule and info.
	b = b.WithRow(row("Fetch, schedule and info")).
		WithPanel(timelinePanel("Fetch status", "Whether the exporter could fetch the job on each scrape (kubiya_job_up).", 12, 5).
			Unit("none").
			WithTarget(query(one(`min(kubiya_job_up{%s})`, 1), "fetch")).
			Mappings([]dashboard.ValueMapping{okFailMapping})).
		WithPanel(statPanel("Timestamps", "created_at, updated_at and the scheduled fire times (exporter-computed).", 12, 5).
			WithTarget(instant(one(`max(kubiya_job_created_timestamp_seconds{%s}) * 1000`, 1), "created")).
			WithTarget(instant(one(`max(kubiya_job_updated_timestamp_seconds{%s}) * 1000`, 1), "updated")).
			WithTarget(instant(one(`max(kubiya_job_schedule_previous_timestamp_seconds{%s}) * 1000`, 1), "previous fire")).
			WithTarget(instant(one(`min(kubiya_job_schedule_next_timestamp_seconds{%s}) * 1000`, 1), "next fire")).
			TextMode(common.BigValueTextModeValueAndName).
			Unit("dateTimeAsIso").ColorMode(common.BigValueColorModeNone)).
		WithPanel(infoTable())

	d, err := b.Build()
	if err != nil {
		return d, err
	}
	finalize(&d)
	return d, nil
}

// executionStatuses is the kubiya_job_last_execution_status state set.
var executionStatuses = []string{"pending", "running", "waiting_for_input", "completed", "failed", "cancelled"}

func statusTimeline() *timelinePanelBuilder {
	p := timelinePanel("Last execution status over time", "Which status the newest execution had over time (kubiya_job_last_execution_status).", 12, 8).
		Unit("none").
		WithTarget(query(one(`max by (status) (kubiya_job_last_execution_status{%s})`, 1), "{{status}}")).
		// 0 (not the current status) is drawn transparent; each status'
		// own color comes from the overrides below.
		Mappings([]dashboard.ValueMapping{valueText("0", " ", "transparent", "1", "current", "blue")})
	for _, s := range executionStatuses {
		p = p.OverrideByName(s, []dashboard.DynamicConfigValue{mappings(valueText("0", " ", "transparent", "1", s, statusColors[s]))})
	}
	return p
}

// infoTable shows kubiya_job_info's labels (one row per exporter instance).
func infoTable() *tablePanelBuilder {
	return tablePanel("Job info", "Labels of kubiya_job_info: the job's configuration as the control plane reports it.", 24, 5).
		Unit("none").
		WithTarget(tableQuery(one(`kubiya_job_info{%s}`, 1))).
		WithTransformation(organize([]string{"Time", "Value", "__name__"},
			map[string]string{"job": "exporter job", "instance": "exporter instance"},
			[]string{"job_name", "job_id", "organization_id", "status", "trigger_type", "cron_schedule", "cron_timezone",
				"entity_type", "entity_id", "entity_name", "planning_mode", "executor_type", "environment_name", "worker_queue_name",
				"job", "instance"})).
		Filterable(true)
}
