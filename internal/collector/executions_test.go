package collector

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// executionMetricNames are the series the executions collector adds.
var executionMetricNames = []string{
	"kubiya_job_executions_up", "kubiya_job_last_execution_status", "kubiya_job_last_execution_duration_seconds",
	"kubiya_job_last_success_timestamp_seconds", "kubiya_job_last_failure_timestamp_seconds",
	"kubiya_job_executions_in_progress",
}

// execCanary stands for a secret a failing run printed into error_message.
const execCanary = "CANARY-exec-7d1f"

// execFixture is one job of execAPI: its record and its executions answer.
type execFixture struct {
	id         string
	execStatus int    // 0: 200
	execBody   string // the executions answer
}

// The executions fixtures: every status, nulls, the API's order or not, and
// failures. Times are around fixedNow (2025-11-20T18:00Z).
var execFixtures = []execFixture{
	{"job_st_pending", 0, `{"job_id":"job_st_pending","total_count":3,"executions":[
		{"execution_id":"p3","status":"pending","started_at":"2025-11-20T17:59:58Z","completed_at":null,"duration_ms":null},
		{"execution_id":"p2","status":"failed","started_at":"2025-11-20T16:00:01Z","completed_at":"2025-11-20T16:00:09Z","duration_ms":8000,"error_message":"boom"},
		{"execution_id":"p1","status":"completed","started_at":"2025-11-20T15:00:01Z","completed_at":"2025-11-20T15:00:04.5Z","duration_ms":3500}]}`},
	{"job_st_running", 0, `{"executions":[
		{"execution_id":"r2","status":"running","started_at":"2025-11-20T17:55:00Z"},
		{"execution_id":"r1","status":"running","started_at":"2025-11-20T17:00:00Z"}]}`},
	{"job_st_waiting", 0, `{"executions":[{"execution_id":"w1","status":"waiting_for_input","started_at":"2025-11-20T17:30:00Z","trigger_metadata":{"triggered_by":"api"}}]}`},
	{"job_st_completed", 0, `{"executions":[{"execution_id":"c1","status":"completed","started_at":"2025-11-20T17:00:02Z","completed_at":"2025-11-20T17:00:09.5Z","duration_ms":7500}]}`},
	{"job_st_failed", 0, `{"executions":[
		{"execution_id":"f2","status":"failed","started_at":"2025-11-20T17:00:02Z","completed_at":"2025-11-20T17:00:12Z","duration_ms":null,
		 "error_message":"Agent failed: export API_TOKEN=` + execCanary + `; ` + strings.Repeat("é", 300) + `","trigger_metadata":{"token":"` + execCanary + `"}},
		{"execution_id":"f1","status":"completed","started_at":"2025-11-19T17:00:02Z","completed_at":null}]}`},
	{"job_st_cancelled", 0, `{"executions":[{"execution_id":"x1","status":"cancelled","started_at":"2025-11-20T17:00:00Z","completed_at":"2025-11-20T17:01:00Z"}]}`},
	{"job_st_unknown", 0, `{"executions":[{"execution_id":"u1","status":"queued_for_review","started_at":"2025-11-20T17:00:00Z"}]}`},
	{"job_st_null", 0, `{"executions":[{"execution_id":"n1","status":null,"started_at":null,"completed_at":null,"duration_ms":null,"error_message":null,"trigger_metadata":null}]}`},
	{"job_st_upper", 0, `{"executions":[{"execution_id":"up1","status":"COMPLETED","started_at":"2025-11-20T12:00:00Z","completed_at":"2025-11-20T12:00:30Z"}]}`},
	// Oldest first: the newest is found by started_at, not by position.
	{"job_oldest_first", 0, `{"executions":[
		{"execution_id":"o1","status":"failed","started_at":"2025-11-20T15:00:00Z","completed_at":"2025-11-20T15:00:05Z"},
		{"execution_id":"o2","status":"completed","started_at":"2025-11-20T16:00:00Z","completed_at":"2025-11-20T16:00:02Z","duration_ms":2000}]}`},
	{"job_never_ran", 0, `{"job_id":"job_never_ran","total_count":0,"executions":[]}`},
	{"job_exec_500", http.StatusInternalServerError, `{"detail":"Failed to list executions: ` + execCanary + `"}`},
	{"job_exec_bad", 0, `{"detail":"` + execCanary + `"}`},
}

