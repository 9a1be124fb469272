package collector

import (
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// MaxLabelValueLen bounds every label value taken from the API, in bytes. A
// job name of a megabyte must not become a megabyte per series.
const MaxLabelValueLen = 256

// jobLabels are on every per-job series but kubiya_job_up and
// kubiya_job_executions_up, which have job_id alone.
var jobLabels = []string{"job_id", "job_name", "entity_type", "entity_id", "entity_name"}

// jobView is what a per-job metric reads: the job's record and what the
// exporter worked out from it on this scrape.
type jobView struct {
	job   *kubiya.Job
	sched scheduleAt
	exec  *execSummary // nil: the executions collector is off or could not read them
}

// scheduleAt is a cron job's schedule at the scrape's time.
type scheduleAt struct {
	cron, valid bool // cron: a cron job with a schedule
	prev, next  time.Time
}

// emitFunc emits one series of a job: its value and the values of the
// metric's labels after jobLabels.
type emitFunc func(v float64, extra ...string)

// jobMetric is one per-job metric family: series emits the job's series
// of it, none when the value is absent. Adding a per-job metric is adding
// one jobMetric to jobMetrics (or executionMetrics).
type jobMetric struct {
	name, help string
	counter    bool
	extra      []string // labels after jobLabels
	states     []string // a state set's known values of its one extra label
	series     func(j *jobView, emit emitFunc)

	// Made by describe from the fields above.
	fqName     string
	order      []int                     // indexes of jobLabels and extra, in label-name order
	shared     map[string]*dto.LabelPair // the label pair of each known state, shared by all jobs
	jobOrdered bool                      // the per-job labels come first in that order
}

// value is a metric with one series per job, always present.
func value(f func(j *kubiya.Job) float64) func(*jobView, emitFunc) {
	return func(j *jobView, emit emitFunc) { emit(f(j.job)) }
}

// timestamp is a metric with one series per job, absent while the API's
// time is null.
func timestamp(f func(j *kubiya.Job) kubiya.Time) func(*jobView, emitFunc) {
	return func(j *jobView, emit emitFunc) {
		if t := f(j.job); !t.IsZero() {
			emit(seconds(t.Time))
		}
	}
}

// fireTime is a cron job's fire time, absent while its schedule does not
// parse or has no such time.
func fireTime(f func(s scheduleAt) time.Time) func(*jobView, emitFunc) {
	return func(v *jobView, emit emitFunc) {
		if t := f(v.sched); v.sched.valid && !t.IsZero() {
			emit(seconds(t))
		}
	}
}

// knownStatuses form the kubiya_job_status state set.
var knownStatuses = []string{"active", "paused", "failed", "disabled"}

// jobMetrics are the metrics of every fetched job, named kubiya_job_<name>.
var jobMetrics = describe([]*jobMetric{
	{name: "info", help: "Job metadata; always 1.", extra: []string{"organization_id", "status", "trigger_type",
		"cron_schedule", "cron_timezone", "planning_mode", "executor_type", "environment_name", "worker_queue_name"},
		series: func(v *jobView, emit emitFunc) {
			j := v.job
			emit(1, labelValue(j.OrganizationID), labelValue(j.Status), labelValue(j.TriggerType), labelValue(j.CronSchedule),
				labelValue(j.CronTimezone), labelValue(j.PlanningMode), labelValue(j.ExecutorType),
				labelValue(j.EnvironmentName), labelValue(j.WorkerQueueName))
		}},
	{name: "enabled", help: "1 if the job is enabled, else 0.",
		series: value(func(j *kubiya.Job) float64 { return boolFloat(j.Enabled) })},
	{name: "status", help: "The job's status as a state set: 1 for the current status.", extra: []string{"status"}, states: knownStatuses,
		series: func(v *jobView, emit emitFunc) { stateSet(emit, knownStatuses, labelValue(v.job.Status)) }},
	{name: "executions_total", help: "Executions of the job the control plane has recorded.", counter: true,
		series: value(func(j *kubiya.Job) float64 { return float64(j.TotalExecutions) })},
	{name: "executions_succeeded_total", help: "Executions of the job that completed successfully.", counter: true,
		series: value(func(j *kubiya.Job) float64 { return float64(j.SuccessfulExecs) })},
	{name: "executions_failed_total", help: "Executions of the job that failed.", counter: true,
		series: value(func(j *kubiya.Job) float64 { return float64(j.FailedExecutions) })},
	{name: "last_execution_timestamp_seconds", help: "When the job's last execution was created.",
		series: timestamp(func(j *kubiya.Job) kubiya.Time { return j.LastExecutionAt })},
	{name: "next_execution_timestamp_seconds", help: "The API's next_execution_at: computed in UTC whatever cron_timezone says, and stale for disabled jobs. Prefer kubiya_job_schedule_next_timestamp_seconds.",
		series: timestamp(func(j *kubiya.Job) kubiya.Time { return j.NextExecutionAt })},
	{name: "last_triggered_timestamp_seconds", help: "When the job was last triggered.",
		series: timestamp(func(j *kubiya.Job) kubiya.Time { return j.LastTriggeredAt })},
	{name: "created_timestamp_seconds", help: "When the job was created.",
		series: timestamp(func(j *kubiya.Job) kubiya.Time { return j.CreatedAt })},
	{name: "updated_timestamp_seconds", help: "When the job was last updated.",
		series: timestamp(func(j *kubiya.Job) kubiya.Time { return j.UpdatedAt })},
	{name: "schedule_valid", help: "Cron jobs only: 1 if cron_schedule parses in cron_timezone, else 0.",
		series: func(v *jobView, emit emitFunc) {
			if v.sched.cron {
				emit(boolFloat(v.sched.valid))
			}
		}},
	{name: "schedule_next_timestamp_seconds", help: "Cron jobs only: the next fire time after now, computed by the exporter in the job's time zone.",
		series: fireTime(func(s scheduleAt) time.Time { return s.next })},
	{name: "schedule_previous_timestamp_seconds", help: "Cron jobs only: the most recent fire time at or before now, computed by the exporter in the job's time zone.",
		series: fireTime(func(s scheduleAt) time.Time { return s.prev })},
})

// stateSet emits one series per known state, 1 for current, and one more
// for a current state that is not known, in the order of their values
// (a family's order, so a scrape need not sort it).
func stateSet(emit emitFunc, known []string, current string) {
	states := slices.Clone(known)
	if !slices.Contains(known, current) {
		states = append(states, current)
	}
	slices.Sort(states)
	for _, st := range states {
		emit(boolFloat(st == current), st)
	}
}

func describe(ms []*jobMetric) []*jobMetric {
	for _, m := range ms {
		m.fqName = prometheus.BuildFQName(namespace, "job", m.name)
		labels := append(slices.Clone(jobLabels), m.extra...)
		m.order = nameOrder(labels)
		m.jobOrdered = slices.Equal(m.order[:len(jobLabels)], jobLabelOrder)
		m.shared = make(map[string]*dto.LabelPair, len(m.states))
		for i := range m.states {
			m.shared[m.states[i]] = &dto.LabelPair{Name: &m.extra[0], Value: &m.states[i]}
		}
	}
	return ms
}

// jobLabelOrder is jobLabels' indexes in label-name order.
var jobLabelOrder = nameOrder(jobLabels)

// nameOrder returns the indexes of labels in the order of their names, the
// order of a series' label pairs.
func nameOrder(labels []string) []int {
	order := make([]int, len(labels))
	for i := range labels {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return order
}

const namespace = "kubiya"

// The metrics outside the tables: per scrape, and each job's fetch.
var (
	upName, upHelp             = "kubiya_up", "1 if the control plane answered with valid credentials on this scrape."
	durationName, durationHelp = "kubiya_scrape_duration_seconds", "Time this scrape spent reading the control plane API."
	jobUp                      = idMetric("kubiya_job_up", "1 if this job was fetched and decoded on this scrape, else 0.")
)

// idMetric is a per-job metric labeled by job_id alone, emitted by the
// collector rather than a table.
func idMetric(fqName, help string) *jobMetric {
	return &jobMetric{name: fqName, help: help, fqName: fqName, order: []int{0}}
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

// maxLogErrLen bounds the text of an error in a log line. Errors are built
// without bodies or secrets, but some carry input (a cron parser quoting a
// megabyte-long cron_schedule): one bad field must not make a megabyte log line.
const maxLogErrLen = 512

// logErr is err's text, valid UTF-8 and at most maxLogErrLen bytes.
func logErr(err error) string {
	if err == nil {
		return ""
	}
	return truncateUTF8(err.Error(), maxLogErrLen)
}

// maxNanoSeconds is the range of int64 nanoseconds in seconds: 1678 to 2262.
const maxNanoSeconds = math.MaxInt64 / int64(time.Second)

// seconds is t in Unix seconds. Within 1678-2262 it is UnixNano/1e9, the
// value the exporter has always written (to the last bit); outside,
// UnixNano overflows ("never" written as 9999-12-31), so whole seconds
// and the fraction are added instead.
func seconds(t time.Time) float64 {
	if s := t.Unix(); s > -maxNanoSeconds && s < maxNanoSeconds {
		return float64(t.UnixNano()) / 1e9
	}
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
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
