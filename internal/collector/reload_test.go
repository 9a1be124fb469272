package collector

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// TestReloadKeepsState: the exporter of a reloaded configuration keeps the
// caches (no executions re-read for jobs that did not change), the
// concurrency limit when max_concurrency is the same, and with the same
// client the shared requests and the last discovered jobs.
func TestReloadKeepsState(t *testing.T) {
	api := newExecAPI(execFixtures)
	ids := []string{"job_st_completed", "job_st_failed", "job_never_ran"}
	e, _ := newExecExporter(t, api, ids, 20, nil, nil)
	scrape := func(e *Exporter) string {
		c, cancel := scrapeFor(e, 5*time.Second)
		defer cancel()
		return gatherText(t, c)
	}
	scrape(e)
	opts := Options{Jobs: ids, MaxConcurrency: 4, Now: e.now, Executions: e.executions.api, ExecutionsLimit: 20}
	same := e.Reload(e.api, opts)
	before := api.execCalls.Load()
	if out := scrape(same); !strings.Contains(out, `kubiya_job_executions_up{job_id="job_st_completed"} 1`) {
		t.Fatalf("after reload:\n%s", out)
	}
	if got := api.execCalls.Load() - before; got != 0 {
		t.Errorf("executions requests after a reload: %d, want 0 (cached)", got)
	}
	if same.sem != e.sem || same.flights != e.flights || same.discovered != e.discovered ||
		same.schedules != e.schedules || same.built != e.built {
		t.Error("a reload with the same client and max_concurrency did not keep the exporter's state")
	}
	opts.MaxConcurrency = 2
	other := same.Reload(staticLister{&kubiya.JobList{}}, opts)
	if other.sem == same.sem || cap(other.sem) != 2 {
		t.Error("a new max_concurrency did not get its own limit")
	}
	if other.flights == same.flights || other.discovered == same.discovered {
		t.Error("another client shares the old client's requests or discovered jobs")
	}
	if other.schedules != same.schedules || other.executions.cache != same.executions.cache {
		t.Error("caches not kept across a change of client")
	}
}

// TestSharedRequestOutlivesFirstDeadline: a request shared by two
// overlapping scrapes runs to the later scrape's deadline, not the first's.
func TestSharedRequestOutlivesFirstDeadline(t *testing.T) {
	api := &fakeAPI{t: t, delay: 400 * time.Millisecond}
	e, _ := newTestExporter(t, api, []string{cronJob}, 2, nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, cancel := scrapeFor(e, 100*time.Millisecond)
		defer cancel()
		if out := gatherText(t, c); !strings.Contains(out, `kubiya_job_up{job_id="`+cronJob+`"} 0`) {
			t.Errorf("short scrape: want the job down at its deadline:\n%s", out)
		}
	})
	time.Sleep(30 * time.Millisecond) // the short scrape's request is in flight
	c, cancel := scrapeFor(e, 5*time.Second)
	defer cancel()
	if out := gatherText(t, c); !strings.Contains(out, `kubiya_job_up{job_id="`+cronJob+`"} 1`) {
		t.Errorf("long scrape: the shared request ended at the short scrape's deadline:\n%s", out)
	}
	wg.Wait()
	if n := api.requests.Load(); n != 1 {
		t.Errorf("API requests = %d, want 1 (shared)", n)
	}
}