// execAPI serves the fixtures' job records and executions; a job ID not
// among them is not found.
type execAPI struct {
	mu         sync.Mutex
	fixtures   map[string]execFixture
	total      map[string]int64 // total_executions in the job record
	jobCalls   atomic.Int64
	execCalls  atomic.Int64
	execDelay  time.Duration
	hangExec   bool
	inFlight   atomic.Int64
	maxFlight  atomic.Int64
	lastLimits sync.Map // job ID → limit query
}

func newExecAPI(fixtures []execFixture) *execAPI {
	a := &execAPI{fixtures: map[string]execFixture{}, total: map[string]int64{}}
	for _, f := range fixtures {
		a.fixtures[f.id] = f
		a.total[f.id] = 1
	}
	return a
}

// newRun makes the job record show one more execution.
func (a *execAPI) newRun(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total[id]++
}

func (a *execAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for m := a.maxFlight.Load(); n > m && !a.maxFlight.CompareAndSwap(m, n); m = a.maxFlight.Load() {
	}
	rest := strings.TrimPrefix(r.URL.Path, "/api/v1/jobs/")
	id, isExec := strings.CutSuffix(rest, "/executions")
	a.mu.Lock()
	f, ok := a.fixtures[id]
	total := a.total[id]
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"Job ` + id + ` not found"}`))
		return
	}
	if !isExec {
		a.jobCalls.Add(1)
		_, _ = w.Write([]byte(`{"id":"` + id + `","name":"` + strings.TrimPrefix(id, "job_") + `","enabled":true,"status":"active",
			"trigger_type":"manual","entity_type":"agent","entity_id":"e-1","entity_name":"bot",
			"last_execution_id":"x","total_executions":` + itoa(total) + `,"webhook_secret":"` + execCanary + `"}`))
		return
	}
	a.execCalls.Add(1)
	a.lastLimits.Store(id, r.URL.Query().Get("limit"))
	if a.hangExec {
		<-r.Context().Done()
		return
	}
	if a.execDelay > 0 {
		time.Sleep(a.execDelay)
	}
	if f.execStatus != 0 {
		w.WriteHeader(f.execStatus)
	}
	_, _ = w.Write([]byte(f.execBody))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newExecExporter returns an Exporter with the executions collector on,
// reading h through a client that counts requests in metrics.
func newExecExporter(t testing.TB, h http.Handler, ids []string, limit int, logger log.Logger, now func() time.Time) (*Exporter, *APIMetrics) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	metrics := NewAPIMetrics(prometheus.NewRegistry())
	client, err := kubiya.NewClient(srv.URL, &http.Client{Transport: bearer{http.DefaultTransport}}, kubiya.Options{Observer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	if now == nil {
		now = func() time.Time { return fixedNow }
	}
	return New(client, logger, Options{Jobs: ids, MaxConcurrency: 4, Now: now, Executions: client, ExecutionsLimit: limit}), metrics
}

func fixtureIDs(extra ...string) []string {
	ids := make([]string, 0, len(execFixtures)+len(extra))
	for _, f := range execFixtures {
		ids = append(ids, f.id)
	}
	return append(ids, extra...)
}

func TestExecutionsGolden(t *testing.T) {
	api := newExecAPI(execFixtures)
	e, _ := newExecExporter(t, api, fixtureIDs("job_missing"), 20, nil, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	names := append([]string{"kubiya_job_up"}, executionMetricNames...)
	golden := filepath.Join("testdata", "executions.prom")
	if *update {
		out := gatherText(t, c)
		var b strings.Builder
		keep := false
		for _, line := range strings.SplitAfter(out, "\n") {
			if strings.HasPrefix(line, "# HELP ") {
				name := strings.Fields(line)[2]
				keep = false
				for _, n := range names {
					keep = keep || n == name
				}
			}
			if keep {
				b.WriteString(line)
			}
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(c, f, names...); err != nil {
		t.Fatal(err)
	}
	if got, _ := api.lastLimits.Load("job_st_pending"); got != "20" {
		t.Errorf("limit sent = %v, want 20", got)
	}
}

func TestExecutionsLint(t *testing.T) {
	e, _ := newExecExporter(t, newExecAPI(execFixtures), fixtureIDs(), 20, nil, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	problems, err := testutil.GatherAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestExecutionsErrorMessageOnlyInDebugLogs: error_message (which may hold a
// secret a run printed), trigger_metadata and the error bodies never reach a
// series; error_message is logged at debug level only, cut to 200 bytes.
func TestExecutionsErrorMessageOnlyInDebugLogs(t *testing.T) {
	logger := &lineLogger{}
	e, _ := newExecExporter(t, newExecAPI(execFixtures), fixtureIDs(), 20, logger, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	lines := logger.Lines()
	for _, leak := range []string{execCanary, "boom", "Agent failed", "error_message", "trigger_metadata", "triggered_by"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q in the metrics", leak)
		}
	}
	debugLines := 0
	for _, l := range lines {
		if !strings.Contains(l, execCanary) && !strings.Contains(l, "Agent failed") {
			continue
		}
		if !strings.Contains(l, "level=debug") || !strings.Contains(l, `msg="job execution failed"`) {
			t.Errorf("error_message outside a debug line: %s", l)
			continue
		}
		debugLines++
		_, msg, _ := strings.Cut(l, "error_message=")
		msg = strings.TrimSpace(msg)
		if v, err := unquoteLogfmt(msg); err != nil || len(v) > maxErrorMessageLog+len("…") || !strings.HasSuffix(v, "…") {
			t.Errorf("error_message not cut to %d bytes (%d, err %v): %s", maxErrorMessageLog, len(v), err, msg)
		}
	}
	if debugLines != 1 {
		t.Errorf("%d debug lines carry the failing job's error_message, want 1:\n%s", debugLines, strings.Join(lines, ""))
	}
	// A second scrape with nothing new logs the failure again nowhere.
	c2, cancel2 := scrapeFor(e, 5*time.Second)
	defer cancel2()
	before := len(lines)
	gatherText(t, c2)
	for _, l := range logger.Lines()[before:] {
		if strings.Contains(l, "job execution failed") {
			t.Errorf("the same failure logged twice: %s", l)
		}
	}
	// At the default info level nothing of it is written.
	var infoOut strings.Builder
	e2, _ := newExecExporter(t, newExecAPI(execFixtures), fixtureIDs(), 20,
		level.NewFilter(log.NewLogfmtLogger(log.NewSyncWriter(&infoOut)), level.AllowInfo()), nil)
	c3, cancel3 := scrapeFor(e2, 5*time.Second)
	defer cancel3()
	gatherText(t, c3)
	if strings.Contains(infoOut.String(), execCanary) || strings.Contains(infoOut.String(), "Agent failed") {
		t.Errorf("error_message logged at info level:\n%s", infoOut.String())
	}
	if !strings.Contains(infoOut.String(), "reading job executions failed") {
		t.Errorf("executions failures not logged at warn:\n%s", infoOut.String())
	}
}

// unquoteLogfmt reads one logfmt value (quoted or bare).
func unquoteLogfmt(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		v, _, _ := strings.Cut(s, " ")
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i < len(s) {
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", errUnterminated
}

var errUnterminated = errors.New("unterminated logfmt value")

// TestExecutionsFailureMarksOnlyThatPartDown: an executions endpoint that
// fails (500, bad body, timeout) sets kubiya_job_executions_up 0 and drops
// that job's execution series; its job series, the other jobs and kubiya_up
// are untouched.
func TestExecutionsFailureMarksOnlyThatPartDown(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		class string
	}{
		{"server error", "job_exec_500", "server_error"},
		{"bad body", "job_exec_bad", "bad_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := []string{tt.id, "job_st_completed"}
			e, metrics := newExecExporter(t, newExecAPI(execFixtures), ids, 20, nil, nil)
			c, cancel := scrapeFor(e, 5*time.Second)
			defer cancel()
			out := gatherText(t, c)
			for _, want := range []string{
				"kubiya_up 1",
				`kubiya_job_up{job_id="` + tt.id + `"} 1`,
				`kubiya_job_executions_up{job_id="` + tt.id + `"} 0`,
				`kubiya_job_executions_up{job_id="job_st_completed"} 1`,
				`kubiya_job_last_execution_status{entity_id="e-1",entity_name="bot",entity_type="agent",job_id="job_st_completed",job_name="st_completed",status="completed"} 1`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %s", want)
				}
			}
			if !strings.Contains(out, `kubiya_job_info{`) || !strings.Contains(out, `job_id="`+tt.id+`",job_name=`) {
				t.Errorf("job series of %s missing", tt.id)
			}
			for _, m := range executionMetricNames[1:] {
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, m+"{") && strings.Contains(l, `job_id="`+tt.id+`"`) {
						t.Errorf("execution series for a failed read: %s", l)
					}
				}
			}
			if got := testutil.ToFloat64(metrics.requests.WithLabelValues("executions", tt.class)); got != 1 {
				t.Errorf(`api_requests_total{endpoint="executions",code=%q} = %v, want 1`, tt.class, got)
			}
		})
	}
}

// TestExecutionsFailureWithSimulator: the simulator's per-job fault hits
// both the job and its executions (the job is down, so no executions_up);
// a fault on the executions path alone marks only that part down.
func TestExecutionsFailureWithSimulator(t *testing.T) {
	ids := []string{simulator.JobNightly, simulator.JobHourly, simulator.JobWeekly}
	sim := simulator.New(simulator.Options{APIKey: "test-key", Now: func() time.Time { return simNow }, Seed: 7})
	t.Cleanup(sim.Close)
	// Only the executions of JobHourly answer 500, as the API's own error.
	execFault := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/jobs/"+simulator.JobHourly+"/executions" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"detail":"Failed to list executions: pool exhausted"}`))
			return
		}
		sim.ServeHTTP(w, r)
	})
	sim.SetFault(simulator.JobWeekly, simulator.FaultInternal("database unavailable"))
	e, _ := newExecExporter(t, execFault, ids, 20, nil, sim.Now)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	for _, want := range []string{
		"kubiya_up 1",
		`kubiya_job_up{job_id="` + simulator.JobNightly + `"} 1`,
		`kubiya_job_executions_up{job_id="` + simulator.JobNightly + `"} 1`,
		`kubiya_job_up{job_id="` + simulator.JobHourly + `"} 1`,
		`kubiya_job_executions_up{job_id="` + simulator.JobHourly + `"} 0`,
		`kubiya_job_up{job_id="` + simulator.JobWeekly + `"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	for _, l := range strings.Split(pick(out, executionMetricNames), "\n") {
		if strings.Contains(l, simulator.JobWeekly) || (strings.Contains(l, simulator.JobHourly) && !strings.HasPrefix(l, "kubiya_job_executions_up")) {
			t.Errorf("execution series for a job whose executions are unknown: %s", l)
		}
	}
	if !strings.Contains(out, `kubiya_job_last_execution_status{entity_id="2b7e9c1a-0d4f-4e8a-9b6c-3f5d7a1e2c4b",entity_name="reporter",entity_type="agent",job_id="`+simulator.JobNightly+`"`) {
		t.Errorf("nightly-report has no execution status:\n%s", pick(out, executionMetricNames))
	}
	if got := sim.Requests()[simulator.KindExecutions]; got != 1 {
		t.Errorf("simulator executions requests = %d, want 1 (nightly; hourly was faulted before it, weekly's job was down)", got)
	}
}

func TestExecutionsTimeoutKeepsScrapeDeadline(t *testing.T) {
	api := newExecAPI(execFixtures)
	api.hangExec = true
	e, _ := newExecExporter(t, api, []string{"job_st_completed", "job_st_failed"}, 20, nil, nil)
	c, cancel := scrapeFor(e, 400*time.Millisecond)
	defer cancel()
	done := make(chan string)
	go func() { done <- gatherText(t, c) }()
	select {
	case out := <-done:
		for _, want := range []string{
			`kubiya_job_up{job_id="job_st_completed"} 1`,
			`kubiya_job_executions_up{job_id="job_st_completed"} 0`,
			`kubiya_job_executions_up{job_id="job_st_failed"} 0`,
			"kubiya_up 1",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %s in\n%s", want, out)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scrape did not end at its deadline")
	}
}

func TestExecutionsCacheWithFakeAPI(t *testing.T) {
	api := newExecAPI(execFixtures)
	ids := []string{"job_st_completed", "job_st_failed", "job_never_ran", "job_st_running", "job_exec_500"}
	e, _ := newExecExporter(t, api, ids, 20, nil, nil)
	scrape := func() {
		c, cancel := scrapeFor(e, 5*time.Second)
		defer cancel()
		gatherText(t, c)
	}
	steps := []struct {
		what     string
		before   func()
		wantExec int64
	}{
		// Cold: every job read once.
		{"first scrape", nil, 5},
		// Nothing changed: only the job whose run is in progress and the one
		// whose read failed are read again.
		{"nothing new", nil, 2},
		{"nothing new again", nil, 2},
		{"a new run of job_st_completed", func() { api.newRun("job_st_completed") }, 3},
		{"settled", nil, 2},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		before := api.execCalls.Load()
		scrape()
		if got := api.execCalls.Load() - before; got != s.wantExec {
			t.Errorf("%s: %d executions requests, want %d", s.what, got, s.wantExec)
		}
	}
}

func TestExecutionsCacheDropsJobsNoLongerReported(t *testing.T) {
	api := newExecAPI(execFixtures)
	e, _ := newExecExporter(t, api, nil, 20, nil, nil)
	job := func(id string) result {
		return result{id: id, job: &kubiya.Job{ID: id, Name: id, TotalExecutions: 1}}
	}
	collect := func(rs ...result) { e.executions.summaries(context.Background(), e, rs) }
	collect(job("job_st_completed"), job("job_st_failed"), job("job_never_ran"))
	collect(job("job_st_completed"), result{id: "job_st_failed", err: &kubiya.Error{Class: kubiya.ClassServerError}})
	e.executions.cache.mu.Lock()
	var cached []string
	for id := range e.executions.cache.m {
		cached = append(cached, id)
	}
	e.executions.cache.mu.Unlock()
	sort.Strings(cached)
	// job_never_ran left the results: dropped. job_st_failed is still
	// reported (its GET failed this time): kept for the next scrape.
	if strings.Join(cached, ",") != "job_st_completed,job_st_failed" {
		t.Errorf("cached jobs = %v", cached)
	}
}

func TestOverlappingScrapesShareExecutionReads(t *testing.T) {
	api := newExecAPI(execFixtures)
	api.execDelay = 300 * time.Millisecond
	ids := []string{"job_st_completed", "job_st_failed", "job_never_ran"}
	e, _ := newExecExporter(t, api, ids, 20, nil, nil)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, cancel := scrapeFor(e, 5*time.Second)
			defer cancel()
			if n, _ := testutil.GatherAndCount(c, "kubiya_job_executions_up"); n != len(ids) {
				t.Errorf("executions_up series = %d, want %d", n, len(ids))
			}
		})
	}
	wg.Wait()
	if got := api.execCalls.Load(); got != int64(len(ids)) {
		t.Fatalf("executions requests = %d, want %d (one per job for two overlapping scrapes)", got, len(ids))
	}
}

func TestExecutionsShareTheConcurrencyBound(t *testing.T) {
	api := newExecAPI(execFixtures)
	api.execDelay = 20 * time.Millisecond
	srv := httptest.NewServer(api)
	defer srv.Close()
	client, _ := kubiya.NewClient(srv.URL, &http.Client{Transport: bearer{http.DefaultTransport}}, kubiya.Options{})
	e := New(client, log.NewNopLogger(), Options{Jobs: fixtureIDs(), MaxConcurrency: 2, Now: func() time.Time { return fixedNow }, Executions: client, ExecutionsLimit: 5})
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	_, _ = c.Gather()
	if got := api.maxFlight.Load(); got > 2 {
		t.Fatalf("requests in flight reached %d, want at most 2", got)
	}
	if got := api.execCalls.Load(); got != int64(len(execFixtures)) {
		t.Fatalf("executions requests = %d, want %d", got, len(execFixtures))
	}
}

func TestExecutionsOffByDefault(t *testing.T) {
	api := newExecAPI(execFixtures)
	e, _ := newTestExporter(t, api, []string{"job_st_completed"}, 2, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	if api.execCalls.Load() != 0 || strings.Contains(out, "execution_status") || strings.Contains(out, "executions_up") {
		t.Fatalf("executions read or reported while off (%d requests):\n%s", api.execCalls.Load(), out)
	}
}

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 200, "short"},
		{strings.Repeat("a", 201), 200, strings.Repeat("a", 200) + "…"},
		{"a" + strings.Repeat("é", 150), 200, "a" + strings.Repeat("é", 99) + "…"},
		{"bad\xffbyte", 200, "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		if got := truncateUTF8(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateUTF8(%.20q, %d) = %.30q, want %.30q", tt.in, tt.n, got, tt.want)
		}
	}
}

// simNow is the simulator's start: a Thursday evening after the 17:00 UTC
// and 18:00 UTC runs have ended.
var simNow = time.Date(2025, 11, 20, 18, 5, 0, 0, time.UTC)

// TestExecutionsCacheSavesCalls scrapes the simulator once a minute for two
// hours of simulated time and counts executions requests: one per job to
// fill the cache, then only for runs that happened. It logs the requests
// the cache saved against reading every job on every scrape.
func TestExecutionsCacheSavesCalls(t *testing.T) {
	ids := []string{
		simulator.JobHourly, simulator.JobNightly, simulator.JobNewYork, simulator.JobWeekly,
		simulator.JobWebhook, simulator.JobManual, simulator.JobDisabled, simulator.JobNeverRan,
	}
	sim := simulator.New(simulator.Options{APIKey: "test-key", Now: func() time.Time { return simNow }, Seed: 7,
		Jobs: simulator.FillSecrets(simulator.DefaultJobs(), "CANARY-sim")})
	t.Cleanup(sim.Close)
	e, _ := newExecExporter(t, sim, ids, 20, nil, sim.Now)
	scrape := func() string {
		c, cancel := scrapeFor(e, 5*time.Second)
		defer cancel()
		return gatherText(t, c)
	}
	execCalls := func() int64 { return sim.Requests()[simulator.KindExecutions] }

	// Quiet hour: nothing runs between 18:05 and 18:59.
	scrapes := 0
	for ; sim.Now().Before(simNow.Add(55 * time.Minute)); sim.Advance(time.Minute) {
		scrape()
		scrapes++
	}
	quiet := execCalls()
	if quiet != int64(len(ids)) {
		t.Errorf("quiet hour: %d executions requests over %d scrapes, want %d (one per job, to fill the cache)", quiet, scrapes, len(ids))
	}
	quietScrapes := scrapes

	// Busy hour: hourly-sync runs at 19:00 and 20:00, and a manual run of
	// incident-responder is triggered at 19:30.
	var manualID string
	for ; sim.Now().Before(simNow.Add(2 * time.Hour)); sim.Advance(time.Minute) {
		if manualID == "" && !sim.Now().Before(simNow.Add(85*time.Minute)) {
			var err error
			if manualID, err = sim.TriggerJob(simulator.JobManual); err != nil {
				t.Fatal(err)
			}
		}
		scrape()
		scrapes++
	}
	busy := execCalls() - quiet
	// Each hourly run is seen once it has ended (runs take under 12 s, the
	// scrapes are a minute apart); the manual run is seen running at once,
	// then once more when it has ended.
	if busy != 4 {
		t.Errorf("busy hour: %d executions requests, want 4 (two hourly runs, a manual run read running and ended)", busy)
	}
	out := scrape()
	scrapes++
	total := execCalls()
	without := int64(scrapes * len(ids))
	t.Logf("executions API requests over %d scrapes of %d jobs (%d quiet, %d with 3 new runs): %d with the cache, %d without; saved %d (%.1f%%)",
		scrapes, len(ids), quietScrapes, scrapes-quietScrapes, total, without, without-total, 100*float64(without-total)/float64(without))

	// What the cache serves is what a fresh read says.
	fresh, _ := newExecExporter(t, sim, ids, 20, nil, sim.Now)
	c, cancel := scrapeFor(fresh, 5*time.Second)
	defer cancel()
	if got, want := pick(out, executionMetricNames), pick(gatherText(t, c), executionMetricNames); got != want {
		t.Errorf("cached series differ from a fresh read:\ncached:\n%s\nfresh:\n%s", got, want)
	}
	if !strings.Contains(out, `job_name="incident-responder",status="completed"} 1`) &&
		!strings.Contains(out, `job_name="incident-responder",status="failed"} 1`) {
		t.Errorf("manual run %s not reported as ended:\n%s", manualID, pick(out, executionMetricNames))
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("secret canary in the metrics")
	}
}

// pick returns the sample lines of the named metrics.
func pick(out string, names []string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		for _, n := range names {
			if strings.HasPrefix(l, n+"{") || strings.HasPrefix(l, n+" ") {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}
