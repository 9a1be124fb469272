package kubiya

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func listJob(i int) string {
	return strings.Replace(validJob, `"id":"job_1"`, `"id":"job_`+strconv.Itoa(i)+`"`, 1)
}

func TestListJobs(t *testing.T) {
	const jsonCT = "application/json"
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		wantClass   Class
		wantJobs    int
		wantSkipped []SkippedJob // Index and ID only
	}{
		{"empty array", respond(200, jsonCT, `[]`), ClassOK, 0, nil},
		{"two jobs", respond(200, jsonCT, "[\n"+listJob(1)+",\n"+listJob(2)+"\n]\n"), ClassOK, 2, nil},
		{"bad element skipped, ID kept", respond(200, jsonCT,
			`[`+listJob(1)+`,{"id":"job_bad","total_executions":"many"},`+listJob(3)+`]`), ClassOK, 2,
			[]SkippedJob{{Index: 1, ID: "job_bad"}}},
		{"bad timestamp skipped", respond(200, jsonCT,
			`[{"id":"job_t","created_at":"yesterday"},`+listJob(2)+`]`), ClassOK, 1, []SkippedJob{{Index: 0, ID: "job_t"}}},
		{"null, scalar and id-less elements skipped", respond(200, jsonCT,
			`[null,7,"x",{"name":"no id"},`+listJob(1)+`]`), ClassOK, 1,
			[]SkippedJob{{Index: 0}, {Index: 1}, {Index: 2}, {Index: 3}}},
		{"object, not array", respond(200, jsonCT, validJob), ClassBadResponse, 0, nil},
		{"FastAPI error body with 200", respond(200, jsonCT, `{"detail":"x"}`), ClassBadResponse, 0, nil},
		{"truncated", respond(200, jsonCT, `[`+listJob(1)+`,{"id":"job_2","na`), ClassBadResponse, 0, nil},
		{"syntax error in an element", respond(200, jsonCT, `[`+listJob(1)+`,{"id":}]`), ClassBadResponse, 0, nil},
		{"trailing data", respond(200, jsonCT, `[]{}`), ClassBadResponse, 0, nil},
		{"empty body", respond(200, jsonCT, ``), ClassBadResponse, 0, nil},
		{"HTML", respond(200, "text/html", `<html>oops</html>`), ClassBadResponse, 0, nil},
		{"401", respond(401, jsonCT, `{"detail":{"error":"Unauthorized"}}`), ClassUnauthorized, 0, nil},
		{"422", respond(422, jsonCT, `{"detail":[]}`), ClassInvalidRequest, 0, nil},
		{"500", respond(500, jsonCT, `{"detail":"Failed"}`), ClassServerError, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newTestClient(t, tt.handler)
			list, err := c.ListJobs(context.Background(), ListFilter{})
			if got := ClassOf(err); got != tt.wantClass {
				t.Fatalf("class = %s (%v), want %s", got, err, tt.wantClass)
			}
			if len(rec.classes) == 0 || rec.classes[len(rec.classes)-1] != tt.wantClass {
				t.Errorf("observed %v, want the last to be %s", rec.classes, tt.wantClass)
			}
			if err != nil {
				if strings.Contains(err.Error(), "oops") || strings.Contains(err.Error(), "Failed") {
					t.Errorf("error quotes the body: %v", err)
				}
				return
			}
			if len(list.Jobs) != tt.wantJobs {
				t.Errorf("jobs = %d, want %d", len(list.Jobs), tt.wantJobs)
			}
			if len(list.Skipped) != len(tt.wantSkipped) {
				t.Fatalf("skipped = %+v, want %+v", list.Skipped, tt.wantSkipped)
			}
			for i, s := range list.Skipped {
				if s.Index != tt.wantSkipped[i].Index || s.ID != tt.wantSkipped[i].ID || s.Err == nil {
					t.Errorf("skipped[%d] = %+v, want %+v with an error", i, s, tt.wantSkipped[i])
				}
				if strings.Contains(s.Err.Error(), "many") || strings.Contains(s.Err.Error(), "yesterday") {
					t.Errorf("skip reason quotes a value: %v", s.Err)
				}
			}
		})
	}
}

