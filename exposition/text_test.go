package exposition

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/kubiya/kubiya_exporter/collector"
	"github.com/kubiya/kubiya_exporter/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// expfmtText is what promhttp would write for mfs in format.
func expfmtText(t *testing.T, mfs []*dto.MetricFamily, format expfmt.Format) (string, bool) {
	t.Helper()
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, format)
	failed := false
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			failed = true
		}
	}
	return b.String(), failed
}

func TestTextFormatMatchesExpfmt(t *testing.T) {
	// What promhttp negotiates for curl, Prometheus 2 and Prometheus 3.
	var formats []expfmt.Format
	for _, accept := range []string{
		"*/*",
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		"text/plain;version=1.0.0;escaping=underscores",
	} {
		f := expfmt.NegotiateAccept(http.Header{"Accept": {accept}}, expfmt.DefaultAcceptedFormats()...)
		if f.FormatType() != expfmt.TypeTextPlain {
			t.Fatalf("Accept %q negotiates %s", accept, f)
		}
		formats = append(formats, f)
	}
	cases := map[string][]*dto.MetricFamily{
		"a real scrape": realScrape(t),
		"odd values":    oddFamilies(),
	}
	for name, mfs := range cases {
		for _, format := range formats {
			want, wantFailed := expfmtText(t, mfs, format)
			var got bytes.Buffer
			err := writeText(&got, wrapFamilies(mfs), format)
			if got.String() != want {
				t.Errorf("%s, %s: output differs from expfmt\n got: %.2000q\nwant: %.2000q", name, format, got.String(), want)
			}
			if (err != nil) != wantFailed {
				t.Errorf("%s, %s: error %v, expfmt failed: %v", name, format, err, wantFailed)
			}
		}
	}
}

// realScrape gathers a list-mode scrape of generated jobs plus the Go and
// process collectors (histograms, summaries, untyped-free gauges).
func realScrape(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: "k", Jobs: append(simulator.GenerateJobs(300, 3), simulator.DefaultJobs()...)})
	list := &kubiya.JobList{}
	for _, j := range sim.Jobs() {
		job, err := kubiya.DecodeJob(apiGet(sim, "/api/v1/jobs/"+j.ID))
		if err != nil {
			t.Fatal(err)
		}
		list.Jobs = append(list.Jobs, job)
	}
	e := collector.New(fixedLister{list}, log.NewNopLogger(), collector.Options{MaxConcurrency: 1, Discovery: collector.Discovery{Enabled: true}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Scrape(context.Background()), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	api := collector.NewAPIMetrics(reg)
	api.ObserveRequest(kubiya.EndpointListJobs, kubiya.ClassOK, 30*time.Millisecond)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

type fixedLister struct{ list *kubiya.JobList }

func (l fixedLister) ListJobs(context.Context, kubiya.ListFilter) (*kubiya.JobList, error) {
	return l.list, nil
}

func (l fixedLister) GetJob(context.Context, string) (*kubiya.Job, error) {
	return nil, &kubiya.Error{Class: kubiya.ClassNotFound}
}

func oddFamilies() []*dto.MetricFamily {
	lp := func(n, v string) *dto.LabelPair { return &dto.LabelPair{Name: proto.String(n), Value: proto.String(v)} }
	g := func(v float64, labels ...*dto.LabelPair) *dto.Metric {
		return &dto.Metric{Label: labels, Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	}
	fam := func(name string, typ dto.MetricType, help *string, ms ...*dto.Metric) *dto.MetricFamily {
		return &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum(), Help: help, Metric: ms}
	}
	withTS := g(2.5, lp("a", "b"))
	withTS.TimestampMs = proto.Int64(1700000000123)
	return []*dto.MetricFamily{
		fam("a_gauge", dto.MetricType_GAUGE, proto.String("help with \\ and\nnewline and \"quotes\""),
			g(0), g(1, lp("x", `back\slash`)), g(-1, lp("x", "quote\"d")), g(math.NaN(), lp("x", "new\nline")),
			g(math.Inf(1), lp("x", "é ünïcode")), g(math.Inf(-1), lp("x", "")), g(1e-300, lp("x", "a"), lp("y", "b")),
			g(123456789012345, lp("x", "big")), g(0.1+0.2, lp("x", "fp")), withTS),
		fam("no_help_counter", dto.MetricType_COUNTER, nil,
			&dto.Metric{Counter: &dto.Counter{Value: proto.Float64(42)}}),
		fam("utf8.metric.name", dto.MetricType_GAUGE, proto.String("h"), g(1)),
		fam("utf8_label", dto.MetricType_GAUGE, proto.String("h"), g(1, lp("label.with.dots", "v"))),
		fam("wrong_type", dto.MetricType_COUNTER, proto.String("h"), g(1)),
		fam("empty_family", dto.MetricType_GAUGE, proto.String("h")),
		fam("a_summary", dto.MetricType_SUMMARY, proto.String("h"), &dto.Metric{Summary: &dto.Summary{
			SampleCount: proto.Uint64(2), SampleSum: proto.Float64(3),
			Quantile: []*dto.Quantile{{Quantile: proto.Float64(0.5), Value: proto.Float64(1)}}}}),
		fam("z_untyped", dto.MetricType_UNTYPED, proto.String("h"), &dto.Metric{Untyped: &dto.Untyped{Value: proto.Float64(7)}}),
	}
}

// apiGet is the body the simulator answers for path.
func apiGet(h http.Handler, path string) []byte {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer k")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Body.Bytes()
}
