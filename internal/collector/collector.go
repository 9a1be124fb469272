// Package collector maps Kubiya jobs to Prometheus metrics: on each scrape
// it fetches the configured jobs from the control plane and describes them.
package collector

import (
	"context"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// JobGetter is the part of the API client the collector needs.
type JobGetter interface {
	GetJob(ctx context.Context, id string) (*kubiya.Job, error)
}

// Options configure an Exporter.
type Options struct {
	Jobs           []string // job IDs, already de-duplicated
	MaxConcurrency int      // API requests in flight at once, across overlapping scrapes
	Now            func() time.Time
	// Executions, when set, turns on the executions collector
	// (executions.go), reading up to ExecutionsLimit (config-checked:
	// 1 to 1000) executions per job.
	Executions      ExecutionLister
	ExecutionsLimit int

	// List mode (discovery.go), when api is also a JobLister: discovered
	// jobs, and static IDs through the list when this shard has more than
	// StaticViaListAbove of them (0: never).
	Discovery          Discovery
	StaticViaListAbove int
	// Shard limits the jobs, static and discovered, to one shard (shard.go).
	Shard Shard
}

// Exporter holds what outlives a scrape: the client, the requests in
// flight that overlapping scrapes share, the concurrency limit and the
// caches. A reload makes the next one with Reload, which keeps what the new
// configuration does not change.
type Exporter struct {
	api        JobGetter
	logger     log.Logger
	jobs       []string
	sem        chan struct{} // its capacity is max_concurrency
	now        func() time.Time
	shard      Shard
	list       *listMode   // nil: one GET per static job, no list
	executions *executions // executions.go; nil: the executions collector is off

	flights   *flights
	schedules *scheduleCache
	built     *jobCache
	// discovered are the IDs discovery reported on the last successful
	// list. When a list fails the exporter cannot know the current IDs, so
	// it reports these as kubiya_job_up 0 rather than let every discovered
	// series vanish silently.
	discovered *atomic.Pointer[[]string]
}

// New returns an Exporter for the given jobs.
func New(api JobGetter, logger log.Logger, opts Options) *Exporter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	jobs := slices.DeleteFunc(slices.Clone(opts.Jobs), func(id string) bool { return !opts.Shard.Owns(id) })
	return &Exporter{
		api:        api,
		logger:     logger,
		jobs:       jobs,
		sem:        make(chan struct{}, max(1, opts.MaxConcurrency)),
		now:        opts.Now,
		shard:      opts.Shard,
		list:       newListMode(api, opts, jobs),
		executions: newExecutions(opts),
		flights:    &flights{},
		schedules:  newScheduleCache(),
		built:      &jobCache{seed: maphash.MakeSeed(), m: make(map[string]*builtJob)},
		discovered: new(atomic.Pointer[[]string]),
	}
}

// Reload returns the Exporter of a new configuration. It keeps e's
// caches (schedules, built series, executions: each entry is checked
// against the job's record before use), its concurrency limit when
// max_concurrency did not change, and, when api is e's client, the
// requests in flight and the last discovered jobs.
func (e *Exporter) Reload(api JobGetter, opts Options) *Exporter {
	n := New(api, e.logger, opts)
	n.schedules, n.built = e.schedules, e.built
	if n.executions != nil && e.executions != nil {
		n.executions.cache = e.executions.cache
	}
	if cap(n.sem) == cap(e.sem) {
		n.sem = e.sem
	}
	if api == e.api {
		n.flights, n.discovered = e.flights, e.discovered
	}
	return n
}

// Scrape returns one scrape, bounded by ctx's deadline: a
// prometheus.Gatherer for the /metrics handler.
func (e *Exporter) Scrape(ctx context.Context) *Scrape {
	return &Scrape{e: e, ctx: ctx}
}

// Scrape is one scrape of the control plane.
type Scrape struct {
	e   *Exporter
	ctx context.Context
}

