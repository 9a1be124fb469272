package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the simulator, starts it on a free port, checks the API
// and the admin API, and stops it with SIGTERM.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "kubiya-simulator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("file-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--web.listen-address=127.0.0.1:0", "--jobs=50", "--api-key-file="+keyFile, "--latency=5ms")
	cmd.Env = append(os.Environ(), "KUBIYA_API_KEY=env-key")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := bufio.NewScanner(stderr)
	var base string
	var logged []string
	re := regexp.MustCompile(`url=(http://\S+)`)
	for base == "" && lines.Scan() {
		logged = append(logged, lines.Text())
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no listen address logged: %v", logged)
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if strings.Contains(strings.Join(logged, "\n"), "file-key") {
		t.Error("the API key was logged")
	}

	call := func(method, path, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("GET", "/api/health", ""); code != 200 || !strings.Contains(body, `"healthy"`) {
		t.Errorf("health: %d %s", code, body)
	}
	if code, _ := call("GET", "/api/v1/jobs", "env-key"); code != 401 {
		t.Errorf("the key file must win over the env: %d", code)
	}
	code, body := call("GET", "/api/v1/jobs", "file-key")
	if code != 200 || strings.Count(body, `"organization_id"`) != 50 {
		t.Errorf("list: %d, %d jobs", code, strings.Count(body, `"organization_id"`))
	}
	if code, _ := call("POST", "/_simulator/reject-key?value=true", ""); code != 204 {
		t.Errorf("admin: %d", code)
	}
	if code, _ := call("GET", "/api/v1/jobs", "file-key"); code != 401 {
		t.Errorf("reject-key: %d", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestAPIKeySource(t *testing.T) {
	t.Setenv("KUBIYA_API_KEY", "")
	if k, src, err := apiKey(""); err != nil || k != "demo-key" || src != "default" {
		t.Errorf("default: %q %q %v", k, src, err)
	}
	t.Setenv("KUBIYA_API_KEY", " env-key\n")
	if k, src, _ := apiKey(""); k != "env-key" || src != "env" {
		t.Errorf("env: %q %q", k, src)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o600)
	if _, _, err := apiKey(empty); err == nil {
		t.Error("empty key file accepted")
	}
	if _, _, err := apiKey(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing key file accepted")
	}
}
