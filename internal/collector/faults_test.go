package collector

import (
	"bytes"
	"context"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// faultCanary is in every secret field of every simulated job, in the API
// key and in the fault bodies: it must reach neither the metrics nor a log.
const (
	faultCanary = "CANARY-f4u1t-9d3e"
	faultKey    = "key-" + faultCanary
)

// syncBuf collects log output from concurrent writers.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines above debug level.
func (b *syncBuf) lines() []string {
	var out []string
	for _, l := range b.all() {
		if !strings.HasPrefix(l, "level=debug ") {
			out = append(out, l)
		}
	}
	return out
}

// all returns every log line.
func (b *syncBuf) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimRight(b.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// route sends the victim job's requests to target instead of the API, so
// a transport-level fault (refused, TLS, a dead listener) hits one job only,
// and adds the API key to every request.
type route struct {
	victimPath string
	target     *url.URL // nil: no rerouting
	next       http.RoundTripper
}

func (r route) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+faultKey)
	if r.target != nil && req.URL.Path == r.victimPath {
		req.URL.Scheme, req.URL.Host = r.target.Scheme, r.target.Host
		req.Host = r.target.Host
	}
	return r.next.RoundTrip(req)
}

// faultEnv is one simulated control plane with canaried jobs and an
// Exporter reading it through the real client.
type faultEnv struct {
	sim     *simulator.Server
	api     *httptest.Server
	ids     []string
	victim  string
	logs    *syncBuf
	metrics *APIMetrics
	exp     *Exporter
	// afterRequest, when set, runs after the simulator answered a request.
	afterRequest atomic.Pointer[func(*http.Request)]
}

func newFaultEnv(t *testing.T, redirect func(t *testing.T, api http.Handler) string) *faultEnv {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: faultKey, Seed: 1,
		Jobs: simulator.FillSecrets(simulator.DefaultJobs(), faultCanary)})
	env := &faultEnv{sim: sim, logs: &syncBuf{}}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if after := env.afterRequest.Load(); after != nil {
			(*after)(r)
		}
	}))
	// Release hanging and trickling handlers before the server waits for them.
	t.Cleanup(func() { sim.Close(); api.Close() })
	ids := sim.JobIDs()
	env.api, env.ids, env.victim = api, ids, ids[0]

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	rt := route{victimPath: "/api/v1/jobs/" + env.victim, next: transport}
	if redirect != nil {
		u, err := url.Parse(redirect(t, sim))
		if err != nil {
			t.Fatal(err)
		}
		rt.target = u
	}
	env.metrics = NewAPIMetrics(prometheus.NewRegistry())
	client, err := kubiya.NewClient(api.URL, &http.Client{Transport: rt}, kubiya.Options{Observer: env.metrics})
	if err != nil {
		t.Fatal(err)
	}
	// Debug level, as with --log.level=debug: the secret checks then cover
	// every line the exporter can write.
	logger := level.NewFilter(log.NewLogfmtLogger(env.logs), level.AllowDebug())
	env.exp = New(client, logger, Options{Jobs: ids, MaxConcurrency: 4})
	return env
}

// scrape gathers one scrape with the given deadline and reports how long it took.
func (env *faultEnv) scrape(t *testing.T, deadline time.Duration) ([]*dto.MetricFamily, string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	mfs := gatherFamilies(t, env.exp.Scrape(ctx))
	elapsed := time.Since(start)
	return mfs, familiesText(t, mfs), elapsed
}

// Redirect targets for faults below HTTP.

