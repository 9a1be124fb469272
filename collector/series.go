package collector

import (
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// Series construction, the hot path of a large scrape: at 10,000 jobs a
// scrape emits about 160,000 series, and the registry holds all of them
// until the answer is written. prometheus.MustNewConstMetric copies the
// label values and allocates a fresh label pair (two strings, a struct) per
// label per series: for a job's 16 series with 5 to 14 labels that is
// about 250 allocations and 20 KiB. Here the series of one job share one
// set of label pairs (the registry treats a collected metric's labels as
// immutable, so sharing is safe) and come from a single allocation.

// Indexes of a job's label values. The first five are the per-job labels
// in the sorted order the registry wants; the rest are kubiya_job_info's.
const (
	vEntityID = iota
	vEntityName
	vEntityType
	vJobID
	vJobName
	vCronSchedule
	vCronTimezone
	vEnvironmentName
	vExecutorType
	vOrganizationID
	vPlanningMode
	vStatus
	vTriggerType
	vWorkerQueueName
	numJobValues
)

// Label names the pairs point to. Read-only, like the descriptors.
var jobValueNames = [numJobValues]string{
	"entity_id", "entity_name", "entity_type", "job_id", "job_name",
	"cron_schedule", "cron_timezone", "environment_name", "executor_type", "organization_id",
	"planning_mode", "status", "trigger_type", "worker_queue_name",
}

// infoLabelOrder lists kubiya_job_info's labels sorted by name, as the
// registry needs them (TestSeriesLabelOrder checks it).
var infoLabelOrder = [...]int{
	vCronSchedule, vCronTimezone, vEntityID, vEntityName, vEntityType, vEnvironmentName,
	vExecutorType, vJobID, vJobName, vOrganizationID, vPlanningMode, vStatus,
	vTriggerType, vWorkerQueueName,
}

// knownStatusPairs are the label pairs of the kubiya_job_status state set,
// the same for every job. Read-only.
var knownStatusPairs = func() []*dto.LabelPair {
	pairs := make([]*dto.LabelPair, len(knownStatuses))
	for i := range knownStatuses {
		pairs[i] = &dto.LabelPair{Name: &jobValueNames[vStatus], Value: &knownStatuses[i]}
	}
	return pairs
}()

// statusSortOrder visits knownStatuses in the order of their values, so
// a job's status series arrive sorted (see sortResults).
var statusSortOrder = func() []int {
	order := make([]int, len(knownStatuses))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(knownStatuses[a], knownStatuses[b]) })
	return order
}()