// Gather implements prometheus.Gatherer. A prometheus.Collector's metrics
// would go through a registry's work per series (a copy, label and UTF-8
// checks, a hash, a sort), most of a scrape's CPU at 10,000 jobs. Job
// series need none of it: they are built valid (labelValue), one set per
// job_id value, with their labels in name order, in the order a registry
// sorts them, and kept between scrapes; TestGatherMatchesRegistry holds
// Gather to what prometheus.Gatherers makes of its answer.
func (s *Scrape) Gather() ([]*dto.MetricFamily, error) {
	start := time.Now()
	jobs, down, up := s.e.scrape(s.ctx)
	duration := time.Since(start).Seconds()
	// The scrape's series in one array, family after family (the order
	// the encoder reads them in), and their values in two more.
	type family struct {
		mf   *dto.MetricFamily
		next int // index in metrics of the family's next series
	}
	fams := make(map[*jobMetric]*family)
	total, counters := len(down), 0
	for _, b := range jobs {
		for i := range b.series {
			if fams[b.series[i].m] == nil {
				fams[b.series[i].m] = &family{}
			}
			fams[b.series[i].m].next++
			if b.series[i].m.counter {
				counters++
			}
		}
		total += len(b.series)
	}
	if len(down) > 0 {
		if fams[jobUp] == nil {
			fams[jobUp] = &family{}
		}
		fams[jobUp].next += len(down)
	}
	metrics, ptrs := make([]dto.Metric, total), make([]*dto.Metric, total)
	gaugeValues, counterValues := make([]dto.Gauge, 0, total-counters), make([]dto.Counter, 0, counters)
	out := []*dto.MetricFamily{gaugeFamily(upName, upHelp, boolFloat(up)), gaugeFamily(durationName, durationHelp, duration)}
	at := 0
	for m, f := range fams {
		typ := dto.MetricType_GAUGE
		if m.counter {
			typ = dto.MetricType_COUNTER
		}
		f.mf = &dto.MetricFamily{Name: &m.fqName, Help: &m.help, Type: &typ, Metric: ptrs[at : at : f.next+at]}
		f.next, at = at, at+f.next
		out = append(out, f.mf)
	}
	add := func(m *jobMetric, labels []*dto.LabelPair, v *float64) {
		f := fams[m]
		d := &metrics[f.next]
		d.Label = labels
		if m.counter {
			counterValues = append(counterValues, dto.Counter{Value: v})
			d.Counter = &counterValues[len(counterValues)-1]
		} else {
			gaugeValues = append(gaugeValues, dto.Gauge{Value: v})
			d.Gauge = &gaugeValues[len(gaugeValues)-1]
		}
		f.mf.Metric = append(f.mf.Metric, d)
		f.next++
	}
	for _, b := range jobs {
		for i := range b.series {
			add(b.series[i].m, b.series[i].labels, &b.series[i].value)
		}
	}
	for _, id := range down {
		add(jobUp, []*dto.LabelPair{{Name: &jobLabels[0], Value: &id}}, new(0.0))
	}
	for m, f := range fams {
		// A registry sorts a family's series by their label values in
		// label-name order. The jobs are sorted by their per-job labels,
		// so are the families whose labels start with those.
		if !m.jobOrdered {
			slices.SortFunc(f.mf.Metric, compareLabels)
		}
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

// compareLabels orders two series of one family by their label values.
func compareLabels(a, b *dto.Metric) int {
	for i, l := range a.Label {
		if c := strings.Compare(l.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}

func gaugeFamily(name, help string, v float64) *dto.MetricFamily {
	return &dto.MetricFamily{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}}}
}

type result struct {
	id  string
	job *kubiya.Job
	err error
}

// scrape returns the series of the fetched jobs, in the order of their
// per-job labels, the job_id label values of the jobs not fetched, and
// whether the control plane itself answered and accepted the key.
func (e *Exporter) scrape(ctx context.Context) (jobs []*builtJob, down []string, up bool) {
	results, up := e.fetchJobs(ctx)
	for _, r := range results {
		up = up || answered(r.err)
	}
	var execs []*execSummary
	if e.executions != nil {
		execs = e.executions.summaries(ctx, e, results)
	}
	jobs, down = e.buildJobs(results, execs)
	return jobs, down, up
}

// builtJob is the series of one fetched job, kept while the job's record,
// schedule times and executions summary stay the same: at a scrape
// interval apart most jobs did not run, and their series are reused.
type builtJob struct {
	id     string
	record uint64 // hash of the job's record (kubiya.Job)
	sched  scheduleAt
	exec   *execSummary
	key    [5]string // the per-job label values in label-name order, for sorting
	series []series
}

// series is one series of a job, served as it is until the job changes.
type series struct {
	m      *jobMetric
	labels []*dto.LabelPair // in name order; never written once built
	value  float64
}

type jobCache struct {
	seed maphash.Seed
	mu   sync.Mutex
	m    map[string]*builtJob // by job ID: the jobs of the latest scrape
}

// buildJobs returns the series of every fetched job of results, from the
// cache where the job did not change, sorted by their per-job labels, and
// the job_id label values of the others.
func (e *Exporter) buildJobs(results []result, execs []*execSummary) (built []*builtJob, down []string) {
	now := e.now()
	seen := make(map[string]struct{}, len(results))
	built = make([]*builtJob, 0, len(results))
	fresh := make(map[string]*builtJob, len(results))
	// A published map is never written again, so it is read unlocked.
	e.built.mu.Lock()
	cached := e.built.m
	e.built.mu.Unlock()
	for i, r := range results {
		// IDs are unique, but two can share a label value once cut to
		// MaxLabelValueLen or made valid UTF-8: the first is reported.
		id := labelValue(r.id)
		if _, dup := seen[id]; dup {
			level.Warn(e.logger).Log("msg", "two job IDs give the same job_id label value; reporting the first", "job_id", id)
			continue
		}
		seen[id] = struct{}{}
		if r.err != nil {
			down = append(down, id)
			continue
		}
		var exec *execSummary
		if execs != nil {
			exec = execs[i]
		}
		sched := e.scheduleOf(r.id, r.job, now)
		// A hash instead of a copy of the record: the cache then holds
		// 3 KB per job, not 4 (and none of the decoded answer). A collision
		// (one in 2^64) would keep a job's series one change longer.
		record := maphash.Comparable(e.built.seed, *r.job)
		b := cached[r.id]
		if b == nil || b.record != record || b.sched != sched || b.exec != exec {
			b = e.build(r.id, r.job, sched, exec)
			b.record = record
		}
		built = append(built, b)
		fresh[b.id] = b
	}
	e.built.mu.Lock()
	e.built.m = fresh
	e.built.mu.Unlock()
	slices.SortFunc(built, func(a, b *builtJob) int { return slices.Compare(a.key[:], b.key[:]) })
	return built, down
}

// build makes the series of fetched job id: kubiya_job_up 1, the table's,
// and the executions collector's when it is on. A job's label values,
// label pairs and series are each one allocation, so a scrape reads them
// from adjacent memory.
func (e *Exporter) build(id string, j *kubiya.Job, sched scheduleAt, exec *execSummary) *builtJob {
	type raw struct {
		m     *jobMetric
		v     float64
		extra []string
	}
	raws := []raw{{m: jobUp, v: 1}}
	view := &jobView{job: j, sched: sched, exec: exec}
	emitAll := func(ms []*jobMetric) {
		for _, m := range ms {
			m.series(view, func(v float64, extra ...string) { raws = append(raws, raw{m, v, extra}) })
		}
	}
	emitAll(jobMetrics)
	if e.executions != nil {
		raws = append(raws, raw{m: execUp, v: boolFloat(exec != nil)})
		emitAll(executionMetrics)
	}

	values := []string{labelValue(id), labelValue(j.Name), labelValue(j.EntityType), labelValue(j.EntityID), labelValue(j.EntityName)}
	names := make([]*string, len(jobLabels), len(jobLabels)+8)
	for i := range jobLabels {
		names[i] = &jobLabels[i]
	}
	nPtrs := 0
	for _, r := range raws {
		for i, v := range r.extra {
			if r.m.shared[v] == nil {
				values, names = append(values, v), append(names, &r.m.extra[i])
			}
		}
		if len(r.extra) > 0 {
			nPtrs += len(r.m.order)
		}
	}
	text := strings.Join(values, "")
	pairs := make([]dto.LabelPair, len(values))
	for i, v := range values {
		values[i], text = text[:len(v)], text[len(v):]
		pairs[i].Name, pairs[i].Value = names[i], &values[i]
	}
	b := &builtJob{id: strings.Clone(id), sched: sched, exec: exec, series: make([]series, len(raws))}
	// Series without labels of their own share the job's.
	base := make([]*dto.LabelPair, len(jobLabels))
	for i, k := range jobLabelOrder {
		base[i], b.key[i] = &pairs[k], values[k]
	}
	idOnly := []*dto.LabelPair{&pairs[0]}
	ptrs := make([]*dto.LabelPair, 0, nPtrs)
	extraAt := len(jobLabels)
	var extra []*dto.LabelPair // r's extra label pairs, by index
	for i, r := range raws {
		s := &b.series[i]
		s.m, s.value = r.m, r.v
		switch {
		case len(r.m.order) == 1:
			s.labels = idOnly
		case len(r.extra) == 0:
			s.labels = base
		default:
			extra = extra[:0]
			for _, v := range r.extra {
				if p := r.m.shared[v]; p != nil {
					extra = append(extra, p)
				} else {
					extra, extraAt = append(extra, &pairs[extraAt]), extraAt+1
				}
			}
			start := len(ptrs)
			for _, k := range r.m.order {
				if k < len(jobLabels) {
					ptrs = append(ptrs, &pairs[k])
				} else {
					ptrs = append(ptrs, extra[k-len(jobLabels)])
				}
			}
			s.labels = ptrs[start:len(ptrs):len(ptrs)]
		}
	}
	return b
}

// scheduleOf returns a cron job's fire times at now.
func (e *Exporter) scheduleOf(id string, j *kubiya.Job, now time.Time) scheduleAt {
	if j.TriggerType != "cron" || j.CronSchedule == "" {
		return scheduleAt{}
	}
	prev, next, valid, changed, err := e.schedules.lookup(id, j.CronSchedule, j.CronTimezone, now)
	if !valid && changed {
		level.Warn(e.logger).Log("msg", "cron schedule does not parse", "job_id", labelValue(id),
			"cron_schedule", labelValue(j.CronSchedule), "cron_timezone", labelValue(j.CronTimezone), "err", logErr(err))
	}
	return scheduleAt{cron: true, valid: valid, prev: prev, next: next}
}

// fetchAll fetches the jobs ids with a bounded pool of workers. Results
// keep the order of ids.
func (e *Exporter) fetchAll(ctx context.Context, ids []string, failures *failureLog) []result {
	results := make([]result, len(ids))
	e.forEach(len(ids), func(i int) {
		job, err := e.fetch(ctx, ids[i], failures)
		results[i] = result{id: ids[i], job: job, err: err}
	})
	return results
}

// forEach calls f(0..n-1) from at most max_concurrency goroutines at a time.
func (e *Exporter) forEach(n int, f func(i int)) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, cap(e.sem))
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			f(i)
		})
	}
	wg.Wait()
}

