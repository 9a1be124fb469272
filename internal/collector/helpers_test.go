package collector

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// gatherFamilies runs one scrape of g and has the library check it
// (prometheus.Gatherers fails on a duplicate or inconsistent series, and
// sorts as a registry does).
func gatherFamilies(t testing.TB, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := prometheus.Gatherers{g}.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return mfs
}

// familiesText is the text exposition of mfs.
func familiesText(t testing.TB, mfs []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// gatherText runs one scrape of c and returns the text exposition.
func gatherText(t testing.TB, c prometheus.Gatherer) string {
	t.Helper()
	return familiesText(t, gatherFamilies(t, c))
}

// lineLogger keeps every log line (logfmt), for tests that count or search
// them; safe for concurrent use.
type lineLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLogger) Log(kv ...any) error {
	var b strings.Builder
	_ = log.NewLogfmtLogger(&b).Log(kv...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// Lines returns the lines logged so far.
func (l *lineLogger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// collectJobs returns the series the exporter builds for results.
func collectJobs(e *Exporter, results []result) <-chan prometheus.Metric {
	built, _ := e.buildJobs(results, nil)
	ch := make(chan prometheus.Metric, 64)
	for _, b := range built {
		for _, s := range b.series {
			names := []string{"job_id", "job_name", "entity_type", "entity_id", "entity_name"}
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(s.m.fqName, s.m.help, names, nil),
				prometheus.GaugeValue, s.value, b.key[3], b.key[4], b.key[2], b.key[0], b.key[1])
		}
	}
	close(ch)
	return ch
}
