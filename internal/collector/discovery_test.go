package collector

import (
	"context"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

func anchored(s string) *regexp.Regexp { return regexp.MustCompile("^(?:" + s + ")$") }

func ptr[T any](v T) *T { return &v }

func TestDiscoveryMatches(t *testing.T) {
	job := &kubiya.Job{ID: "job_1", Name: "prod-nightly-report", Enabled: true, TriggerType: "cron", EntityName: "reporter"}
	null := &kubiya.Job{ID: "job_2", Name: "adhoc", TriggerType: "manual"} // entity_name null
	tests := []struct {
		name string
		d    Discovery
		job  *kubiya.Job
		want bool
	}{
		{"no filters", Discovery{}, job, true},
		{"enabled only, enabled job", Discovery{Filter: kubiya.ListFilter{Enabled: ptr(true)}}, job, true},
		{"disabled only, enabled job", Discovery{Filter: kubiya.ListFilter{Enabled: ptr(false)}}, job, false},
		{"trigger type matches", Discovery{Filter: kubiya.ListFilter{TriggerType: "cron"}}, job, true},
		{"trigger type differs", Discovery{Filter: kubiya.ListFilter{TriggerType: "webhook"}}, job, false},
		{"name include anchored: prefix alone does not match", Discovery{NameInclude: anchored("prod")}, job, false},
		{"name include with .*", Discovery{NameInclude: anchored("prod-.*")}, job, true},
		{"name include alternation", Discovery{NameInclude: anchored("dev-.*|prod-.*")}, job, true},
		{"name exclude", Discovery{NameExclude: anchored(".*report")}, job, false},
		{"name exclude no match", Discovery{NameExclude: anchored("report")}, job, true},
		{"include then exclude", Discovery{NameInclude: anchored("prod-.*"), NameExclude: anchored(".*nightly.*")}, job, false},
		{"entity include", Discovery{EntityNameInclude: anchored("reporter|builder")}, job, true},
		{"entity exclude", Discovery{EntityNameExclude: anchored("reporter")}, job, false},
		{"null entity is empty: include drops it", Discovery{EntityNameInclude: anchored(".+")}, null, false},
		{"null entity is empty: matches empty", Discovery{EntityNameInclude: anchored("")}, null, true},
		{"all filters pass", Discovery{Filter: kubiya.ListFilter{Enabled: ptr(true), TriggerType: "cron"},
			NameInclude: anchored("prod-.*"), EntityNameExclude: anchored("builder")}, job, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Matches(tt.job); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// simEnv is an in-process simulator with n generated jobs and a client
// that counts requests.
type simEnv struct {
	sim     *simulator.Server
	client  *kubiya.Client
	metrics *APIMetrics
	ids     []string // newest first
}

func newSimEnv(t testing.TB, n int) *simEnv {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: "k", Jobs: simulator.GenerateJobs(n, 7)})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	metrics := NewAPIMetrics(prometheus.NewRegistry())
	client, err := kubiya.NewClient(srv.URL, &http.Client{Transport: bearerKey{"k", http.DefaultTransport}}, kubiya.Options{Observer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, client: client, metrics: metrics, ids: sim.JobIDs()}
}

func (s *simEnv) exporter(opts Options) *Exporter {
	if opts.MaxConcurrency == 0 {
		opts.MaxConcurrency = 4
	}
	return New(s.client, log.NewNopLogger(), opts)
}

// scrapeUp runs one scrape through a pedantic registry (which fails on a
// duplicate series) and returns kubiya_job_up by job ID, and kubiya_up.
func scrapeUp(t testing.TB, e *Exporter) (map[string]float64, float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mfs := gatherFamilies(t, e.Scrape(ctx))
	up := map[string]float64{}
	kubiyaUp := -1.0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "kubiya_job_up":
			for _, m := range mf.Metric {
				id := m.Label[0].GetValue()
				if _, dup := up[id]; dup {
					t.Fatalf("kubiya_job_up{job_id=%q} twice", id)
				}
				up[id] = m.GetGauge().GetValue()
			}
		case "kubiya_up":
			kubiyaUp = mf.Metric[0].GetGauge().GetValue()
		}
	}
	return up, kubiyaUp
}

func countUp(up map[string]float64, v float64) int {
	n := 0
	for _, x := range up {
		if x == v {
			n++
		}
	}
	return n
}

func TestStaticAndDiscoveryCombine(t *testing.T) {
	const n = 40
	env := newSimEnv(t, n)
	missing := "job_00000000-0000-4000-8000-00000000dead"
	static := append(slices.Clone(env.ids[:5]), missing)
	var cronStatic []string // static cron jobs, which a webhook-only list lacks
	for _, j := range env.sim.Jobs() {
		if j.TriggerType == "cron" && len(cronStatic) < 3 {
			cronStatic = append(cronStatic, j.ID)
		}
	}
	var webhooks int
	for _, j := range env.sim.Jobs() {
		if j.TriggerType == "webhook" {
			webhooks++
		}
	}
	tests := []struct {
		name      string
		opts      Options
		wantUp    int
		wantDown  int
		wantLists int64
		wantGets  int64
	}{
		// Every job once; the static ones are found in the list (no GET);
		// the unfiltered list is the whole organization, so the missing ID
		// is not_found without a GET.
		{"discovery, static per job", Options{Jobs: static, Discovery: Discovery{Enabled: true}}, n, 1, 1, 0},
		{"discovery, static via list", Options{Jobs: static, StaticViaListAbove: 2, Discovery: Discovery{Enabled: true}}, n, 1, 1, 0},
		{"static via list, no discovery", Options{Jobs: static, StaticViaListAbove: 2}, 5, 1, 1, 0},
		{"static per job, no discovery", Options{Jobs: static}, 5, 1, 0, 6},
		// A server-side filter makes the list partial: static IDs it lacks
		// are fetched one by one.
		{"filtered discovery, static per job", Options{Jobs: cronStatic,
			Discovery: Discovery{Enabled: true, Filter: kubiya.ListFilter{TriggerType: "webhook"}}}, webhooks + len(cronStatic), 0, 1, int64(len(cronStatic))},
		// Static via list asks for the whole organization and filters
		// discovered jobs itself.
		{"filtered discovery, static via list", Options{Jobs: cronStatic, StaticViaListAbove: 1,
			Discovery: Discovery{Enabled: true, Filter: kubiya.ListFilter{TriggerType: "webhook"}}}, webhooks + len(cronStatic), 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env.exporter(tt.opts)
			env.sim.ResetCounters()
			up, kubiyaUp := scrapeUp(t, e)
			if got := countUp(up, 1); got != tt.wantUp {
				t.Errorf("jobs up = %d, want %d", got, tt.wantUp)
			}
			if got := countUp(up, 0); got != tt.wantDown {
				t.Errorf("jobs down = %d, want %d", got, tt.wantDown)
			}
			if tt.wantDown > 0 && up[missing] != 0 {
				t.Errorf("missing static job: up = %v, want 0", up[missing])
			}
			if kubiyaUp != 1 {
				t.Errorf("kubiya_up = %v, want 1", kubiyaUp)
			}
			reqs := env.sim.Requests()
			if reqs[simulator.KindListJobs] != tt.wantLists || reqs[simulator.KindGetJob] != tt.wantGets {
				t.Errorf("requests: list %d, get %d; want %d, %d", reqs[simulator.KindListJobs], reqs[simulator.KindGetJob], tt.wantLists, tt.wantGets)
			}
		})
	}
}