func refusedAddr(t *testing.T, _ http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func untrustedTLS(t *testing.T, api http.Handler) string {
	srv := httptest.NewUnstartedServer(api)
	// The server logs the failed handshake; keep test output quiet.
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// silentListener accepts connections and never reads or writes a byte.
func silentListener(t *testing.T, _ http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// faultBody is a 200 answer with body replaced by fn(victim ID).
func faultBody(fn func(id string) string) func(env *faultEnv) {
	return func(env *faultEnv) { env.sim.SetFault(env.victim, simulator.Fault{Status: 200, Body: fn(env.victim)}) }
}

func withFault(f simulator.Fault) func(env *faultEnv) {
	return func(env *faultEnv) { env.sim.SetFault(env.victim, f) }
}

// TestFaultMatrix injects each API fault into one job's requests and checks
// what the issue promises: the scrape ends within its deadline, only that
// job is down, its requests are counted under the right class, one log line
// names the job and the class, nothing secret or bulky reaches the output or
// the logs, and every label value is bounded valid UTF-8.
func TestFaultMatrix(t *testing.T) {
	// Long enough that a 1 s Retry-After fits twice even on a loaded
	// machine; the hanging cases take all of it.
	const deadline = 5 * time.Second
	const margin = 3 * time.Second // generous: this checks correctness, not speed
	unauthorized := `{"detail":{"error":"Unauthorized","message":"Invalid or expired authentication token ` + faultCanary + `","hint":"x"}}`
	htmlWithCanary := func(code int) simulator.Fault {
		f := simulator.FaultHTML(code)
		f.Body += "<!-- " + faultCanary + " -->"
		return f
	}
	tests := []struct {
		name     string
		setup    func(env *faultEnv)
		redirect func(t *testing.T, api http.Handler) string
		// want is the class of the victim's requests and attempts how many
		// were made; "" means the job is still up (the input is tolerated).
		want     kubiya.Class
		attempts int
		wantLog  string // for a tolerated input: the one log line it draws
	}{
		{name: "401", setup: withFault(simulator.Fault{Status: 401, Body: unauthorized}), want: kubiya.ClassUnauthorized, attempts: 1},
		{name: "403", setup: withFault(simulator.Fault{Status: 403, Body: `{"detail":"Forbidden ` + faultCanary + `"}`}), want: kubiya.ClassUnauthorized, attempts: 1},
		{name: "404 job deleted", setup: func(env *faultEnv) {
			if err := env.sim.DeleteJob(env.victim); err != nil {
				panic(err) // the victim is one of the simulator's own jobs
			}
		}, want: kubiya.ClassNotFound, attempts: 1},
		{name: "422", setup: withFault(simulator.Fault{Status: 422, Body: `{"detail":[{"loc":["path","job_id"],"msg":"` + faultCanary + `","type":"value_error"}]}`}), want: kubiya.ClassInvalidRequest, attempts: 1},
		{name: "429 without Retry-After is retried once", setup: withFault(simulator.FaultRateLimited("")), want: kubiya.ClassRateLimited, attempts: 2},
		{name: "429 Retry-After within the deadline is retried once", setup: withFault(simulator.FaultRateLimited("1")), want: kubiya.ClassRateLimited, attempts: 2},
		{name: "429 Retry-After past the deadline is not retried", setup: withFault(simulator.FaultRateLimited("120")), want: kubiya.ClassRateLimited, attempts: 1},
		{name: "500 is not retried", setup: withFault(simulator.FaultInternal("connection pool exhausted " + faultCanary)), want: kubiya.ClassServerError, attempts: 1},
		{name: "502 HTML", setup: withFault(htmlWithCanary(502)), want: kubiya.ClassServerError, attempts: 2},
		{name: "503 HTML", setup: withFault(htmlWithCanary(503)), want: kubiya.ClassServerError, attempts: 2},
		{name: "504 HTML", setup: withFault(htmlWithCanary(504)), want: kubiya.ClassServerError, attempts: 2},
		{name: "connection refused", redirect: refusedAddr, want: kubiya.ClassNetwork, attempts: 1},
		{name: "connection reset mid-body", setup: withFault(simulator.Fault{ResetMidBody: true}), want: kubiya.ClassNetwork, attempts: 1},
		{name: "TLS with an unknown CA", redirect: untrustedTLS, want: kubiya.ClassNetwork, attempts: 1},
		{name: "server accepts and never answers (HTTP)", setup: withFault(simulator.Fault{Hang: true}), want: kubiya.ClassTimeout, attempts: 1},
		{name: "server accepts and never answers (TCP)", redirect: silentListener, want: kubiya.ClassTimeout, attempts: 1},
		{name: "body trickles past the deadline", setup: withFault(simulator.Fault{TrickleBytesPerSecond: 20}), want: kubiya.ClassTimeout, attempts: 1},
		{name: "truncated body", setup: withFault(simulator.Fault{Truncate: true}), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "body over the cap", setup: withFault(simulator.Fault{Oversize: 3 * kubiya.DefaultMaxBodyBytes}), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "wrong JSON types", setup: faultBody(func(id string) string {
			return `{"id":"` + id + `","name":"n","total_executions":"` + faultCanary + `"}`
		}), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "huge number", setup: faultBody(func(id string) string {
			return `{"id":"` + id + `","total_executions":1` + strings.Repeat("0", 100_000) + `}`
		}), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "bad timestamp", setup: faultBody(func(id string) string {
			return `{"id":"` + id + `","created_at":"` + faultCanary + `"}`
		}), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "empty body", setup: faultBody(func(string) string { return "" }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "JSON array", setup: faultBody(func(id string) string { return `[{"id":"` + id + `"}]` }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "JSON scalar", setup: faultBody(func(string) string { return `"` + faultCanary + `"` }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "JSON null", setup: faultBody(func(string) string { return `null` }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "object without id", setup: faultBody(func(string) string { return `{"name":"` + faultCanary + `"}` }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "HTML with status 200", setup: faultBody(func(string) string { return simulator.HTMLErrorBody(200) + faultCanary }), want: kubiya.ClassBadResponse, attempts: 1},
		{name: "invalid UTF-8 in strings is tolerated", setup: faultBody(func(id string) string {
			return `{"id":"` + id + "\",\"name\":\"bad\xff\xfename\",\"entity_name\":\"\xc3\",\"status\":\"act\xe2ive\",\"entity_id\":\"\\ud800\"}"
		}), attempts: 1},
		{name: "1 MB job name is tolerated", setup: faultBody(func(id string) string {
			return `{"id":"` + id + `","name":"` + strings.Repeat("é", 1<<19) + `","entity_name":"` + strings.Repeat("x", 1<<20) + `"}`
		}), attempts: 1},
		// The job is up; its schedule is not: schedule_valid 0 and one warning.
		{name: "1 MB cron schedule is tolerated", setup: faultBody(func(id string) string {
			return `{"id":"` + id + `","trigger_type":"cron","cron_schedule":"` + strings.Repeat("* ", 1<<19) + `"}`
		}), attempts: 1, wantLog: `msg="cron schedule does not parse"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFaultEnv(t, tt.redirect)
			if tt.setup != nil {
				tt.setup(env)
			}
			mfs, text, elapsed := env.scrape(t, deadline)

			if elapsed > deadline+margin {
				t.Errorf("scrape took %v; its deadline was %v", elapsed, deadline)
			}
			up := jobUpValues(mfs)
			for _, id := range env.ids {
				want := 1.0
				if id == env.victim && tt.want != "" {
					want = 0
				}
				if got, ok := up[id]; !ok || got != want {
					t.Errorf("kubiya_job_up{job_id=%q} = %v (present %v), want %v", id, got, ok, want)
				}
			}
			if tt.want != "" && strings.Contains(text, `job_id="`+env.victim+`",job_name`) {
				t.Errorf("a down job still has per-job series")
			}
			checkLabels(t, mfs)
			if strings.Contains(text, faultCanary) {
				t.Errorf("canary in the metrics output")
			}

			// A request that times out at the scrape deadline ends (and is
			// counted and logged) a moment after the scrape answers.
			wantLines := 0
			if tt.wantLog != "" {
				wantLines = 1
			}
			if tt.want != "" {
				wantLines = 1
				waitUntil(t, 5*time.Second, func() bool {
					return testutil.ToFloat64(env.metrics.requests.WithLabelValues("get_job", string(tt.want))) >= float64(tt.attempts) &&
						len(env.logs.lines()) >= 1
				})
			}
			for _, c := range kubiya.Classes {
				got := testutil.ToFloat64(env.metrics.requests.WithLabelValues("get_job", string(c)))
				want := 0.0
				switch {
				case c == tt.want:
					want = float64(tt.attempts)
				case c == kubiya.ClassOK && tt.want == "":
					want = float64(len(env.ids))
				case c == kubiya.ClassOK:
					want = float64(len(env.ids) - 1)
				}
				if got != want {
					t.Errorf("kubiya_exporter_api_requests_total{code=%q} = %v, want %v", c, got, want)
				}
			}

			lines := env.logs.lines()
			if len(lines) != wantLines {
				t.Errorf("%d log lines, want %d:\n%.2000s", len(lines), wantLines, strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				what := "class=" + string(tt.want)
				if tt.want == "" {
					what = tt.wantLog
				}
				if !strings.Contains(l, "job_id="+env.victim) || !strings.Contains(l, what) {
					t.Errorf("log line does not name job_id=%s and %s: %.300s", env.victim, what, l)
				}
				checkLogLine(t, l)
			}
			debug := 0
			for _, l := range env.logs.all() {
				if strings.HasPrefix(l, "level=debug ") {
					debug++
					checkLogLine(t, l)
				}
			}
			if debug == 0 {
				t.Error("no debug line: the secret checks did not see debug output")
			}
			t.Logf("scrape %v; log: %.600s", elapsed.Round(time.Millisecond), strings.Join(lines, " | "))
		})
	}
}

// checkLogLine fails on a log line that echoes a secret or a body.
func checkLogLine(t *testing.T, l string) {
	t.Helper()
	if len(l) > 1024 {
		t.Errorf("log line of %d bytes: a body was echoed? %.200s…", len(l), l)
	}
	for _, bad := range []string{faultCanary, "<html", "nginx", "Failed to get job", "detail"} {
		if strings.Contains(l, bad) {
			t.Errorf("log line contains %q: %.300s", bad, l)
		}
	}
}

func jobUpValues(mfs []*dto.MetricFamily) map[string]float64 {
	up := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "kubiya_job_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			up[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return up
}

// checkLabels asserts every label value is valid UTF-8 of at most
// MaxLabelValueLen bytes.
func checkLabels(t *testing.T, mfs []*dto.MetricFamily) {
	t.Helper()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); len(v) > MaxLabelValueLen || !utf8.ValidString(v) {
					t.Errorf("%s{%s=%.40q…}: %d bytes, valid UTF-8 %v", mf.GetName(), lp.GetName(), v, len(v), utf8.ValidString(v))
				}
			}
		}
	}
}

// waitUntil polls cond until it holds or timeout passes; the caller's
// assertions then report what is wrong.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRetryAtCollectorLevel checks the retry policy end to end: a transient
// gateway error or rate limit that clears before the retry costs one extra
// request and no log line, and the job stays up; a Retry-After longer than
// the scrape's deadline is not waited for.
func TestRetryAtCollectorLevel(t *testing.T) {
	const deadline = 10 * time.Second
	tests := []struct {
		name      string
		fault     simulator.Fault
		failFirst bool // the fault answers only the first request
		wantUp    float64
		want      map[kubiya.Class]float64 // the victim's attempts by class
		maxTime   time.Duration
	}{
		{"503 once, then ok", simulator.Fault503HTML(), true, 1,
			map[kubiya.Class]float64{kubiya.ClassServerError: 1, kubiya.ClassOK: 1}, deadline},
		{"429 Retry-After 1s once, then ok", simulator.FaultRateLimited("1"), true, 1,
			map[kubiya.Class]float64{kubiya.ClassRateLimited: 1, kubiya.ClassOK: 1}, deadline},
		{"500 once is not retried", simulator.FaultInternal("boom"), true, 0,
			map[kubiya.Class]float64{kubiya.ClassServerError: 1}, deadline},
		// The wait would overrun the deadline: give up at once, not at the deadline.
		{"429 Retry-After 60s", simulator.FaultRateLimited("60"), false, 0,
			map[kubiya.Class]float64{kubiya.ClassRateLimited: 1}, deadline / 2},
		{"429 Retry-After as an HTTP date past the deadline", simulator.FaultRateLimited(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), false, 0,
			map[kubiya.Class]float64{kubiya.ClassRateLimited: 1}, deadline / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFaultEnv(t, nil)
			env.sim.SetFault(env.victim, tt.fault)
			if tt.failFirst {
				// Clear the fault once the first request has seen it.
				var once sync.Once
				clear := func(r *http.Request) {
					if strings.HasSuffix(r.URL.Path, "/"+env.victim) {
						once.Do(func() { env.sim.ClearFault(env.victim) })
					}
				}
				env.afterRequest.Store(&clear)
			}
			mfs, _, elapsed := env.scrape(t, deadline)
			if elapsed > tt.maxTime {
				t.Errorf("scrape took %v, want under %v", elapsed, tt.maxTime)
			}
			if got := jobUpValues(mfs)[env.victim]; got != tt.wantUp {
				t.Errorf("kubiya_job_up = %v, want %v", got, tt.wantUp)
			}
			others := float64(len(env.ids) - 1)
			for _, c := range kubiya.Classes {
				want := tt.want[c]
				if c == kubiya.ClassOK {
					want += others
				}
				if got := testutil.ToFloat64(env.metrics.requests.WithLabelValues("get_job", string(c))); got != want {
					t.Errorf("requests{code=%q} = %v, want %v", c, got, want)
				}
			}
			wantLines := 0
			if tt.wantUp == 0 {
				wantLines = 1
			}
			if lines := env.logs.lines(); len(lines) != wantLines {
				t.Errorf("log lines = %q, want %d", lines, wantLines)
			}
			if got := env.sim.JobRequests(env.victim); got != int64(len(tt.want)) && tt.failFirst {
				t.Errorf("simulator saw %d requests for the job, want %d", got, len(tt.want))
			}
			t.Logf("scrape %v", elapsed.Round(time.Millisecond))
		})
	}
}