// request makes one API request within the global concurrency bound, or
// joins the same request an overlapping scrape already made. failed logs
// its failure once, however many scrapes share it.
func (e *Exporter) request(ctx context.Context, key string, call func(context.Context) (any, error), failed func(error)) (any, error) {
	if ctx.Err() != nil {
		// The scrape is over: start no request that no one would wait for.
		err := scrapeDeadline(" before the request was sent")
		failed(err)
		return nil, err
	}
	return e.flights.do(ctx, key, func(ctx context.Context) (any, error) {
		select {
		case e.sem <- struct{}{}:
			defer func() { <-e.sem }()
		case <-ctx.Done():
			err := scrapeDeadline(" waiting for a request slot")
			failed(err)
			return nil, err
		}
		v, err := call(ctx)
		if err != nil {
			failed(err)
		}
		return v, err
	})
}

// fetch gets one job, shared with overlapping scrapes; a failure goes to
// the failures of the scrape that made the request.
func (e *Exporter) fetch(ctx context.Context, id string, failures *failureLog) (*kubiya.Job, error) {
	v, err := e.request(ctx, "job/"+id, func(ctx context.Context) (any, error) {
		job, err := e.api.GetJob(ctx, id)
		if err == nil {
			// Only decoded, non-secret fields exist on a Job, so even debug
			// output cannot show a webhook secret or a prompt.
			level.Debug(e.logger).Log("msg", "fetched job", "job_id", labelValue(id), "job_name", labelValue(job.Name),
				"status", labelValue(job.Status), "total_executions", job.TotalExecutions)
		}
		return job, err
	}, func(err error) { failures.add(id, err) })
	job, _ := v.(*kubiya.Job) // nil on failure
	return job, err
}
