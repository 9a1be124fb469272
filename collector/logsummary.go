package collector

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// Up to handfulOfJobs failures of one class in a scrape get a line each;
// more get one line with the count and the first summaryIDs IDs, so an API
// outage is one line per scrape, not one per job.
const (
	handfulOfJobs = 5
	summaryIDs    = 3
)

// failureLog gathers one scrape's job fetch failures and logs them by class
// when its fetches are done. An unreadable key is always one line: it is
// one problem, not one per job.
type failureLog struct {
	logger  log.Logger
	mu      sync.Mutex
	byClass map[kubiya.Class][]jobFailure // nil once flushed
}

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
		f.logOne(jobFailure{id, err})
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
				f.logOne(jf)
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

func (f *failureLog) logOne(jf jobFailure) {
	level.Warn(f.logger).Log("msg", "fetching job failed", "job_id", labelValue(jf.id),
		"class", kubiya.ClassOf(jf.err), "err", logErr(jf.err))
}