// TestFlightEndsWithLastWaiter: the shared request's context carries the
// latest deadline of its waiters and ends when the last of them gives up,
// not with the first.
func TestFlightEndsWithLastWaiter(t *testing.T) {
	var g flights
	short, cancel1 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel1()
	long, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	started := make(chan context.Context)
	go g.do(short, "k", func(ctx context.Context) (any, error) {
		started <- ctx
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx := <-started
	_, err := g.do(long, "k", func(context.Context) (any, error) { t.Error("second call not shared"); return nil, nil })
	if kubiya.ClassOf(err) != kubiya.ClassTimeout {
		t.Errorf("waiter past its deadline: %v, want a timeout", err)
	}
	if d, _ := ctx.Deadline(); !d.Equal(mustDeadline(long)) {
		t.Errorf("deadline %v, want the later waiter's %v", d, mustDeadline(long))
	}
	<-ctx.Done()
	if time.Until(mustDeadline(long)) > 20*time.Millisecond {
		t.Error("the shared request ended before the later deadline")
	}
}

// TestScrapePastDeadlineStartsNothing: a scrape whose deadline has passed
// sends no request; its jobs are down, with one timeout log line.
func TestScrapePastDeadlineStartsNothing(t *testing.T) {
	api := &fakeAPI{t: t}
	logs := &lineLogger{}
	ids := []string{cronJob, webhookJob, disabledJob, neverRanJob, brokenJob, missingJob}
	e, _ := newTestExporter(t, api, ids, 2, logs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := gatherText(t, e.Scrape(ctx))
	if n := api.requests.Load(); n != 0 {
		t.Errorf("API requests = %d, want 0", n)
	}
	down := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "kubiya_job_up{") && strings.HasSuffix(line, "} 0") {
			down++
		}
	}
	if down != len(ids) {
		t.Errorf("%d jobs down, want all %d:\n%s", down, len(ids), out)
	}
	if lines := logs.Lines(); len(lines) != 1 || !strings.Contains(lines[0], "class=timeout") || !strings.Contains(lines[0], "jobs=6") {
		t.Errorf("want one timeout line for the 6 jobs, got %q", lines)
	}
}

func mustDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// TestTimestampsOutsideNanosecondRange: a date no int64 of nanoseconds
// holds (the API's "never", 9999-12-31) is written in seconds, not as an
// overflow; dates inside the range keep UnixNano/1e9 to the last bit.
func TestTimestampsOutsideNanosecondRange(t *testing.T) {
	parse := func(s string) kubiya.Time {
		tm, err := kubiya.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return kubiya.Time{Time: tm}
	}
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{"9999-12-31T23:59:59.5Z", 253402300799.5},
		{"2263-01-01T00:00:00Z", 9246182400},
		{"1677-01-01T00:00:00Z", -9246096000},
		{"0001-01-01T00:00:01Z", -62135596799},
		{"2025-11-20T10:15:30.123456789Z", float64(time.Date(2025, 11, 20, 10, 15, 30, 123456789, time.UTC).UnixNano()) / 1e9},
	} {
		if got := seconds(parse(tt.in).Time); got != tt.want {
			t.Errorf("seconds(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	e := newDiscoveryExporter(&kubiya.JobList{Jobs: []*kubiya.Job{{ID: "job_never", Name: "n", NextExecutionAt: parse("9999-12-31T23:59:59Z")}}})
	want := `
# HELP kubiya_job_next_execution_timestamp_seconds The API's next_execution_at: computed in UTC whatever cron_timezone says, and stale for disabled jobs. Prefer kubiya_job_schedule_next_timestamp_seconds.
# TYPE kubiya_job_next_execution_timestamp_seconds gauge
kubiya_job_next_execution_timestamp_seconds{entity_id="",entity_name="",entity_type="",job_id="job_never",job_name="n"} 2.53402300799e+11
`
	if err := testutil.GatherAndCompare(e.Scrape(context.Background()), strings.NewReader(want), "kubiya_job_next_execution_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// TestJobCacheFollowsRecord: a job's series are rebuilt when its record
// changes and reused while it does not.
func TestJobCacheFollowsRecord(t *testing.T) {
	job := &kubiya.Job{ID: "job_a", Name: "a", TotalExecutions: 1}
	list := &kubiya.JobList{Jobs: []*kubiya.Job{job}}
	e := newDiscoveryExporter(list)
	count := func() float64 {
		mfs := gatherFamilies(t, e.Scrape(context.Background()))
		for _, mf := range mfs {
			if mf.GetName() == "kubiya_job_executions_total" {
				return mf.Metric[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	if got := count(); got != 1 {
		t.Fatalf("executions_total = %v, want 1", got)
	}
	first := e.built.m["job_a"]
	if count(); e.built.m["job_a"] != first {
		t.Error("unchanged record: series rebuilt")
	}
	list.Jobs = []*kubiya.Job{{ID: "job_a", Name: "a", TotalExecutions: 2}}
	if got := count(); got != 2 {
		t.Errorf("after a run: executions_total = %v, want 2", got)
	}
	list.Jobs = nil
	count()
	if len(e.built.m) != 0 {
		t.Error("a job no longer reported stays in the cache")
	}
}
