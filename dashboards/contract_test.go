package dashboards

// perJob are "the usual per-job labels" of the metric contract.
var perJob = []string{"job_id", "job_name", "entity_type", "entity_id", "entity_name"}

func perJobLabels(extra ...string) []string { return append(append([]string{}, perJob...), extra...) }

// contract is the metric contract (notes/metrics-contract.md) as data:
// every metric a dashboard may query and the labels it carries besides job
// and instance, which Prometheus adds for the scrape target. A query naming
// anything else is a typo, or a contract change the dashboards must follow.
var contract = map[string][]string{
	"kubiya_job_up":                                                {"job_id"},
	"kubiya_job_info":                                              perJobLabels("organization_id", "status", "trigger_type", "cron_schedule", "cron_timezone", "planning_mode", "executor_type", "environment_name", "worker_queue_name"),
	"kubiya_job_enabled":                                           perJobLabels(),
	"kubiya_job_status":                                            perJobLabels("status"),
	"kubiya_job_executions_total":                                  perJobLabels(),
	"kubiya_job_executions_succeeded_total":                        perJobLabels(),
	"kubiya_job_executions_failed_total":                           perJobLabels(),
	"kubiya_job_last_execution_timestamp_seconds":                  perJobLabels(),
	"kubiya_job_next_execution_timestamp_seconds":                  perJobLabels(),
	"kubiya_job_last_triggered_timestamp_seconds":                  perJobLabels(),
	"kubiya_job_created_timestamp_seconds":                         perJobLabels(),
	"kubiya_job_updated_timestamp_seconds":                         perJobLabels(),
	"kubiya_job_schedule_valid":                                    perJobLabels(),
	"kubiya_job_schedule_next_timestamp_seconds":                   perJobLabels(),
	"kubiya_job_schedule_previous_timestamp_seconds":               perJobLabels(),
	"kubiya_job_last_execution_status":                             perJobLabels("status"),
	"kubiya_job_last_execution_duration_seconds":                   perJobLabels(),
	"kubiya_job_last_success_timestamp_seconds":                    perJobLabels(),
	"kubiya_job_last_failure_timestamp_seconds":                    perJobLabels(),
	"kubiya_job_executions_in_progress":                            perJobLabels(),
	"kubiya_job_executions_up":                                     {"job_id"},
	"kubiya_up":                                                    {},
	"kubiya_scrape_duration_seconds":                               {},
	"kubiya_exporter_api_requests_total":                           {"endpoint", "code"},
	"kubiya_exporter_api_request_duration_seconds_bucket":          {"endpoint", "le"},
	"kubiya_exporter_api_request_duration_seconds_sum":             {"endpoint"},
	"kubiya_exporter_api_request_duration_seconds_count":           {"endpoint"},
	"kubiya_exporter_config_last_reload_successful":                {},
	"kubiya_exporter_config_last_reload_success_timestamp_seconds": {},
	"kubiya_exporter_build_info":                                   {"version", "revision", "branch", "goversion"},
	"up":                                                           {},
}

// forbiddenMetrics must not be shown: the API's next_execution_at ignores
// cron_timezone and is stale for disabled jobs (see shared/kubiya-api).
var forbiddenMetrics = []string{"kubiya_job_next_execution_timestamp_seconds"}
