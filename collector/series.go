package collector

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// Series construction, the hot path of a large scrape: at 10,000 jobs a
// scrape emits about 160,000 series, and the registry holds all of them
// until the answer is written. prometheus.MustNewConstMetric copies the
// label values and allocates a label pair (two strings, a struct) per
// label per series: for a job's 16 series with 5 to 14 labels, about 250
// allocations and 20 KiB. Here a series is 24 bytes (its job, value,
// family and label set); the job holds the label values once, and their
// exposition text, escaped once per job. The jobs of a scrape live in one
// allocation, in the order the families are written.

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

// Label names of the values. Read-only, like the descriptors.
var jobValueNames = [numJobValues]string{
	"entity_id", "entity_name", "entity_type", "job_id", "job_name",
	"cron_schedule", "cron_timezone", "environment_name", "executor_type", "organization_id",
	"planning_mode", "status", "trigger_type", "worker_queue_name",
}

// infoLabelOrder lists kubiya_job_info's labels sorted by name, as the
// registry needs them (TestLabelSetsMatchDescriptors checks it).
var infoLabelOrder = [...]int{
	vCronSchedule, vCronTimezone, vEntityID, vEntityName, vEntityType, vEnvironmentName,
	vExecutorType, vJobID, vJobName, vOrganizationID, vPlanningMode, vStatus,
	vTriggerType, vWorkerQueueName,
}

// knownStatusText is the label text of each known status after the
// per-job labels. Read-only.
var knownStatusText = func() []string {
	texts := make([]string, len(knownStatuses))
	for i, st := range knownStatuses {
		texts[i] = string(appendLabel([]byte{','}, jobValueNames[vStatus], st))
	}
	return texts
}()

// statusSortOrder visits knownStatuses in the order of their values, so
// a job's status series go out sorted.
var statusSortOrder = func() []int {
	order := make([]int, len(knownStatuses))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(knownStatuses[a], knownStatuses[b]) })
	return order
}()

// maxJobSeries is the most series one job has: up, info, enabled, five
// status (four known and an unknown one), three counters, five timestamps
// and three schedule gauges.
const (
	maxJobSeries = 19
	numJobLabels = 5
)

// labelSet says which labels a series has.
type labelSet uint8

const (
	labelsJob           labelSet = iota // the per-job labels
	labelsUp                            // job_id
	labelsInfo                          // infoLabelOrder
	labelsStatusUnknown                 // per-job labels, status = the job's own
	// labelsStatus+i: per-job labels, status = knownStatuses[i].
	labelsStatus
)

// series is one collected metric of a job: a prometheus.Metric whose
// labels are its job's.
type series struct {
	job    *jobSeries
	v      float64
	family uint8 // index in seriesFamilies, which fixes the descriptor and type
	labels labelSet
}

func (s *series) Desc() *prometheus.Desc { return seriesFamilies[s.family].desc }

// prefixed says the first numJobLabels labels are the per-job ones, so the
// scrape registry can compare and write them per job (gather.go).
func (s *series) prefixed() bool { return s.labels == labelsJob || s.labels >= labelsStatusUnknown }

func (s *series) numLabels() int {
	switch {
	case s.labels == labelsJob:
		return numJobLabels
	case s.labels == labelsUp:
		return 1
	case s.labels == labelsInfo:
		return len(infoLabelOrder)
	}
	return numJobLabels + 1
}

// label returns the name and value of the series' i-th label in name
// order. Names and values are never written after the job is built.
func (s *series) label(i int) (name, value *string) {
	v := i
	switch {
	case s.labels == labelsUp:
		v = vJobID
	case s.labels == labelsInfo:
		v = infoLabelOrder[i]
	case i == numJobLabels && s.labels >= labelsStatus:
		return &jobValueNames[vStatus], &knownStatuses[s.labels-labelsStatus]
	case i == numJobLabels:
		v = vStatus
	}
	return &jobValueNames[v], &s.job.values[v]
}

func (s *series) labelValue(i int) string {
	_, v := s.label(i)
	return *v
}

