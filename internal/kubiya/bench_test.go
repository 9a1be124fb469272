package kubiya

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kubiya/kubiya_exporter/simulator"
)

// simulatorList returns the simulator's list answer for n generated jobs:
// the same bytes the load harness decodes.
func simulatorList(tb testing.TB, n int) []byte {
	tb.Helper()
	sim := simulator.New(simulator.Options{APIKey: "k", Jobs: simulator.GenerateJobs(n, 1)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("list: HTTP %d, %v", resp.StatusCode, err)
	}
	return body
}

// benchJobs is the list size of the list benchmarks: 1000, or
// KUBIYA_BENCH_JOBS (10000 for the large case).
func benchJobs() int {
	if v, err := strconv.Atoi(os.Getenv("KUBIYA_BENCH_JOBS")); err == nil && v > 0 {
		return v
	}
	return 1000
}

// perJob runs list, one op per list of n jobs, and reports per job: wall
// time, the process's CPU time (GC included; unlike wall time it does not
// grow when other processes share the cores), bytes and allocations.
func perJob(b *testing.B, n int, list func() (*JobList, error)) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	for b.Loop() {
		if l, err := list(); err != nil || len(l.Jobs) != n {
			b.Fatalf("list: %v", err)
		}
	}
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&m1)
	jobs := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed())/jobs, "ns/job")
	b.ReportMetric(float64(cpu)/jobs, "cpu-ns/job")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/jobs, "B/job")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/jobs, "allocs/job")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeJobList: the stream decoder on a benchJobs-job simulator
// list.
func BenchmarkDecodeJobList(b *testing.B) {
	n := benchJobs()
	body := simulatorList(b, n)
	b.SetBytes(int64(len(body)))
	perJob(b, n, func() (*JobList, error) { return decodeJobList(bytes.NewReader(body)) })
}

// BenchmarkDecodeJob: one op decodes one JobResponse with DecodeJob, the
// per-job (GET) path.
func BenchmarkDecodeJob(b *testing.B) {
	body := simulatorList(b, 1)
	body = bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(body), []byte("[")), []byte("]"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJob(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListJobs: the whole client path (HTTP on loopback, stream
// decode) for a benchJobs-job list.
func BenchmarkListJobs(b *testing.B) {
	n := benchJobs()
	body := simulatorList(b, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, srv.Client(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	perJob(b, n, func() (*JobList, error) { return c.ListJobs(context.Background(), ListFilter{}) })
}
