package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kubiya/kubiya_exporter/config"
	"github.com/kubiya/kubiya_exporter/internal/collector"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// Accept headers of the formats /metrics serves.
const (
	acceptText          = "text/plain;version=0.0.4"
	acceptOpenMetrics   = "application/openmetrics-text;version=1.0.0"
	acceptProtobuf      = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	acceptPrometheus3   = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	wantOpenMetricsType = "application/openmetrics-text; version=1.0.0"
)

// scrapeAs gets /metrics from h with the given Accept header (gzipped when
// zip) and returns its Content-Type and the decoded body.
func scrapeAs(t *testing.T, h http.Handler, accept string, zip bool) (string, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	if zip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("Accept %s: HTTP %d: %s", accept, rec.Code, rec.Body.String())
	}
	body := rec.Body.Bytes()
	if zip {
		if ce := rec.Header().Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("Content-Encoding = %q, want gzip", ce)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Header().Get("Content-Type"), body
}

// samplesOf decodes an answer in its format with expfmt and returns its
// job samples ("name{labels} => value"), sorted.
func samplesOf(t *testing.T, contentType string, body []byte) []string {
	t.Helper()
	format := expfmt.ResponseFormat(http.Header{"Content-Type": {contentType}})
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	var fams []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: decode: %v", format, err)
		}
		fams = append(fams, mf)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Earliest}, fams...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range vec {
		name := string(s.Metric[model.MetricNameLabel])
		// Per-job and per-scrape series only: the process' own metrics
		// (Go runtime, handler counters) change between requests.
		if strings.HasPrefix(name, "kubiya_job_") || name == "kubiya_up" {
			out = append(out, s.Metric.String()+" => "+s.Value.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestFormatsServeTheSameSeries: text 0.0.4, OpenMetrics 1.0.0 and
// delimited protobuf, each asked for by its Accept header, decode with
// expfmt to the same series and values; Prometheus 3's Accept header gets
// OpenMetrics, ending in # EOF.
func TestFormatsServeTheSameSeries(t *testing.T) {
	// 20 jobs: expfmt's OpenMetrics parser takes minutes on a large answer.
	h, _ := newListHandler(t, 20, collector.Shard{})
	scrapeAs(t, h, acceptText, false) // every job's series in the job cache from now on
	for _, tt := range []struct {
		name, accept, wantType string
		zip                    bool
	}{
		{"text", acceptText, "text/plain; version=0.0.4", false},
		{"text gzip", acceptText, "text/plain; version=0.0.4", true},
		{"OpenMetrics", acceptOpenMetrics, wantOpenMetricsType, false},
		{"OpenMetrics gzip", acceptOpenMetrics, wantOpenMetricsType, true},
		{"Prometheus 3", acceptPrometheus3, wantOpenMetricsType, true},
		{"protobuf", acceptProtobuf, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The simulator runs jobs on their schedules as time passes: a
			// text answer just before and just after must agree.
			for attempt := 1; ; attempt++ {
				ct0, text0 := scrapeAs(t, h, acceptText, false)
				ct, body := scrapeAs(t, h, tt.accept, tt.zip)
				ct1, text1 := scrapeAs(t, h, acceptText, false)
				before, after := samplesOf(t, ct0, text0), samplesOf(t, ct1, text1)
				if !slices.Equal(before, after) && attempt < 3 {
					continue
				}
				if len(before) < 20*10 {
					t.Fatalf("%d job samples for 20 jobs", len(before))
				}
				if !strings.HasPrefix(ct, tt.wantType) {
					t.Fatalf("Content-Type %q, want %q", ct, tt.wantType)
				}
				if strings.HasPrefix(ct, "application/openmetrics-text") && !bytes.HasSuffix(body, []byte("# EOF\n")) {
					t.Errorf("OpenMetrics answer does not end in # EOF:\n%s", body[max(0, len(body)-200):])
				}
				if got := samplesOf(t, ct, body); !slices.Equal(got, before) {
					t.Errorf("%d samples differ from the text format's %d", len(got), len(before))
				}
				return
			}
		})
	}
}

// TestMaxRequests: with --web.max-requests 1, a scrape while another runs
// gets 503, and promhttp's handler metrics count both.
func TestMaxRequests(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		http.NotFound(w, r)
	}))
	t.Cleanup(api.Close)
	cfg, err := config.Parse([]byte("control_plane:\n  url: "+api.URL+"\njobs: [job_a]\n"), func(k string) string {
		if k == config.EnvAPIKey {
			return "k"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	global := prometheus.NewRegistry()
	target, err := newScrapeTarget(cfg, log.NewNopLogger(), collector.NewAPIMetrics(global), collector.Shard{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[scrapeTarget]
	current.Store(target)
	h := metricsHandler(global, &current, 0, 1, log.NewNopLogger())

	first := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		first <- rec.Code
	}()
	<-arrived
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "Limit of concurrent requests reached (1)") {
		t.Errorf("second scrape: HTTP %d %q, want 503", rec.Code, rec.Body.String())
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first scrape: HTTP %d", code)
	}
	want := `# HELP promhttp_metric_handler_requests_total Total number of scrapes by HTTP status code.
# TYPE promhttp_metric_handler_requests_total counter
promhttp_metric_handler_requests_total{code="200"} 1
promhttp_metric_handler_requests_total{code="500"} 0
promhttp_metric_handler_requests_total{code="503"} 1
# HELP promhttp_metric_handler_requests_in_flight Current number of scrapes being served.
# TYPE promhttp_metric_handler_requests_in_flight gauge
promhttp_metric_handler_requests_in_flight 0
`
	if err := testutil.GatherAndCompare(global, strings.NewReader(want),
		"promhttp_metric_handler_requests_total", "promhttp_metric_handler_requests_in_flight"); err != nil {
		t.Error(err)
	}
}

// TestBinaryServesOpenMetrics: the built binary answers curl's
// `-H 'Accept: application/openmetrics-text;version=1.0.0'` with
// OpenMetrics, and protobuf when asked.
func TestBinaryServesOpenMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim, api := newSimulatorAPI(t)
	cfgPath := filepath.Join(t.TempDir(), "kubiya.yml")
	writeConfig(t, cfgPath, sim.JobIDs()...)
	p := startExporter(t, bin, cfgPath, api.URL)
	url := "http://" + p.addr + "/metrics"
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-H", "Accept: "+acceptOpenMetrics, url).Output()
		if err != nil || !bytes.HasSuffix(out, []byte("# EOF\n")) || !bytes.Contains(out, []byte("# TYPE kubiya_job_executions counter\nkubiya_job_executions_total{")) {
			t.Errorf("curl: %v; answer is not OpenMetrics:\n%s", err, out[max(0, len(out)-300):])
		}
	}
	// expfmt's OpenMetrics parser refuses the Go collector's answer
	// (go_memstats_alloc_bytes is a gauge and, less _total, a counter):
	// the text is checked by hand, the protobuf answer decoded.
	for accept, want := range map[string]string{acceptOpenMetrics: wantOpenMetricsType, acceptProtobuf: "application/vnd.google.protobuf"} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ct := resp.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, want) {
			t.Errorf("Accept %s: Content-Type %q", accept, ct)
		}
		if accept == acceptOpenMetrics {
			if !bytes.HasSuffix(body, []byte("# EOF\n")) || !bytes.Contains(body, []byte("\nkubiya_up 1.0\n")) {
				t.Errorf("OpenMetrics answer:\n%s", body)
			}
		} else if got := samplesOf(t, ct, body); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "kubiya_up") }) {
			t.Errorf("Accept %s: no kubiya_up in %d samples", accept, len(got))
		}
	}
}

