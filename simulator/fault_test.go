package simulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultResponses(t *testing.T) {
	sim, ts, _ := newSim(t, nil)
	path := "/api/v1/jobs/" + JobNightly
	real := get(t, ts, path).body
	for _, tc := range []struct {
		name        string
		fault       Fault
		status      int
		body        string
		contentType string
		retryAfter  string
	}{
		{"500", FaultInternal("connection pool exhausted"), 500, `{"detail":"Failed to get job: connection pool exhausted"}`, "application/json", ""},
		{"429 retry-after", FaultRateLimited("7"), 429, `{"detail":"Too Many Requests"}`, "application/json", "7"},
		{"429 bare", FaultRateLimited(""), 429, `{"detail":"Too Many Requests"}`, "application/json", ""},
		{"502 html", Fault502HTML(), 502, HTMLErrorBody(502), "text/html", ""},
		{"503 html", Fault503HTML(), 503, HTMLErrorBody(503), "text/html", ""},
		{"504 html", Fault504HTML(), 504, HTMLErrorBody(504), "text/html", ""},
		{"403", Fault{Status: 403, Body: `{"detail":"Forbidden"}`}, 403, `{"detail":"Forbidden"}`, "application/json", ""},
		{"empty 200", Fault{Status: 200}, 200, "", "application/json", ""},
		{"wrong types", Fault{Body: `{"id":"x","total_executions":"42"}`}, 200, `{"id":"x","total_executions":"42"}`, "application/json", ""},
		{"array", Fault{Body: `[]`}, 200, `[]`, "application/json", ""},
		{"latency only", Fault{Latency: 10 * time.Millisecond}, 200, string(real), "application/json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim.SetFault(JobNightly, tc.fault)
			defer sim.ClearFault(JobNightly)
			r := get(t, ts, path)
			if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Retry-After") != tc.retryAfter ||
				!strings.HasPrefix(r.header.Get("Content-Type"), tc.contentType) {
				t.Errorf("got %d %q %q retry-after %q", r.status, r.header.Get("Content-Type"), r.body, r.header.Get("Retry-After"))
			}
			// Other jobs are unaffected.
			if r := get(t, ts, "/api/v1/jobs/"+JobHourly); r.status != 200 {
				t.Errorf("other job: %d", r.status)
			}
		})
	}
	if strings.Contains(HTMLErrorBody(502), "{") || !strings.Contains(HTMLErrorBody(504), "504 Gateway Time-out") && !strings.Contains(HTMLErrorBody(504), "504 Gateway Timeout") {
		t.Errorf("HTML body: %s", HTMLErrorBody(504))
	}

	// A global fault covers every /api/v1 request but not health; a job's
	// own fault wins over it.
	sim.SetGlobalFault(Fault503HTML())
	sim.SetFault(JobHourly, FaultInternal("x"))
	for p, want := range map[string]int{"/api/v1/jobs": 503, path: 503, path + "/executions": 503, "/api/v1/jobs/" + JobHourly: 500, "/api/health": 200} {
		if r := get(t, ts, p); r.status != want {
			t.Errorf("%s: %d, want %d", p, r.status, want)
		}
	}
	sim.ClearFaults()
	if r := get(t, ts, "/api/v1/jobs/"+JobHourly); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestFaultDelivery(t *testing.T) {
	sim, ts, _ := newSim(t, nil)
	path := "/api/v1/jobs/" + JobWebhook
	real := get(t, ts, path).body

	t.Run("truncate", func(t *testing.T) {
		sim.SetFault(JobWebhook, Fault{Truncate: true})
		defer sim.ClearFault(JobWebhook)
		r := get(t, ts, path)
		if r.status != 200 || string(r.body) != string(real[:len(real)/2]) || json.Valid(r.body) {
			t.Errorf("truncated: %d %d bytes of %d", r.status, len(r.body), len(real))
		}
	})

	t.Run("oversize", func(t *testing.T) {
		const n = 5 << 20
		sim.SetFault(JobWebhook, Fault{Oversize: n})
		defer sim.ClearFault(JobWebhook)
		r := get(t, ts, path)
		if r.status != 200 || len(r.body) != n || r.header.Get("Content-Length") != strconv.Itoa(n) ||
			!strings.HasPrefix(string(r.body), `{"id":"`+JobWebhook+`","name":"xxx`) || !json.Valid(r.body) {
			t.Errorf("oversize: %d %d bytes %q…", r.status, len(r.body), r.body[:min(40, len(r.body))])
		}
	})

	t.Run("trickle", func(t *testing.T) {
		sim.SetFault(JobWebhook, Fault{Body: `{"detail":"slow"}`, TrickleBytesPerSecond: 40})
		defer sim.ClearFault(JobWebhook)
		start := time.Now()
		r := get(t, ts, path)
		if el := time.Since(start); r.status != 200 || string(r.body) != `{"detail":"slow"}` || el < 300*time.Millisecond {
			t.Errorf("trickle: %d %s after %v", r.status, r.body, el)
		}
	})

	t.Run("trickle gives up with the client", func(t *testing.T) {
		sim.SetFault(JobWebhook, Fault{TrickleBytesPerSecond: 1})
		defer sim.ClearFault(JobWebhook)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if r := do(t, ctx, "GET", ts.URL+path, "Bearer "+testKey); r.err == nil {
			t.Errorf("trickle at 1 B/s finished: %d", r.status)
		}
	})

	t.Run("reset mid body", func(t *testing.T) {
		sim.SetFault(JobWebhook, Fault{ResetMidBody: true})
		defer sim.ClearFault(JobWebhook)
		r := do(t, context.Background(), "GET", ts.URL+path, "Bearer "+testKey)
		if r.err == nil {
			t.Fatalf("reset: no error, %d %q", r.status, r.body)
		}
		if r.status != 200 || len(r.body) == 0 || len(r.body) > 16 {
			t.Errorf("reset: status %d, %d body bytes before %v", r.status, len(r.body), r.err)
		}
	})

	t.Run("latency", func(t *testing.T) {
		sim.SetLatency(50 * time.Millisecond)
		defer sim.SetLatency(0)
		start := time.Now()
		get(t, ts, "/api/v1/jobs")
		if el := time.Since(start); el < 50*time.Millisecond {
			t.Errorf("latency: %v", el)
		}
	})
}

