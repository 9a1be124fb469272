package collector

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

const namespace = "kubiya"

// MaxLabelValueLen bounds every label value taken from the API, in bytes. A
// job name of a megabyte must not become a megabyte per series.
const MaxLabelValueLen = 256

// jobLabels are on every per-job series but kubiya_job_up.
var jobLabels = []string{"job_id", "job_name", "entity_type", "entity_id", "entity_name"}

func withJobLabels(extra ...string) []string {
	return append(append([]string(nil), jobLabels...), extra...)
}

func newJobDesc(name, help string, extra ...string) *prometheus.Desc {
	return newDesc(prometheus.BuildFQName(namespace, "job", name), help, withJobLabels(extra...))
}

// descNames holds every descriptor's name and help: prometheus.Desc does
// not expose them, and the scrape registry (gather.go) builds the families
// of its own series from them.
var descNames = map[*prometheus.Desc][2]string{}

func newDesc(name, help string, labels []string) *prometheus.Desc {
	d := prometheus.NewDesc(name, help, labels, nil)
	descNames[d] = [2]string{name, help}
	return d
}

// Descriptors of the per-scrape metrics.
var (
	upDesc = prometheus.NewDesc("kubiya_up",
		"1 if the control plane answered with valid credentials on this scrape.", nil, nil)
	scrapeDurationDesc = prometheus.NewDesc("kubiya_scrape_duration_seconds",
		"Time this scrape spent reading the control plane API.", nil, nil)

	jobUpDesc = newDesc("kubiya_job_up",
		"1 if this job was fetched and decoded on this scrape, else 0.", []string{"job_id"})
	jobInfoDesc = newJobDesc("info", "Job metadata; always 1.",
		"organization_id", "status", "trigger_type", "cron_schedule", "cron_timezone",
		"planning_mode", "executor_type", "environment_name", "worker_queue_name")
	jobEnabledDesc = newJobDesc("enabled", "1 if the job is enabled, else 0.")
	jobStatusDesc  = newJobDesc("status", "The job's status as a state set: 1 for the current status.", "status")

	jobExecutionsDesc = newJobDesc("executions_total", "Executions of the job the control plane has recorded.")
	jobSucceededDesc  = newJobDesc("executions_succeeded_total", "Executions of the job that completed successfully.")
	jobFailedDesc     = newJobDesc("executions_failed_total", "Executions of the job that failed.")

	jobLastExecutionDesc = newJobDesc("last_execution_timestamp_seconds", "When the job's last execution was created.")
	jobNextExecutionDesc = newJobDesc("next_execution_timestamp_seconds",
		"The API's next_execution_at: computed in UTC whatever cron_timezone says, and stale for disabled jobs. Prefer kubiya_job_schedule_next_timestamp_seconds.")
	jobLastTriggeredDesc = newJobDesc("last_triggered_timestamp_seconds", "When the job was last triggered.")
	jobCreatedDesc       = newJobDesc("created_timestamp_seconds", "When the job was created.")
	jobUpdatedDesc       = newJobDesc("updated_timestamp_seconds", "When the job was last updated.")

	scheduleValidDesc = newJobDesc("schedule_valid", "Cron jobs only: 1 if cron_schedule parses in cron_timezone, else 0.")
	scheduleNextDesc  = newJobDesc("schedule_next_timestamp_seconds",
		"Cron jobs only: the next fire time after now, computed by the exporter in the job's time zone.")
	schedulePrevDesc = newJobDesc("schedule_previous_timestamp_seconds",
		"Cron jobs only: the most recent fire time at or before now, computed by the exporter in the job's time zone.")
)

// knownStatuses form the kubiya_job_status state set.
var knownStatuses = []string{"active", "paused", "failed", "disabled"}

// allDescs lists every per-scrape descriptor, for Describe.
var allDescs = []*prometheus.Desc{
	upDesc, scrapeDurationDesc, jobUpDesc, jobInfoDesc, jobEnabledDesc, jobStatusDesc,
	jobExecutionsDesc, jobSucceededDesc, jobFailedDesc, jobLastExecutionDesc, jobNextExecutionDesc,
	jobLastTriggeredDesc, jobCreatedDesc, jobUpdatedDesc, scheduleValidDesc, scheduleNextDesc, schedulePrevDesc,
}

// labelValue makes an API string safe as a label value: valid UTF-8 and at
// most MaxLabelValueLen bytes, cut on a rune boundary.
func labelValue(s string) string {
	s, _ = cutUTF8(s, MaxLabelValueLen)
	return s
}

// cutUTF8 returns s as valid UTF-8 (invalid bytes become U+FFFD) of at most
// n bytes, cut on a rune boundary, and whether it was cut.
func cutUTF8(s string, n int) (string, bool) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s, false
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// truncateUTF8 is cutUTF8 with "…" marking a cut, for log text.
func truncateUTF8(s string, n int) string {
	s, cut := cutUTF8(s, n)
	if cut {
		s += "…"
	}
	return s
}

func timestampSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// APIMetrics counts API requests by endpoint and outcome class. It lives for
// the whole process and implements kubiya.Observer.
type APIMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewAPIMetrics creates the API request metrics and registers them with reg.
func NewAPIMetrics(reg prometheus.Registerer) *APIMetrics {
	m := &APIMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubiya_exporter_api_requests_total",
			Help: "Requests to the control plane API by endpoint and outcome class (ok, not_found, unauthorized, invalid_request, rate_limited, server_error, timeout, network, bad_response, credentials).",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kubiya_exporter_api_request_duration_seconds",
			Help:    "Latency of control plane API requests.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
	}
	// Pre-initialise the get_job series so rate() has a zero to start from.
	for _, c := range kubiya.Classes {
		m.requests.WithLabelValues(string(kubiya.EndpointGetJob), string(c))
	}
	m.duration.WithLabelValues(string(kubiya.EndpointGetJob))
	reg.MustRegister(m.requests, m.duration)
	return m
}

// ObserveRequest implements kubiya.Observer.
func (m *APIMetrics) ObserveRequest(endpoint kubiya.Endpoint, class kubiya.Class, d time.Duration) {
	m.requests.WithLabelValues(string(endpoint), string(class)).Inc()
	m.duration.WithLabelValues(string(endpoint)).Observe(d.Seconds())
}
