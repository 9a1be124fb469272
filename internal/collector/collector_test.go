package collector

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The job fixtures, served by fakeAPI from testdata/jobs/<id>.json.
const (
	cronJob     = "job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f" // 0 17 * * * UTC, realistic counts
	webhookJob  = "job_0a4e7c52-1f3b-4d6e-8a9c-b2d4f6e8a0c1" // secrets set, offset and naive times
	disabledJob = "job_5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e" // stale next_execution_at
	neverRanJob = "job_8e9f0a1b-2c3d-4e5f-9a6b-7c8d9e0f1a2b" // nulls, missing fields, New York, paused
	brokenJob   = "job_c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f" // bad schedule and zone, unknown status
	missingJob  = "job_00000000-0000-4000-8000-000000000000" // 404
	erroringJob = "job_11111111-1111-4111-8111-111111111111" // 500
)

// fixedNow is a Thursday evening, after the daily 17:00 UTC run.
var fixedNow = time.Date(2025, 11, 20, 18, 0, 0, 0, time.UTC)

// fakeAPI serves the fixtures the way the control plane answers, counting
// requests; delay, when set, holds every answer.
type fakeAPI struct {
	t        testing.TB
	requests atomic.Int64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	delay    time.Duration
	hang     bool
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.hang {
		<-r.Context().Done()
		return
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if r.Header.Get("Authorization") != "Bearer test-key" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"detail":{"error":"Unauthorized","message":"Invalid or expired authentication token","hint":"x"}}`))
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/api/v1/jobs/")
	w.Header().Set("Content-Type", "application/json")
	if id == erroringJob {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"detail":"Failed to get job: connection pool exhausted"}`))
		return
	}
	body, err := os.ReadFile(filepath.Join("testdata", "jobs", filepath.Base(id)+".json"))
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"detail":"Job ` + id + ` not found"}`))
		return
	}
	_, _ = w.Write(body)
}

type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer test-key")
	return b.next.RoundTrip(r)
}

// newTestExporter starts api and returns an Exporter for ids reading it.
func newTestExporter(t testing.TB, api http.Handler, ids []string, concurrency int, logger log.Logger) (*Exporter, *APIMetrics) {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	metrics := NewAPIMetrics(prometheus.NewRegistry())
	client, err := kubiya.NewClient(srv.URL, &http.Client{Transport: bearer{http.DefaultTransport}},
		kubiya.Options{Observer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return New(client, logger, Options{Jobs: ids, MaxConcurrency: concurrency, Now: func() time.Time { return fixedNow }}), metrics
}

func scrapeFor(e *Exporter, timeout time.Duration) (prometheus.Gatherer, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return e.Scrape(ctx), cancel
}

var allFixtures = []string{cronJob, webhookJob, disabledJob, neverRanJob, brokenJob, missingJob, erroringJob}

// every metric name but the scrape duration, which no golden file can hold.
var stableMetrics = []string{
	"kubiya_up", "kubiya_job_up", "kubiya_job_info", "kubiya_job_enabled", "kubiya_job_status",
	"kubiya_job_executions_total", "kubiya_job_executions_succeeded_total", "kubiya_job_executions_failed_total",
	"kubiya_job_last_execution_timestamp_seconds", "kubiya_job_next_execution_timestamp_seconds",
	"kubiya_job_last_triggered_timestamp_seconds", "kubiya_job_created_timestamp_seconds",
	"kubiya_job_updated_timestamp_seconds", "kubiya_job_schedule_valid",
	"kubiya_job_schedule_next_timestamp_seconds", "kubiya_job_schedule_previous_timestamp_seconds",
}

func TestCollectGolden(t *testing.T) {
	e, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	golden := filepath.Join("testdata", "scrape.prom")
	if *update {
		mfs := slices.DeleteFunc(gatherFamilies(t, c), func(mf *dto.MetricFamily) bool {
			return mf.GetName() == "kubiya_scrape_duration_seconds"
		})
		if err := os.WriteFile(golden, []byte(familiesText(t, mfs)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(c, f, stableMetrics...); err != nil {
		t.Fatal(err)
	}
}

func TestCollectAndLint(t *testing.T) {
	e, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, nil)
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

// TestSecretsNeverInOutput: the fixtures hold CANARY strings in every field
// the API notes list as secret; none may reach a series or a log line.
func TestSecretsNeverInOutput(t *testing.T) {
	logger := &lineLogger{}
	e, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, logger)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	if !strings.Contains(out, "nightly-report") {
		t.Fatalf("scrape has no jobs:\n%s", out)
	}
	for _, text := range append(logger.Lines(), out) {
		if strings.Contains(text, "CANARY") {
			t.Errorf("secret canary leaked:\n%s", text)
		}
	}
}

func TestOneFailingJobDoesNotFailTheScrape(t *testing.T) {
	e, metrics := newTestExporter(t, &fakeAPI{t: t}, []string{cronJob, missingJob, erroringJob}, 2, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	for _, want := range []string{
		`kubiya_job_up{job_id="` + cronJob + `"} 1`,
		`kubiya_job_up{job_id="` + missingJob + `"} 0`,
		`kubiya_job_up{job_id="` + erroringJob + `"} 0`,
		"kubiya_up 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, `job_name="`) && strings.Count(out, `job_id="`+missingJob+`"`) != 1 {
		t.Errorf("a failed job must have only kubiya_job_up:\n%s", out)
	}
	for class, want := range map[string]float64{"ok": 1, "not_found": 1, "server_error": 1} {
		if got := testutil.ToFloat64(metrics.requests.WithLabelValues("get_job", class)); got != want {
			t.Errorf("api_requests_total{code=%q} = %v, want %v", class, got, want)
		}
	}
}

