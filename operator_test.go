package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubiya/kubiya_exporter/config"
	"github.com/kubiya/kubiya_exporter/simulator"
)

// imageUID is the user the container image runs as.
const imageUID = 65532

// TestBinaryCredentialsChecks: --config.check and start-up refuse a
// credentials_file that is missing, empty or unreadable, naming the file and
// the reason, and --config.check warns about a world-readable one.
//
// Unreadable: as root (CI), the exporter runs as uid 65532 against a
// root-owned 0600 key, which is the README's container setup; as another
// user, the key is chmod 000. Either way the open genuinely fails with
// EACCES for the exporter's uid.
func TestBinaryCredentialsChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	asRoot := os.Geteuid() == 0
	uid := os.Geteuid()
	if asRoot {
		uid = imageUID
		// uid 65532 must reach the binary.
		if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeKey := func(content string, mode os.FileMode) func(string) {
		return func(path string) {
			if err := os.WriteFile(path, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil { // umask
				t.Fatal(err)
			}
		}
	}
	unreadableMode := os.FileMode(0o000)
	if asRoot {
		unreadableMode = 0o600
	}
	tests := []struct {
		name      string
		key       func(path string)
		otherUser bool // run the exporter as imageUID when root
		checkCode int
		want      string
	}{
		{"missing", func(string) {}, false, 1, "no such file or directory"},
		{"empty", writeKey("\n", 0o600), false, 1, ": empty"},
		{"unreadable", writeKey(testKey, unreadableMode), true, 1, "permission denied for uid " + strconv.Itoa(uid)},
		{"world-readable", writeKey(testKey, 0o644), false, 0, "readable by group or others (mode -rw-r--r--); chmod 600 it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "api-key")
			tt.key(keyFile)
			cfgPath := filepath.Join(dir, "kubiya.yml")
			if err := os.WriteFile(cfgPath, []byte("control_plane:\n  authorization:\n    credentials_file: "+keyFile+"\njobs: [job_a]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.otherUser && asRoot {
				for _, d := range []string{dir, filepath.Dir(dir)} {
					if err := os.Chmod(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			modes := [][]string{{"--config.check"}}
			if tt.checkCode != 0 { // a good key at start: TestBinaryWarnsOnReadableCredentialsFile
				modes = append(modes, []string{"--web.listen-address=" + freeAddr(t)})
			}
			for _, args := range modes {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, append([]string{"--config.file=" + cfgPath}, args...)...)
				cmd.Env = append(os.Environ(), "KUBIYA_API_KEY=") // the file is the only key
				if tt.otherUser && asRoot {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID}}
				}
				out, _ := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != tt.checkCode || !strings.Contains(string(out), tt.want) ||
					!strings.Contains(string(out), keyFile) {
					t.Errorf("%v: exit %d, want %d; output:\n%s\nwant it to name %s and say %q", args, code, tt.checkCode, out, keyFile, tt.want)
				}
				if strings.Contains(string(out), "CANARY") {
					t.Errorf("key printed:\n%s", out)
				}
			}
		})
	}
}

// TestBinaryReady: /-/ready is 200 only while a configuration is loaded, the
// last reload worked and the key is readable; a key that goes away at run
// time is counted as code="credentials" and logged once per scrape, not once
// per job.
func TestBinaryReady(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim, api := newSimulatorAPI(t)
	ids := sim.JobIDs()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeFileAtomic(t, keyFile, testKey+"\n")
	cfgPath := filepath.Join(dir, "kubiya.yml")
	goodConfig := "control_plane:\n  authorization:\n    credentials_file: api-key\njobs: [" + strings.Join(ids, ", ") + "]\n"
	writeFileAtomic(t, cfgPath, goodConfig)
	p := startExporter(t, bin, cfgPath, api.URL)
	base := "http://" + p.addr
	expectReady := func(code int, reason string) {
		t.Helper()
		got, body := get(t, base+"/-/ready")
		if got != code || !strings.Contains(body, reason) {
			t.Fatalf("/-/ready = %d %q, want %d with %q", got, body, code, reason)
		}
	}
	expectReady(200, "Ready")
	// The landing page links what exists, and no pprof (not mounted).
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, `href="/-/ready"`) ||
		!strings.Contains(body, `href="/-/healthy"`) || !strings.Contains(body, `href="/metrics"`) || strings.Contains(body, "/debug/pprof") {
		t.Errorf("landing page = %d:\n%s", code, body)
	}
	if code, _ := get(t, base+"/debug/pprof/heap"); code != 404 {
		t.Errorf("/debug/pprof/heap = %d, want 404", code)
	}

	// A key rotation gone wrong: the file is gone.
	if err := os.Rename(keyFile, keyFile+".old"); err != nil {
		t.Fatal(err)
	}
	expectReady(503, keyFile+": no such file or directory")
	for range 2 {
		_, body := get(t, base+"/metrics")
		if v, _ := metricValue(body, "kubiya_up"); v != "0" {
			t.Errorf("kubiya_up = %q with no key", v)
		}
	}
	_, body := get(t, base+"/metrics")
	if v, _ := metricValue(body, `kubiya_exporter_api_requests_total{code="credentials",endpoint="get_job"}`); v != strconv.Itoa(3*len(ids)) {
		t.Errorf(`code="credentials" = %q after 3 scrapes of %d jobs`, v, len(ids))
	}
	if v, _ := metricValue(body, `kubiya_exporter_api_requests_total{code="network",endpoint="get_job"}`); v != "0" {
		t.Errorf(`code="network" = %q: an unreadable key is not a network failure`, v)
	}
	// The log reaches us through a pipe, after the answer.
	credLine := `msg="cannot read the API key; no API request was sent" class=credentials jobs=` + strconv.Itoa(len(ids))
	waitFor(t, 10*time.Second, func() bool { return strings.Count(p.stderr.String(), credLine) >= 3 })
	logs := p.stderr.String()
	if n := strings.Count(logs, "class=credentials"); n != 3 {
		t.Errorf("%d lines with class=credentials, want one per scrape:\n%s", n, logs)
	}

	// An empty key file is not ready; the API rejects the empty key.
	writeFileAtomic(t, keyFile, "")
	expectReady(503, keyFile+": empty")
	_, body = get(t, base+"/metrics")
	if v, _ := metricValue(body, `kubiya_exporter_api_requests_total{code="unauthorized",endpoint="get_job"}`); v != strconv.Itoa(len(ids)) {
		t.Errorf(`code="unauthorized" = %q after a scrape of %d jobs with an empty key`, v, len(ids))
	}

	if err := os.Rename(keyFile+".old", keyFile); err != nil {
		t.Fatal(err)
	}
	expectReady(200, "Ready")

	// A bad reload keeps the old configuration serving, but is not ready.
	writeFileAtomic(t, cfgPath, "control_plane: {timeout: -5s}\njobs: [job_a]\n")
	if code, body := post(t, base+"/-/reload"); code != 500 || !strings.Contains(body, `control_plane.timeout: not a valid duration string: "-5s"`) {
		t.Errorf("bad reload = %d %q", code, body)
	}
	expectReady(503, "the last configuration reload failed: ")
	writeFileAtomic(t, cfgPath, goodConfig)
	if code, body := post(t, base+"/-/reload"); code != 200 {
		t.Fatalf("good reload = %d %q", code, body)
	}
	expectReady(200, "Ready")
	if strings.Contains(p.stderr.String(), "CANARY") {
		t.Error("key in the log")
	}
}

