package simulator

import (
	"cmp"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server.
type Options struct {
	// APIKey is the key the API accepts (Bearer or UserKey). Required.
	APIKey string
	// Now is the clock; default time.Now. Tests pass a fake clock.
	Now func() time.Time
	// Jobs is the initial job set; nil means DefaultJobs().
	Jobs []Job
	// Organization is the organization_id of jobs that have none; default acme-corp.
	Organization string
	// Seed makes run outcomes, delays, durations and IDs deterministic.
	Seed int64
	// MaxExecutions is how many execution records are kept per job; default 200.
	MaxExecutions int
	// Logger, if set, logs each API request at debug level.
	Logger *slog.Logger
}

// Endpoint kinds counted by Requests.
const (
	KindGetJob     = "get_job"
	KindListJobs   = "list_jobs"
	KindExecutions = "executions"
	KindHealth     = "health"
)

var kinds = [...]string{KindGetJob, KindListJobs, KindExecutions, KindHealth}

func kindIndex(k string) int { return slices.Index(kinds[:], k) }

// historyLen is how many past records a template job's executions list is
// seeded with.
const historyLen = 25

// Server simulates the control plane's jobs API. It is an http.Handler; all
// methods are safe for concurrent use.
type Server struct {
	now     func() time.Time
	org     string
	seed    int64
	maxRuns int
	log     *slog.Logger

	offset    atomic.Int64 // clock offset (Advance), ns
	latency   atomic.Int64 // added to every /api/v1 request, ns
	rejectKey atomic.Bool
	apiKey    atomic.Pointer[string]
	counts    [len(kinds)]atomic.Int64

	mu      sync.Mutex
	jobs    map[string]*jobState
	order   []*jobState // newest first; nil when it must be rebuilt
	seq     int
	global  *Fault
	faults  map[string]Fault
	jobReqs map[string]int64
	locs    map[string]*time.Location

	closed    chan struct{}
	closeOnce sync.Once
}

// New builds a simulator. Template jobs (zero CreatedAt) are stamped from
// the clock as of now, with their counts as pre-existing history.
func New(opts Options) *Server {
	s := &Server{
		now:     opts.Now,
		org:     cmp.Or(opts.Organization, "acme-corp"),
		seed:    opts.Seed,
		maxRuns: cmp.Or(opts.MaxExecutions, 200),
		log:     opts.Logger,
		jobs:    make(map[string]*jobState),
		faults:  make(map[string]Fault),
		jobReqs: make(map[string]int64),
		locs:    make(map[string]*time.Location),
		closed:  make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.SetAPIKey(opts.APIKey)
	jobs := opts.Jobs
	if jobs == nil {
		jobs = DefaultJobs()
	}
	now := s.clock()
	for _, j := range jobs {
		s.put(j.clone(), now)
	}
	return s
}

// Close releases every hanging or trickling request. The Server keeps
// answering new requests normally (hang faults then end at once).
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// clock is the simulator's current time, at the API's microsecond precision.
func (s *Server) clock() time.Time {
	return s.now().Add(time.Duration(s.offset.Load())).UTC().Truncate(time.Microsecond)
}

// Now is the simulator's current time (the clock plus any Advance).
func (s *Server) Now() time.Time { return s.clock() }

// Advance moves the simulator's clock forward by d (for the standalone
// binary, whose clock is real time). Cron runs due in between happen on the
// next request.
func (s *Server) Advance(d time.Duration) { s.offset.Add(int64(d)) }

// put normalizes j and installs it, replacing any job with the same ID.
// Callers hold s.mu (or own s exclusively).
func (s *Server) put(j Job, now time.Time) *jobState {
	j.OrganizationID = cmp.Or(j.OrganizationID, s.org)
	if j.Status == "" {
		j.Status = "active"
		if !j.Enabled {
			j.Status = "disabled"
		}
	}
	j.PlanningMode = cmp.Or(j.PlanningMode, "predefined_agent")
	j.ExecutorType = cmp.Or(j.ExecutorType, "auto")
	j.Config, j.ExecutionEnvironment = compactJSON(j.Config), compactJSON(j.ExecutionEnvironment)
	j.ExecutionHistory = compactJSON(j.ExecutionHistory)
	st := &jobState{job: j, hash: hashString(s.seed, j.ID), seq: s.seq}
	s.seq++
	st.sched, st.utc = parseSchedules(&st.job, s.location)
	if j.CreatedAt.IsZero() {
		s.stamp(st, now)
	}
	st.reschedule(now)
	s.jobs[j.ID] = st
	s.order = nil
	return st
}

// location caches time.LoadLocation, which reads the zone database each
// time; s.mu held.
func (s *Server) location(name string) (*time.Location, error) {
	if l, ok := s.locs[name]; ok {
		return l, nil
	}
	l, err := time.LoadLocation(name)
	if err == nil {
		s.locs[name] = l
	}
	return l, err
}

// stamp gives a template job plausible times as of now: created weeks ago,
// last run at its latest fire, next run from the UTC reading of its schedule
// (stale for disabled jobs), and lazily synthesized execution records.
func (s *Server) stamp(st *jobState, now time.Time) {
	j := &st.job
	h := st.hash
	j.CreatedAt = now.Add(-(10*24*time.Hour + time.Duration(h%(80*24*3600_000_000))*time.Microsecond))
	ref := now
	if !j.Enabled {
		ref = now.Add(-(2*24*time.Hour + time.Duration(splitmix64(h)%(8*24*3600_000_000))*time.Microsecond))
	}
	if j.TotalExecutions > 0 && j.LastExecutionAt == nil {
		if st.sched != nil {
			// Fires in the last 5 s may not have a record yet; skip them.
			if fires := lastFiresBefore(st.sched, ref.Add(-5*time.Second), 1); len(fires) == 1 {
				f := fires[0]
				start := f.Add(st.recordDelay(f))
				j.LastExecutionAt = &start
				r := run{fire: f.UnixMicro()}
				j.LastExecutionID = Ptr(st.execID(&r))
			}
		} else {
			last := ref.Add(-(time.Hour + time.Duration(splitmix64(h^1)%(40*3600_000_000))*time.Microsecond))
			j.LastExecutionAt = &last
			r := run{fire: last.UnixMicro()}
			j.LastExecutionID = Ptr(st.execID(&r))
		}
	}
	j.UpdatedAt = j.CreatedAt.Add(time.Duration(splitmix64(h^2)%900_000_000) * time.Microsecond)
	if j.LastExecutionAt != nil {
		st.touch(j.LastExecutionAt.Add(time.Duration(3000+splitmix64(h^3)%9000) * time.Microsecond))
	}
	if !j.Enabled {
		st.touch(ref)
	}
	if j.NextExecutionAt == nil && j.TriggerType == "cron" {
		j.NextExecutionAt = st.utcNext(ref)
	}
	st.historyRef = now
}

func (st *jobState) json() []byte {
	if st.encoded == nil {
		st.encoded = appendJob(make([]byte, 0, 2048), &st.job)
	}
	return st.encoded
}

// sorted returns jobs newest first (created_at desc, then ID); s.mu held.
func (s *Server) sorted() []*jobState {
	if s.order == nil {
		s.order = make([]*jobState, 0, len(s.jobs))
		for _, st := range s.jobs {
			s.order = append(s.order, st)
		}
		slices.SortFunc(s.order, func(a, b *jobState) int {
			if c := b.job.CreatedAt.Compare(a.job.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.job.ID, b.job.ID)
		})
	}
	return s.order
}

// ServeHTTP routes like the FastAPI app: /api/health, /api/v1/jobs…, plus the
// /_simulator/ admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case p == "/api/health":
		if r.Method != http.MethodGet {
			s.methodNotAllowed(w, r)
			return
		}
		s.counts[kindIndex(KindHealth)].Add(1)
		b := []byte(`{"status":"healthy","service":"agent-control_plane_api","timestamp":"` + formatNaive(s.clock()) + `"}`)
		s.deliver(w, r, jsonResponse(http.StatusOK, b), Fault{})
	case strings.HasPrefix(p, "/_simulator/"):
		s.admin(w, r, strings.TrimPrefix(p, "/_simulator/"))
	case strings.HasPrefix(p, "/api/v1/"):
		s.api(w, r, strings.TrimPrefix(p, "/api/v1/"))
	default:
		s.deliver(w, r, detailResponse(http.StatusNotFound, "Not Found"), Fault{})
	}
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	resp := detailResponse(http.StatusMethodNotAllowed, "Method Not Allowed")
	resp.header = map[string]string{"Allow": "GET"}
	s.deliver(w, r, resp, Fault{})
}