func TestListJobsQuery(t *testing.T) {
	tests := []struct {
		filter ListFilter
		want   string
	}{
		{ListFilter{}, ""},
		{ListFilter{Enabled: boolPtr(true)}, "enabled=true"},
		{ListFilter{Enabled: boolPtr(false), TriggerType: "cron"}, "enabled=false&trigger_type=cron"},
		{ListFilter{TriggerType: "webhook"}, "trigger_type=webhook"},
	}
	for _, tt := range tests {
		var path, query string
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			path, query = r.URL.EscapedPath(), r.URL.RawQuery
			_, _ = w.Write([]byte(`[]`))
		})
		if _, err := c.ListJobs(context.Background(), tt.filter); err != nil {
			t.Fatal(err)
		}
		if path != "/api/v1/jobs" || query != tt.want {
			t.Errorf("%+v: requested %s?%s, want /api/v1/jobs?%s", tt.filter, path, query, tt.want)
		}
	}
}

func TestListJobsRetriesGatewayErrors(t *testing.T) {
	calls := 0
	c, rec := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`[` + listJob(1) + `]`))
	})
	list, err := c.ListJobs(context.Background(), ListFilter{})
	if err != nil || len(list.Jobs) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if calls != 2 || len(rec.classes) != 2 || rec.classes[0] != ClassServerError || rec.classes[1] != ClassOK {
		t.Errorf("calls %d, observed %v; want 2 calls: server_error then ok", calls, rec.classes)
	}
}

func TestListJobsBodyCap(t *testing.T) {
	body := "[" + listJob(1) + "," + listJob(2) + "]"
	srv := httptest.NewServer(respond(200, "application/json", body))
	defer srv.Close()
	for _, tt := range []struct {
		limit int64
		want  Class
	}{{int64(len(body)), ClassOK}, {int64(len(body)) - 1, ClassBadResponse}, {10, ClassBadResponse}} {
		c, err := NewClient(srv.URL, srv.Client(), Options{MaxListBodyBytes: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListJobs(context.Background(), ListFilter{})
		if ClassOf(err) != tt.want {
			t.Errorf("cap %d (body %d): %v, want %s", tt.limit, len(body), err, tt.want)
		}
		if tt.want == ClassBadResponse && tt.limit < int64(len(body)) && !strings.Contains(err.Error(), "cap") {
			t.Errorf("cap %d: error %q does not name the cap", tt.limit, err)
		}
	}
}

func boolPtr(b bool) *bool { return &b }

// countingBody records the largest read the decoder asked for.
type countingBody struct {
	r        io.Reader
	maxChunk int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.maxChunk = max(c.maxChunk, n)
	return n, err
}

// TestDecodeLargeListStreams decodes a 20,000-job list from a reader and
// checks the decoder never asked for more than a small buffer at a time:
// the list is never held whole.
func TestDecodeLargeListStreams(t *testing.T) {
	const n = 20000
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "[")
		for i := range n {
			if i > 0 {
				_, _ = io.WriteString(pw, ",")
			}
			_, _ = io.WriteString(pw, listJob(i))
		}
		_, _ = io.WriteString(pw, "]")
		_ = pw.Close()
	}()
	body := &countingBody{r: pr}
	list, err := decodeJobList(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Jobs) != n || list.Jobs[n-1].ID != fmt.Sprintf("job_%d", n-1) {
		t.Fatalf("decoded %d jobs, want %d in order", len(list.Jobs), n)
	}
	if body.maxChunk > 64<<10 {
		t.Errorf("largest read %d bytes: the body was buffered, not streamed", body.maxChunk)
	}
}

// TestListJobsNetworkErrorMidBody: a connection cut mid-list is the
// transport's class, not bad_response.
func TestListJobsNetworkErrorMidBody(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write([]byte("[" + listJob(1) + ","))
		w.(http.Flusher).Flush()
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		}
	})
	_, err := c.ListJobs(context.Background(), ListFilter{})
	if ClassOf(err) != ClassNetwork {
		t.Errorf("class = %s (%v), want network", ClassOf(err), err)
	}
}

