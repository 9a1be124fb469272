package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubiya/kubiya_exporter/config"
	"github.com/kubiya/kubiya_exporter/internal/collector"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// newListHandler serves /metrics in list mode against an in-process
// simulator with n generated jobs.
func newListHandler(tb testing.TB, n int, shard collector.Shard) (http.Handler, *simulator.Server) {
	return newListHandlerShared(tb, n, shard, nil)
}

func newListHandlerShared(tb testing.TB, n int, shard collector.Shard, sim *simulator.Server) (http.Handler, *simulator.Server) {
	tb.Helper()
	if sim == nil {
		sim = simulator.New(simulator.Options{APIKey: "k", Jobs: simulator.GenerateJobs(n, 1)})
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	cfg, err := config.Parse([]byte("control_plane:\n  url: "+srv.URL+"\n  timeout: 60s\ndiscovery:\n  enabled: true\n"),
		func(k string) string {
			if k == config.EnvAPIKey {
				return "k"
			}
			return ""
		})
	if err != nil {
		tb.Fatal(err)
	}
	global := prometheus.NewRegistry()
	target, err := newScrapeTarget(cfg, log.NewNopLogger(), collector.NewAPIMetrics(global), shard, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var current atomic.Pointer[scrapeTarget]
	current.Store(target)
	return metricsHandler(global, &current, 0, 40, log.NewNopLogger()), sim
}

// serveScrape gets /metrics from h with the given header names and values.
func serveScrape(tb testing.TB, h http.Handler, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("scrape: HTTP %d: %s", rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkScrapeList is one whole list-mode scrape of 1000 jobs through
// the /metrics handler (list request on loopback, stream decode, series,
// OpenMetrics, gzip), as Prometheus 3 asks for it; ns/op and cpu-ns/job
// are per job. KUBIYA_BENCH_JOBS=10000 measures the large case.
func BenchmarkScrapeList(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("KUBIYA_BENCH_JOBS")); err == nil && v > 0 {
		n = v
	}
	h, _ := newListHandler(b, n, collector.Shard{})
	serveScrape(b, h, "Accept", acceptPrometheus3, "Accept-Encoding", "gzip")
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for done := 0; done < b.N; done += n {
		serveScrape(b, h, "Accept", acceptPrometheus3, "Accept-Encoding", "gzip")
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/job")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestShardFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--shard=2", "--total-shards=2"},
		{"--shard=-1", "--total-shards=2"},
		{"--shard=0", "--total-shards=0"},
		{"--shard=1"},
	} {
		if code := run(append(args, "--config.file=/nonexistent"), func(string) string { return "" }); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestMetricsHandlerGzip: the gzipped answer is the plain one compressed,
// with the headers a client needs.
func TestMetricsHandlerGzip(t *testing.T) {
	h, _ := newListHandler(t, 60, collector.Shard{})
	plain := serveScrape(t, h)
	zipped := serveScrape(t, h, "Accept-Encoding", "gzip")
	if ce := plain.Header().Get("Content-Encoding"); ce != "" {
		t.Errorf("plain answer has Content-Encoding %q", ce)
	}
	if ce := zipped.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", ce)
	}
	if v := zipped.Header().Values("Vary"); !slices.Contains(v, "Accept-Encoding") {
		t.Errorf("Vary = %v, want Accept-Encoding", v)
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	jobLines := func(s string) []string {
		var out []string
		for line := range strings.Lines(s) {
			if strings.HasPrefix(line, "kubiya_job_") {
				out = append(out, line)
			}
		}
		return out
	}
	a, b := jobLines(plain.Body.String()), jobLines(string(unzipped))
	if len(a) < 60*10 || !slices.Equal(a, b) {
		t.Errorf("gzipped and plain answers differ (%d and %d job lines)", len(a), len(b))
	}
}

// TestShardedReplicasCoverEveryJob runs the whole handler for each of
// three shards against one simulator: every job once.
func TestShardedReplicasCoverEveryJob(t *testing.T) {
	const n, total = 90, 3
	seen := map[string]int{}
	var sim *simulator.Server
	for shard := range total {
		var h http.Handler
		h, sim = newListHandlerShared(t, n, collector.Shard{Index: shard, Total: total}, sim)
		for line := range strings.Lines(serveScrape(t, h).Body.String()) {
			if id, ok := strings.CutPrefix(line, `kubiya_job_up{job_id="`); ok {
				id, _, _ = strings.Cut(id, `"`)
				seen[id]++
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d jobs reported, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s reported by %d shards", id, c)
		}
	}
}
