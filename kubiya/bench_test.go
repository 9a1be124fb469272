package kubiya

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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

// BenchmarkDecodeJobList: one op decodes one job of a 1000-job list
// (ns/op and allocs/op are per job).
func BenchmarkDecodeJobList(b *testing.B) {
	const n = 1000
	body := simulatorList(b, n)
	b.SetBytes(int64(len(body) / n))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		list, err := decodeJobList(bytes.NewReader(body))
		if err != nil || len(list.Jobs) != n {
			b.Fatalf("decode: %d jobs, %v", len(list.Jobs), err)
		}
	}
}

// BenchmarkDecodeJob: one op decodes one JobResponse with DecodeJob, the
// per-job (GET) path.
func BenchmarkDecodeJob(b *testing.B) {
	list, err := decodeJobList(bytes.NewReader(simulatorList(b, 1)))
	if err != nil {
		b.Fatal(err)
	}
	_ = list
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
// decode) for a 1000-job list; ns/op is per job.
func BenchmarkListJobs(b *testing.B) {
	const n = 1000
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
	b.SetBytes(int64(len(body) / n))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		list, err := c.ListJobs(context.Background(), ListFilter{})
		if err != nil || len(list.Jobs) != n {
			b.Fatalf("list: %v", err)
		}
	}
}
