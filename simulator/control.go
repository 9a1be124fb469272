package simulator

import (
	"fmt"
	"maps"
	"time"
)

// SetFault installs f for requests about jobID (GET job and its executions);
// it takes precedence over the global fault.
func (s *Server) SetFault(jobID string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[jobID] = f
}

// ClearFault removes jobID's fault.
func (s *Server) ClearFault(jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, jobID)
}

// SetGlobalFault installs f for every /api/v1 request (not /api/health).
func (s *Server) SetGlobalFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.global = &f
}

// ClearGlobalFault removes the global fault.
func (s *Server) ClearGlobalFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.global = nil
}

// ClearFaults removes the global fault and every job's fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.global = nil
	clear(s.faults)
}

// SetLatency delays every /api/v1 request by d (on top of any fault latency).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetAPIKey changes the accepted key.
func (s *Server) SetAPIKey(key string) { s.apiKey.Store(&key) }

// RejectKey makes the API answer 401 "Invalid or expired authentication
// token" to every request while on, whatever key is sent.
func (s *Server) RejectKey(on bool) { s.rejectKey.Store(on) }

// Requests returns the API request counts by endpoint kind (KindGetJob,
// KindListJobs, KindExecutions, KindHealth). Faulted requests count too.
func (s *Server) Requests() map[string]int64 {
	m := make(map[string]int64, len(kinds))
	for i, k := range kinds {
		m[k] = s.counts[i].Load()
	}
	return m
}

// JobRequests is the number of GET /api/v1/jobs/{id} requests for id.
func (s *Server) JobRequests(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobReqs[id]
}

// AllJobRequests returns GET-job request counts for every requested ID.
func (s *Server) AllJobRequests() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.jobReqs)
}

// ResetCounters zeroes every request counter.
func (s *Server) ResetCounters() {
	for i := range s.counts {
		s.counts[i].Store(0)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.jobReqs)
}

// ErrNoJob is returned for an unknown job ID.
type ErrNoJob string

func (e ErrNoJob) Error() string { return fmt.Sprintf("simulator: no job %q", string(e)) }

// withJob runs fn on the job brought up to date, under the lock.
func (s *Server) withJob(id string, fn func(st *jobState, now time.Time)) error {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jobs[id]
	if st == nil {
		return ErrNoJob(id)
	}
	st.advance(now, s.maxRuns)
	fn(st, now)
	st.encoded = nil
	return nil
}

// SetJobFailing makes every future run of the job fail (or not).
func (s *Server) SetJobFailing(id string, failing bool) error {
	return s.withJob(id, func(st *jobState, _ time.Time) { st.failing = failing })
}

// StopJob makes a cron job silently stop running while staying enabled and
// active: the "missed run" fault. Its next_execution_at goes stale.
func (s *Server) StopJob(id string) error { return s.SetStopped(id, true) }

// SetStopped stops or resumes a job's runs; resumed jobs skip missed fires.
func (s *Server) SetStopped(id string, stopped bool) error {
	return s.withJob(id, func(st *jobState, now time.Time) {
		if st.stopped && !stopped {
			st.reschedule(now)
		}
		st.stopped = stopped
	})
}

// SetEnabled enables or disables a job as the API's enable/disable do:
// status becomes active/disabled and updated_at moves. Disabling keeps
// next_execution_at (it goes stale); enabling recomputes it and the job
// resumes from now.
func (s *Server) SetEnabled(id string, enabled bool) error {
	return s.withJob(id, func(st *jobState, now time.Time) {
		if st.job.Enabled == enabled {
			return
		}
		st.job.Enabled = enabled
		st.job.Status = "disabled"
		if enabled {
			st.job.Status = "active"
			if n := st.utcNext(now); n != nil {
				st.job.NextExecutionAt = n
			}
			st.reschedule(now)
		}
		st.touch(now)
	})
}

// SetStatus sets the status field to any value (e.g. "failed", "paused")
// without changing whether the job runs.
func (s *Server) SetStatus(id, status string) error {
	return s.withJob(id, func(st *jobState, now time.Time) {
		st.job.Status = status
		st.touch(now)
	})
}

// TriggerJob records a manual run now, as POST /jobs/{id}/trigger would. It
// completes a few seconds later (and fails if the job is failing).
func (s *Server) TriggerJob(id string) (executionID string, err error) {
	err = s.withJob(id, func(st *jobState, now time.Time) {
		r := st.newRun(now, now, trigManual)
		st.record(r, s.maxRuns)
		st.markLast(&r)
		executionID = st.execID(&r)
	})
	return executionID, err
}

// UpsertJob adds j or replaces the job with its ID (state flags such as
// failing or stopped are reset). A zero CreatedAt makes j a template.
func (s *Server) UpsertJob(j Job) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(j.clone(), now)
}

// DeleteJob removes a job; the API then answers 404 for it.
func (s *Server) DeleteJob(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[id] == nil {
		return ErrNoJob(id)
	}
	delete(s.jobs, id)
	s.order = nil
	return nil
}

// RecreateJob deletes and re-creates a job under the same ID: counts drop to
// 0 (a counter reset), last_execution_* become null, created_at is now.
func (s *Server) RecreateJob(id string) error {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.jobs[id]
	if old == nil {
		return ErrNoJob(id)
	}
	j := old.job
	j.TotalExecutions, j.SuccessfulExecutions, j.FailedExecutions = 0, 0, 0
	j.LastExecutionAt, j.LastExecutionID, j.LastTriggeredAt, j.NextExecutionAt = nil, nil, nil, nil
	j.CreatedAt, j.UpdatedAt = now, now
	st := s.put(j, now)
	if st.job.TriggerType == "cron" {
		st.job.NextExecutionAt = st.utcNext(now)
	}
	st.historyDone = true
	return nil
}

// Job returns a copy of a job as the API would show it now.
func (s *Server) Job(id string) (Job, bool) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jobs[id]
	if st == nil {
		return Job{}, false
	}
	st.advance(now, s.maxRuns)
	return st.job.clone(), true
}

// Jobs returns copies of every job, newest first, as the list endpoint would.
func (s *Server) Jobs() []Job {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobs))
	for _, st := range s.sorted() {
		st.advance(now, s.maxRuns)
		out = append(out, st.job.clone())
	}
	return out
}

// JobIDs returns every job ID, newest first.
func (s *Server) JobIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.jobs))
	for _, st := range s.sorted() {
		out = append(out, st.job.ID)
	}
	return out
}
