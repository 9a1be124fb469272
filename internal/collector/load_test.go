package collector

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// loadDuration is how long TestLoadAndLeaks scrapes: KUBIYA_LOAD_DURATION
// (`make load` sets 30s), else 5 s, or 2 s with -short.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("KUBIYA_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("KUBIYA_LOAD_DURATION=%q: want a positive duration", v)
		}
		return d
	}
	if testing.Short() {
		return 2 * time.Second
	}
	return 5 * time.Second
}

// metricsServer serves Exporter scrapes the way main.go does: a registry per
// request, the deadline from X-Prometheus-Scrape-Timeout-Seconds (capped at
// 10 s), and the process-wide API metrics after the scrape's own.
func metricsServer(e *Exporter, global prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout := 10 * time.Second
		if secs, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && secs > 0 {
			timeout = min(timeout, time.Duration(secs*float64(time.Second)))
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		promhttp.HandlerFor(prometheus.Gatherers{e.Scrape(ctx), global}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// waitGoroutines polls until at most want goroutines run, and returns the
// last count.
func waitGoroutines(want int, timeout time.Duration) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(timeout); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

func heapInuseMiB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// procStatusMiB reads a VmRSS/VmHWM-style line of /proc/self/status; 0
// where there is no procfs.
func procStatusMiB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// TestLoadAndLeaks runs 50 concurrent scrapers against 500 jobs behind an
// API with latency and checks that requests coalesce (about one API request
// per job per scrape window), that no scrape fails, that goroutines return to
// their baseline after the load and after hung API requests time out, and
// that memory stays bounded. The figures go to the test log; `make load`
// runs it for 30 s with -v.
func TestLoadAndLeaks(t *testing.T) {
	nJobs := 500
	if raceEnabled && os.Getenv("KUBIYA_LOAD_DURATION") == "" {
		nJobs = 100 // make test runs with -race; `make load` runs the full size
	}
	const (
		scrapers    = 50
		apiLatency  = 20 * time.Millisecond
		concurrency = 8 // the default control_plane.max_concurrency
		// Slack for runtime and test-framework goroutines that come and go.
		goroutineSlack = 5
	)
	duration := loadDuration(t)

	sim := simulator.New(simulator.Options{APIKey: "test-key", Seed: 7, Jobs: simulator.GenerateJobs(nJobs, 7)})
	sim.SetLatency(apiLatency)
	api := httptest.NewServer(sim)
	defer api.Close()
	defer sim.Close()
	apiTransport := &http.Transport{MaxIdleConnsPerHost: concurrency}
	global := prometheus.NewRegistry()
	metrics := NewAPIMetrics(global)
	client, err := kubiya.NewClient(api.URL, &http.Client{Transport: bearer{apiTransport}}, kubiya.Options{Observer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	exp := New(client, log.NewNopLogger(), Options{Jobs: sim.JobIDs(), MaxConcurrency: concurrency})
	srv := httptest.NewServer(metricsServer(exp, global))
	defer srv.Close()
	scrapeTransport := &http.Transport{MaxIdleConnsPerHost: scrapers, DisableCompression: true}
	closeIdle := func() { scrapeTransport.CloseIdleConnections(); apiTransport.CloseIdleConnections() }
	defer closeIdle()
	httpClient := &http.Client{Transport: scrapeTransport, Timeout: time.Minute}

	runtime.GC()
	baseGoroutines, baseHeap := runtime.NumGoroutine(), heapInuseMiB()

	scrape := func(timeoutHeader string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if timeoutHeader != "" {
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	// Load: every scraper scrapes back to back until the end.
	var (
		scrapes, failures atomic.Int64
		scrapeNanos       atomic.Int64
		peakHeap          atomic.Int64 // MiB
		firstFailure      sync.Once
		failure           string
	)
	sampleDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampleDone:
				return
			case <-tick.C:
				if h := int64(heapInuseMiB()); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
			}
		}
	}()
	start := time.Now()
	end := start.Add(duration)
	var wg sync.WaitGroup
	for range scrapers {
		wg.Go(func() {
			for time.Now().Before(end) {
				t0 := time.Now()
				code, body, err := scrape("")
				scrapeNanos.Add(int64(time.Since(t0)))
				scrapes.Add(1)
				up := jobsUp(body)
				if err != nil || code != http.StatusOK || up != nJobs || !strings.Contains(body, "\nkubiya_up 1\n") {
					failures.Add(1)
					firstFailure.Do(func() { failure = strconv.Itoa(code) + " " + errString(err) + " jobs=" + strconv.Itoa(up) })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(sampleDone)

	s, r := scrapes.Load(), sim.Requests()[simulator.KindGetJob]
	avgScrape := time.Duration(scrapeNanos.Load() / max(s, 1))
	windows := elapsed.Seconds() / avgScrape.Seconds()
	fraction := float64(r) / float64(s*int64(nJobs))
	perJobPerWindow := float64(r) / (float64(nJobs) * windows)
	runtime.GC()
	afterHeap := heapInuseMiB()
	t.Logf("load: %d scrapers x %v, %d jobs, API latency %v, max_concurrency %d", scrapers, duration, nJobs, apiLatency, concurrency)
	t.Logf("load: %d scrapes (%.1f/s), mean scrape %v, %d failed; %d API requests (%.0f/s)",
		s, float64(s)/elapsed.Seconds(), avgScrape.Round(time.Millisecond), failures.Load(), r, float64(r)/elapsed.Seconds())
	t.Logf("load: API requests / (scrapes x jobs) = %.3f (1 = no coalescing); per job per scrape window = %.2f", fraction, perJobPerWindow)
	t.Logf("load: heap in use %.1f MiB before, peak %d MiB, %.1f MiB after GC; RSS %.1f MiB, peak RSS %.1f MiB",
		baseHeap, peakHeap.Load(), afterHeap, procStatusMiB("VmRSS"), procStatusMiB("VmHWM"))

	if failures.Load() != 0 {
		t.Errorf("%d of %d scrapes failed; first: %s", failures.Load(), s, failure)
	}
	if s < scrapers {
		t.Fatalf("only %d scrapes ran", s)
	}
	// Coalesced: about one request per job per window (slack for scrapes
	// that drift out of step), and far fewer than one per job per scrape.
	// The window count is elapsed time over the mean scrape, which means
	// little when the run lasts only a few scrapes (the short version in
	// make test, on a loaded machine): there only the fraction is checked.
	if duration >= 20*time.Second && perJobPerWindow > 3 {
		t.Errorf("%.2f API requests per job per scrape window, want about 1 (at most 3)", perJobPerWindow)
	}
	if fraction > 0.25 {
		t.Errorf("%d scrapers caused %.2f API requests per job per scrape: overlapping scrapes do not share requests", scrapers, fraction)
	}
	// Bounded: nothing kept from the scrapes once they are done.
	if afterHeap > baseHeap+64 {
		t.Errorf("heap in use grew from %.1f to %.1f MiB after the load", baseHeap, afterHeap)
	}

	closeIdle()
	if n := waitGoroutines(baseGoroutines+goroutineSlack, 15*time.Second); n > baseGoroutines+goroutineSlack {
		t.Errorf("after the load: %d goroutines, baseline %d", n, baseGoroutines)
	} else {
		t.Logf("goroutines: baseline %d, after the load %d", baseGoroutines, n)
	}

	// Hung API: every request hangs; scrapes end at their 1 s deadline and
	// the hung requests end with them.
	sim.SetGlobalFault(simulator.Fault{Hang: true})
	var hungWG sync.WaitGroup
	for range 10 {
		hungWG.Go(func() {
			code, body, err := scrape("1")
			if err != nil || code != http.StatusOK || !strings.Contains(body, "\nkubiya_up 0\n") {
				t.Errorf("scrape of a hung API: %d %v, kubiya_up 0 present %v", code, err, strings.Contains(body, "\nkubiya_up 0\n"))
			}
		})
	}
	hungWG.Wait()
	timeouts := func() float64 { return testutil.ToFloat64(metrics.requests.WithLabelValues("get_job", "timeout")) }
	waitUntil(t, 5*time.Second, func() bool { return timeouts() >= concurrency })
	if got := timeouts(); got < concurrency {
		t.Errorf("%v requests timed out; want at least the %d that were hanging", got, concurrency)
	}
	sim.ClearGlobalFault()
	closeIdle()
	if n := waitGoroutines(baseGoroutines+goroutineSlack, 15*time.Second); n > baseGoroutines+goroutineSlack {
		buf := make([]byte, 1<<20)
		t.Errorf("after hung requests timed out: %d goroutines, baseline %d\n%s", n, baseGoroutines, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: baseline %d, after hung requests timed out %d", baseGoroutines, n)
	}
}

// jobsUp counts the kubiya_job_up series with value 1 in a text exposition.
func jobsUp(body string) int {
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "kubiya_job_up{") && strings.HasSuffix(line, "} 1") {
			n++
		}
	}
	return n
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
