package kubiya

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A realistic answer with every documented status, nulls and an unknown
// field, newest first.
const executionsBody = `{"job_id":"job_1","total_count":42,"executions":[
 {"execution_id":"e6","trigger_type":"cron","status":"pending","started_at":"2025-11-20T17:05:00Z","completed_at":null,"duration_ms":null,"error_message":null,"trigger_metadata":{"scheduled_time":"2025-11-20T17:05:00Z"}},
 {"execution_id":"e5","trigger_type":"cron","status":"running","started_at":"2025-11-20T17:00:03.412877Z","completed_at":null,"duration_ms":null,"error_message":null,"trigger_metadata":null},
 {"execution_id":"e4","trigger_type":"manual","status":"waiting_for_input","started_at":"2025-11-20T16:00:00+00:00","trigger_metadata":{"triggered_by":"api"}},
 {"execution_id":"e3","trigger_type":"cron","status":"failed","started_at":"2025-11-19T17:00:02Z","completed_at":"2025-11-19T17:00:09.5Z","duration_ms":7500,"error_message":"Integration 'github' credentials expired"},
 {"execution_id":"e2","trigger_type":"webhook","status":"cancelled","started_at":"2025-11-18T17:00:02","completed_at":"2025-11-18T17:00:03Z","duration_ms":1000.5,"new_field":[1,2]},
 {"execution_id":"e1","trigger_type":"cron","status":"completed","started_at":"2025-11-17T17:00:01Z","completed_at":"2025-11-17T17:00:04Z","duration_ms":3000},
 null
]}`

func TestDecodeExecutions(t *testing.T) {
	got, err := DecodeExecutions([]byte(executionsBody))
	if err != nil {
		t.Fatal(err)
	}
	if got.JobID != "job_1" || got.TotalCount != 42 || len(got.Executions) != 6 {
		t.Fatalf("got job %q total %d with %d executions, want job_1, 42, 6 (null element dropped)", got.JobID, got.TotalCount, len(got.Executions))
	}
	wantStatuses := []string{"pending", "running", "waiting_for_input", "failed", "cancelled", "completed"}
	for i, e := range got.Executions {
		if e.Status != wantStatuses[i] {
			t.Errorf("executions[%d].status = %q, want %q", i, e.Status, wantStatuses[i])
		}
	}
	e := got.Executions
	if e[0].DurationMS != nil || !e[0].CompletedAt.IsZero() || e[0].ErrorMessage != "" {
		t.Errorf("nulls not decoded as absent: %+v", e[0])
	}
	if want := time.Date(2025, 11, 20, 17, 0, 3, 412877000, time.UTC); !e[1].StartedAt.Equal(want) {
		t.Errorf("started_at = %s, want %s", e[1].StartedAt, want)
	}
	if want := time.Date(2025, 11, 18, 17, 0, 2, 0, time.UTC); !e[4].StartedAt.Equal(want) {
		t.Errorf("naive started_at = %s, want %s (UTC)", e[4].StartedAt, want)
	}
	if e[3].DurationMS == nil || *e[3].DurationMS != 7500 || e[3].ErrorMessage == "" || e[3].ID != "e3" || e[3].TriggerType != "cron" {
		t.Errorf("failed execution = %+v", e[3])
	}
	if e[4].DurationMS == nil || *e[4].DurationMS != 1000.5 {
		t.Errorf("fractional duration_ms not kept: %+v", e[4])
	}
}

