// Package collector maps Kubiya jobs to Prometheus metrics: on each scrape
// it fetches the configured jobs from the control plane and describes them.
package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

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

// Exporter holds what outlives a scrape: the client, the in-flight requests
// that overlapping scrapes share, and the schedule cache. One is built per
// configuration; a reload builds a new one.
type Exporter struct {
	api       JobGetter
	logger    log.Logger
	jobs      []string
	workers   int
	sem       chan struct{}
	inflight  singleflight.Group
	schedules *scheduleCache
	now       func() time.Time
	shard     Shard
	list      *listMode // nil: one GET per static job, no list
	buffers   bufferPool

	executions *executions // executions.go; nil: the executions collector is off
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
		jobs = make([]string, 0, len(opts.Jobs)/opts.Shard.Total+1)
		for _, id := range opts.Jobs {
			if opts.Shard.Owns(id) {
				jobs = append(jobs, id)
			}
		}
	}
	return &Exporter{
		api:       api,
		logger:    logger,
		jobs:      jobs,
		workers:   opts.MaxConcurrency,
		sem:       make(chan struct{}, opts.MaxConcurrency),
		schedules: newScheduleCache(),
		now:       opts.Now,
		shard:     opts.Shard,
		list:      newListMode(api, opts, jobs),

		executions: newExecutions(opts),
	}
}

// Scrape returns a collector for one scrape, bounded by ctx's deadline. It
// is meant for a registry made for that one request; close it once the
// answer is written.
func (e *Exporter) Scrape(ctx context.Context) *Scrape {
	return &Scrape{e: e, ctx: ctx}
}

// Scrape is the prometheus.Collector of one scrape.
type Scrape struct {
	e   *Exporter
	ctx context.Context

	mu   sync.Mutex
	held []*scrapeBuffers // of each Collect
}

// Close hands the memory of the scrape's series to the next scrape. The
// metrics it collected must not be used afterwards: call it once the
// answer is written, not before. A scrape that is not closed only costs
// that memory being allocated again.
func (s *Scrape) Close() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, b := range held {
		s.e.buffers.put(b)
	}
}

func (s *Scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	if s.e.executions != nil {
		for _, d := range executionDescs {
			ch <- d
		}
	}
}

type result struct {
	id  string
	job *kubiya.Job
	err error
}

func (s *Scrape) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	results, up := s.e.fetchJobs(s.ctx)
	now := s.e.now()
	b := s.e.buffers.get()
	s.mu.Lock()
	s.held = append(s.held, b)
	s.mu.Unlock()
	s.e.emitJobs(ch, results, now, b)
	for _, r := range results {
		// The control plane itself answered and accepted the key.
		up = up || answered(r.err)
	}
	if s.e.executions != nil {
		s.e.executions.collect(s.ctx, s.e, results, ch)
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolFloat(up))
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds())
}

// fetchAll fetches the jobs ids with a bounded pool of workers. Results
// keep the order of ids.
func (e *Exporter) fetchAll(ctx context.Context, ids []string, failures *failureLog) []result {
	results := make([]result, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(e.workers, len(ids)) {
		wg.Go(func() {
			for i := range next {
				id := ids[i]
				job, err := e.fetchShared(ctx, id, failures)
				results[i] = result{id: id, job: job, err: err}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// fetchShared joins an in-flight request for the same job if an overlapping
// scrape already made one: two Prometheus replicas cost one API call.
func (e *Exporter) fetchShared(ctx context.Context, id string, failures *failureLog) (*kubiya.Job, error) {
	resultCh := e.inflight.DoChan(id, func() (any, error) {
		// The shared request must not die with the first scrape's client
		// connection, but it must end by that scrape's deadline.
		reqCtx := context.WithoutCancel(ctx)
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			reqCtx, cancel = context.WithDeadline(reqCtx, deadline)
			defer cancel()
		}
		return e.fetch(reqCtx, id, failures)
	})
	select {
	case r := <-resultCh:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*kubiya.Job), nil
	case <-ctx.Done():
		return nil, &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded")}
	}
}

// fetch makes one API request within the global concurrency bound and logs
// its failure exactly once, however many scrapes share it: in the failures
// of the scrape that made it.
func (e *Exporter) fetch(ctx context.Context, id string, failures *failureLog) (*kubiya.Job, error) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		err := &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded waiting for a request slot")}
		failures.add(id, err)
		return nil, err
	}
	job, err := e.api.GetJob(ctx, id)
	if err != nil {
		failures.add(id, err)
		return nil, err
	}
	// Only decoded, non-secret fields exist on a Job, so even debug output
	// cannot show a webhook secret or a prompt.
	level.Debug(e.logger).Log("msg", "fetched job", "job_id", labelValue(id), "job_name", labelValue(job.Name),
		"status", labelValue(job.Status), "total_executions", job.TotalExecutions)
	return job, nil
}