func (s *series) Write(m *dto.Metric) error {
	// The value is made on demand, and the labels on the job's first
	// Write: the text path never asks for them (gather.go).
	m.Label = s.job.labelPairs().of(s.labels)
	v := s.v
	if seriesFamilies[s.family].typ == dto.MetricType_COUNTER {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// knownStatusPairs are the status label pairs of the state set, the same
// for every job. Read-only.
var knownStatusPairs = func() []dto.LabelPair {
	pairs := make([]dto.LabelPair, len(knownStatuses))
	for i := range pairs {
		pairs[i].Name, pairs[i].Value = &jobValueNames[vStatus], &knownStatuses[i]
	}
	return pairs
}()

// jobPairs are a job's labels as client_model label pairs, for the formats
// other than text, made once per job and shared by its series (a registry
// never writes a collected metric's labels).
type jobPairs struct {
	pairs  [numJobValues]dto.LabelPair
	job    [numJobLabels]*dto.LabelPair
	up     [1]*dto.LabelPair
	info   [len(infoLabelOrder)]*dto.LabelPair
	status [maxStatusSets][numJobLabels + 1]*dto.LabelPair // known statuses, then the job's own
}

// maxStatusSets is the known statuses and an unknown one.
const maxStatusSets = 5

// labelPairs returns the job's label pairs, made on the first call.
// Registries may write metrics from several goroutines.
func (js *jobSeries) labelPairs() *jobPairs {
	if p := js.pairs.Load(); p != nil {
		return p
	}
	p := &jobPairs{}
	for i := range p.pairs {
		p.pairs[i].Name, p.pairs[i].Value = &jobValueNames[i], &js.values[i]
	}
	for i := range p.job {
		p.job[i] = &p.pairs[i]
	}
	p.up[0] = &p.pairs[vJobID]
	for i, v := range infoLabelOrder {
		p.info[i] = &p.pairs[v]
	}
	for i := range p.status {
		copy(p.status[i][:], p.job[:])
		if i < len(knownStatuses) {
			p.status[i][numJobLabels] = &knownStatusPairs[i]
		} else {
			p.status[i][numJobLabels] = &p.pairs[vStatus]
		}
	}
	if !js.pairs.CompareAndSwap(nil, p) {
		return js.pairs.Load()
	}
	return p
}

func (p *jobPairs) of(set labelSet) []*dto.LabelPair {
	switch {
	case set == labelsJob:
		return p.job[:]
	case set == labelsUp:
		return p.up[:]
	case set == labelsInfo:
		return p.info[:]
	case set == labelsStatusUnknown:
		return p.status[len(knownStatuses)][:]
	}
	return p.status[set-labelsStatus][:]
}

// jobSeries is one job's label values and series.
type jobSeries struct {
	values [numJobValues]string
	// text holds the job's label text as the exposition format writes it
	// between braces: the per-job labels, then kubiya_job_up's, then
	// kubiya_job_info's, then an unknown status' (",status=…"), ending at
	// the offsets in ends.
	text   []byte
	ends   [4]int32
	series [maxJobSeries]series
	n      int32
	// seq is the job's place in its scrape, in per-job label order.
	seq int32
	// pairs are the labels for dto, made on the first Write.
	pairs atomic.Pointer[jobPairs]
}

// Pieces of jobSeries.text.
const (
	textJob = iota
	textUp
	textInfo
	textStatus
)

func (js *jobSeries) textPiece(p int) []byte {
	start := int32(0)
	if p > 0 {
		start = js.ends[p-1]
	}
	return js.text[start:js.ends[p]]
}

// textArena holds the label text of one scrape in a few large chunks
// instead of one allocation per job; the jobs' text is then adjacent in
// memory in the order it is written. Its chunks are reused by the next
// scrape (buffers.go).
type textArena struct {
	buf    []byte   // the chunk being filled
	chunks [][]byte // every chunk; chunks[used:] are free
	used   int
}

// reserve makes room for n bytes in buf.
func (a *textArena) reserve(n int) {
	if cap(a.buf)-len(a.buf) >= n {
		return
	}
	if a.used == len(a.chunks) {
		a.chunks = append(a.chunks, make([]byte, 0, textChunk))
	}
	a.buf = a.chunks[a.used][:0]
	a.used++
}

// reset frees every chunk for reuse, and drops those this scrape did not
// need: a scrape of fewer jobs than the last keeps less memory.
func (a *textArena) reset() {
	clear(a.chunks[a.used:])
	a.chunks = a.chunks[:a.used]
	a.buf, a.used = nil, 0
}

const (
	textChunk = 256 << 10
	// maxJobText bounds one job's text: its values cut to
	// MaxLabelValueLen, all escaped, written twice, and their names.
	maxJobText = 4*numJobValues*MaxLabelValueLen + 1024
)

// jobValues returns job j's label values (by the v* indexes).
func jobValues(id string, j *kubiya.Job) [numJobValues]string {
	return [numJobValues]string{
		vEntityID: labelValue(j.EntityID), vEntityName: labelValue(j.EntityName),
		vEntityType: labelValue(j.EntityType), vJobID: labelValue(id), vJobName: labelValue(j.Name),
		vCronSchedule: labelValue(j.CronSchedule), vCronTimezone: labelValue(j.CronTimezone),
		vEnvironmentName: labelValue(j.EnvironmentName), vExecutorType: labelValue(j.ExecutorType),
		vOrganizationID: labelValue(j.OrganizationID), vPlanningMode: labelValue(j.PlanningMode),
		vStatus: labelValue(j.Status), vTriggerType: labelValue(j.TriggerType),
		vWorkerQueueName: labelValue(j.WorkerQueueName),
	}
}

// render writes the job's label text into the arena.
func (js *jobSeries) render(arena *textArena, unknownStatus bool) {
	arena.reserve(maxJobText)
	b := arena.buf
	start := len(b)
	mark := func(p int) { js.ends[p] = int32(len(b) - start) }
	for i := range numJobLabels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, jobValueNames[i], js.values[i])
	}
	mark(textJob)
	b = appendLabel(b, jobValueNames[vJobID], js.values[vJobID])
	mark(textUp)
	for i, v := range infoLabelOrder {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, jobValueNames[v], js.values[v])
	}
	mark(textInfo)
	if unknownStatus {
		b = appendLabel(append(b, ','), jobValueNames[vStatus], js.values[vStatus])
	}
	mark(textStatus)
	arena.buf = b
	js.text = b[start:len(b):len(b)]
}