func TestDecodeExecutionsTolerates(t *testing.T) {
	for name, body := range map[string]string{
		"empty list":           `{"job_id":"job_1","total_count":0,"executions":[]}`,
		"null list":            `{"job_id":"job_1","total_count":0,"executions":null}`,
		"only executions":      `{"executions":[]}`,
		"surrounding space":    " \n{\"executions\":[]}\n",
		"empty element":        `{"executions":[{}]}`,
		"unknown status":       `{"executions":[{"execution_id":"e","status":"queued_for_review"}]}`,
		"null total and jobid": `{"job_id":null,"total_count":null,"executions":[]}`,
	} {
		if _, err := DecodeExecutions([]byte(body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeExecutionsRejects(t *testing.T) {
	const secret = "CANARY-EXEC"
	tests := []struct{ name, body, wantErr string }{
		{"empty", ``, "empty body"},
		{"array", `[{"execution_id":"e"}]`, "not a JSON object"},
		{"html", `<html>502</html>`, "not a JSON object"},
		{"no executions key", `{"detail":"` + secret + `"}`, "no executions key"},
		{"executions not an array", `{"executions":{"status":"` + secret + `"}}`, "want an array"},
		{"executions a string", `{"executions":"` + secret + `"}`, "want an array"},
		{"element not an object", `{"executions":["` + secret + `"]}`, "element: want an object"},
		{"status wrong type", `{"executions":[{"status":7}]}`, "status"},
		{"duration wrong type", `{"executions":[{"duration_ms":"` + secret + `"}]}`, "duration_ms"},
		{"error_message wrong type", `{"executions":[{"error_message":{"token":"` + secret + `"}}]}`, "error_message"},
		{"bad timestamp", `{"executions":[{"started_at":"` + secret + `"}]}`, "unparsable timestamp"},
		{"truncated", executionsBody[:200], "truncated"},
		{"total wrong type", `{"total_count":"` + secret + `","executions":[]}`, "total_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeExecutions([]byte(tt.body))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes the body: %q", err)
			}
		})
	}
}

func TestListExecutionsRequest(t *testing.T) {
	var path, query atomic.Value
	c, rec := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.EscapedPath())
		query.Store(r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"job_id":"job_1","total_count":1,"executions":[{"execution_id":"e1","status":"completed"}]}`))
	})
	got, err := c.ListExecutions(context.Background(), "job_1", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Executions) != 1 || got.Executions[0].Status != "completed" {
		t.Fatalf("got %+v", got)
	}
	if p := path.Load(); p != "/api/v1/jobs/job_1/executions" {
		t.Errorf("path = %v", p)
	}
	if q := query.Load(); q != "limit=20&offset=0" {
		t.Errorf("query = %v", q)
	}
	if len(rec.classes) != 1 || rec.classes[0] != ClassOK {
		t.Errorf("observed %v, want [ok]", rec.classes)
	}
	// The ID stays one path segment, as for GetJob.
	if _, err := c.ListExecutions(context.Background(), "../x?y", 5); err != nil {
		t.Fatal(err)
	}
	if p := path.Load(); p != "/api/v1/jobs/..%2Fx%3Fy/executions" && p != "/api/v1/jobs/%2E%2E%2Fx%3Fy/executions" {
		t.Errorf("escaped path = %v", p)
	}
}

func TestListExecutionsFailureClasses(t *testing.T) {
	const jsonCT = "application/json"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Class
	}{
		{"ok", respond(200, jsonCT, `{"executions":[]}`), ClassOK},
		{"not found", respond(404, jsonCT, `{"detail":"Job job_1 not found"}`), ClassNotFound},
		{"invalid limit", respond(422, jsonCT, `{"detail":[{"loc":["query","limit"],"msg":"bad","type":"x"}]}`), ClassInvalidRequest},
		{"server error", respond(500, jsonCT, `{"detail":"boom"}`), ClassServerError},
		{"bad body", respond(200, jsonCT, `{"detail":"x"}`), ClassBadResponse},
		{"over the cap", respond(200, jsonCT, `{"executions":[{"error_message":"`+strings.Repeat("x", 2<<10)+`"}]}`), ClassBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newTestClient(t, tt.handler)
			_, err := c.ListExecutions(context.Background(), "job_1", 20)
			if got := ClassOf(err); got != tt.want {
				t.Fatalf("class = %s (err %v), want %s", got, err, tt.want)
			}
			if len(rec.classes) == 0 || rec.classes[len(rec.classes)-1] != tt.want {
				t.Fatalf("observed %v, want last %s", rec.classes, tt.want)
			}
		})
	}
}

func TestListExecutionsRetriesGatewayErrors(t *testing.T) {
	var calls atomic.Int32
	c, rec := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"executions":[]}`))
	})
	if _, err := c.ListExecutions(context.Background(), "job_1", 20); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(rec.classes) != 2 || rec.classes[0] != ClassServerError || rec.classes[1] != ClassOK {
		t.Fatalf("calls %d, observed %v; want 2 calls, [server_error ok]", calls.Load(), rec.classes)
	}
}