// api serves /api/v1/<rest>; rest is still escaped, so an escaped '/' or '?'
// inside a job ID stays part of the ID.
func (s *Server) api(w http.ResponseWriter, r *http.Request, rest string) {
	segs := strings.Split(rest, "/")
	var kind, id string
	switch {
	case len(segs) == 1 && segs[0] == "jobs":
		kind = KindListJobs
	case len(segs) == 2 && segs[0] == "jobs" && segs[1] == "":
		// Starlette's redirect_slashes.
		u := "/api/v1/jobs"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusTemporaryRedirect)
		return
	case len(segs) == 2 && segs[0] == "jobs":
		kind = KindGetJob
	case len(segs) == 3 && segs[0] == "jobs" && segs[1] != "" && segs[2] == "executions":
		kind = KindExecutions
	default:
		s.deliver(w, r, detailResponse(http.StatusNotFound, "Not Found"), Fault{})
		return
	}
	if kind != KindListJobs {
		var err error
		if id, err = url.PathUnescape(segs[1]); err != nil {
			s.deliver(w, r, detailResponse(http.StatusNotFound, "Not Found"), Fault{})
			return
		}
	}
	if r.Method != http.MethodGet {
		s.methodNotAllowed(w, r)
		return
	}
	start := time.Now()
	s.counts[kindIndex(kind)].Add(1)
	f := s.faultFor(kind, id)
	if s.log != nil {
		defer func() {
			s.log.Debug("api request", "kind", kind, "job_id", id, "fault", f != Fault{}, "duration", time.Since(start))
		}()
	}
	if !s.wait(r.Context(), time.Duration(s.latency.Load())+f.Latency) {
		return
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	}
	var resp response
	if f.replacesBody() {
		resp = faultResponse(f, id)
	} else {
		resp = s.respond(r, kind, id)
	}
	s.deliver(w, r, resp, f)
}

