package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// staticLister answers every list with the same decoded jobs, so the
// benchmarks measure the collector, not the API.
type staticLister struct{ list *kubiya.JobList }

func (l staticLister) ListJobs(context.Context, kubiya.ListFilter) (*kubiya.JobList, error) {
	return l.list, nil
}

func (l staticLister) GetJob(_ context.Context, id string) (*kubiya.Job, error) {
	for _, j := range l.list.Jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return nil, &kubiya.Error{Class: kubiya.ClassNotFound}
}

// simulatorJobs decodes the simulator's list of n generated jobs through
// the real client.
func simulatorJobs(tb testing.TB, n int) *kubiya.JobList {
	tb.Helper()
	sim := simulator.New(simulator.Options{APIKey: "k", Jobs: simulator.GenerateJobs(n, 1)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := kubiya.NewClient(srv.URL, &http.Client{Transport: bearerKey{"k", http.DefaultTransport}}, kubiya.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	list, err := c.ListJobs(context.Background(), kubiya.ListFilter{})
	if err != nil || len(list.Jobs) != n {
		tb.Fatalf("list: %v", err)
	}
	return list
}

type bearerKey struct {
	key  string
	next http.RoundTripper
}

func (b bearerKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

func newDiscoveryExporter(list *kubiya.JobList) *Exporter {
	return New(staticLister{list}, log.NewNopLogger(), Options{
		MaxConcurrency: 8,
		Discovery:      Discovery{Enabled: true},
		Now:            func() time.Time { return time.Date(2025, 11, 20, 18, 0, 0, 0, time.UTC) },
	})
}

// BenchmarkCollect measures one scrape of 1000 discovered jobs, the API
// excluded; ns/op, B/op and allocs/op are per job. The stages add up:
// gather (Scrape.Gather: the build, from the job cache), text
// (+ expfmt's exposition format) and gzip (+ compress/gzip, as Prometheus
// asks). Every scrape serves the same jobs, so after the first the series
// come from the job cache: this measures the steady state of jobs that did
// not run between scrapes.
func BenchmarkCollect(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("KUBIYA_BENCH_JOBS")); err == nil && v > 0 {
		n = v // KUBIYA_BENCH_JOBS=10000 for the large case
	}
	list := simulatorJobs(b, n)
	e := newDiscoveryExporter(list)
	gather := func(b *testing.B) []*dto.MetricFamily {
		mfs, err := e.Scrape(context.Background()).Gather()
		if err != nil {
			b.Fatal(err)
		}
		return mfs
	}
	run := func(b *testing.B, fn func(b *testing.B)) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		for done := 0; done < b.N; done += n {
			fn(b)
		}
		// CPU time of the whole process (GC included) per job: unlike
		// ns/op, it does not grow when other processes share the cores.
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/job")
	}
	b.Run("gather", func(b *testing.B) { run(b, func(b *testing.B) { gather(b) }) })
	b.Run("text", func(b *testing.B) {
		run(b, func(b *testing.B) { encodeText(b, io.Discard, gather(b)) })
	})
	b.Run("gzip", func(b *testing.B) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		run(b, func(b *testing.B) {
			buf.Reset()
			gz.Reset(&buf)
			encodeText(b, gz, gather(b))
			_ = gz.Close()
		})
	})
}

// processCPU is the user+system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func encodeText(b *testing.B, w io.Writer, mfs []*dto.MetricFamily) {
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			b.Fatal(err)
		}
	}
}
