package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key-123"

// fakeClock is a settable clock for deterministic time travel.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// t0 is a Thursday in winter, New York on EST (UTC-5).
var t0 = time.Date(2025, 11, 20, 10, 15, 30, 123456000, time.UTC)

func newSim(t *testing.T, jobs []Job) (*Server, *httptest.Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: t0}
	sim := New(Options{APIKey: testKey, Now: clk.Now, Jobs: jobs, Seed: 7})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close) // runs first: releases hanging handlers
	return sim, ts, clk
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func do(t *testing.T, ctx context.Context, method, url, auth string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func get(t *testing.T, ts *httptest.Server, path string) result {
	t.Helper()
	r := do(t, context.Background(), http.MethodGet, ts.URL+path, "Bearer "+testKey)
	if r.err != nil {
		t.Fatalf("GET %s: %v", path, r.err)
	}
	return r
}

func getJob(t *testing.T, ts *httptest.Server, id string) map[string]any {
	t.Helper()
	r := get(t, ts, "/api/v1/jobs/"+id)
	if r.status != 200 {
		t.Fatalf("GET job %s: %d %s", id, r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func num(m map[string]any, k string) int64 { return int64(m[k].(float64)) }

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func TestFormatTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 11, 20, 10, 15, 30, 123456000, time.UTC), "2025-11-20T10:15:30.123456Z"},
		{time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC), "2025-11-21T17:00:00Z"},
		{time.Date(2025, 11, 21, 17, 0, 0, 500, time.UTC), "2025-11-21T17:00:00Z"}, // sub-µs dropped
		{time.Date(2025, 11, 21, 17, 0, 0, 1000, time.UTC), "2025-11-21T17:00:00.000001Z"},
		{time.Date(2025, 11, 21, 17, 0, 0, 100000000, time.UTC), "2025-11-21T17:00:00.100000Z"},
		{time.Date(2025, 11, 21, 12, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2025-11-21T17:00:00Z"},
	} {
		if got := FormatTime(tc.in); got != tc.want {
			t.Errorf("FormatTime(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

var (
	reTime      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$`)
	reNaiveTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$`)
	reJobID     = regexp.MustCompile(`^job_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestHealth(t *testing.T) {
	_, ts, clk := newSim(t, nil)
	r := do(t, context.Background(), http.MethodGet, ts.URL+"/api/health", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("health: %d %s", r.status, r.header.Get("Content-Type"))
	}
	want := `{"status":"healthy","service":"agent-control_plane_api","timestamp":"2025-11-20T10:15:30.123456"}`
	if string(r.body) != want {
		t.Errorf("health body\n got %s\nwant %s", r.body, want)
	}
	clk.Set(time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC))
	var h map[string]string
	_ = json.Unmarshal(do(t, context.Background(), http.MethodGet, ts.URL+"/api/health", "").body, &h)
	if h["timestamp"] != "2025-11-21T17:00:00" || !reNaiveTime.MatchString(h["timestamp"]) {
		t.Errorf("naive timestamp without fraction: %q", h["timestamp"])
	}
	if r := do(t, context.Background(), http.MethodPost, ts.URL+"/api/health", ""); r.status != 405 {
		t.Errorf("POST health: %d", r.status)
	}
}

func TestAuth(t *testing.T) {
	sim, ts, _ := newSim(t, nil)
	missing := `{"detail":{"error":"Unauthorized","message":"Authorization header is required","hint":"` + hintMissing + `"}}`
	invalid := `{"detail":{"error":"Unauthorized","message":"Invalid or expired authentication token","hint":"` + hintInvalid + `"}}`
	path := "/api/v1/jobs/" + JobNightly
	for _, tc := range []struct {
		name, auth string
		reject     bool
		status     int
		body       string
	}{
		{"missing", "", false, 401, missing},
		{"wrong key", "Bearer nope", false, 401, invalid},
		{"empty bearer", "Bearer", false, 401, invalid},
		{"wrong scheme", "Basic " + testKey, false, 401, invalid},
		{"bearer", "Bearer " + testKey, false, 200, ""},
		{"bearer lower case", "bearer " + testKey, false, 200, ""},
		{"userkey", "UserKey " + testKey, false, 200, ""},
		{"rejected key", "Bearer " + testKey, true, 401, invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim.RejectKey(tc.reject)
			defer sim.RejectKey(false)
			for _, p := range []string{path, "/api/v1/jobs", path + "/executions", "/api/v1/jobs/unknown"} {
				r := do(t, context.Background(), http.MethodGet, ts.URL+p, tc.auth)
				if tc.status == 200 && r.status == 401 || tc.status == 401 && r.status != 401 {
					t.Fatalf("%s: status %d, want %d", p, r.status, tc.status)
				}
				if tc.body != "" && string(r.body) != tc.body {
					t.Errorf("%s: body\n got %s\nwant %s", p, r.body, tc.body)
				}
			}
		})
	}
	sim.SetAPIKey("rotated")
	if r := do(t, context.Background(), http.MethodGet, ts.URL+path, "Bearer "+testKey); r.status != 401 {
		t.Errorf("old key after rotation: %d", r.status)
	}
	if r := do(t, context.Background(), http.MethodGet, ts.URL+path, "Bearer rotated"); r.status != 200 {
		t.Errorf("new key: %d", r.status)
	}
}

// schemaFields is every property of JobResponse, in schema order.
var schemaFields = []string{
	"id", "organization_id", "name", "description", "enabled", "status", "trigger_type",
	"cron_schedule", "cron_timezone", "webhook_url", "webhook_secret", "temporal_schedule_id",
	"planning_mode", "entity_type", "entity_id", "entity_name", "prompt_template", "system_prompt",
	"executor_type", "worker_queue_name", "environment_name", "config", "execution_environment",
	"last_execution_id", "last_execution_at", "next_execution_at", "total_executions",
	"successful_executions", "failed_executions", "execution_history", "created_by", "updated_by",
	"created_by_email", "updated_by_email", "created_at", "updated_at", "last_triggered_at",
}

// keysInOrder returns the top-level keys of a JSON object in document order.
func keysInOrder(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestGetJobEveryField(t *testing.T) {
	_, ts, _ := newSim(t, nil)
	for _, id := range []string{JobEveryMinute, JobHourly, JobNightly, JobNewYork, JobFlaky, JobWeekly, JobWebhook, JobManual, JobDisabled, JobNeverRan} {
		t.Run(id, func(t *testing.T) {
			r := get(t, ts, "/api/v1/jobs/"+id)
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if keys := keysInOrder(t, r.body); !slices.Equal(keys, schemaFields) {
				t.Errorf("keys\n got %v\nwant %v", keys, schemaFields)
			}
			var m map[string]any
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatal(err)
			}
			if !reJobID.MatchString(str(m, "id")) || str(m, "organization_id") != "acme-corp" {
				t.Errorf("id/org: %v %v", m["id"], m["organization_id"])
			}
			for _, k := range []string{"last_execution_at", "next_execution_at", "created_at", "updated_at", "last_triggered_at"} {
				if v, ok := m[k].(string); ok && !reTime.MatchString(v) {
					t.Errorf("%s = %q: bad timestamp format", k, v)
				}
			}
			if _, ok := m["execution_history"].([]any); !ok {
				t.Errorf("execution_history = %v", m["execution_history"])
			}
			if _, ok := m["config"].(map[string]any); !ok {
				t.Errorf("config = %v", m["config"])
			}
			tot, ok, bad := num(m, "total_executions"), num(m, "successful_executions"), num(m, "failed_executions")
			if ok+bad > tot {
				t.Errorf("counts %d/%d/%d", tot, ok, bad)
			}
			if (tot == 0) != (m["last_execution_at"] == nil) || (tot == 0) != (m["last_execution_id"] == nil) {
				t.Errorf("last_execution_* vs total %d: %v %v", tot, m["last_execution_at"], m["last_execution_id"])
			}
			if str(m, "trigger_type") != "cron" && m["next_execution_at"] != nil {
				t.Errorf("non-cron job has next_execution_at")
			}
		})
	}

	t.Run("kinds", func(t *testing.T) {
		wh := getJob(t, ts, JobWebhook)
		if wh["webhook_url"] == nil || wh["webhook_secret"] == nil || wh["cron_schedule"] != nil || wh["next_execution_at"] != nil {
			t.Errorf("webhook job: %v", wh)
		}
		dis := getJob(t, ts, JobDisabled)
		next, _ := time.Parse(time.RFC3339, str(dis, "next_execution_at"))
		if dis["enabled"] != false || str(dis, "status") != "disabled" || !next.Before(t0) {
			t.Errorf("disabled job: enabled=%v status=%v next=%v", dis["enabled"], dis["status"], dis["next_execution_at"])
		}
		never := getJob(t, ts, JobNeverRan)
		if num(never, "total_executions") != 0 || never["last_execution_at"] != nil || never["entity_type"] != nil {
			t.Errorf("never-ran job: %v", never)
		}
		n := getJob(t, ts, JobNightly)
		if num(n, "total_executions") != 42 || num(n, "successful_executions") != 39 || num(n, "failed_executions") != 2 ||
			str(n, "next_execution_at") != "2025-11-20T17:00:00Z" || !strings.HasPrefix(str(n, "last_execution_at"), "2025-11-19T17:00:0") {
			t.Errorf("nightly job: %v", n)
		}
		for _, k := range []string{"webhook_secret", "webhook_url", "system_prompt"} {
			if str(wh, k) == "" {
				t.Errorf("webhook job: secret-ish %s empty", k)
			}
		}
	})
}

func TestNotFoundAndRouting(t *testing.T) {
	_, ts, _ := newSim(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/v1/jobs/job_nope", 404, `{"detail":"Job job_nope not found"}`},
		{"GET", "/api/v1/jobs/a%2Fb", 404, `{"detail":"Job a/b not found"}`},
		{"GET", "/api/v1/jobs/x%2Fexecutions", 404, `{"detail":"Job x/executions not found"}`},
		{"GET", "/api/v1/jobs/a%3Fb%3Dc", 404, `{"detail":"Job a?b=c not found"}`},
		{"GET", "/api/v1/jobs/..%2F..%2Fhealth", 404, `{"detail":"Job ../../health not found"}`},
		{"GET", "/api/v1/jobs/" + JobNightly[:10] + "%22x", 404, `{"detail":"Job job_6f1c2d\"x not found"}`},
		{"GET", "/api/v1/jobs/job_nope/executions", 404, `{"detail":"Job job_nope not found"}`},
		{"GET", "/api/v1/nothing", 404, `{"detail":"Not Found"}`},
		{"GET", "/api/v1/jobs/a/b", 404, `{"detail":"Not Found"}`},
		{"GET", "/", 404, `{"detail":"Not Found"}`},
		{"POST", "/api/v1/jobs/" + JobNightly, 405, `{"detail":"Method Not Allowed"}`},
		{"DELETE", "/api/v1/jobs", 405, `{"detail":"Method Not Allowed"}`},
		{"PUT", "/api/v1/jobs/x/executions", 405, `{"detail":"Method Not Allowed"}`},
	} {
		r := do(t, context.Background(), tc.method, ts.URL+tc.path, "Bearer "+testKey)
		if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.body)
		}
	}
}

func TestList(t *testing.T) {
	_, ts, _ := newSim(t, nil)
	list := func(q string) []map[string]any {
		t.Helper()
		r := get(t, ts, "/api/v1/jobs"+q)
		if r.status != 200 || r.body[0] != '[' {
			t.Fatalf("list %s: %d %s", q, r.status, r.body)
		}
		var out []map[string]any
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := list("")
	if len(all) != len(DefaultJobs()) {
		t.Fatalf("%d jobs", len(all))
	}
	for i := 1; i < len(all); i++ {
		if str(all[i-1], "created_at") < str(all[i], "created_at") {
			t.Errorf("not newest first at %d", i)
		}
	}
	for _, tc := range []struct {
		q    string
		keep func(map[string]any) bool
	}{
		{"?enabled=true", func(m map[string]any) bool { return m["enabled"] == true }},
		{"?enabled=false", func(m map[string]any) bool { return m["enabled"] == false }},
		{"?enabled=0", func(m map[string]any) bool { return m["enabled"] == false }},
		{"?trigger_type=cron", func(m map[string]any) bool { return m["trigger_type"] == "cron" }},
		{"?trigger_type=webhook", func(m map[string]any) bool { return m["trigger_type"] == "webhook" }},
		{"?trigger_type=manual&enabled=true", func(m map[string]any) bool { return m["trigger_type"] == "manual" }},
		{"?enabled=true&trigger_type=cron", func(m map[string]any) bool { return m["trigger_type"] == "cron" && m["enabled"] == true }},
	} {
		var want []any
		for _, m := range all {
			if tc.keep(m) {
				want = append(want, m["id"])
			}
		}
		var got []any
		for _, m := range list(tc.q) {
			got = append(got, m["id"])
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tc.q, got, want)
		}
	}
	for _, tc := range []struct{ q, body string }{
		{"?enabled=maybe", `{"detail":[{"loc":["query","enabled"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"}]}`},
		{"?enabled=", `{"detail":[{"loc":["query","enabled"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"}]}`},
		{"?trigger_type=timer", `{"detail":[{"loc":["query","trigger_type"],"msg":"Input should be 'cron', 'webhook' or 'manual'","type":"enum"}]}`},
		{"?trigger_type=x&enabled=2", `{"detail":[{"loc":["query","enabled"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"},{"loc":["query","trigger_type"],"msg":"Input should be 'cron', 'webhook' or 'manual'","type":"enum"}]}`},
	} {
		r := get(t, ts, "/api/v1/jobs"+tc.q)
		if r.status != 422 || string(r.body) != tc.body {
			t.Errorf("%s: %d %s\nwant %s", tc.q, r.status, r.body, tc.body)
		}
	}
	if r := do(t, context.Background(), "GET", ts.URL+"/api/v1/jobs/?enabled=true", "Bearer "+testKey); r.status != 200 {
		t.Errorf("trailing slash: %d", r.status) // followed the 307
	}
}

type execList struct {
	JobID      string `json:"job_id"`
	TotalCount int64  `json:"total_count"`
	Executions []struct {
		ExecutionID     string          `json:"execution_id"`
		TriggerType     string          `json:"trigger_type"`
		Status          string          `json:"status"`
		StartedAt       *string         `json:"started_at"`
		CompletedAt     *string         `json:"completed_at"`
		DurationMS      *int64          `json:"duration_ms"`
		ErrorMessage    *string         `json:"error_message"`
		TriggerMetadata json.RawMessage `json:"trigger_metadata"`
	} `json:"executions"`
}

func getExecs(t *testing.T, ts *httptest.Server, id, q string) execList {
	t.Helper()
	r := get(t, ts, "/api/v1/jobs/"+id+"/executions"+q)
	if r.status != 200 {
		t.Fatalf("executions: %d %s", r.status, r.body)
	}
	var out execList
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if keys := keysInOrder(t, r.body); !slices.Equal(keys, []string{"job_id", "total_count", "executions"}) {
		t.Errorf("keys %v", keys)
	}
	return out
}

func TestExecutions(t *testing.T) {
	_, ts, clk := newSim(t, nil)
	ex := getExecs(t, ts, JobNightly, "")
	if ex.JobID != JobNightly || ex.TotalCount != 42 || len(ex.Executions) != historyLen {
		t.Fatalf("nightly: %s %d %d", ex.JobID, ex.TotalCount, len(ex.Executions))
	}
	job := getJob(t, ts, JobNightly)
	if ex.Executions[0].ExecutionID != str(job, "last_execution_id") || *ex.Executions[0].StartedAt != str(job, "last_execution_at") {
		t.Errorf("newest execution %s %s does not match last_execution_* %v %v",
			ex.Executions[0].ExecutionID, *ex.Executions[0].StartedAt, job["last_execution_id"], job["last_execution_at"])
	}
	for i, e := range ex.Executions {
		if i > 0 && *ex.Executions[i-1].StartedAt < *e.StartedAt {
			t.Errorf("not newest first at %d", i)
		}
		if !slices.Contains([]string{"completed", "failed", "cancelled"}, e.Status) || e.TriggerType != "cron" ||
			!reTime.MatchString(*e.StartedAt) || e.CompletedAt == nil || !reTime.MatchString(*e.CompletedAt) || e.DurationMS == nil {
			t.Errorf("execution %d: %+v", i, e)
		}
		if (e.Status == "failed") != (e.ErrorMessage != nil) {
			t.Errorf("execution %d: status %s error %v", i, e.Status, e.ErrorMessage)
		}
	}
	if p := getExecs(t, ts, JobNightly, "?limit=2&offset=1"); len(p.Executions) != 2 || p.Executions[0].ExecutionID != ex.Executions[1].ExecutionID {
		t.Errorf("paging: %+v", p.Executions)
	}
	if p := getExecs(t, ts, JobNightly, "?offset=1000"); len(p.Executions) != 0 || p.TotalCount != 42 {
		t.Errorf("past the end: %+v", p)
	}
	if p := getExecs(t, ts, JobNeverRan, ""); p.TotalCount != 0 || p.Executions == nil || len(p.Executions) != 0 {
		t.Errorf("never ran: %+v", p)
	}

	// A run in flight is "running" with no completion.
	clk.Set(time.Date(2025, 11, 20, 17, 0, 5, 500000000, time.UTC))
	ex = getExecs(t, ts, JobNightly, "?limit=1")
	job = getJob(t, ts, JobNightly)
	if e := ex.Executions[0]; ex.TotalCount != 43 || e.Status != "running" || e.CompletedAt != nil || e.DurationMS != nil ||
		num(job, "total_executions")-num(job, "successful_executions")-num(job, "failed_executions") != 2 {
		t.Errorf("in flight: total %d %+v job %v", ex.TotalCount, e, job)
	}
	if !strings.Contains(string(ex.Executions[0].TriggerMetadata), `"scheduled_time":"2025-11-20T17:00:00Z"`) {
		t.Errorf("trigger_metadata %s", ex.Executions[0].TriggerMetadata)
	}

	for _, tc := range []struct{ q, body string }{
		{"?limit=abc", `{"detail":[{"loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]}`},
		{"?limit=0", `{"detail":[{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"}]}`},
		{"?offset=-1", `{"detail":[{"loc":["query","offset"],"msg":"Input should be greater than or equal to 0","type":"greater_than_equal"}]}`},
	} {
		if r := get(t, ts, "/api/v1/jobs/"+JobNightly+"/executions"+tc.q); r.status != 422 || string(r.body) != tc.body {
			t.Errorf("%s: %d %s", tc.q, r.status, r.body)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCronAdvance(t *testing.T) {
	created := t0.Add(-24 * time.Hour)
	job := func(id, spec string, tz *string, enabled bool) Job {
		return Job{ID: id, Name: id, Enabled: enabled, TriggerType: "cron", CronSchedule: Ptr(spec), CronTimezone: tz,
			PromptTemplate: "p", CreatedAt: created, UpdatedAt: created}
	}
	staleNext := time.Date(2025, 11, 10, 2, 30, 0, 0, time.UTC)
	dis := job("disabled", "30 2 * * *", Ptr("UTC"), false)
	dis.NextExecutionAt = &staleNext
	sim, ts, clk := newSim(t, []Job{
		job("minutely", "*/1 * * * *", nil, true),
		job("ny", "0 9 * * *", Ptr("America/New_York"), true),
		job("tokyo-desc", "@daily", Ptr("Asia/Tokyo"), true),
		dis,
	})
	// Jobs with CreatedAt set are taken as given: no history, next as given.
	if m := getJob(t, ts, "minutely"); num(m, "total_executions") != 0 || m["next_execution_at"] != nil || str(m, "status") != "active" {
		t.Fatalf("initial: %v", m)
	}

	clk.Set(time.Date(2025, 11, 20, 10, 20, 30, 0, time.UTC)) // five fires: 10:16..10:20
	m := getJob(t, ts, "minutely")
	if num(m, "total_executions") != 5 {
		t.Errorf("minutely total = %d, want 5", num(m, "total_executions"))
	}
	last := mustTime(t, str(m, "last_execution_at"))
	if d := last.Sub(time.Date(2025, 11, 20, 10, 20, 0, 0, time.UTC)); d < time.Second || d > 5*time.Second {
		t.Errorf("last_execution_at %v: delay %v", last, d)
	}
	if str(m, "next_execution_at") != "2025-11-20T10:21:00Z" {
		t.Errorf("next = %v", m["next_execution_at"])
	}
	if u := mustTime(t, str(m, "updated_at")); u.Before(last) {
		t.Errorf("updated_at %v before last run %v", u, last)
	}

	// 09:00 New York is 14:00Z in November; next_execution_at is read in UTC.
	clk.Set(time.Date(2025, 11, 20, 13, 59, 0, 0, time.UTC))
	if m := getJob(t, ts, "ny"); num(m, "total_executions") != 0 {
		t.Errorf("ny ran early: %v", m)
	}
	clk.Set(time.Date(2025, 11, 20, 14, 0, 30, 0, time.UTC))
	m = getJob(t, ts, "ny")
	if num(m, "total_executions") != 1 || !strings.HasPrefix(str(m, "last_execution_at"), "2025-11-20T14:00:0") ||
		str(m, "next_execution_at") != "2025-11-21T09:00:00Z" || num(m, "successful_executions")+num(m, "failed_executions") != 1 {
		t.Errorf("ny after its run: %v", m)
	}
	// At 09:00Z the reported next time passes, but the job does not run.
	clk.Set(time.Date(2025, 11, 21, 9, 30, 0, 0, time.UTC))
	m = getJob(t, ts, "ny")
	if num(m, "total_executions") != 1 || str(m, "next_execution_at") != "2025-11-21T09:00:00Z" {
		t.Errorf("ny at 09:30Z: %v", m)
	}
	// Tokyo midnight is 15:00Z; @daily in UTC is 00:00Z.
	m = getJob(t, ts, "tokyo-desc")
	if num(m, "total_executions") != 1 || !strings.HasPrefix(str(m, "last_execution_at"), "2025-11-20T15:00:0") ||
		str(m, "next_execution_at") != "2025-11-21T00:00:00Z" { // already stale at 09:30Z
		t.Errorf("tokyo @daily: %v", m)
	}
	m = getJob(t, ts, "disabled")
	if num(m, "total_executions") != 0 || str(m, "next_execution_at") != "2025-11-10T02:30:00Z" || str(m, "status") != "disabled" {
		t.Errorf("disabled: %v", m)
	}
	// The minutely job caught up on a whole day lazily.
	m = getJob(t, ts, "minutely")
	if got := num(m, "total_executions"); got != 5+23*60+9 {
		t.Errorf("minutely after a day: %d", got)
	}
	if num(m, "successful_executions")+num(m, "failed_executions") != num(m, "total_executions") {
		t.Errorf("counts do not add up: %v", m)
	}

	// Disabling keeps the next time (stale) and stops runs; enabling resumes.
	if err := sim.SetEnabled("minutely", false); err != nil {
		t.Fatal(err)
	}
	before := getJob(t, ts, "minutely")
	clk.Add(time.Hour)
	after := getJob(t, ts, "minutely")
	if num(after, "total_executions") != num(before, "total_executions") || str(after, "next_execution_at") != str(before, "next_execution_at") ||
		str(after, "status") != "disabled" || after["enabled"] != false {
		t.Errorf("disabled minutely moved: %v -> %v", before, after)
	}
	if err := sim.SetEnabled("minutely", true); err != nil {
		t.Fatal(err)
	}
	clk.Add(90 * time.Second)
	if m := getJob(t, ts, "minutely"); num(m, "total_executions") != num(before, "total_executions")+1 || str(m, "status") != "active" {
		t.Errorf("re-enabled (missed runs skipped): %d vs %d", num(m, "total_executions"), num(before, "total_executions"))
	}
}

// TestCronSemantics: the simulator runs jobs as the control plane (Temporal)
// does, with the exporter's engine: day of month AND day of week, a wall
// time in a gap skipped, one in an overlap run twice.
func TestCronSemantics(t *testing.T) {
	created := t0.Add(-24 * time.Hour)
	job := func(id, spec, tz string) Job {
		return Job{ID: id, Name: id, Enabled: true, TriggerType: "cron", CronSchedule: Ptr(spec), CronTimezone: Ptr(tz),
			PromptTemplate: "p", CreatedAt: created, UpdatedAt: created}
	}
	// t0 is Thursday 2025-11-20; the next 1st that is a Monday is 2025-12-01.
	// New York fell back on 2025-11-02, and springs forward on 2026-03-08.
	_, ts, clk := newSim(t, []Job{
		job("first-monday", "0 12 1 * MON", "UTC"),
		job("gap", "30 2 * * *", "America/New_York"),
	})
	clk.Set(time.Date(2025, 12, 1, 12, 0, 30, 0, time.UTC))
	if m := getJob(t, ts, "first-monday"); num(m, "total_executions") != 1 ||
		!strings.HasPrefix(str(m, "last_execution_at"), "2025-12-01T12:00:0") {
		t.Errorf("first-monday ran other than on Monday the 1st: %v", m)
	}
	// 2026-03-08 02:30 does not exist in New York: runs on 03-07 (07:30Z)
	// and 03-09 (06:30Z), none between.
	clk.Set(time.Date(2026, 3, 7, 7, 31, 0, 0, time.UTC))
	before := num(getJob(t, ts, "gap"), "total_executions")
	clk.Set(time.Date(2026, 3, 9, 6, 29, 0, 0, time.UTC))
	if m := getJob(t, ts, "gap"); num(m, "total_executions") != before {
		t.Errorf("gap: ran in the spring-forward gap: %v", m)
	}
	clk.Set(time.Date(2026, 3, 9, 6, 31, 0, 0, time.UTC))
	if m := getJob(t, ts, "gap"); num(m, "total_executions") != before+1 {
		t.Errorf("gap: did not run on 03-09: %v", m)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() []byte {
		clk := &fakeClock{t: t0}
		sim := New(Options{APIKey: testKey, Now: clk.Now, Seed: 3})
		clk.Add(3 * time.Hour)
		ts := httptest.NewServer(sim)
		defer ts.Close()
		return get(t, ts, "/api/v1/jobs").body
	}
	if a, b := run(), run(); !bytes.Equal(a, b) {
		t.Error("same seed and clock gave different lists")
	}
}

func TestJobControls(t *testing.T) {
	sim, ts, clk := newSim(t, nil)

	// Failing: every later run fails.
	before := getJob(t, ts, JobEveryMinute)
	if err := sim.SetJobFailing(JobEveryMinute, true); err != nil {
		t.Fatal(err)
	}
	clk.Add(10*time.Minute + 30*time.Second)
	m := getJob(t, ts, JobEveryMinute)
	if d := num(m, "failed_executions") - num(before, "failed_executions"); d != 10 ||
		num(m, "successful_executions") != num(before, "successful_executions") {
		t.Errorf("failing: +%d failed, %v -> %v", d, before, m)
	}

	// Stopped: no runs, still enabled and active, next goes stale.
	if err := sim.StopJob(JobEveryMinute); err != nil {
		t.Fatal(err)
	}
	before = getJob(t, ts, JobEveryMinute)
	clk.Add(time.Hour)
	m = getJob(t, ts, JobEveryMinute)
	if num(m, "total_executions") != num(before, "total_executions") || m["enabled"] != true || str(m, "status") != "active" ||
		str(m, "next_execution_at") != str(before, "next_execution_at") || !mustTime(t, str(m, "next_execution_at")).Before(sim.Now()) {
		t.Errorf("stopped: %v -> %v", before, m)
	}

	// Recreate: counter reset.
	if err := sim.RecreateJob(JobNightly); err != nil {
		t.Fatal(err)
	}
	m = getJob(t, ts, JobNightly)
	if num(m, "total_executions") != 0 || m["last_execution_at"] != nil || m["last_execution_id"] != nil ||
		str(m, "created_at") != FormatTime(sim.Now()) || m["id"] != JobNightly {
		t.Errorf("recreated: %v", m)
	}

	// Trigger: a manual run, in flight, then completed.
	id, err := sim.TriggerJob(JobManual)
	if err != nil {
		t.Fatal(err)
	}
	m = getJob(t, ts, JobManual)
	if str(m, "last_execution_id") != id || num(m, "total_executions")-num(m, "successful_executions")-num(m, "failed_executions") != 1 {
		t.Errorf("triggered: %v", m)
	}
	clk.Add(time.Minute)
	if ex := getExecs(t, ts, JobManual, "?limit=1"); ex.Executions[0].ExecutionID != id || ex.Executions[0].TriggerType != "manual" ||
		ex.Executions[0].Status == "running" {
		t.Errorf("triggered run: %+v", ex.Executions[0])
	}

	// Status and delete.
	if err := sim.SetStatus(JobHourly, "failed"); err != nil {
		t.Fatal(err)
	}
	if m := getJob(t, ts, JobHourly); str(m, "status") != "failed" || m["enabled"] != true {
		t.Errorf("status: %v", m)
	}
	if err := sim.DeleteJob(JobHourly); err != nil {
		t.Fatal(err)
	}
	if r := get(t, ts, "/api/v1/jobs/"+JobHourly); r.status != 404 {
		t.Errorf("deleted: %d", r.status)
	}
	var noJob ErrNoJob
	if err := sim.SetJobFailing("nope", true); !errors.As(err, &noJob) {
		t.Errorf("unknown job: %v", err)
	}

	// Upsert: a new job shows up first in the list (newest).
	sim.UpsertJob(Job{ID: "job_new", Name: "new", Enabled: true, TriggerType: "manual", CreatedAt: sim.Now(), UpdatedAt: sim.Now()})
	if ids := sim.JobIDs(); ids[0] != "job_new" {
		t.Errorf("upserted job not first: %v", ids)
	}
}

func TestCounters(t *testing.T) {
	sim, ts, _ := newSim(t, nil)
	get(t, ts, "/api/v1/jobs/"+JobNightly)
	get(t, ts, "/api/v1/jobs/"+JobNightly)
	get(t, ts, "/api/v1/jobs/unknown")
	get(t, ts, "/api/v1/jobs")
	get(t, ts, "/api/v1/jobs/"+JobNightly+"/executions")
	get(t, ts, "/api/health")
	want := map[string]int64{KindGetJob: 3, KindListJobs: 1, KindExecutions: 1, KindHealth: 1}
	if got := sim.Requests(); !mapsEqual(got, want) {
		t.Errorf("Requests() = %v, want %v", got, want)
	}
	if n := sim.JobRequests(JobNightly); n != 2 {
		t.Errorf("JobRequests = %d", n)
	}
	sim.ResetCounters()
	if got := sim.Requests(); got[KindGetJob] != 0 || sim.JobRequests(JobNightly) != 0 {
		t.Errorf("after reset: %v", got)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestJobJSONRoundTrip(t *testing.T) {
	sim, _, _ := newSim(t, nil)
	for _, j := range sim.Jobs() {
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		var back Job
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		back.FailureRate = j.FailureRate
		b2, _ := json.Marshal(back)
		if !bytes.Equal(b, b2) {
			t.Errorf("round trip\n%s\n%s", b, b2)
		}
	}
}

func TestStringEscaping(t *testing.T) {
	for _, s := range []string{"plain", `q"uote\back`, "nl\n\t\r\x01", "<html>&", "ünï💥", "bad\xffutf8", "\u2028"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q → %s: %v", s, got, err)
			continue
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("%q → %s → %q", s, got, back)
		}
	}
	if got := string(appendString(nil, "<&>")); got != `"<&>"` {
		t.Errorf("HTML-escaped: %s", got)
	}
}

func TestFillSecrets(t *testing.T) {
	const canary = "CANARY-5f1e"
	_, ts, _ := newSim(t, FillSecrets(DefaultJobs(), canary))
	for _, j := range DefaultJobs() {
		m := getJob(t, ts, j.ID)
		for _, k := range []string{"webhook_secret", "webhook_url", "prompt_template", "system_prompt"} {
			if !strings.Contains(str(m, k), canary) {
				t.Errorf("%s.%s lacks the canary", j.ID, k)
			}
		}
		for _, k := range []string{"config", "execution_environment"} {
			if b, _ := json.Marshal(m[k]); !strings.Contains(string(b), canary) {
				t.Errorf("%s.%s lacks the canary", j.ID, k)
			}
		}
	}
}