// TestReloadKeepsClient: a reload that leaves control_plane as it was keeps
// the API client (and with it the exporter's shared requests); one that
// changes it gets a new client.
func TestReloadKeepsClient(t *testing.T) {
	parse := func(yml string) *config.Config {
		cfg, err := config.Parse([]byte(yml), func(k string) string {
			if k == config.EnvAPIKey {
				return "k"
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	build := func(cfg *config.Config, prev *scrapeTarget) *scrapeTarget {
		target, err := newScrapeTarget(cfg, log.NewNopLogger(), collector.NewAPIMetrics(prometheus.NewRegistry()), collector.Shard{}, prev)
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	first := build(parse("control_plane:\n  url: http://127.0.0.1:1\njobs: [job_a]\n"), nil)
	same := build(parse("control_plane:\n  url: http://127.0.0.1:1\njobs: [job_a, job_b]\n"), first)
	if same.client != first.client || same.httpClient != first.httpClient {
		t.Error("unchanged control_plane: the client was rebuilt")
	}
	other := build(parse("control_plane:\n  url: http://127.0.0.1:2\njobs: [job_a]\n"), same)
	if other.client == same.client || other.httpClient == same.httpClient {
		t.Error("a new control_plane.url kept the old client")
	}
}

// TestScrapeAndRegistryNamesDisjoint: gatherers joins a scrape's families
// and the registry's without merging, so no name may be in both (every
// metric on: discovery, executions, a failed job, promhttp's handler metrics).
func TestScrapeAndRegistryNamesDisjoint(t *testing.T) {
	sim := simulator.New(simulator.Options{APIKey: "k", Jobs: simulator.GenerateJobs(5, 1)})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	cfg, err := config.Parse([]byte("control_plane:\n  url: "+srv.URL+"\njobs: [job_missing]\ndiscovery:\n  enabled: true\nexecutions:\n  enabled: true\n"),
		func(k string) string {
			if k == config.EnvAPIKey {
				return "k"
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	registry := newRegistry()
	target, err := newScrapeTarget(cfg, log.NewNopLogger(), collector.NewAPIMetrics(registry), collector.Shard{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[scrapeTarget]
	current.Store(target)
	serveScrape(t, metricsHandler(registry, &current, 0, 1, log.NewNopLogger()), "Accept", acceptText)
	scraped, err := target.exporter.Scrape(t.Context()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range scraped {
		names[mf.GetName()] = true
	}
	if !names["kubiya_job_up"] || !names["kubiya_job_executions_up"] {
		t.Fatalf("scrape lacks job or executions families: %v", names)
	}
	registered, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range registered {
		if names[mf.GetName()] {
			t.Errorf("%s is both a scrape's and the registry's", mf.GetName())
		}
	}
	if len(registered) < 10 {
		t.Errorf("registry gathered %d families", len(registered))
	}
}
