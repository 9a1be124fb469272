package collector

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// failureLog gathers one scrape's job fetch failures and logs them by class
// when its fetches are done. Up to handfulOfJobs failures of a class get a
// line each; more get one line with the count and the first summaryIDs IDs,
// so an API outage is one line per scrape, not one per job. An unreadable
// key is always one line: it is one problem, not one per job.
type failureLog struct {
	logger  log.Logger
	mu      sync.Mutex
	byClass map[kubiya.Class][]jobFailure // nil once flushed
}

const (
	handfulOfJobs = 5
	summaryIDs    = 3
)

type jobFailure struct {
	id  string
	err error
}

func newFailureLog(logger log.Logger) *failureLog {
	return &failureLog{logger: logger, byClass: map[kubiya.Class][]jobFailure{}}
}

// add records a failure, or logs it at once after flush (a shared request
// that outlived its scrape).
func (f *failureLog) add(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byClass == nil {
		warnFailure(f.logger, "fetching job failed", id, err)
		return
	}
	c := kubiya.ClassOf(err)
	f.byClass[c] = append(f.byClass[c], jobFailure{id, err})
}

func (f *failureLog) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, class := range slices.Sorted(maps.Keys(f.byClass)) {
		failures := f.byClass[class]
		if len(failures) <= handfulOfJobs && class != kubiya.ClassCredentials {
			for _, jf := range failures {
				warnFailure(f.logger, "fetching job failed", jf.id, jf.err)
			}
			continue
		}
		var ids []string
		for _, jf := range failures[:min(summaryIDs, len(failures))] {
			ids = append(ids, labelValue(jf.id))
		}
		if len(failures) > summaryIDs {
			ids = append(ids, "…")
		}
		msg := "fetching jobs failed"
		if class == kubiya.ClassCredentials {
			msg = "cannot read the API key; no API request was sent"
		}
		level.Warn(f.logger).Log("msg", msg, "class", class, "jobs", len(failures),
			"job_ids", strings.Join(ids, ","), "err", logErr(failures[0].err))
	}
	f.byClass = nil
}

// warnFailure logs a failed request for job id.
func warnFailure(logger log.Logger, msg, id string, err error) {
	level.Warn(logger).Log("msg", msg, "job_id", labelValue(id), "class", kubiya.ClassOf(err), "err", logErr(err))
}
