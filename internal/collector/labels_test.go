package collector

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// oddJobs need escaping, are changed by labelValue, tie on their per-job
// labels until job_id, or have a status outside the state set (sorting
// before, between and after the known ones).
func oddJobs() []*kubiya.Job {
	long := strings.Repeat("x", MaxLabelValueLen+10)
	return []*kubiya.Job{
		{ID: "b", Name: "quote\"back\\slash\nnewline", EntityID: "e", Status: "weird\"", TriggerType: "cron", CronSchedule: "*/5 * * * *"},
		{ID: "a", Name: "bad utf8 \xff", EntityID: "e", Status: "active", CronTimezone: "x\ny"},
		{ID: long + "1", Name: "n", EntityName: long + "2", Status: "paused"},
		{ID: long + "0", Name: "n", EntityName: long + "1", Status: "paused"},
		{ID: "c", Name: "same", Status: "archived"}, {ID: "d", Name: "same", Status: "a"},
		{ID: "n\x00ul", Name: "\x00", CronSchedule: "\x00"},
	}
}

// TestJobSeriesConsistent: a pedantic registry, which checks every
// metric's labels against its descriptor, accepts the job series of every
// label set (unknown statuses, failing jobs, values labelValue changes).
func TestJobSeriesConsistent(t *testing.T) {
	golden, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, nil)
	for name, e := range map[string]*Exporter{
		"golden": golden,
		"odd":    newDiscoveryExporter(&kubiya.JobList{Jobs: oddJobs()}),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := (prometheus.Gatherers{e.Scrape(ctx)}).Gather(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSameJobIDLabel: two IDs that give the same job_id label value (cut
// to MaxLabelValueLen) report the first listed, with a warning, and no
// duplicate series.
func TestSameJobIDLabel(t *testing.T) {
	long := strings.Repeat("y", MaxLabelValueLen)
	logger := &lineLogger{}
	e := New(staticLister{&kubiya.JobList{Jobs: []*kubiya.Job{
		{ID: long + "second-in-id-order-but-listed-first", Name: "first"},
		{ID: long + "a", Name: "second"},
		{ID: "short", Name: "other"},
	}}}, logger, Options{Discovery: Discovery{Enabled: true}, Now: func() time.Time { return fixedNow }})
	reg := prometheus.Gatherers{e.Scrape(context.Background())}
	if n, err := testutil.GatherAndCount(reg, "kubiya_job_up", "kubiya_job_info"); err != nil || n != 4 {
		t.Fatalf("kubiya_job_up and kubiya_job_info: %d series, err %v; want 4", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "kubiya_job_info" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "job_name" && l.GetValue() == "second" {
					t.Error("the second job with the same job_id label was reported")
				}
			}
		}
	}
	lines := strings.Join(logger.Lines(), "\n")
	if !strings.Contains(lines, "same job_id label value") {
		t.Errorf("no warning logged:\n%s", lines)
	}
}

// TestGatherMatchesRegistry: what Scrape.Gather answers is what
// prometheus.Gatherers (the library's checks of every series, and its
// sort) makes of it, byte for byte in the text format, for jobs whose
// values need escaping or cutting, tie on their labels, have unknown
// statuses, failed, or come from the cache.
func TestGatherMatchesRegistry(t *testing.T) {
	golden, _ := newTestExporter(t, &fakeAPI{t: t}, allFixtures, 4, nil)
	execs, _ := newExecExporter(t, newExecAPI(execFixtures), fixtureIDs(), 20, nil, nil)
	for name, e := range map[string]*Exporter{
		"golden":     golden,
		"executions": execs,
		"discovery":  newDiscoveryExporter(simulatorJobs(t, 300)),
		"odd":        newDiscoveryExporter(&kubiya.JobList{Jobs: oddJobs()}),
	} {
		t.Run(name, func(t *testing.T) {
			for scrape := range 2 { // built, then from the cache
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				got, err := e.Scrape(ctx).Gather()
				if err != nil {
					t.Fatal(err)
				}
				want := gatherFamilies(t, e.Scrape(ctx))
				g, w := familiesText(t, dropDuration(got)), familiesText(t, dropDuration(want))
				if g != w {
					t.Errorf("scrape %d: Gather differs from the registry's:\n%s\nwant\n%s", scrape, g, w)
				}
				if !strings.Contains(g, "kubiya_job_info{") {
					t.Fatalf("no job series:\n%s", g)
				}
			}
		})
	}
}

func dropDuration(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	return slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool { return mf.GetName() == "kubiya_scrape_duration_seconds" })
}