func (js *jobSeries) add(family int, labels labelSet, v float64) {
	js.series[js.n] = series{job: js, v: v, family: uint8(family), labels: labels}
	js.n++
}

func (js *jobSeries) timestamp(family int, t kubiya.Time) {
	if !t.IsZero() {
		js.add(family, labelsJob, timestampSeconds(t.Time))
	}
}

// Places in jobSeries.series of the two series not written in per-job
// label order.
const (
	upSeries   = 0
	infoSeries = 1
)

// build fills js with every series of fetched job j, kubiya_job_up 1
// first and kubiya_job_info second.
func (e *Exporter) build(js *jobSeries, values *[numJobValues]string, id string, j *kubiya.Job, now time.Time, arena *textArena) {
	js.values = *values
	unknown := !slices.Contains(knownStatuses, js.values[vStatus])
	js.render(arena, unknown)
	js.add(familyOf.up, labelsUp, 1)
	js.add(familyOf.info, labelsInfo, 1)
	js.add(familyOf.enabled, labelsJob, boolFloat(j.Enabled))
	// The state set in order of the status values, an unknown status in
	// its place among them.
	for _, i := range statusSortOrder {
		if unknown && js.values[vStatus] < knownStatuses[i] {
			js.add(familyOf.status, labelsStatusUnknown, 1)
			unknown = false
		}
		js.add(familyOf.status, labelsStatus+labelSet(i), boolFloat(knownStatuses[i] == js.values[vStatus]))
	}
	if unknown {
		js.add(familyOf.status, labelsStatusUnknown, 1)
	}
	js.add(familyOf.executions, labelsJob, float64(j.TotalExecutions))
	js.add(familyOf.succeeded, labelsJob, float64(j.SuccessfulExecs))
	js.add(familyOf.failed, labelsJob, float64(j.FailedExecutions))
	js.timestamp(familyOf.lastExecution, j.LastExecutionAt)
	js.timestamp(familyOf.nextExecution, j.NextExecutionAt)
	js.timestamp(familyOf.lastTriggered, j.LastTriggeredAt)
	js.timestamp(familyOf.created, j.CreatedAt)
	js.timestamp(familyOf.updated, j.UpdatedAt)

	if j.TriggerType == "cron" && j.CronSchedule != "" {
		prev, next, valid, changed, err := e.schedules.lookup(id, j.CronSchedule, j.CronTimezone, now)
		js.add(familyOf.scheduleValid, labelsJob, boolFloat(valid))
		switch {
		case !valid && changed:
			level.Warn(e.logger).Log("msg", "cron schedule does not parse", "job_id", js.values[vJobID],
				"cron_schedule", js.values[vCronSchedule], "cron_timezone", js.values[vCronTimezone], "err", logErr(err))
		case valid:
			if !prev.IsZero() {
				js.add(familyOf.schedulePrev, labelsJob, timestampSeconds(prev))
			}
			if !next.IsZero() {
				js.add(familyOf.scheduleNext, labelsJob, timestampSeconds(next))
			}
		}
	}
}