func TestOverlappingScrapesShareRequests(t *testing.T) {
	api := &fakeAPI{t: t, delay: 300 * time.Millisecond}
	ids := []string{cronJob, webhookJob, disabledJob, neverRanJob}
	e, _ := newTestExporter(t, api, ids, 8, nil)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, cancel := scrapeFor(e, 5*time.Second)
			defer cancel()
			if n, _ := testutil.GatherAndCount(c, "kubiya_job_enabled"); n != len(ids) {
				t.Errorf("enabled series = %d, want %d", n, len(ids))
			}
		})
	}
	wg.Wait()
	if got := api.requests.Load(); got != int64(len(ids)) {
		t.Fatalf("API requests = %d, want %d (one per job for two overlapping scrapes)", got, len(ids))
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	api := &fakeAPI{t: t, delay: 20 * time.Millisecond}
	ids := make([]string, 0, 20)
	for i := range 20 {
		ids = append(ids, "job_"+strings.Repeat(string(rune('a'+i)), 8))
	}
	e, _ := newTestExporter(t, api, ids, 3, nil)
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	_, _ = c.Gather()
	if got := api.maxSeen.Load(); got > 3 {
		t.Fatalf("requests in flight reached %d, want at most 3", got)
	}
	if got := api.requests.Load(); got != 20 {
		t.Fatalf("requests = %d, want 20", got)
	}
}

func TestScrapeDeadlineHoldsWithHangingAPI(t *testing.T) {
	api := &fakeAPI{t: t, hang: true}
	e, metrics := newTestExporter(t, api, []string{cronJob, webhookJob, disabledJob}, 1, nil)
	c, cancel := scrapeFor(e, 300*time.Millisecond)
	defer cancel()
	done := make(chan string)
	go func() { done <- gatherText(t, c) }()
	select {
	case out := <-done:
		for _, id := range []string{cronJob, webhookJob, disabledJob} {
			if !strings.Contains(out, `kubiya_job_up{job_id="`+id+`"} 0`) {
				t.Errorf("job %s not reported down:\n%s", id, out)
			}
		}
		if !strings.Contains(out, "kubiya_up 0") {
			t.Errorf("kubiya_up should be 0:\n%s", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scrape did not end at its deadline")
	}
	// The shared request ends at the same deadline as the scrape, so it may
	// be counted a moment after the scrape answered.
	timeouts := func() float64 { return testutil.ToFloat64(metrics.requests.WithLabelValues("get_job", "timeout")) }
	waitUntil(t, 5*time.Second, func() bool { return timeouts() >= 1 })
	if got := timeouts(); got < 1 {
		t.Errorf("timeouts counted = %v, want >= 1", got)
	}
}

func TestUnauthorizedMakesKubiyaUpZero(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{t: t})
	defer srv.Close()
	client, _ := kubiya.NewClient(srv.URL, http.DefaultClient, kubiya.Options{})
	e := New(client, log.NewNopLogger(), Options{Jobs: []string{cronJob}, MaxConcurrency: 1})
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	out := gatherText(t, c)
	if !strings.Contains(out, "kubiya_up 0") || !strings.Contains(out, `kubiya_job_up{job_id="`+cronJob+`"} 0`) {
		t.Fatalf("want kubiya_up 0 and the job down:\n%s", out)
	}
}

func TestLabelValueIsBounded(t *testing.T) {
	long := strings.Repeat("é", 1<<19) // a 1 MiB name
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{long, strings.Repeat("é", MaxLabelValueLen/2)},
		{"x" + long, "x" + strings.Repeat("é", (MaxLabelValueLen-1)/2)},
	}
	for _, tt := range tests {
		if got := labelValue(tt.in); got != tt.want {
			t.Errorf("labelValue(%.20q) = %.20q (len %d), want len %d", tt.in, got, len(got), len(tt.want))
		}
	}
}
