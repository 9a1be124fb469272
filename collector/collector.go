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
	workers := min(opts.MaxConcurrency, len(opts.Jobs))
	return &Exporter{
		api:       api,
		logger:    logger,
		jobs:      opts.Jobs,
		workers:   max(workers, 1),
		sem:       make(chan struct{}, opts.MaxConcurrency),
		schedules: newScheduleCache(),
		now:       opts.Now,

		executions: newExecutions(opts),
	}
}

// Scrape returns a collector for one scrape, bounded by ctx's deadline. It
// is meant for a registry made for that one request.
func (e *Exporter) Scrape(ctx context.Context) prometheus.Collector {
	return &scrape{e: e, ctx: ctx}
}

type scrape struct {
	e   *Exporter
	ctx context.Context
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
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

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	results := s.e.fetchAll(s.ctx)
	now := s.e.now()
	up := false
	for _, r := range results {
		if r.err != nil {
			ch <- prometheus.MustNewConstMetric(jobUpDesc, prometheus.GaugeValue, 0, labelValue(r.id))
		} else {
			ch <- prometheus.MustNewConstMetric(jobUpDesc, prometheus.GaugeValue, 1, labelValue(r.id))
			s.e.emitJob(ch, r.id, r.job, now)
		}
		switch kubiya.ClassOf(r.err) {
		case kubiya.ClassOK, kubiya.ClassNotFound, kubiya.ClassInvalidRequest:
			// The control plane itself answered and accepted the key.
			up = true
		}
	}
	if s.e.executions != nil {
		s.e.executions.collect(s.ctx, s.e, results, ch)
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolFloat(up))
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, time.Since(start).Seconds())
}

// fetchAll fetches every configured job with a bounded pool of workers.
// Results keep the configured order.
func (e *Exporter) fetchAll(ctx context.Context) []result {
	results := make([]result, len(e.jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range e.workers {
		wg.Go(func() {
			for i := range next {
				id := e.jobs[i]
				job, err := e.fetchShared(ctx, id)
				results[i] = result{id: id, job: job, err: err}
			}
		})
	}
	for i := range e.jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// fetchShared joins an in-flight request for the same job if an overlapping
// scrape already made one: two Prometheus replicas cost one API call.
func (e *Exporter) fetchShared(ctx context.Context, id string) (*kubiya.Job, error) {
	resultCh := e.inflight.DoChan(id, func() (any, error) {
		// The shared request must not die with the first scrape's client
		// connection, but it must end by that scrape's deadline.
		reqCtx := context.WithoutCancel(ctx)
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			reqCtx, cancel = context.WithDeadline(reqCtx, deadline)
			defer cancel()
		}
		return e.fetch(reqCtx, id)
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
// its failure exactly once, however many scrapes share it.
func (e *Exporter) fetch(ctx context.Context, id string) (*kubiya.Job, error) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		err := &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded waiting for a request slot")}
		e.logFailure(id, err)
		return nil, err
	}
	job, err := e.api.GetJob(ctx, id)
	if err != nil {
		e.logFailure(id, err)
		return nil, err
	}
	// Only decoded, non-secret fields exist on a Job, so even debug output
	// cannot show a webhook secret or a prompt.
	level.Debug(e.logger).Log("msg", "fetched job", "job_id", labelValue(id), "job_name", labelValue(job.Name),
		"status", labelValue(job.Status), "total_executions", job.TotalExecutions)
	return job, nil
}

func (e *Exporter) logFailure(id string, err error) {
	level.Warn(e.logger).Log("msg", "fetching job failed", "job_id", labelValue(id),
		"class", kubiya.ClassOf(err), "err", logErr(err))
}

// emitJob writes every series of one fetched job.
func (e *Exporter) emitJob(ch chan<- prometheus.Metric, id string, j *kubiya.Job, now time.Time) {
	lv := []string{labelValue(id), labelValue(j.Name), labelValue(j.EntityType), labelValue(j.EntityID), labelValue(j.EntityName)}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv[:len(lv):len(lv)], extra...)...)
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	timestamp := func(d *prometheus.Desc, t kubiya.Time) {
		if !t.IsZero() {
			gauge(d, timestampSeconds(t.Time))
		}
	}

	gauge(jobInfoDesc, 1,
		labelValue(j.OrganizationID), labelValue(j.Status), labelValue(j.TriggerType),
		labelValue(j.CronSchedule), labelValue(j.CronTimezone), labelValue(j.PlanningMode),
		labelValue(j.ExecutorType), labelValue(j.EnvironmentName), labelValue(j.WorkerQueueName))
	gauge(jobEnabledDesc, boolFloat(j.Enabled))
	known := false
	for _, st := range knownStatuses {
		known = known || st == j.Status
		gauge(jobStatusDesc, boolFloat(st == j.Status), st)
	}
	if !known {
		gauge(jobStatusDesc, 1, labelValue(j.Status))
	}
	counter(jobExecutionsDesc, j.TotalExecutions)
	counter(jobSucceededDesc, j.SuccessfulExecs)
	counter(jobFailedDesc, j.FailedExecutions)
	timestamp(jobLastExecutionDesc, j.LastExecutionAt)
	timestamp(jobNextExecutionDesc, j.NextExecutionAt)
	timestamp(jobLastTriggeredDesc, j.LastTriggeredAt)
	timestamp(jobCreatedDesc, j.CreatedAt)
	timestamp(jobUpdatedDesc, j.UpdatedAt)

	if j.TriggerType != "cron" || j.CronSchedule == "" {
		return
	}
	prev, next, valid, changed, err := e.schedules.lookup(id, j.CronSchedule, j.CronTimezone, now)
	gauge(scheduleValidDesc, boolFloat(valid))
	if !valid {
		if changed {
			level.Warn(e.logger).Log("msg", "cron schedule does not parse", "job_id", labelValue(id),
				"cron_schedule", labelValue(j.CronSchedule), "cron_timezone", labelValue(j.CronTimezone), "err", logErr(err))
		}
		return
	}
	if !prev.IsZero() {
		gauge(schedulePrevDesc, timestampSeconds(prev))
	}
	if !next.IsZero() {
		gauge(scheduleNextDesc, timestampSeconds(next))
	}
}