// buildDown fills js with kubiya_job_up 0, the only series of a job that
// was not fetched and decoded this scrape; jobID is its job_id value.
func buildDown(js *jobSeries, jobID string, arena *textArena) {
	js.values[vJobID] = jobID
	js.render(arena, false)
	js.add(familyOf.up, labelsUp, 0)
}

// upEntry is one kubiya_job_up series: of fetched job number i, or of
// down job number i.
type upEntry struct {
	id   string // its job_id label value
	i    int
	down bool
}

// emitJobs writes the series of every result into b: kubiya_job_up for
// each, all the others for each fetched job. Every family goes out in the
// order the registry sorts it in (by label values, in label-name order),
// so the scrape registry only checks the order in one pass (gather.go):
// the per-job families ordered by the per-job labels, then
// kubiya_job_info by its own labels, then kubiya_job_up by job_id.
func (e *Exporter) emitJobs(ch chan<- prometheus.Metric, results []result, now time.Time, b *scrapeBuffers) {
	down := 0 // jobs not fetched
	for i := range results {
		r := &results[i]
		if r.err != nil {
			b.ups = append(b.ups, upEntry{id: labelValue(r.id), i: down, down: true})
			down++
			continue
		}
		b.values = append(b.values, jobValues(r.id, r.job))
		b.ups = append(b.ups, upEntry{id: b.values[len(b.fetched)][vJobID], i: len(b.fetched)})
		b.fetched = append(b.fetched, r)
	}

	// IDs are unique, but two can share a label value once cut to
	// MaxLabelValueLen or made valid UTF-8: the first collected is
	// reported, as a registry would keep it.
	ups := b.ups
	slices.SortStableFunc(ups, func(a, b upEntry) int { return strings.Compare(a.id, b.id) })
	n := 0
	for k, u := range ups {
		if k > 0 && u.id == ups[n-1].id {
			level.Warn(e.logger).Log("msg", "two job IDs give the same job_id label value; reporting the first", "job_id", u.id)
			continue
		}
		if !u.down {
			b.order = append(b.order, u.i)
		}
		ups[n] = u
		n++
	}
	ups = ups[:n]

	// The jobs in per-job label order, the order in which every family but
	// two reads them, in one array.
	order, values, fetched := b.order, b.values, b.fetched
	slices.SortFunc(order, func(a, b int) int {
		return compareValues(values[a][:numJobLabels], values[b][:numJobLabels])
	})
	b.jobs = grow(b.jobs, len(order)+down)
	b.at = grow(b.at, len(fetched)) // fetched job -> place in jobs
	jobs, at := b.jobs, b.at
	for k, f := range order {
		js := &jobs[k]
		e.build(js, &values[f], fetched[f].id, fetched[f].job, now, &b.arena)
		js.seq = int32(k)
		at[f] = k
		for i := infoSeries + 1; i < int(js.n); i++ {
			ch <- &js.series[i]
		}
	}
	b.byInfo = grow(b.byInfo, len(order))
	byInfo := b.byInfo
	for k := range byInfo {
		byInfo[k] = &jobs[k]
	}
	slices.SortFunc(byInfo, func(a, b *jobSeries) int {
		for _, v := range infoLabelOrder {
			if c := strings.Compare(a.values[v], b.values[v]); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, js := range byInfo {
		ch <- &js.series[infoSeries]
	}
	downJobs := jobs[len(order):]
	for _, u := range ups {
		if u.down {
			js := &downJobs[u.i]
			buildDown(js, u.id, &b.arena)
			ch <- &js.series[upSeries]
		} else {
			ch <- &jobs[at[u.i]].series[upSeries]
		}
	}
}

func compareValues(a, b []string) int {
	for i, v := range a {
		if c := strings.Compare(v, b[i]); c != 0 {
			return c
		}
	}
	return 0
}
