package collector

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
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

var execUp = idMetric("kubiya_job_executions_up",
	"1 if the job's executions are known this scrape (read, or unchanged since the last read), else 0 (then no execution series for the job). Only with the executions collector on, for jobs whose kubiya_job_up is 1.")

// maxErrorMessageLog bounds an execution's error_message in a debug log line.
const maxErrorMessageLog = 200

// executionMetrics are the per-job metrics of the executions collector,
// absent while the job's executions are not known.
var executionMetrics = describe([]*jobMetric{
	{name: "last_execution_status", help: "Status of the job's newest execution as a state set (pending, running, waiting_for_input, completed, failed, cancelled): 1 for the current status; an unknown status gets its own series.",
		extra: []string{"status"}, states: kubiya.ExecutionStatuses, series: func(v *jobView, emit emitFunc) {
			if v.exec == nil || !v.exec.hasNewest {
				return
			}
			st := normStatus(v.exec.status)
			switch {
			case slices.Contains(kubiya.ExecutionStatuses, st):
			case st == "":
				st = "unknown"
			default:
				st = labelValue(v.exec.status)
			}
			stateSet(emit, kubiya.ExecutionStatuses, st)
		}},
	{name: "last_execution_duration_seconds", help: "Duration of the job's newest execution (duration_ms, else completed_at minus started_at); absent while unknown.",
		series: execValue(func(s *execSummary) (float64, bool) { return s.duration, s.hasDuration })},
	{name: "last_success_timestamp_seconds", help: "When the newest completed execution among the job's last executions ended (completed_at, else started_at); absent when none.",
		series: execValue(func(s *execSummary) (float64, bool) { return seconds(s.lastSuccess), !s.lastSuccess.IsZero() })},
	{name: "last_failure_timestamp_seconds", help: "When the newest failed execution among the job's last executions ended (completed_at, else started_at); absent when none.",
		series: execValue(func(s *execSummary) (float64, bool) { return seconds(s.lastFailure), !s.lastFailure.IsZero() })},
	{name: "executions_in_progress", help: "Executions among the job's last executions that are pending, running or waiting for input.",
		series: execValue(func(s *execSummary) (float64, bool) { return float64(s.inProgress), true })},
})

// execValue is a metric with one series per job whose executions are
// known, absent when f says the value is.
func execValue(f func(s *execSummary) (float64, bool)) func(*jobView, emitFunc) {
	return func(v *jobView, emit emitFunc) {
		if v.exec == nil {
			return
		}
		if x, ok := f(v.exec); ok {
			emit(x)
		}
	}
}

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
	summary       *execSummary // never written once cached
	loggedFailure string       // execution_id of the last failure logged at debug
}

// executions is the collector's state that outlives a scrape.
type executions struct {
	api   ExecutionLister
	limit int
	cache *execCache // kept across reloads
}

type execCache struct {
	mu sync.Mutex
	m  map[string]execEntry // by job ID; only jobs of the latest scrape
}

// newExecutions returns nil (collector off) when opts names no lister.
func newExecutions(opts Options) *executions {
	if opts.Executions == nil {
		return nil
	}
	return &executions{api: opts.Executions, limit: opts.ExecutionsLimit, cache: &execCache{m: make(map[string]execEntry)}}
}

// summaries returns the executions summary of every job of results that
// was fetched (nil where unknown), reading executions only where the cache
// cannot answer. It drops cached jobs that results no longer holds, so the
// cache stays bounded by the jobs the exporter reports.
func (x *executions) summaries(ctx context.Context, e *Exporter, results []result) []*execSummary {
	summaries := make([]*execSummary, len(results))
	var todo []int
	keep := make(map[string]bool, len(results))
	c := x.cache
	c.mu.Lock()
	for i, r := range results {
		keep[r.id] = true
		if r.err != nil || r.job == nil {
			continue
		}
		if ent, ok := c.m[r.id]; ok && ent.key == keyOf(r.job) && ent.summary.inProgress == 0 {
			summaries[i] = ent.summary
			continue
		}
		todo = append(todo, i)
	}
	maps.DeleteFunc(c.m, func(id string, _ execEntry) bool { return !keep[id] })
	c.mu.Unlock()

	e.forEach(len(todo), func(k int) {
		r := results[todo[k]]
		v, err := e.request(ctx, "executions/"+r.id, func(ctx context.Context) (any, error) {
			return x.read(ctx, e.logger, r.id, keyOf(r.job))
		}, func(err error) { warnFailure(e.logger, "reading job executions failed", r.id, err) })
		if err == nil {
			summaries[todo[k]] = v.(*execSummary)
		}
	})
	return summaries
}

// read makes one executions request and caches its summary under key.
func (x *executions) read(ctx context.Context, logger log.Logger, id string, key execKey) (*execSummary, error) {
	list, err := x.api.ListExecutions(ctx, id, x.limit)
	if err != nil {
		return nil, err
	}
	s := summarize(list.Executions)
	c := x.cache
	c.mu.Lock()
	ent := c.m[id]
	logIt := s.newestFailed.ID != ent.loggedFailure && !s.lastFailure.IsZero()
	ent.key, ent.summary = key, &s
	if logIt {
		ent.loggedFailure = s.newestFailed.ID
	}
	c.m[id] = ent
	c.mu.Unlock()
	if logIt {
		// error_message may hold anything a run printed, secrets included:
		// debug level only, never a label, and cut short.
		level.Debug(logger).Log("msg", "job execution failed", "job_id", labelValue(id),
			"execution_id", labelValue(s.newestFailed.ID),
			"error_message", truncateUTF8(s.newestFailed.ErrorMessage, maxErrorMessageLog))
	}
	return &s, nil
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
		case st == "pending" || st == "running" || st == "waiting_for_input":
			s.inProgress++ // a run that has not ended
		case st == "completed" && ended.After(s.lastSuccess):
			s.lastSuccess = ended
		case st == "failed" && ended.After(s.lastFailure):
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