// faultFor counts the request and returns the fault that applies: the job's
// own fault wins over the global one.
func (s *Server) faultFor(kind, id string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == KindGetJob {
		s.jobReqs[id]++
	}
	if f, ok := s.faults[id]; ok && id != "" {
		return f
	}
	if s.global != nil {
		return *s.global
	}
	return Fault{}
}

const (
	hintMissing = "Include an 'Authorization: Bearer <token>' header with your Kubiya API key"
	hintInvalid = "Check that your Kubiya API key is valid and has not expired"
)

// authError checks the Authorization header as the server does.
func (s *Server) authError(r *http.Request) (response, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return unauthorized("Authorization header is required", hintMissing), true
	}
	var tok string
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer", "userkey":
		tok = strings.TrimSpace(rest)
	}
	key := s.apiKey.Load()
	if tok == "" || s.rejectKey.Load() || key == nil || tok != *key {
		return unauthorized("Invalid or expired authentication token", hintInvalid), true
	}
	return response{}, false
}

func unauthorized(msg, hint string) response {
	b := []byte(`{"detail":{"error":"Unauthorized","message":`)
	b = appendString(b, msg)
	b = append(b, `,"hint":`...)
	b = appendString(b, hint)
	b = append(b, "}}"...)
	return jsonResponse(http.StatusUnauthorized, b)
}

// respond produces the real answer (auth first, as FastAPI's dependency
// runs before parameter validation errors are raised).
func (s *Server) respond(r *http.Request, kind, id string) response {
	if resp, bad := s.authError(r); bad {
		return resp
	}
	now := s.clock()
	switch kind {
	case KindGetJob:
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.jobs[id]
		if st == nil {
			return jobNotFound(id)
		}
		st.advance(now, s.maxRuns)
		return jsonResponse(http.StatusOK, st.json())
	case KindListJobs:
		return s.list(r, now)
	default:
		return s.executions(r, id, now)
	}
}

func jobNotFound(id string) response {
	return detailResponse(http.StatusNotFound, "Job "+id+" not found")
}

// validationError is one entry of FastAPI's 422 detail list.
type validationError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func unprocessable(errs []validationError) response {
	b := mustJSON(struct {
		Detail []validationError `json:"detail"`
	}{errs})
	return jsonResponse(http.StatusUnprocessableEntity, b)
}

// lastQuery returns the last value of a query parameter, as Starlette does.
func lastQuery(q url.Values, key string) (string, bool) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// parseBool accepts what pydantic v2 accepts for a bool.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, true
	case "0", "false", "f", "no", "n", "off":
		return false, true
	}
	return false, false
}

