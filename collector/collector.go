// Package collector maps Kubiya jobs to Prometheus metrics: on each scrape
// it fetches the configured jobs from the control plane and describes them.
package collector

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/kubiya"
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
	// (executions.go), reading up to ExecutionsLimit executions per job.
	Executions      ExecutionLister
	ExecutionsLimit int

	// List mode (discovery.go): discovered jobs, and static IDs through
	// the list when this shard has more than StaticViaListAbove of them
	// (0: never). Lister defaults to api when it can list.
	Discovery          Discovery
	StaticViaListAbove int
	Lister             JobLister
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
	workers    int
	sem        chan struct{}
	now        func() time.Time
	shard      Shard
	list       *listMode   // nil: one GET per static job, no list
	executions *executions // executions.go; nil: the executions collector is off

	flights    *flights
	schedules  *scheduleCache
	built      *jobCache
	discovered *lastDiscovered
}

// New returns an Exporter for the given jobs.
func New(api JobGetter, logger log.Logger, opts Options) *Exporter {
	if opts.MaxConcurrency < 1 {
		opts.MaxConcurrency = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	jobs := opts.Jobs
	if opts.Shard.Total > 1 {
		jobs = slices.DeleteFunc(slices.Clone(jobs), func(id string) bool { return !opts.Shard.Owns(id) })
	}
	return &Exporter{
		api:        api,
		logger:     logger,
		jobs:       jobs,
		workers:    opts.MaxConcurrency,
		sem:        make(chan struct{}, opts.MaxConcurrency),
		now:        opts.Now,
		shard:      opts.Shard,
		list:       newListMode(api, opts, jobs),
		executions: newExecutions(opts),
		flights:    &flights{},
		schedules:  newScheduleCache(),
		built:      &jobCache{m: make(map[string]*builtJob)},
		discovered: &lastDiscovered{},
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
	if n.workers == e.workers {
		n.sem = e.sem
	}
	if api == e.api {
		n.flights, n.discovered = e.flights, e.discovered
	}
	return n
}

// Scrape returns the collector of one scrape, bounded by ctx's deadline,
// for a registry made for that one request.
func (e *Exporter) Scrape(ctx context.Context) prometheus.Collector {
	return &scrape{e: e, ctx: ctx}
}

type scrape struct {
	e   *Exporter
	ctx context.Context
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- scrapeDurationDesc
	ch <- jobUpDesc
	for _, m := range jobMetrics {
		ch <- m.desc
	}
	if s.e.executions != nil {
		ch <- execUpDesc
		for _, m := range executionMetrics {
			ch <- m.desc
		}
	}
}

type result struct {
	id  string
	job *kubiya.Job
	err error
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	e := s.e
	start := time.Now()
	results, up := e.fetchJobs(s.ctx)
	for _, r := range results {
		// The control plane itself answered and accepted the key.
		up = up || answered(r.err)
	}
	var execs []*execSummary
	if e.executions != nil {
		execs = e.executions.summaries(s.ctx, e, results)
	}
	e.emitJobs(ch, results, execs)
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolFloat(up))
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds())
}

// builtJob is the series of one fetched job, kept while the job's record,
// schedule times and executions summary stay the same: at a scrape
// interval apart most jobs did not run, and their series are reused.
type builtJob struct {
	id      string
	job     kubiya.Job
	sched   scheduleAt
	exec    *execSummary
	key     []string // jobLabels' values in label-name order, for sorting
	metrics []prometheus.Metric
}

type jobCache struct {
	mu sync.Mutex
	m  map[string]*builtJob // by job ID; only jobs of the latest scrape
}