// TestReadinessBeforeLoad: until a configuration is loaded /-/ready is 503.
// (The binary loads its configuration before it listens, so this state is
// reached only through the handler.)
func TestReadinessBeforeLoad(t *testing.T) {
	r := readyHandler(func() *config.Config { return nil }, new(atomic.Pointer[error]))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
	if w.Code != 503 || !strings.Contains(w.Body.String(), "no configuration loaded") {
		t.Fatalf("/-/ready = %d %q", w.Code, w.Body.String())
	}
}

// TestBinarySIGTERMDuringScrape: SIGTERM while a scrape waits on a slow API
// stops accepting connections, lets that scrape get its 200, and exits 0;
// with a --web.shutdown-timeout shorter than the scrape, the scrape is cut
// and the exporter still exits 0.
func TestBinarySIGTERMDuringScrape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, tt := range []struct {
		name       string
		args       []string
		wantAnswer bool
	}{
		{"scrape answered", nil, true},
		{"shutdown timeout cuts the scrape", []string{"--web.shutdown-timeout=300ms"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim := simulator.New(simulator.Options{APIKey: testKey, Seed: 1})
			sim.SetLatency(3 * time.Second)
			arrived := make(chan struct{})
			var once sync.Once
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				once.Do(func() { close(arrived) })
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { sim.Close(); api.Close() })
			id := sim.JobIDs()[0]
			cfgPath := filepath.Join(t.TempDir(), "kubiya.yml")
			writeConfig(t, cfgPath, id)
			p := startExporter(t, bin, cfgPath, api.URL, tt.args...)

			type answer struct {
				code int
				body string
				err  error
			}
			answers := make(chan answer, 1)
			go func() {
				resp, err := http.Get("http://" + p.addr + "/metrics")
				if err != nil {
					answers <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				answers <- answer{resp.StatusCode, string(b), err}
			}()
			select {
			case <-arrived:
			case <-time.After(20 * time.Second):
				t.Fatal("the scrape never reached the API")
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// It stops accepting at once.
			waitFor(t, 10*time.Second, func() bool {
				c, err := net.Dial("tcp", p.addr)
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			a := <-answers
			if tt.wantAnswer {
				if a.err != nil || a.code != 200 || !strings.Contains(a.body, `kubiya_job_up{job_id="`+id+`"} 1`) {
					t.Errorf("scrape during shutdown: %d %v\n%.500s", a.code, a.err, a.body)
				}
			} else if a.err == nil && a.code == 200 {
				t.Errorf("the scrape was answered although --web.shutdown-timeout is shorter than it")
			}
			if err := p.cmd.Wait(); err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
			}
			want := "shut down"
			if !tt.wantAnswer {
				want = "scrapes still in flight at --web.shutdown-timeout were cut"
			}
			if !strings.Contains(p.stderr.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, p.stderr.String())
			}
		})
	}
}

