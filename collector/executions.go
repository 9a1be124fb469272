package collector

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// The opt-in executions collector (config `executions: {enabled: true}`):
// for each job fetched on a scrape it reads the job's newest executions and
// reports how the last run ended. It costs almost nothing when nothing ran:
// a job's executions are read again only when the job record shows a new
// or finished run, or a run of the window is still in progress; otherwise
// the summary of the last read is served from memory. See docs/executions.md.

// ExecutionLister is the part of the API client the executions collector
// needs.
type ExecutionLister interface {
	ListExecutions(ctx context.Context, jobID string, limit int) (*kubiya.Executions, error)
}

// maxErrorMessageLog bounds an execution's error_message in a debug log line.
const maxErrorMessageLog = 200

var (
	execStatusDesc = newJobDesc("last_execution_status",
		"Status of the job's newest execution as a state set (pending, running, waiting_for_input, completed, failed, cancelled): 1 for the current status; an unknown status gets its own series.", "status")
	execDurationDesc = newJobDesc("last_execution_duration_seconds",
		"Duration of the job's newest execution (duration_ms, else completed_at minus started_at); absent while unknown.")
	execLastSuccessDesc = newJobDesc("last_success_timestamp_seconds",
		"When the newest completed execution among the job's last executions ended (completed_at, else started_at); absent when none.")
	execLastFailureDesc = newJobDesc("last_failure_timestamp_seconds",
		"When the newest failed execution among the job's last executions ended (completed_at, else started_at); absent when none.")
	execInProgressDesc = newJobDesc("executions_in_progress",
		"Executions among the job's last executions that are pending, running or waiting for input.")
	execUpDesc = prometheus.NewDesc("kubiya_job_executions_up",
		"1 if the job's executions are known this scrape (read, or unchanged since the last read), else 0 (then no execution series for the job). Only with the executions collector on, for jobs whose kubiya_job_up is 1.",
		[]string{"job_id"}, nil)

	executionDescs = []*prometheus.Desc{
		execUpDesc, execStatusDesc, execDurationDesc, execLastSuccessDesc, execLastFailureDesc, execInProgressDesc,
	}
)

// execKey is what the job record says about its runs. While it stays the
// same, no run started or finished, so the executions need no new read.
type execKey struct {
	lastID                   string
	total, succeeded, failed int64
	lastAt                   time.Time
}

func keyOf(j *kubiya.Job) execKey {
	return execKey{lastID: j.LastExecutionID, total: j.TotalExecutions, succeeded: j.SuccessfulExecs,
		failed: j.FailedExecutions, lastAt: j.LastExecutionAt.Time}
}

// execSummary is what the metrics need from one read of the executions.
type execSummary struct {
	hasNewest    bool
	status       string // the newest execution's status, as the API wrote it
	duration     float64
	hasDuration  bool
	lastSuccess  time.Time
	lastFailure  time.Time
	inProgress   int
	newestFailed kubiya.Execution // the newest failed execution, for the debug log
}

type execEntry struct {
	key           execKey
	summary       execSummary
	loggedFailure string // execution_id of the last failure logged at debug
}

// executions is the collector's state that outlives a scrape.
type executions struct {
	api      ExecutionLister
	limit    int
	inflight singleflight.Group

	mu    sync.Mutex
	cache map[string]*execEntry // by job ID; only jobs of the latest scrape
}

// newExecutions returns nil (collector off) when opts names no lister.
func newExecutions(opts Options) *executions {
	if opts.Executions == nil {
		return nil
	}
	limit := opts.ExecutionsLimit
	if limit < 1 {
		limit = 20
	}
	return &executions{api: opts.Executions, limit: limit, cache: make(map[string]*execEntry)}
}