// TestDecodeJobList pins what the list decoder serves: one bad element is
// skipped with its reason and the rest served; a broken stream fails whole.
func TestDecodeJobList(t *testing.T) {
	skip := func(i int, id, err string) SkippedJob { return SkippedJob{Index: i, ID: id, Err: errors.New(err)} }
	tests := []struct {
		name    string
		body    string
		jobs    []string // IDs
		skipped []SkippedJob
		err     string // "" = decodes
	}{
		{"empty", ` [ ] `, nil, nil, ""},
		{"wrong type in the middle", `[` + listJob(1) + `,{"id":"job_2","total_executions":"many"},` + listJob(3) + `]`,
			[]string{"job_1", "job_3"}, []SkippedJob{skip(1, "job_2", `field "total_executions": want int64, got JSON string`)}, ""},
		{"wrong type before the id", `[{"total_executions":1.5,"id":"job_1"},` + listJob(2) + `]`,
			[]string{"job_2"}, []SkippedJob{skip(0, "job_1", `field "total_executions": want int64, got JSON number`)}, ""},
		{"bad timestamp", `[` + listJob(1) + `,{"id":"job_2","created_at":"yesterday"}]`,
			[]string{"job_1"}, []SkippedJob{skip(1, "job_2", "unparsable timestamp (9 bytes)")}, ""},
		{"not jobs", `[null,7,"x",[],{"name":"no id"},` + listJob(5) + `]`, []string{"job_5"}, []SkippedJob{
			skip(0, "", "not a job: no id"), skip(1, "", "field \"\": want kubiya.Job, got JSON number"),
			skip(2, "", "field \"\": want kubiya.Job, got JSON string"), skip(3, "", "field \"\": want kubiya.Job, got JSON array"),
			skip(4, "", "not a job: no id")}, ""},
		{"truncated in an element", `[` + listJob(1) + `,{"id":"job_2","na`, nil, nil, "element 1: truncated JSON"},
		{"truncated after an element", `[` + listJob(1), nil, nil, "truncated JSON"},
		{"syntax error in an element", `[` + listJob(1) + `,{"id":}]`, nil, nil, "element 1: invalid JSON near byte"},
		{"trailing comma", `[` + listJob(1) + `,]`, nil, nil, "element 1: invalid JSON near byte"},
		{"data after the array", `[]{}`, nil, nil, "data after the JSON array"},
		{"an object", validJob, nil, nil, "not a JSON array (starts with '{')"},
		{"a huge number", `1e999`, nil, nil, "not a JSON array: a number"},
		{"empty body", ``, nil, nil, "truncated JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := decodeJobList(strings.NewReader(tt.body))
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range list.Jobs {
				ids = append(ids, j.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.jobs) || fmt.Sprint(list.Skipped) != fmt.Sprint(tt.skipped) {
				t.Errorf("jobs %v, skipped %v; want %v, %v", ids, list.Skipped, tt.jobs, tt.skipped)
			}
		})
	}
	for _, body := range listSeeds() {
		checkList(t, []byte(body))
	}
	checkList(t, simulatorList(t, 200))
}

// TestDecodeJobListTimesAndSecrets: listed jobs take every timestamp form
// the API notes list, and secret fields reach neither a job nor an error.
func TestDecodeJobListTimesAndSecrets(t *testing.T) {
	const canary = "CANARY-SECRET"
	secrets := `"webhook_url":"https://h/` + canary + `","webhook_secret":"` + canary + `","prompt_template":"` + canary +
		`","system_prompt":"` + canary + `","config":{"k":"` + canary + `"},"execution_environment":{"env_vars":{"K":"` + canary + `"}}`
	body := `[{"id":"job_1",` + secrets + `,"last_execution_at":"2025-11-20T10:15:30.123456Z","next_execution_at":"2025-11-21T22:30:00+05:30",
		"created_at":"2025-11-21T17:00:00","updated_at":"2025-11-21 17:00:00.5","last_triggered_at":null},
		{"id":"job_2",` + secrets + `,"total_executions":"` + canary + `"}]`
	list, err := decodeJobList(strings.NewReader(body))
	if err != nil || len(list.Jobs) != 1 || len(list.Skipped) != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	j := list.Jobs[0]
	for _, tt := range []struct {
		got  Time
		want time.Time
	}{
		{j.LastExecutionAt, time.Date(2025, 11, 20, 10, 15, 30, 123456000, time.UTC)},
		{j.NextExecutionAt, time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{j.CreatedAt, time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{j.UpdatedAt, time.Date(2025, 11, 21, 17, 0, 0, 500000000, time.UTC)},
		{j.LastTriggeredAt, time.Time{}},
	} {
		if !tt.got.Equal(tt.want) || tt.got.Location() != time.UTC {
			t.Errorf("got %v, want %v", tt.got, tt.want)
		}
	}
	if s := fmt.Sprintf("%+v %v", *j, list.Skipped); strings.Contains(s, canary) {
		t.Errorf("a secret reached the decoded list: %s", s)
	}
}
