package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requiredBinaries are the Debian packages' binaries the test runs.
var requiredBinaries = []string{"prometheus", "prometheus-alertmanager", "promtool", "amtool"}

// requireBinaries skips (locally) or fails (in CI, where a skip would hide a
// missing install) when a binary is not on PATH.
func requireBinaries(t *testing.T) map[string]string {
	t.Helper()
	paths := make(map[string]string, len(requiredBinaries))
	var missing []string
	for _, b := range requiredBinaries {
		p, err := exec.LookPath(b)
		if err != nil {
			missing = append(missing, b)
			continue
		}
		paths[b] = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s; install with: sudo apt-get install prometheus prometheus-alertmanager (Debian/Ubuntu)",
			strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return paths
}

// prometheusBinary is one Prometheus server the test runs against.
type prometheusBinary struct {
	name string // "prometheus 3.16.0"
	path string
}

// prometheuses returns the Prometheus servers to run the test against:
// Debian's 2.x (`prometheus` on PATH) and 3.x from the environment variable
// PROMETHEUS3 (.ci/run builds it from the Go module proxy:
// go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0).
// Without PROMETHEUS3 the 3.x run is skipped locally, with a message, and
// fails when CI is set.
func prometheuses(t *testing.T, onPath string) []prometheusBinary {
	t.Helper()
	srcs := []struct{ path, major string }{{onPath, "2"}, {os.Getenv("PROMETHEUS3"), "3"}}
	var out []prometheusBinary
	for _, src := range srcs {
		if src.path == "" {
			msg := "PROMETHEUS3 is not set; set it to a Prometheus 3.x server binary to run the test against it too"
			if os.Getenv("CI") != "" {
				t.Fatal(msg + " (a skip in CI is a failure)")
			}
			t.Log("not run: " + msg)
			continue
		}
		v := prometheusVersion(t, src.path)
		if !strings.HasPrefix(v, src.major+".") {
			t.Fatalf("%s: version %q, want Prometheus %s.x", src.path, v, src.major)
		}
		out = append(out, prometheusBinary{name: "prometheus " + v, path: src.path})
	}
	return out
}

// prometheusVersion is the version of a Prometheus binary: what --version
// says (release builds, Debian's), or for a binary built with
// `go install …@v0.316.0`, whose --version is empty, its module version read
// by `go version -m` (v0.316.0 is Prometheus 3.16.0).
func prometheusVersion(t *testing.T, bin string) string {
	t.Helper()
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	if m := regexp.MustCompile(`version (\d+\.\d+\.\d+)`).FindSubmatch(out); m != nil {
		return string(m[1])
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	m := regexp.MustCompile(`(?m)^\s*mod\s+github\.com/prometheus/prometheus\s+v0\.(\d+)\.(\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("%s: no version from --version or go version -m: %v\n%s", bin, err, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return fmt.Sprintf("%d.%d.%s", n/100, n%100, m[2])
}

// buildBinaries builds the exporter and the simulator from this tree into
// dir and returns their paths.
func buildBinaries(t *testing.T, dir string) (exporter, sim string) {
	t.Helper()
	exporter = filepath.Join(dir, "kubiya_exporter")
	sim = filepath.Join(dir, "kubiya-simulator")
	for _, b := range []struct{ out, pkg string }{{exporter, "."}, {sim, "./cmd/kubiya-simulator"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = ".." // the module root; go test runs in e2e/
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return exporter, sim
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Another process may take it before ours binds it; startWithRetry
// handles that.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("release port: %v", err)
	}
	return addr
}

// logBuffer collects a process's output for the failure dump; safe for the
// exec copier goroutines and the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is one started binary.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits a bounded time, then kills.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// start runs bin with args and env (added to the test's environment). The
// process is stopped in t.Cleanup, and its output is logged if the test
// failed.
func start(t *testing.T, name, bin string, args, env []string) *process {
	t.Helper()
	p := &process{name: name, log: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("----- %s output (%s) -----\n%s", name, strings.Join(args, " "), tail(p.log.String(), 300))
		}
	})
	return p
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// waitReady polls url until it answers 200, the process exits, or the
// deadline passes.
func waitReady(p *process, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready: %v", p.name, p.err)
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v: %v", p.name, timeout, last)
}

// startOnFreePort starts a server process on a fresh loopback port, waiting
// for readyPath. The port is picked, released, then bound by the process,
// so another process can win the race: then it retries with a new port.
func startOnFreePort(t *testing.T, name, bin string, args func(addr string) []string, env []string, readyPath string) (*process, string) {
	t.Helper()
	var lastErr error
	for range 3 {
		addr := freeAddr(t)
		p := start(t, name, bin, args(addr), env)
		err := waitReady(p, "http://"+addr+readyPath, 60*time.Second)
		if err == nil {
			return p, addr
		}
		lastErr = err
		p.stop()
		if !strings.Contains(p.log.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("start %s: %v", name, lastErr)
	return nil, ""
}

var simURLRE = regexp.MustCompile(`url=(http://\S+)`)

// startSimulator starts the simulator on port 0 and reads its address from
// its first log lines.
func startSimulator(t *testing.T, bin, apiKey string) (*process, string) {
	t.Helper()
	p := &process{name: "kubiya-simulator", log: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--web.listen-address=127.0.0.1:0", "--log.level=info")
	p.cmd.Env = append(os.Environ(), "KUBIYA_API_KEY="+apiKey)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.log.Write([]byte(line + "\n"))
			if m := simURLRE.FindStringSubmatch(line); m != nil && !sent {
				urlc <- m[1]
				sent = true
			}
		}
	}()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("----- kubiya-simulator output -----\n%s", tail(p.log.String(), 300))
		}
	})
	select {
	case u := <-urlc:
		if err := waitReady(p, u+"/api/health", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		return p, u
	case <-p.done:
		t.Fatalf("simulator exited: %v\n%s", p.err, p.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("simulator logged no address within 30s:\n%s", p.log.String())
	}
	return nil, ""
}

// eventually polls cond every interval until it returns true or timeout
// passes; then it fails the test with cond's last explanation.
func eventually(t *testing.T, what string, timeout, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	began := time.Now()
	for {
		ok, why := cond()
		if ok {
			t.Logf("%s: after %v", what, time.Since(began).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, timeout, why)
		}
		time.Sleep(interval)
	}
}

// httpDo sends a request and returns the status and body; bodies are small.
func httpDo(ctx context.Context, method, url string, body io.Reader, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, b, nil
}

var errStatus = errors.New("unexpected HTTP status")
