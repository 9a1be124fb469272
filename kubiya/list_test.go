package kubiya

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
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
