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
// outage with hundreds of jobs is one line per scrape, not hundreds.
const (
	handfulOfJobs = 5
	summaryIDs    = 3
)

// failureLog gathers the job fetch failures of one scrape and logs them,
// by class, when the scrape's fetches are done. An unreadable key is one
// line whatever the number of jobs: it is one problem, not one per job.
type failureLog struct {
	logger  log.Logger
	mu      sync.Mutex
	flushed bool
	byClass map[kubiya.Class][]jobFailure
}

type jobFailure struct {
	id  string
	err error
}

func newFailureLog(logger log.Logger) *failureLog {
	return &failureLog{logger: logger, byClass: map[kubiya.Class][]jobFailure{}}
}

// add records a failure; once flushed (a shared request that outlived its
// scrape) it logs it at once.
func (f *failureLog) add(id string, err error) {
	f.mu.Lock()
	if !f.flushed {
		c := kubiya.ClassOf(err)
		f.byClass[c] = append(f.byClass[c], jobFailure{id, err})
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.logOne(jobFailure{id, err})
}

func (f *failureLog) flush() {
	f.mu.Lock()
	byClass := f.byClass
	f.byClass, f.flushed = nil, true
	f.mu.Unlock()
	for _, class := range slices.Sorted(maps.Keys(byClass)) {
		failures := byClass[class]
		if len(failures) <= handfulOfJobs && class != kubiya.ClassCredentials {
			for _, jf := range failures {
				f.logOne(jf)
			}
			continue
		}
		ids := make([]string, 0, summaryIDs+1)
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
}

func (f *failureLog) logOne(jf jobFailure) {
	level.Warn(f.logger).Log("msg", "fetching job failed", "job_id", labelValue(jf.id),
		"class", kubiya.ClassOf(jf.err), "err", logErr(jf.err))
}
