package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestGenerateJobs(t *testing.T) {
	start := time.Now()
	jobs := GenerateJobs(10000, 42)
	if el := time.Since(start); el > time.Second && !raceEnabled {
		t.Errorf("GenerateJobs(10000) took %v", el)
	}
	ids := make(map[string]bool, len(jobs))
	kinds := map[string]int{}
	entities := map[string]int{}
	for _, j := range jobs {
		if !reJobID.MatchString(j.ID) || ids[j.ID] {
			t.Fatalf("bad or duplicate ID %q", j.ID)
		}
		ids[j.ID] = true
		kinds[j.TriggerType]++
		if j.EntityType == nil {
			entities["null"]++
		} else {
			entities[*j.EntityType]++
		}
	}
	if kinds["cron"] < 7000 || kinds["webhook"] < 500 || kinds["manual"] < 200 || len(entities) != 4 {
		t.Errorf("mix: %v %v", kinds, entities)
	}
	again := GenerateJobs(10000, 42)
	for i := range jobs {
		if jobs[i].ID != again[i].ID || jobs[i].TotalExecutions != again[i].TotalExecutions {
			t.Fatal("GenerateJobs is not deterministic")
		}
	}

	start = time.Now()
	clk := &fakeClock{t: t0}
	sim := New(Options{APIKey: testKey, Now: clk.Now, Jobs: jobs})
	if el := time.Since(start); el > 3*time.Second && !raceEnabled {
		t.Errorf("New with 10000 jobs took %v", el)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()
	for range 2 { // cold (encodes every job), then cached
		start = time.Now()
		r := get(t, ts, "/api/v1/jobs")
		el := time.Since(start)
		var out []json.RawMessage
		if err := json.Unmarshal(r.body, &out); err != nil || len(out) != 10000 {
			t.Fatalf("list: %v, %d jobs", err, len(out))
		}
		t.Logf("list of 10000 jobs: %d bytes in %v", len(r.body), el)
		if el > 2*time.Second && !raceEnabled {
			t.Errorf("list of 10000 jobs took %v", el)
		}
	}
	clk.Add(time.Hour) // every cron job runs at least once
	start = time.Now()
	get(t, ts, "/api/v1/jobs?enabled=true")
	t.Logf("list after an hour of runs: %v", time.Since(start))
}

func TestConcurrent(t *testing.T) {
	sim, ts, clk := newSim(t, GenerateJobs(200, 1))
	ids := sim.JobIDs()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			client := &http.Client{}
			for i := 0; ctx.Err() == nil; i++ {
				path := "/api/v1/jobs/" + ids[(w*31+i)%len(ids)]
				switch i % 5 {
				case 0:
					path = "/api/v1/jobs?enabled=true"
				case 1:
					path += "/executions?limit=5"
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+testKey)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			id := ids[i%len(ids)]
			clk.Add(17 * time.Second)
			_ = sim.SetJobFailing(id, i%2 == 0)
			_ = sim.SetEnabled(id, i%3 != 0)
			_, _ = sim.TriggerJob(id)
			if i%7 == 0 {
				_ = sim.RecreateJob(id)
			}
			sim.SetFault(id, Fault{Status: 500})
			sim.ClearFault(id)
			sim.SetLatency(time.Duration(i%2) * time.Millisecond)
			_ = sim.Requests()
			_ = sim.Jobs()
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	for _, j := range sim.Jobs() {
		if j.SuccessfulExecutions+j.FailedExecutions > j.TotalExecutions {
			t.Errorf("%s: counts %d/%d/%d", j.ID, j.TotalExecutions, j.SuccessfulExecutions, j.FailedExecutions)
		}
	}
}

func BenchmarkList10000(b *testing.B) {
	sim := New(Options{APIKey: testKey, Jobs: GenerateJobs(10000, 1)})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := drain(resp)
		b.SetBytes(n)
	}
}

func BenchmarkGetJob(b *testing.B) {
	sim := New(Options{APIKey: testKey})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/jobs/"+JobNightly, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = drain(resp)
	}
}

func BenchmarkEncodeJob(b *testing.B) {
	j := FillSecrets(DefaultJobs(), "x")[1]
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf = appendJob(buf[:0], &j)
	}
}
