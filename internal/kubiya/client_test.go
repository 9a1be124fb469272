package kubiya

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

const validJob = `{"id":"job_1","organization_id":"acme-corp","name":"n","enabled":true,"status":"active",
"trigger_type":"cron","total_executions":3,"successful_executions":2,"failed_executions":1,
"created_at":"2025-10-01T09:12:44.518203Z","updated_at":"2025-10-01T09:12:44Z"}`

type recorder struct {
	mu      sync.Mutex
	classes []Class
}

func (r *recorder) ObserveRequest(_ Endpoint, c Class, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.classes = append(r.classes, c)
}

func newTestClient(t *testing.T, h http.HandlerFunc) (*Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	c, err := NewClient(srv.URL, srv.Client(), Options{UserAgent: "kubiya_exporter/test", Observer: rec, MaxBodyBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func respond(code int, contentType, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func TestGetJobFailureClasses(t *testing.T) {
	const jsonCT, htmlCT = "application/json", "text/html"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Class
	}{
		{"ok", respond(200, jsonCT, validJob), ClassOK},
		{"not found", respond(404, jsonCT, `{"detail":"Job job_1 not found"}`), ClassNotFound},
		{"unauthorized", respond(401, jsonCT, `{"detail":{"error":"Unauthorized","message":"Invalid or expired authentication token","hint":"h"}}`), ClassUnauthorized},
		{"forbidden", respond(403, jsonCT, `{"detail":"Forbidden"}`), ClassUnauthorized},
		{"invalid request", respond(422, jsonCT, `{"detail":[{"loc":["path","job_id"],"msg":"bad","type":"value_error"}]}`), ClassInvalidRequest},
		{"rate limited", respond(429, jsonCT, `{}`, "Retry-After", "30"), ClassRateLimited},
		{"server error", respond(500, jsonCT, `{"detail":"Failed to get job: boom"}`), ClassServerError},
		{"bad gateway html", respond(502, htmlCT, `<html><body>502 Bad Gateway</body></html>`), ClassServerError},
		{"html page with 200", respond(200, htmlCT, `<html><body>login</body></html>`), ClassBadResponse},
		{"truncated", respond(200, jsonCT, validJob[:40]), ClassBadResponse},
		{"wrong type", respond(200, jsonCT, strings.Replace(validJob, `"total_executions":3`, `"total_executions":"42"`, 1)), ClassBadResponse},
		{"empty", respond(200, jsonCT, ""), ClassBadResponse},
		{"array", respond(200, jsonCT, `[`+validJob+`]`), ClassBadResponse},
		{"scalar", respond(200, jsonCT, `42`), ClassBadResponse},
		{"object without id", respond(200, jsonCT, `{"name":"x"}`), ClassBadResponse},
		{"bad timestamp", respond(200, jsonCT, strings.Replace(validJob, `"2025-10-01T09:12:44Z"`, `"yesterday"`, 1)), ClassBadResponse},
		{"over the cap", respond(200, jsonCT, `{"id":"job_1","name":"`+strings.Repeat("x", 2<<10)+`"}`), ClassBadResponse},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, ClassTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newTestClient(t, tt.handler)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			job, err := c.GetJob(ctx, "job_1")
			if got := ClassOf(err); got != tt.want {
				t.Fatalf("class = %s (err %v), want %s", got, err, tt.want)
			}
			if tt.want == ClassOK && job.ID != "job_1" {
				t.Fatalf("job = %+v", job)
			}
			if len(rec.classes) == 0 || rec.classes[len(rec.classes)-1] != tt.want {
				t.Fatalf("observed %v, want last %s", rec.classes, tt.want)
			}
		})
	}
}

func TestGetJobNetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now: connection refused
	c, err := NewClient("http://"+addr, http.DefaultClient, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(context.Background(), "job_1")
	if ClassOf(err) != ClassNetwork {
		t.Fatalf("class = %s (%v), want network", ClassOf(err), err)
	}
}

func TestErrorsNeverEchoBodies(t *testing.T) {
	const secret = "CANARY-SECRET"
	for _, h := range []http.HandlerFunc{
		respond(500, "application/json", `{"detail":"Failed to get job: `+secret+`"}`),
		respond(200, "application/json", `{"id":"job_1","total_executions":"`+secret+`"}`),
		respond(200, "application/json", `{"id":"job_1","created_at":"`+secret+`"}`),
		respond(200, "text/html", `<p>`+secret+`</p>`),
	} {
		c, _ := newTestClient(t, h)
		_, err := c.GetJob(context.Background(), "job_1")
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("error %v echoes the body", err)
		}
	}
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		_, _ = w.Write([]byte(validJob))
	})
	if _, err := c.GetJob(context.Background(), "job_1"); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodGet || got.URL.Path != "/api/v1/jobs/job_1" {
		t.Errorf("request = %s %s", got.Method, got.URL.Path)
	}
	if ua := got.Header.Get("User-Agent"); ua != "kubiya_exporter/test" {
		t.Errorf("User-Agent = %q", ua)
	}
}

