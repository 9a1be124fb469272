package collector

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// collectAll runs one Collect of c.
func collectAll(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var ms []prometheus.Metric
	for m := range ch {
		ms = append(ms, m)
	}
	return ms
}

// sameAsRegistry checks that ScrapeRegistry answers as prometheus.Registry
// does for the same collected metrics: same text, an error in both or in
// neither.
func sameAsRegistry(t *testing.T, c prometheus.Collector, ms []prometheus.Metric) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(replay{c: c, metrics: ms}); err != nil {
		t.Fatal(err)
	}
	want, wantErr := reg.Gather()
	got, err := NewScrapeRegistry(replay{c: c, metrics: ms}).Gather()
	if (err == nil) != (wantErr == nil) {
		t.Errorf("error %v, prometheus.Registry says %v", err, wantErr)
	}
	g, w := familiesText(t, got), familiesText(t, want)
	if g != w {
		t.Errorf("ScrapeRegistry answer differs from prometheus.Registry's:\n%s\nwant\n%s", g, w)
	}
	// GatherText writes the same bytes, in chunks.
	tfs, err := NewScrapeRegistry(replay{c: c, metrics: ms}).GatherText()
	if (err == nil) != (wantErr == nil) {
		t.Errorf("GatherText error %v, prometheus.Registry says %v", err, wantErr)
	}
	var b strings.Builder
	var buf []byte
	flushes := 0
	flush := func(p []byte) ([]byte, error) {
		flushes++
		b.Write(p)
		return p[:0], nil
	}
	for _, tf := range tfs {
		var ok bool
		if buf, ok, err = tf.AppendText(buf, 512, flush); err != nil {
			t.Fatal(err)
		}
		if !ok {
			buf, _ = flush(buf)
			if _, err := expfmt.MetricFamilyToText(&b, tf.MetricFamily()); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(buf)
	if b.String() != w {
		t.Errorf("GatherText answer differs from prometheus.Registry's:\n%s\nwant\n%s", b.String(), w)
	}
	return g
}

func TestScrapeRegistryMatchesRegistry(t *testing.T) {
	golden, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, nil)
	execs, _ := newExecExporter(t, newExecAPI(execFixtures), fixtureIDs(), 20, nil, nil)
	list := newDiscoveryExporter(simulatorJobs(t, 300))
	// Values that need escaping, that labelValue changes, and jobs whose
	// per-job labels tie until job_id.
	long := strings.Repeat("x", MaxLabelValueLen+10)
	odd := newDiscoveryExporter(&kubiya.JobList{Jobs: []*kubiya.Job{
		{ID: "b", Name: "quote\"back\\slash\nnewline", EntityID: "e", Status: "weird\"", TriggerType: "cron", CronSchedule: "*/5 * * * *"},
		{ID: "a", Name: "bad utf8 \xff", EntityID: "e", Status: "active", CronTimezone: "x\ny"},
		{ID: long + "1", Name: "n", EntityName: long + "2", Status: "paused"},
		{ID: long + "0", Name: "n", EntityName: long + "1", Status: "paused"},
		{ID: "c", Name: "same"}, {ID: "d", Name: "same"}, {ID: "n\x00ul", Name: "\x00", CronSchedule: "\x00"},
	}})
	for name, e := range map[string]*Exporter{"golden": golden, "executions": execs, "discovery": list, "odd": odd} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := e.Scrape(ctx)
			ms := collectAll(c)
			if out := sameAsRegistry(t, c, ms); !strings.Contains(out, "kubiya_job_info{") {
				t.Fatalf("no job series:\n%s", out)
			}
			t.Run("shuffled", func(t *testing.T) {
				sh := append([]prometheus.Metric(nil), ms...)
				rand.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
				sameAsRegistry(t, c, sh)
			})
			t.Run("duplicate", func(t *testing.T) {
				var dup []prometheus.Metric
				for _, m := range ms {
					dup = append(dup, m)
					if s, ok := m.(*series); ok && s.Desc() == jobEnabledDesc {
						dup = append(dup, m)
					}
				}
				sameAsRegistry(t, c, dup)
			})
			t.Run("mixed", func(t *testing.T) {
				extra := prometheus.MustNewConstMetric(jobEnabledDesc, prometheus.GaugeValue, 1, "zz", "n", "t", "i", "e")
				sameAsRegistry(t, c, append(append([]prometheus.Metric(nil), ms...), extra))
			})
		})
	}
}

// TestSeriesFamiliesComplete: every descriptor but the two const metrics
// has a family, with the name and help it was made with.
func TestSeriesFamiliesComplete(t *testing.T) {
	if len(seriesFamilies) != len(allDescs)-2 {
		t.Fatalf("%d series families for %d descriptors", len(seriesFamilies), len(allDescs))
	}
	for _, f := range seriesFamilies {
		if !strings.Contains(f.desc.String(), `fqName: "`+f.name+`"`) || f.help == "" {
			t.Errorf("family %q does not match %s", f.name, f.desc)
		}
		if isCounter := strings.HasSuffix(f.name, "_total"); isCounter != (f.typ == dto.MetricType_COUNTER) {
			t.Errorf("family %q has type %s", f.name, f.typ)
		}
	}
}