func TestListModeMakesOneRequestPerScrape(t *testing.T) {
	const n = 500
	env := newSimEnv(t, n)
	e := env.exporter(Options{Discovery: Discovery{Enabled: true}})
	for scrape := range 3 {
		env.sim.ResetCounters()
		up, _ := scrapeUp(t, e)
		if got := countUp(up, 1); got != n {
			t.Fatalf("scrape %d: %d jobs up, want %d", scrape, got, n)
		}
		var total int64
		for kind, c := range env.sim.Requests() {
			if kind != simulator.KindHealth {
				total += c
			}
		}
		if total != 1 || env.sim.Requests()[simulator.KindListJobs] != 1 {
			t.Fatalf("scrape %d: API requests %v, want exactly one list request", scrape, env.sim.Requests())
		}
	}
}

func TestListFailureMarksDiscoveredDown(t *testing.T) {
	const n = 30
	env := newSimEnv(t, n)
	static := env.ids[:2]
	e := env.exporter(Options{Jobs: static, StaticViaListAbove: 1, Discovery: Discovery{Enabled: true}})
	up, _ := scrapeUp(t, e)
	if got := countUp(up, 1); got != n {
		t.Fatalf("first scrape: %d up, want %d", got, n)
	}
	env.sim.SetGlobalFault(simulator.Fault{Status: http.StatusInternalServerError, Body: `{"detail":"Failed to list jobs: db down"}`})
	up, kubiyaUp := scrapeUp(t, e)
	if got, down := countUp(up, 1), countUp(up, 0); got != 0 || down != n {
		t.Fatalf("failing list: %d up, %d down; want 0 and %d (every known job, static and discovered)", got, down, n)
	}
	if kubiyaUp != 0 {
		t.Errorf("kubiya_up = %v, want 0 on a 500", kubiyaUp)
	}
	if got := counterValue(t, env.metrics, "list_jobs", "server_error"); got < 1 {
		t.Errorf("list_jobs server_error = %v, want >= 1", got)
	}
	env.sim.ClearGlobalFault()
	up, _ = scrapeUp(t, e)
	if got := countUp(up, 1); got != n {
		t.Fatalf("recovered: %d up, want %d", got, n)
	}
}