// sortResults orders results as the registry sorts most metric families:
// by the per-job label values in label-name order. Families must reach the
// answer sorted; on input already in order ScrapeRegistry (gather.go)
// checks the order in one pass, and prometheus.Registry's sort is linear
// instead of n log n. Failed results, which only have kubiya_job_up, go by
// ID.
func sortResults(results []result) {
	key := func(r *result) [numJobLabels]string {
		if r.job == nil {
			return [numJobLabels]string{vJobID: r.id}
		}
		j := r.job
		return [numJobLabels]string{vEntityID: j.EntityID, vEntityName: j.EntityName, vEntityType: j.EntityType, vJobID: r.id, vJobName: j.Name}
	}
	slices.SortFunc(results, func(a, b result) int {
		ka, kb := key(&a), key(&b)
		for i := range ka {
			if c := strings.Compare(ka[i], kb[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// maxJobSeries is the most series one job has: up, info, enabled, five
// status (four known and an unknown one), three counters, five timestamps
// and three schedule gauges.
const (
	maxJobSeries  = 19
	numJobLabels  = 5
	maxStatusSets = 5
)

// series is one collected metric: a prometheus.Metric whose dto parts
// live in its job's jobSeries.
type series struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair // sorted by name; shared, never written
	v       float64
	counter bool // else a gauge
	// job is the series' job (nil for emitJobDown's); prefixed says the
	// first numJobLabels labels are job.jobLabels, so the scrape registry
	// can compare and write them per job instead of per label (gather.go).
	job      *jobSeries
	prefixed bool
}

func (s *series) value() float64 { return s.v }

func (s *series) Desc() *prometheus.Desc { return s.desc }

func (s *series) Write(m *dto.Metric) error {
	// The dto value is made on demand: the text path never asks for it
	// (gather.go), and keeping one per series would cost 48 bytes each.
	v := s.v
	m.Label = s.labels
	if s.counter {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// jobSeries holds every series of one job in one allocation.
type jobSeries struct {
	values       [numJobValues]string
	pairs        [numJobValues]dto.LabelPair
	jobLabels    [numJobLabels]*dto.LabelPair
	infoLabels   [numJobValues]*dto.LabelPair
	statusLabels [maxStatusSets][numJobLabels + 1]*dto.LabelPair
	series       [maxJobSeries]series
	n, nStatus   int
	// seq is the job's place in its scrape's emission order; jobText its
	// per-job labels as exposition text (entity_id="…",…,job_name="…"),
	// written once for the job's 15 or so series.
	seq     int
	jobText []byte
}

// downSeries is kubiya_job_up 0 for a job that was not fetched.
type downSeries struct {
	value  string
	pair   dto.LabelPair
	labels [1]*dto.LabelPair
	series series
}

// emitJobDown writes kubiya_job_up 0 for id, the only series of a job that
// was not fetched and decoded this scrape.
func emitJobDown(ch chan<- prometheus.Metric, id string) {
	d := &downSeries{value: labelValue(id)}
	d.pair.Name, d.pair.Value = &jobValueNames[vJobID], &d.value
	d.labels[0] = &d.pair
	d.series = series{desc: jobUpDesc, labels: d.labels[:]}
	ch <- &d.series
}

func newJobSeries(seq int, id string, j *kubiya.Job) *jobSeries {
	js := &jobSeries{seq: seq}
	js.values = [numJobValues]string{
		vEntityID: labelValue(j.EntityID), vEntityName: labelValue(j.EntityName),
		vEntityType: labelValue(j.EntityType), vJobID: labelValue(id), vJobName: labelValue(j.Name),
		vCronSchedule: labelValue(j.CronSchedule), vCronTimezone: labelValue(j.CronTimezone),
		vEnvironmentName: labelValue(j.EnvironmentName), vExecutorType: labelValue(j.ExecutorType),
		vOrganizationID: labelValue(j.OrganizationID), vPlanningMode: labelValue(j.PlanningMode),
		vStatus: labelValue(j.Status), vTriggerType: labelValue(j.TriggerType),
		vWorkerQueueName: labelValue(j.WorkerQueueName),
	}
	for i := range js.pairs {
		js.pairs[i].Name, js.pairs[i].Value = &jobValueNames[i], &js.values[i]
	}
	for i := range numJobLabels {
		js.jobLabels[i] = &js.pairs[i]
	}
	for i, v := range infoLabelOrder {
		js.infoLabels[i] = &js.pairs[v]
	}
	js.jobText = appendLabelText(make([]byte, 0, jobTextSize(js.values[:numJobLabels])), js.jobLabels[:])
	return js
}

func (js *jobSeries) add(d *prometheus.Desc, labels []*dto.LabelPair, v float64, counter bool) *series {
	i := js.n
	js.n++
	s := &js.series[i]
	s.desc, s.labels, s.job = d, labels, js
	s.prefixed = len(labels) >= numJobLabels && [numJobLabels]*dto.LabelPair(labels) == js.jobLabels
	s.v, s.counter = v, counter
	return s
}

func (js *jobSeries) gauge(d *prometheus.Desc, v float64) *series {
	return js.add(d, js.jobLabels[:], v, false)
}

func (js *jobSeries) timestamp(d *prometheus.Desc, t kubiya.Time) {
	if !t.IsZero() {
		js.gauge(d, timestampSeconds(t.Time))
	}
}

// statusLabels returns the per-job labels plus status=pair.
func (js *jobSeries) statusLabelsWith(pair *dto.LabelPair) []*dto.LabelPair {
	ls := &js.statusLabels[js.nStatus]
	js.nStatus++
	copy(ls[:], js.jobLabels[:])
	ls[numJobLabels] = pair
	return ls[:]
}

// emitJob writes every series of one fetched job, kubiya_job_up 1 included.
// seq is the job's place in this scrape's order.
func (e *Exporter) emitJob(ch chan<- prometheus.Metric, seq int, id string, j *kubiya.Job, now time.Time) {
	js := newJobSeries(seq, id, j)
	js.add(jobUpDesc, js.jobLabels[vJobID:vJobID+1], 1, false)
	js.add(jobInfoDesc, js.infoLabels[:], 1, false)
	js.gauge(jobEnabledDesc, boolFloat(j.Enabled))
	known := false
	for _, i := range statusSortOrder {
		st := knownStatuses[i]
		known = known || st == j.Status
		js.add(jobStatusDesc, js.statusLabelsWith(knownStatusPairs[i]), boolFloat(st == j.Status), false)
	}
	if !known {
		js.add(jobStatusDesc, js.statusLabelsWith(&js.pairs[vStatus]), 1, false)
	}
	js.add(jobExecutionsDesc, js.jobLabels[:], float64(j.TotalExecutions), true)
	js.add(jobSucceededDesc, js.jobLabels[:], float64(j.SuccessfulExecs), true)
	js.add(jobFailedDesc, js.jobLabels[:], float64(j.FailedExecutions), true)
	js.timestamp(jobLastExecutionDesc, j.LastExecutionAt)
	js.timestamp(jobNextExecutionDesc, j.NextExecutionAt)
	js.timestamp(jobLastTriggeredDesc, j.LastTriggeredAt)
	js.timestamp(jobCreatedDesc, j.CreatedAt)
	js.timestamp(jobUpdatedDesc, j.UpdatedAt)

	if j.TriggerType == "cron" && j.CronSchedule != "" {
		prev, next, valid, changed, err := e.schedules.lookup(id, j.CronSchedule, j.CronTimezone, now)
		js.gauge(scheduleValidDesc, boolFloat(valid))
		switch {
		case !valid && changed:
			level.Warn(e.logger).Log("msg", "cron schedule does not parse", "job_id", js.values[vJobID],
				"cron_schedule", js.values[vCronSchedule], "cron_timezone", js.values[vCronTimezone], "err", logErr(err))
		case valid:
			if !prev.IsZero() {
				js.gauge(schedulePrevDesc, timestampSeconds(prev))
			}
			if !next.IsZero() {
				js.gauge(scheduleNextDesc, timestampSeconds(next))
			}
		}
	}
	for i := range js.n {
		ch <- &js.series[i]
	}
}