// emitJobs sends kubiya_job_up for every result and the other series of
// every fetched job, the jobs in the order of their labels so that the
// registry finds most families sorted.
func (e *Exporter) emitJobs(ch chan<- prometheus.Metric, results []result, execs []*execSummary) {
	now := e.now()
	seen := make(map[string]struct{}, len(results))
	built := make([]*builtJob, 0, len(results))
	e.built.mu.Lock()
	old := e.built.m
	e.built.m = make(map[string]*builtJob, len(results))
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
			ch <- prometheus.MustNewConstMetric(jobUpDesc, prometheus.GaugeValue, 0, id)
			continue
		}
		var exec *execSummary
		if execs != nil {
			exec = execs[i]
		}
		sched := e.scheduleOf(r.id, r.job, now)
		b := old[r.id]
		if b == nil || b.job != *r.job || b.sched != sched || b.exec != exec {
			b = e.build(r.id, r.job, sched, exec)
		}
		built = append(built, b)
	}
	e.built.mu.Lock()
	for _, b := range built {
		e.built.m[b.id] = b
	}
	e.built.mu.Unlock()
	slices.SortFunc(built, func(a, b *builtJob) int { return slices.Compare(a.key, b.key) })
	for _, b := range built {
		for _, m := range b.metrics {
			ch <- m
		}
	}
}

// build makes the series of fetched job id: kubiya_job_up 1, the table's,
// and the executions collector's when it is on.
func (e *Exporter) build(id string, j *kubiya.Job, sched scheduleAt, exec *execSummary) *builtJob {
	b := &builtJob{id: id, job: *j, sched: sched, exec: exec}
	values := []string{labelValue(id), labelValue(j.Name), labelValue(j.EntityType), labelValue(j.EntityID), labelValue(j.EntityName)}
	base := labelPairs(jobLabels, values)
	idLabel := []*dto.LabelPair{{Name: &jobLabels[0], Value: &values[0]}}
	for _, p := range base {
		b.key = append(b.key, p.GetValue())
	}
	one := 1.0
	b.metrics = append(b.metrics, &sample{desc: jobUpDesc, labels: idLabel, gauge: &dto.Gauge{Value: &one}})
	v := &jobView{job: j, sched: sched, exec: exec}
	b.metrics = samples(b.metrics, jobMetrics, v, base)
	if e.executions != nil {
		up := boolFloat(exec != nil)
		b.metrics = append(b.metrics, &sample{desc: execUpDesc, labels: idLabel, gauge: &dto.Gauge{Value: &up}})
		b.metrics = samples(b.metrics, executionMetrics, v, base)
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
func (e *Exporter) fetchAll(ctx context.Context, ids []string) []result {
	results := make([]result, len(ids))
	e.forEach(len(ids), func(i int) {
		job, err := e.fetch(ctx, ids[i])
		results[i] = result{id: ids[i], job: job, err: err}
	})
	return results
}

// forEach calls f(0..n-1) from at most e.workers goroutines.
func (e *Exporter) forEach(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(e.workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// request makes one API request within the global concurrency bound, or
// joins the same request an overlapping scrape already made. failed logs
// its failure once, however many scrapes share it.
func (e *Exporter) request(ctx context.Context, key string, call func(context.Context) (any, error), failed func(error)) (any, error) {
	return e.flights.do(ctx, key, func(ctx context.Context) (any, error) {
		select {
		case e.sem <- struct{}{}:
			defer func() { <-e.sem }()
		case <-ctx.Done():
			err := &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded waiting for a request slot")}
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

// fetch gets one job, shared with overlapping scrapes.
func (e *Exporter) fetch(ctx context.Context, id string) (*kubiya.Job, error) {
	v, err := e.request(ctx, "job/"+id, func(ctx context.Context) (any, error) {
		job, err := e.api.GetJob(ctx, id)
		if err == nil {
			// Only decoded, non-secret fields exist on a Job, so even debug
			// output cannot show a webhook secret or a prompt.
			level.Debug(e.logger).Log("msg", "fetched job", "job_id", labelValue(id), "job_name", labelValue(job.Name),
				"status", labelValue(job.Status), "total_executions", job.TotalExecutions)
		}
		return job, err
	}, func(err error) { e.logFailure(id, err) })
	if err != nil {
		return nil, err
	}
	return v.(*kubiya.Job), nil
}

func (e *Exporter) logFailure(id string, err error) {
	level.Warn(e.logger).Log("msg", "fetching job failed", "job_id", labelValue(id),
		"class", kubiya.ClassOf(err), "err", logErr(err))
}