func TestListFailureBeforeAnyListReportsStaticDown(t *testing.T) {
	env := newSimEnv(t, 10)
	env.sim.SetGlobalFault(simulator.Fault{Status: http.StatusServiceUnavailable})
	e := env.exporter(Options{Jobs: env.ids[:3], StaticViaListAbove: 1, Discovery: Discovery{Enabled: true}})
	up, _ := scrapeUp(t, e)
	// Nothing discovered yet, so only the static IDs can be named.
	if len(up) != 3 || countUp(up, 0) != 3 {
		t.Fatalf("kubiya_job_up = %v, want the 3 static jobs at 0", up)
	}
}

func counterValue(t testing.TB, m *APIMetrics, endpoint, class string) float64 {
	t.Helper()
	return testutil.ToFloat64(m.requests.WithLabelValues(endpoint, class))
}

// TestShardOfGolden: a job's shard depends on its ID alone, so these never
// change (a change would move jobs between replicas on upgrade).
func TestShardOfGolden(t *testing.T) {
	ids := []string{
		"job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f",
		"job_0a4e7c52-1f3b-4d6e-8a9c-b2d4f6e8a0c1",
		"job_5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e",
		"2b7e9c1a-0d4f-4e8a-9b6c-3f5d7a1e2c4b",
	}
	golden := map[int][]int{
		1: {0, 0, 0, 0},
		2: {1, 0, 0, 0},
		3: {0, 0, 1, 0},
		4: {3, 2, 2, 2},
		7: {4, 4, 3, 3},
	}
	for total, want := range golden {
		for i, id := range ids {
			h := fnv.New64a()
			h.Write([]byte(id))
			if ref := int(h.Sum64() % uint64(total)); total > 1 && ref != ShardOf(id, total) {
				t.Errorf("ShardOf(%s, %d) = %d, hash/fnv says %d", id, total, ShardOf(id, total), ref)
			}
			if got := ShardOf(id, total); got != want[i] {
				t.Errorf("ShardOf(%s, %d) = %d, want %d", id, total, got, want[i])
			}
		}
	}
}

// TestShardsCoverEveryJobOnce: N exporters with shards 0..N-1 together
// report every job, static and discovered, exactly once.
func TestShardsCoverEveryJobOnce(t *testing.T) {
	const n = 120
	env := newSimEnv(t, n)
	static := env.ids[:10]
	for _, total := range []int{1, 2, 3, 5, 8} {
		for _, mode := range []string{"static per job", "static via list"} {
			owner := map[string]int{}
			for shard := range total {
				opts := Options{Jobs: static, Discovery: Discovery{Enabled: true}, Shard: Shard{Index: shard, Total: total}}
				if mode == "static via list" {
					opts.StaticViaListAbove = 1
				}
				up, _ := scrapeUp(t, env.exporter(opts))
				for id, v := range up {
					if v != 1 {
						t.Errorf("total %d shard %d: %s down", total, shard, id)
					}
					if prev, dup := owner[id]; dup {
						t.Errorf("total %d: %s on shards %d and %d", total, id, prev, shard)
					}
					owner[id] = shard
					if ShardOf(id, total) != shard {
						t.Errorf("total %d: %s reported by shard %d, ShardOf says %d", total, id, shard, ShardOf(id, total))
					}
				}
			}
			if len(owner) != n {
				t.Errorf("total %d, %s: %d jobs reported, want %d", total, mode, len(owner), n)
			}
		}
	}
}

func TestScheduleCachePrunedWithDiscovery(t *testing.T) {
	env := newSimEnv(t, 40)
	e := env.exporter(Options{Discovery: Discovery{Enabled: true}})
	scrapeUp(t, e)
	deleted := env.ids[:20]
	for _, id := range deleted {
		if err := env.sim.DeleteJob(id); err != nil {
			t.Fatal(err)
		}
	}
	scrapeUp(t, e)
	e.schedules.mu.Lock()
	defer e.schedules.mu.Unlock()
	for id := range e.schedules.jobs {
		if slices.Contains(deleted, id) {
			t.Errorf("deleted job %s is still in the schedule cache", id)
		}
	}
}
