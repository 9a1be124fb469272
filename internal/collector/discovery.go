package collector

import (
	"context"
	"errors"
	"regexp"
	"strconv"

	"github.com/go-kit/log/level"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// JobLister is the part of the API client list mode needs.
type JobLister interface {
	ListJobs(ctx context.Context, f kubiya.ListFilter) (*kubiya.JobList, error)
}

// Discovery selects the jobs list mode reports besides the static ones.
// Nil regular expressions select everything; the caller decides how they
// are anchored (config anchors them at both ends).
type Discovery struct {
	Enabled           bool
	Filter            kubiya.ListFilter // sent to the API as ?enabled=&trigger_type=
	NameInclude       *regexp.Regexp
	NameExclude       *regexp.Regexp
	EntityNameInclude *regexp.Regexp
	EntityNameExclude *regexp.Regexp
}

// Matches reports whether discovery selects j. The API filters are checked
// here too, because the list is fetched unfiltered when static IDs come
// from it.
func (d *Discovery) Matches(j *kubiya.Job) bool {
	switch {
	case d.Filter.Enabled != nil && j.Enabled != *d.Filter.Enabled:
		return false
	case d.Filter.TriggerType != "" && j.TriggerType != d.Filter.TriggerType:
		return false
	case d.NameInclude != nil && !d.NameInclude.MatchString(j.Name):
		return false
	case d.NameExclude != nil && d.NameExclude.MatchString(j.Name):
		return false
	case d.EntityNameInclude != nil && !d.EntityNameInclude.MatchString(j.EntityName):
		return false
	case d.EntityNameExclude != nil && d.EntityNameExclude.MatchString(j.EntityName):
		return false
	}
	return true
}

// listMode is the Exporter's state for the list endpoint: one
// GET /api/v1/jobs per scrape serves discovery and, when there are many,
// the static IDs.
type listMode struct {
	lister    JobLister // nil: the client cannot list (every list fails)
	discovery Discovery
	// viaList: static IDs are taken from the list instead of one GET each.
	viaList bool
	// request is what is sent: discovery's API filters, or nothing when the
	// list must also hold the static jobs (then it is authoritative: a
	// static ID it lacks does not exist).
	request     kubiya.ListFilter
	staticIndex map[string]int // static ID -> position in Exporter.jobs
}

// newListMode returns nil when neither discovery nor static-via-list needs
// the list endpoint. static are the static IDs of this shard.
func newListMode(api JobGetter, opts Options, static []string) *listMode {
	viaList := opts.StaticViaListAbove > 0 && len(static) > opts.StaticViaListAbove
	if !opts.Discovery.Enabled && !viaList {
		return nil
	}
	lm := &listMode{discovery: opts.Discovery, viaList: viaList}
	lm.lister, _ = api.(JobLister)
	if opts.Discovery.Enabled && !viaList {
		lm.request = opts.Discovery.Filter
	}
	lm.staticIndex = make(map[string]int, len(static))
	for i, id := range static {
		lm.staticIndex[id] = i
	}
	return lm
}

// answered reports whether an outcome shows the control plane itself
// answered and accepted the key.
func answered(err error) bool {
	switch kubiya.ClassOf(err) {
	case kubiya.ClassOK, kubiya.ClassNotFound, kubiya.ClassInvalidRequest:
		return true
	}
	return false
}

var errNotListed = errors.New("not in the organization's job list")

// fetchJobs returns the result of every job this scrape reports (static
// and discovered, each once) and whether the control plane answered the
// list request (false when no list was made).
func (e *Exporter) fetchJobs(ctx context.Context) ([]result, bool) {
	failures := newFailureLog(e.logger)
	defer failures.flush()
	lm := e.list
	if lm == nil {
		return e.fetchAll(ctx, e.jobs, failures), false
	}
	list, listErr := e.listShared(ctx)

	results := make([]result, 0, len(e.jobs))
	static := make([]result, len(e.jobs))
	// seen holds every ID reported, so a job both static and discovered,
	// or listed twice by the API, gives one set of series.
	seen := make(map[string]struct{}, len(e.jobs))
	var discovered []string
	// pick files a listed job under its static ID, or reports it when
	// discovery selects it. j is nil for an element that did not decode
	// (r is then its failure): only its ID can be matched.
	pick := func(id string, j *kubiya.Job, r result) {
		if i, ok := lm.staticIndex[id]; ok {
			if static[i].job == nil && static[i].err == nil {
				static[i] = r
			}
			return
		}
		if _, dup := seen[id]; dup || !lm.discovery.Enabled || !e.shard.Owns(id) || j != nil && !lm.discovery.Matches(j) {
			return
		}
		seen[id] = struct{}{}
		discovered = append(discovered, id)
		results = append(results, r)
	}
	if listErr == nil {
		for _, j := range list.Jobs {
			pick(j.ID, j, result{id: j.ID, job: j})
		}
		for _, s := range list.Skipped {
			if s.ID != "" {
				pick(s.ID, nil, result{id: s.ID, err: &kubiya.Error{Class: kubiya.ClassBadResponse, Err: s.Err}})
			}
		}
		if len(list.Skipped) > 0 {
			first := list.Skipped[0]
			level.Warn(e.logger).Log("msg", "job list elements that are not valid jobs were skipped",
				"count", len(list.Skipped), "first_index", first.Index, "first_job_id", labelValue(first.ID),
				"class", kubiya.ClassBadResponse, "err", logErr(first.Err))
		}
		if lm.discovery.Enabled {
			e.discovered.Store(&discovered)
		}
	} else if known := e.discovered.Load(); known != nil && lm.discovery.Enabled {
		for _, id := range *known {
			if _, isStatic := lm.staticIndex[id]; !isStatic {
				seen[id] = struct{}{}
				results = append(results, result{id: id, err: listErr})
			}
		}
	}

	var perJob []string
	for i, id := range e.jobs {
		seen[id] = struct{}{}
		switch {
		case static[i].job != nil || static[i].err != nil:
			results = append(results, static[i])
		case listErr == nil && lm.request == (kubiya.ListFilter{}): // an unfiltered list holds every job
			err := &kubiya.Error{Class: kubiya.ClassNotFound, Err: errNotListed}
			failures.add(id, err)
			results = append(results, result{id: id, err: err})
		case listErr != nil && lm.viaList:
			results = append(results, result{id: id, err: listErr})
		default:
			// Not in a filtered list, or the list failed: one GET each,
			// as without the list.
			perJob = append(perJob, id)
		}
	}
	results = append(results, e.fetchAll(ctx, perJob, failures)...)
	if listErr == nil && lm.discovery.Enabled {
		e.schedules.retain(seen)
	}
	return results, answered(listErr)
}

// listShared makes the list request, or joins one an overlapping scrape
// already made, within the global concurrency bound.
func (e *Exporter) listShared(ctx context.Context) (*kubiya.JobList, error) {
	lm := e.list
	if lm.lister == nil {
		return nil, &kubiya.Error{Class: kubiya.ClassNetwork, Err: errors.New("the API client cannot list jobs")}
	}
	key := "list/" + lm.request.TriggerType
	if lm.request.Enabled != nil {
		key += "/" + strconv.FormatBool(*lm.request.Enabled)
	}
	v, err := e.request(ctx, key, func(ctx context.Context) (any, error) {
		return lm.lister.ListJobs(ctx, lm.request)
	}, func(err error) {
		level.Warn(e.logger).Log("msg", "listing jobs failed; discovered jobs are reported down",
			"class", kubiya.ClassOf(err), "err", logErr(err))
	})
	list, _ := v.(*kubiya.JobList) // nil on failure
	return list, err
}

// retain drops the cached schedules of jobs no longer reported, so an
// organization whose jobs come and go does not grow the cache forever.
func (c *scheduleCache) retain(keep map[string]struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.jobs) <= len(keep) {
		// Nothing to do often enough: the cache stays under twice the
		// reported set, and pruning walks it only when it has grown.
		return
	}
	for id := range c.jobs {
		if _, ok := keep[id]; !ok {
			delete(c.jobs, id)
		}
	}
}