func TestHang(t *testing.T) {
	sim, ts, _ := newSim(t, nil)
	sim.SetFault(JobNightly, Fault{Hang: true})
	base := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := do(t, ctx, "GET", ts.URL+"/api/v1/jobs/"+JobNightly, "Bearer "+testKey)
	if r.err == nil || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("hang answered: %v %d after %v", r.err, r.status, time.Since(start))
	}
	// The handler notices the client left and returns.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		t.Errorf("goroutines %d > baseline %d after the client gave up", n, base)
	}
	if r := get(t, ts, "/api/v1/jobs/"+JobHourly); r.status != 200 {
		t.Errorf("other job: %d", r.status)
	}

	// Close releases hanging requests even if the client waits forever.
	done := make(chan result, 1)
	go func() {
		done <- do(t, context.Background(), "GET", ts.URL+"/api/v1/jobs/"+JobNightly, "Bearer "+testKey)
	}()
	time.Sleep(50 * time.Millisecond)
	sim.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a hanging request")
	}
}

func TestAdminAPI(t *testing.T) {
	sim, ts, clk := newSim(t, nil)
	admin := func(method, path, body string) result {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/_simulator/"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, header: resp.Header, body: b}
	}
	ok := func(r result) {
		t.Helper()
		if r.status/100 != 2 {
			t.Fatalf("admin: %d %s", r.status, r.body)
		}
	}

	var ids []string
	r := admin("GET", "jobs", "")
	ok(r)
	if err := json.Unmarshal(r.body, &ids); err != nil || len(ids) != len(DefaultJobs()) {
		t.Fatalf("jobs: %s", r.body)
	}

	ok(admin("POST", "faults", `{"job_id":"`+JobNightly+`","status":502,"html":true,"latency":"5ms"}`))
	if r := get(t, ts, "/api/v1/jobs/"+JobNightly); r.status != 502 || !strings.Contains(string(r.body), "502 Bad Gateway") {
		t.Errorf("job fault: %d %s", r.status, r.body)
	}
	ok(admin("POST", "faults", `{"status":429,"body":"{\"detail\":\"slow down\"}","retry_after":"3"}`))
	if r := get(t, ts, "/api/v1/jobs"); r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Errorf("global fault: %d %v", r.status, r.header)
	}
	ok(admin("DELETE", "faults?job_id=", ""))
	if r := get(t, ts, "/api/v1/jobs"); r.status != 200 {
		t.Errorf("global fault cleared: %d", r.status)
	}
	if r := get(t, ts, "/api/v1/jobs/"+JobNightly); r.status != 502 {
		t.Errorf("job fault kept: %d", r.status)
	}
	ok(admin("DELETE", "faults", ""))
	if r := get(t, ts, "/api/v1/jobs/"+JobNightly); r.status != 200 {
		t.Errorf("all faults cleared: %d", r.status)
	}
	if r := admin("POST", "faults", `{"latency":"soon"}`); r.status != 400 {
		t.Errorf("bad fault: %d", r.status)
	}

	ok(admin("POST", "reject-key?value=true", ""))
	if r := get(t, ts, "/api/v1/jobs"); r.status != 401 || !strings.Contains(string(r.body), "Invalid or expired authentication token") {
		t.Errorf("reject-key: %d %s", r.status, r.body)
	}
	ok(admin("POST", "reject-key?value=false", ""))

	ok(admin("POST", "jobs/"+JobEveryMinute+"/failing?value=true", ""))
	ok(admin("POST", "jobs/"+JobFlaky+"/stop", ""))
	ok(admin("POST", "jobs/"+JobHourly+"/enabled?value=false", ""))
	before := map[string]map[string]any{}
	for _, id := range []string{JobEveryMinute, JobFlaky, JobHourly} {
		before[id] = getJob(t, ts, id)
	}
	clk.Add(2 * time.Hour)
	if m := getJob(t, ts, JobEveryMinute); num(m, "failed_executions")-num(before[JobEveryMinute], "failed_executions") != 120 {
		t.Errorf("failing over HTTP: %v", m)
	}
	if m := getJob(t, ts, JobFlaky); num(m, "total_executions") != num(before[JobFlaky], "total_executions") || m["enabled"] != true {
		t.Errorf("stop over HTTP: %v", m)
	}
	if m := getJob(t, ts, JobHourly); m["enabled"] != false || num(m, "total_executions") != num(before[JobHourly], "total_executions") {
		t.Errorf("enabled over HTTP: %v", m)
	}
	ok(admin("POST", "jobs/"+JobFlaky+"/resume", ""))
	ok(admin("POST", "jobs/"+JobNightly+"/recreate", ""))
	if m := getJob(t, ts, JobNightly); num(m, "total_executions") != 0 {
		t.Errorf("recreate over HTTP: %v", m)
	}
	ok(admin("POST", "jobs/"+JobNightly+"/status?value=paused", ""))
	if m := getJob(t, ts, JobNightly); str(m, "status") != "paused" {
		t.Errorf("status over HTTP: %v", m)
	}
	r = admin("POST", "jobs/"+JobManual+"/trigger", "")
	ok(r)
	if !strings.Contains(string(r.body), "execution_id") {
		t.Errorf("trigger: %s", r.body)
	}
	if r := admin("POST", "jobs/nope/stop", ""); r.status != 404 {
		t.Errorf("unknown job: %d", r.status)
	}

	// Upsert a job over HTTP in the API's own format.
	j, _ := sim.Job(JobWebhook)
	j.ID, j.Name = "job_posted", "posted"
	b, _ := json.Marshal(j)
	ok(admin("POST", "jobs", string(b)))
	if m := getJob(t, ts, "job_posted"); str(m, "name") != "posted" || str(m, "webhook_secret") == "" {
		t.Errorf("posted job: %v", m)
	}
	r = admin("GET", "jobs/job_posted", "")
	ok(r)
	ok(admin("DELETE", "jobs/job_posted", ""))
	if r := get(t, ts, "/api/v1/jobs/job_posted"); r.status != 404 {
		t.Errorf("deleted over HTTP: %d", r.status)
	}

	ok(admin("POST", "latency?value=30ms", ""))
	start := time.Now()
	get(t, ts, "/api/v1/jobs")
	if time.Since(start) < 30*time.Millisecond {
		t.Error("latency over HTTP not applied")
	}
	ok(admin("POST", "latency?value=0s", ""))

	ok(admin("POST", "api-key", "new-key\n"))
	if r := do(t, context.Background(), "GET", ts.URL+"/api/v1/jobs", "Bearer new-key"); r.status != 200 {
		t.Errorf("api-key over HTTP: %d", r.status)
	}
	sim.SetAPIKey(testKey)

	now := sim.Now()
	ok(admin("POST", "advance?by=1h", ""))
	if d := sim.Now().Sub(now); d != time.Hour {
		t.Errorf("advance: %v", d)
	}

	var stats struct {
		Requests    map[string]int64 `json:"requests"`
		JobRequests map[string]int64 `json:"job_requests"`
	}
	r = admin("GET", "stats", "")
	ok(r)
	if err := json.Unmarshal(r.body, &stats); err != nil || stats.Requests[KindGetJob] == 0 || stats.JobRequests[JobNightly] == 0 {
		t.Errorf("stats: %s", r.body)
	}
	ok(admin("POST", "reset-counters", ""))
	if got := sim.Requests(); got[KindGetJob] != 0 || got[KindListJobs] != 0 {
		t.Errorf("reset over HTTP: %v", got)
	}
	if r := admin("GET", "nothing", ""); r.status != 404 {
		t.Errorf("unknown admin endpoint: %d", r.status)
	}
}

// drain reads and closes a response body, returning its size.
func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}