func (s *Server) list(r *http.Request, now time.Time) response {
	q := r.URL.Query()
	var errs []validationError
	var enabled *bool
	if v, ok := lastQuery(q, "enabled"); ok {
		if b, ok := parseBool(v); ok {
			enabled = &b
		} else {
			errs = append(errs, validationError{[]string{"query", "enabled"},
				"Input should be a valid boolean, unable to interpret input", "bool_parsing"})
		}
	}
	trigger, hasTrigger := lastQuery(q, "trigger_type")
	if hasTrigger && trigger != "cron" && trigger != "webhook" && trigger != "manual" {
		errs = append(errs, validationError{[]string{"query", "trigger_type"},
			"Input should be 'cron', 'webhook' or 'manual'", "enum"})
	}
	if len(errs) > 0 {
		return unprocessable(errs)
	}
	s.mu.Lock()
	jobs := s.sorted()
	parts := make([][]byte, 0, 2*len(jobs)+1)
	size := int64(2)
	parts = append(parts, []byte("["))
	for _, st := range jobs {
		if (enabled != nil && st.job.Enabled != *enabled) || (hasTrigger && st.job.TriggerType != trigger) {
			continue
		}
		st.advance(now, s.maxRuns)
		if len(parts) > 1 {
			parts = append(parts, []byte(","))
			size++
		}
		// Cached encodings are replaced, never mutated, so they can be
		// written after the lock is released.
		b := st.json()
		parts = append(parts, b)
		size += int64(len(b))
	}
	s.mu.Unlock()
	parts = append(parts, []byte("]"))
	bufs := net.Buffers(parts)
	return response{status: http.StatusOK, contentType: "application/json", body: &bufs, size: size}
}

// queryInt validates an integer query parameter like FastAPI's Query(ge, le).
func queryInt(q url.Values, key string, def, lo, hi int, errs *[]validationError) int {
	v, ok := lastQuery(q, key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	loc := []string{"query", key}
	switch {
	case err != nil:
		*errs = append(*errs, validationError{loc, "Input should be a valid integer, unable to parse string as an integer", "int_parsing"})
	case n < lo:
		*errs = append(*errs, validationError{loc, "Input should be greater than or equal to " + strconv.Itoa(lo), "greater_than_equal"})
	case n > hi:
		*errs = append(*errs, validationError{loc, "Input should be less than or equal to " + strconv.Itoa(hi), "less_than_equal"})
	}
	return n
}

// execution is one entry of the executions endpoint.
type execution struct {
	ExecutionID     string         `json:"execution_id"`
	TriggerType     string         `json:"trigger_type"`
	Status          string         `json:"status"`
	StartedAt       *string        `json:"started_at"`
	CompletedAt     *string        `json:"completed_at"`
	DurationMS      *int64         `json:"duration_ms"`
	ErrorMessage    *string        `json:"error_message"`
	TriggerMetadata map[string]any `json:"trigger_metadata"`
}

func (s *Server) executions(r *http.Request, id string, now time.Time) response {
	q := r.URL.Query()
	var errs []validationError
	limit := queryInt(q, "limit", 50, 1, 1000, &errs)
	offset := queryInt(q, "offset", 0, 0, 1<<31-1, &errs)
	if len(errs) > 0 {
		return unprocessable(errs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.jobs[id]
	if st == nil {
		return jobNotFound(id)
	}
	st.advance(now, s.maxRuns)
	if !st.historyDone {
		st.synthesizeHistory(min(historyLen, s.maxRuns))
	}
	runs := slices.Clone(st.runs)
	slices.SortStableFunc(runs, func(a, b run) int { return cmp.Compare(b.start, a.start) })
	out := struct {
		JobID      string      `json:"job_id"`
		TotalCount int64       `json:"total_count"`
		Executions []execution `json:"executions"`
	}{JobID: id, TotalCount: st.job.TotalExecutions, Executions: []execution{}}
	if offset < len(runs) {
		runs = runs[offset:min(len(runs), offset+limit)]
		for i := range runs {
			out.Executions = append(out.Executions, st.execution(&runs[i]))
		}
	}
	return jsonResponse(http.StatusOK, mustJSON(out))
}

func (st *jobState) execution(r *run) execution {
	e := execution{
		ExecutionID: st.execID(r),
		TriggerType: trigNames[r.trigger],
		StartedAt:   Ptr(FormatTime(time.UnixMicro(r.start))),
	}
	switch r.trigger {
	case trigCron:
		e.TriggerMetadata = map[string]any{"scheduled_time": FormatTime(time.UnixMicro(r.fire))}
		if st.job.CronSchedule != nil {
			e.TriggerMetadata["cron_schedule"] = *st.job.CronSchedule
		}
	case trigWebhook:
		e.TriggerMetadata = map[string]any{"source": "webhook", "event": "push"}
	default:
		e.TriggerMetadata = map[string]any{"triggered_by": "api"}
	}
	switch {
	case r.canceled:
		e.Status = "cancelled"
	case !r.settled:
		e.Status = "running"
		return e
	case r.failed:
		e.Status = "failed"
		e.ErrorMessage = Ptr(st.errMessage(r))
	default:
		e.Status = "completed"
	}
	e.CompletedAt = Ptr(FormatTime(time.UnixMicro(r.end())))
	e.DurationMS = Ptr(r.durUS / 1000)
	return e
}