// collect emits the execution series of every job of results that was
// fetched, reading executions only where the cache cannot answer. It drops
// cached jobs that results no longer holds, so the cache stays bounded by
// the jobs the exporter reports.
func (x *executions) collect(ctx context.Context, e *Exporter, results []result, ch chan<- prometheus.Metric) {
	summaries := make([]*execSummary, len(results))
	var todo []int
	keep := make(map[string]struct{}, len(results))
	x.mu.Lock()
	for i, r := range results {
		keep[r.id] = struct{}{}
		if r.err != nil || r.job == nil {
			continue
		}
		if ent := x.cache[r.id]; ent != nil && ent.key == keyOf(r.job) && ent.summary.inProgress == 0 {
			s := ent.summary
			summaries[i] = &s
			continue
		}
		todo = append(todo, i)
	}
	for id := range x.cache {
		if _, ok := keep[id]; !ok {
			delete(x.cache, id)
		}
	}
	x.mu.Unlock()

	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(e.workers, len(todo))) {
		wg.Go(func() {
			for i := range next {
				r := results[i]
				if s, err := x.readShared(ctx, e, r.id, keyOf(r.job)); err == nil {
					summaries[i] = s
				}
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()

	for i, r := range results {
		if r.err != nil || r.job == nil {
			continue
		}
		s := summaries[i]
		ch <- prometheus.MustNewConstMetric(execUpDesc, prometheus.GaugeValue, boolFloat(s != nil), labelValue(r.id))
		if s != nil {
			emitExecutions(ch, r.id, r.job, s)
		}
	}
}

// readShared joins an in-flight read of the same job's executions if an
// overlapping scrape already started one, as fetchShared does for jobs.
func (x *executions) readShared(ctx context.Context, e *Exporter, id string, key execKey) (*execSummary, error) {
	resultCh := x.inflight.DoChan(id, func() (any, error) {
		reqCtx := context.WithoutCancel(ctx)
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			reqCtx, cancel = context.WithDeadline(reqCtx, deadline)
			defer cancel()
		}
		return x.read(reqCtx, e, id, key)
	})
	select {
	case r := <-resultCh:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*execSummary), nil
	case <-ctx.Done():
		return nil, &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded")}
	}
}

// read makes one executions request within the global concurrency bound,
// caches its summary under key, and logs a failure once however many
// scrapes share it.
func (x *executions) read(ctx context.Context, e *Exporter, id string, key execKey) (*execSummary, error) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		err := &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded waiting for a request slot")}
		x.logFailure(e.logger, id, err)
		return nil, err
	}
	list, err := x.api.ListExecutions(ctx, id, x.limit)
	if err != nil {
		x.logFailure(e.logger, id, err)
		return nil, err
	}
	s := summarize(list.Executions)
	x.mu.Lock()
	ent := x.cache[id]
	if ent == nil {
		ent = &execEntry{}
		x.cache[id] = ent
	}
	ent.key, ent.summary = key, s
	logIt := s.newestFailed.ID != ent.loggedFailure && s.lastFailure != (time.Time{})
	if logIt {
		ent.loggedFailure = s.newestFailed.ID
	}
	x.mu.Unlock()
	if logIt {
		// error_message may hold anything a run printed, secrets included:
		// debug level only, never a label, and cut short.
		level.Debug(e.logger).Log("msg", "job execution failed", "job_id", labelValue(id),
			"execution_id", labelValue(s.newestFailed.ID),
			"error_message", truncateUTF8(s.newestFailed.ErrorMessage, maxErrorMessageLog))
	}
	return &s, nil
}

func (x *executions) logFailure(logger log.Logger, id string, err error) {
	level.Warn(logger).Log("msg", "reading job executions failed", "job_id", labelValue(id),
		"class", kubiya.ClassOf(err), "err", truncateUTF8(err.Error(), 512))
}

// isInProgress reports the statuses of a run that has not ended.
func isInProgress(status string) bool {
	switch status {
	case kubiya.ExecutionPending, kubiya.ExecutionRunning, kubiya.ExecutionWaitingForInput:
		return true
	}
	return false
}

// normStatus folds case and surrounding space, so "COMPLETED" still counts.
func normStatus(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// summarize reads a window of executions. It does not rely on the API's
// order: the newest execution is the one that started last (the first in
// the list among equals), and success and failure times are the latest.
func summarize(execs []kubiya.Execution) execSummary {
	var s execSummary
	newest := -1
	for i := range execs {
		ex := &execs[i]
		st := normStatus(ex.Status)
		ended := ex.CompletedAt.Time
		if ended.IsZero() {
			ended = ex.StartedAt.Time
		}
		switch {
		case isInProgress(st):
			s.inProgress++
		case st == kubiya.ExecutionCompleted && ended.After(s.lastSuccess):
			s.lastSuccess = ended
		case st == kubiya.ExecutionFailed && ended.After(s.lastFailure):
			s.lastFailure = ended
			s.newestFailed = *ex
		}
		if newest < 0 || ex.StartedAt.After(execs[newest].StartedAt.Time) {
			newest = i
		}
	}
	if newest < 0 {
		return s
	}
	n := &execs[newest]
	s.hasNewest, s.status = true, n.Status
	switch {
	case n.DurationMS != nil && *n.DurationMS >= 0:
		s.duration, s.hasDuration = *n.DurationMS/1000, true
	case !n.StartedAt.IsZero() && !n.CompletedAt.IsZero() && !n.CompletedAt.Before(n.StartedAt.Time):
		s.duration, s.hasDuration = n.CompletedAt.Sub(n.StartedAt.Time).Seconds(), true
	}
	return s
}

// emitExecutions writes one job's execution series.
func emitExecutions(ch chan<- prometheus.Metric, id string, j *kubiya.Job, s *execSummary) {
	lv := []string{labelValue(id), labelValue(j.Name), labelValue(j.EntityType), labelValue(j.EntityID), labelValue(j.EntityName)}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv[:len(lv):len(lv)], extra...)...)
	}
	gauge(execInProgressDesc, float64(s.inProgress))
	if s.hasNewest {
		st := normStatus(s.status)
		known := false
		for _, k := range kubiya.ExecutionStatuses {
			known = known || k == st
			gauge(execStatusDesc, boolFloat(k == st), k)
		}
		if !known {
			if st == "" {
				st = "unknown"
			} else {
				st = labelValue(s.status)
			}
			gauge(execStatusDesc, 1, st)
		}
	}
	if s.hasDuration {
		gauge(execDurationDesc, s.duration)
	}
	if !s.lastSuccess.IsZero() {
		gauge(execLastSuccessDesc, timestampSeconds(s.lastSuccess))
	}
	if !s.lastFailure.IsZero() {
		gauge(execLastFailureDesc, timestampSeconds(s.lastFailure))
	}
}
