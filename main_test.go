package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kubiya/kubiya_exporter/simulator"
)

const testKey = "test-key-CANARY-APIKEY"

// builtBinary is the exporter built for this test run: built on first use,
// shared by the tests that run it, removed by TestMain.
var builtBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary.dir != "" {
		_ = os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}

// buildBinary builds the exporter once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	builtBinary.once.Do(func() {
		builtBinary.dir, builtBinary.err = os.MkdirTemp("", "kubiya_exporter-test-")
		if builtBinary.err != nil {
			return
		}
		builtBinary.path = filepath.Join(builtBinary.dir, "kubiya_exporter")
		if out, err := exec.Command("go", "build", "-o", builtBinary.path, ".").CombinedOutput(); err != nil {
			builtBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtBinary.err != nil {
		t.Fatal(builtBinary.err)
	}
	return builtBinary.path
}

// newSimulatorAPI serves a simulator of the default jobs, accepting testKey.
func newSimulatorAPI(t *testing.T) (*simulator.Server, *httptest.Server) {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: testKey, Seed: 1})
	api := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		api.Close()
	})
	return sim, api
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type exporterProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func startExporter(t *testing.T, bin, configFile, apiURL string, extraArgs ...string) *exporterProcess {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"--config.file=" + configFile, "--web.listen-address=" + addr, "--log.level=debug"}, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBIYA_API_KEY="+testKey, "KUBIYA_CONTROL_PLANE_BASE_URL="+apiURL)
	p := &exporterProcess{cmd: cmd, addr: addr, stderr: newSyncBuffer()}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/healthy")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not start: %v\n%s", err, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func writeConfig(t *testing.T, path string, jobs ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("control_plane:\n  timeout: 5s\n  max_concurrency: 4\njobs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&b, "  - %q\n", j)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBinary runs the built exporter against the simulator: it serves
// metrics, reloads on POST and SIGHUP, keeps serving after a bad reload, and
// never shows the API key or a secret field.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim, api := newSimulatorAPI(t)
	ids := sim.JobIDs()

	cfgPath := filepath.Join(t.TempDir(), "kubiya.yml")
	writeConfig(t, cfgPath, append(ids, ids[0], "job_does_not_exist")...)
	p := startExporter(t, bin, cfgPath, api.URL)
	metricsURL := "http://" + p.addr + "/metrics"

	code, body := get(t, metricsURL, "X-Prometheus-Scrape-Timeout-Seconds", "10")
	if code != 200 {
		t.Fatalf("/metrics = %d\n%s", code, body)
	}
	for _, want := range []string{
		"kubiya_up 1",
		`kubiya_job_up{job_id="job_does_not_exist"} 0`,
		`kubiya_job_up{job_id="` + ids[0] + `"} 1`,
		`kubiya_exporter_api_requests_total{code="not_found",endpoint="get_job"} 1`,
		"kubiya_exporter_build_info{",
		"kubiya_exporter_config_last_reload_successful 1",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := strings.Count(body, `kubiya_job_up{job_id="`+ids[0]+`"}`); n != 1 {
		t.Errorf("job listed twice has %d kubiya_job_up series, want 1", n)
	}
	checkMetricsWithPromtool(t, body)

	if code, _ := get(t, "http://"+p.addr+"/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload = %d, want 405", code)
	}
	writeConfig(t, cfgPath, ids[0])
	if code, body := post(t, "http://"+p.addr+"/-/reload"); code != 200 {
		t.Fatalf("POST /-/reload = %d %s", code, body)
	}
	_, body = get(t, metricsURL)
	if strings.Contains(body, "job_does_not_exist") {
		t.Error("reload did not take the new job list")
	}

	// A bad config is refused; the old one keeps serving.
	if err := os.WriteFile(cfgPath, []byte("jobs: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, "http://"+p.addr+"/-/reload"); code != http.StatusInternalServerError {
		t.Errorf("POST /-/reload with a bad config = %d, want 500", code)
	}
	code, body = get(t, metricsURL)
	if code != 200 || !strings.Contains(body, "kubiya_exporter_config_last_reload_successful 0") ||
		!strings.Contains(body, `kubiya_job_up{job_id="`+ids[0]+`"} 1`) {
		t.Errorf("after a bad reload: %d\n%s", code, body)
	}

	// SIGHUP reloads too.
	writeConfig(t, cfgPath, ids[1])
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		_, body := get(t, metricsURL)
		return strings.Contains(body, `kubiya_job_up{job_id="`+ids[1]+`"} 1`) &&
			strings.Contains(body, "kubiya_exporter_config_last_reload_successful 1")
	})

	if code, body := get(t, "http://"+p.addr+"/"); code != 200 || !strings.Contains(body, "/metrics") {
		t.Errorf("landing page = %d", code)
	}

	// SIGTERM shuts down cleanly.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("no exit after SIGTERM")
	}
	if logs := p.stderr.String(); strings.Contains(logs, "CANARY") {
		t.Errorf("API key or secret in the logs:\n%s", logs)
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkMetricsWithPromtool lints real output; CI installs promtool, so there
// a missing promtool is a failure, not a skip.
func checkMetricsWithPromtool(t *testing.T, body string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed (apt-get install prometheus)")
		}
		t.Log("promtool not installed; skipping promtool check metrics")
		return
	}
	cmd := exec.CommandContext(context.Background(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("control_plane:\n  timeout: 0s\njobs: ['../x']\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yml")
	writeConfig(t, good, "job_a")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"start with bad config", []string{"--config.file=" + bad, "--web.listen-address=" + freeAddr(t)}, 1, "must be greater than 0"},
		{"check bad config", []string{"--config.file=" + bad, "--config.check"}, 1, `jobs[0] "../x"`},
		{"check good config", []string{"--config.file=" + good, "--config.check"}, 0, "OK"},
		{"missing file", []string{"--config.file=" + filepath.Join(dir, "nope.yml"), "--config.check"}, 1, "no such file"},
		{"key as a flag is refused", []string{"--config.file=" + good, "--api-key=x", "--config.check"}, 2, "unknown long flag"},
		{"version", []string{"--version"}, 0, "kubiya_exporter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), "KUBIYA_API_KEY="+testKey)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || !strings.Contains(string(out), tt.want) {
				t.Fatalf("exit %d, want %d; output:\n%s\nwant it to contain %q", code, tt.wantCode, out, tt.want)
			}
			if strings.Contains(string(out), "CANARY") {
				t.Fatalf("API key printed:\n%s", out)
			}
		})
	}
}

// TestPromhttpErrorLogKeepsMessage: promhttp's error lines reach the log
// whole, a network address in them included.
func TestPromhttpErrorLogKeepsMessage(t *testing.T) {
	var buf bytes.Buffer
	msg := "error encoding and sending metric family: write tcp 127.0.0.1:9862->127.0.0.1:51234: write: broken pipe"
	promhttpLogger{log.NewLogfmtLogger(&buf)}.Println(msg)
	if want := fmt.Sprintf("level=error msg=%q\n", msg); buf.String() != want {
		t.Errorf("logged %q, want %q", buf.String(), want)
	}
}