// TestDemoScript: scripts/demo.sh fails loudly, starts nothing or stops
// what it started, when an address is taken or a process exits at start.
func TestDemoScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	binDir := filepath.Dir(buildBinary(t))
	if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "kubiya-simulator"), "./cmd/kubiya-simulator").CombinedOutput(); err != nil {
		t.Fatalf("build simulator: %v\n%s", err, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, sim, exporter, want string
	}{
		{"exporter address taken", freeAddr(t), taken.Addr().String(), "kubiya_exporter address " + taken.Addr().String() + " is taken by another process; set EXPORTER_ADDR"},
		{"simulator address taken", taken.Addr().String(), freeAddr(t), "kubiya-simulator address " + taken.Addr().String() + " is taken by another process; set SIM_ADDR"},
		{"exporter exits at start", freeAddr(t), "127.0.0.1:99999", "kubiya_exporter exited at start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bash, "scripts/demo.sh")
			cmd.Env = append(os.Environ(), "BIN_DIR="+binDir, "SIM_ADDR="+tt.sim, "EXPORTER_ADDR="+tt.exporter)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), tt.want) ||
				strings.Contains(string(out), "demo is running") {
				t.Errorf("exit %d, want 1 and %q, no \"demo is running\":\n%s", code, tt.want, out)
			}
			// Nothing it started is left listening.
			for _, addr := range []string{tt.sim, tt.exporter} {
				if addr == taken.Addr().String() {
					continue
				}
				if c, err := net.Dial("tcp", addr); err == nil {
					c.Close()
					t.Errorf("%s still listening after the demo failed", addr)
				}
			}
		})
	}
}