// TestPathEscaping: whatever the ID, the request stays on /api/v1/jobs/<one segment>.
func TestPathEscaping(t *testing.T) {
	tests := []struct{ id, wantRawPath string }{
		{"job_1", "/base/api/v1/jobs/job_1"},
		{"../../health", "/base/api/v1/jobs/%2E%2E%2F%2E%2E%2Fhealth"},
		{"x/executions", "/base/api/v1/jobs/x%2Fexecutions"},
		{"a?b=c", "/base/api/v1/jobs/a%3Fb=c"},
		{"..", "/base/api/v1/jobs/%2E%2E"},
		{"a#frag", "/base/api/v1/jobs/a%23frag"},
		{"a b", "/base/api/v1/jobs/a%20b"},
	}
	for _, tt := range tests {
		var rawPath, query string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rawPath, query = r.URL.EscapedPath(), r.URL.RawQuery
			w.WriteHeader(404)
		}))
		c, err := NewClient(srv.URL+"/base/", srv.Client(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.GetJob(context.Background(), tt.id)
		srv.Close()
		if rawPath != tt.wantRawPath || query != "" {
			t.Errorf("id %q requested %q?%s, want %q", tt.id, rawPath, query, tt.wantRawPath)
		}
	}
}

func TestTimestampForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-11-20T10:15:30.123456Z", time.Date(2025, 11, 20, 10, 15, 30, 123456000, time.UTC)},
		{"2025-11-21T17:00:00Z", time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{"2025-11-21T17:00:00+00:00", time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{"2025-11-21T22:30:00+05:30", time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{"2025-11-21T12:00:00.5-05:00", time.Date(2025, 11, 21, 17, 0, 0, 500000000, time.UTC)},
		{"2025-11-21T17:00:00", time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
		{"2025-11-21T17:00:00.000001", time.Date(2025, 11, 21, 17, 0, 0, 1000, time.UTC)},
		{"2025-11-21 17:00:00", time.Date(2025, 11, 21, 17, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "2025-13-01T00:00:00Z", "1700000000", "2025-11-21T17:00:00 UTC"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestDecodeJobNullsAndExtras(t *testing.T) {
	j, err := DecodeJob([]byte(`{"id":"job_1","name":null,"entity_type":null,"last_execution_at":null,
		"next_execution_at":null,"brand_new_field":{"a":[1]},"total_executions":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "" || j.EntityType != "" || !j.LastExecutionAt.IsZero() || j.TotalExecutions != 0 {
		t.Fatalf("job = %+v", j)
	}
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int
		retryHdr  string
		deadline  time.Duration
		wantCalls int
		want      Class
	}{
		{"503 then ok", []int{503, 200}, "", 2 * time.Second, 2, ClassOK},
		{"429 with short Retry-After then ok", []int{429, 200}, "0", 2 * time.Second, 2, ClassOK},
		{"429 Retry-After past the deadline", []int{429, 200}, "30", 2 * time.Second, 1, ClassRateLimited},
		{"500 is not retried", []int{500, 200}, "", 2 * time.Second, 1, ClassServerError},
		{"404 is not retried", []int{404, 200}, "", 2 * time.Second, 1, ClassNotFound},
		{"only one retry", []int{502, 502, 200}, "", 2 * time.Second, 2, ClassServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			c, rec := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				code := tt.codes[calls]
				calls++
				mu.Unlock()
				if tt.retryHdr != "" {
					w.Header().Set("Retry-After", tt.retryHdr)
				}
				w.WriteHeader(code)
				if code == 200 {
					_, _ = w.Write([]byte(validJob))
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			_, err := c.GetJob(ctx, "job_1")
			if ClassOf(err) != tt.want || calls != tt.wantCalls {
				t.Fatalf("class %s after %d calls, want %s after %d", ClassOf(err), calls, tt.want, tt.wantCalls)
			}
			if len(rec.classes) != tt.wantCalls {
				t.Fatalf("observed %v, want one per attempt", rec.classes)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Thu, 20 Nov 2025 10:00:30 GMT": 30 * time.Second,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClassOfForeignErrors(t *testing.T) {
	if ClassOf(context.DeadlineExceeded) != ClassTimeout || ClassOf(errors.New("x")) != ClassNetwork || ClassOf(nil) != ClassOK {
		t.Fatal("ClassOf misclassifies plain errors")
	}
}

// TestGetJobUnreadableCredentialsFile: prometheus/common reads
// credentials_file on every request; when that read fails no request is
// sent and the class is credentials, not network.
func TestGetJobUnreadableCredentialsFile(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "api-key")
	hc, err := commoncfg.NewClientFromConfig(commoncfg.HTTPClientConfig{
		Authorization: &commoncfg.Authorization{Type: "Bearer", CredentialsFile: keyFile},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.URL, hc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(context.Background(), "job_1")
	if ClassOf(err) != ClassCredentials || !strings.Contains(err.Error(), keyFile) || hits.Load() != 0 {
		t.Fatalf("class = %s (%v), %d requests; want credentials naming the file, none sent", ClassOf(err), err, hits.Load())
	}
}
