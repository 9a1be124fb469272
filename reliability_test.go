package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/kubiya/kubiya_exporter/simulator"
)

// secretCanary is in every secret field of every simulated job; testKey
// (the API key) holds "CANARY" too. Neither may appear anywhere a user or an
// attacker can read.
const secretCanary = "CANARY-SECRET-b7e2"

// writeFileAtomic replaces path so a concurrent reload never reads half a file.
func writeFileAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func configFor(jobs ...string) string {
	var b strings.Builder
	b.WriteString("control_plane:\n  timeout: 5s\n  max_concurrency: 4\njobs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&b, "  - %q\n", j)
	}
	return b.String()
}

// metricValue is the value of the series whose text line starts with
// prefix (name and labels) in a text exposition, and whether it is there.
func metricValue(body, prefix string) (string, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			return rest, true
		}
	}
	return "", false
}

// TestBinaryReloadUnderLoad reloads the real binary (built with -race) by
// POST /-/reload and SIGHUP, alternating good and bad configurations, while
// scrapers hit /metrics without pause: every answer is a 200 that parses,
// a bad configuration leaves the previous one serving, the reload metric
// follows each attempt, and the race detector reports nothing.
func TestBinaryReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "kubiya_exporter")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -race: %v\n%s", err, out)
	}
	sim := simulator.New(simulator.Options{APIKey: testKey, Seed: 1})
	sim.SetLatency(5 * time.Millisecond)
	api := httptest.NewServer(sim)
	defer api.Close()
	ids := sim.JobIDs()
	sets := [2][]string{ids[:len(ids)/2], ids[len(ids)/2:]}

	cfgPath := filepath.Join(t.TempDir(), "kubiya.yml")
	writeFileAtomic(t, cfgPath, configFor(sets[0]...))
	p := startExporter(t, bin, cfgPath, api.URL)
	metricsURL := "http://" + p.addr + "/metrics"

	stop := make(chan struct{})
	var scrapes, failures atomic.Int64
	var failMu sync.Mutex
	var firstFailure string
	fail := func(msg string) {
		failures.Add(1)
		failMu.Lock()
		defer failMu.Unlock()
		if firstFailure == "" {
			firstFailure = msg
		}
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, metricsURL, nil)
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
				resp, err := client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				scrapes.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					fail(fmt.Sprintf("status %d, %v", resp.StatusCode, err))
					continue
				}
				parser := expfmt.NewTextParser(model.UTF8Validation)
				mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
				if err != nil {
					fail("unparsable /metrics: " + err.Error())
					continue
				}
				if mfs["kubiya_job_up"] == nil || mfs["kubiya_exporter_config_last_reload_successful"] == nil {
					fail("kubiya_job_up or the reload metric missing")
				}
			}
		})
	}

	// served reports which job set the exporter serves and the reload metric.
	served := func() (set int, reloadOK string) {
		_, body := get(t, metricsURL)
		reloadOK, _ = metricValue(body, "kubiya_exporter_config_last_reload_successful")
		set = -1
		for i, s := range sets {
			if _, ok := metricValue(body, `kubiya_job_up{job_id="`+s[0]+`"}`); ok {
				set = i
			}
		}
		return set, reloadOK
	}
	const bad = "control_plane:\n  timeout: 0s\njobs: ['../escape']\n"
	serving := 0
	for round := range 8 {
		viaSignal := round%4 >= 2
		good := round%2 == 0
		want := serving
		if good {
			want = 1 - serving
			writeFileAtomic(t, cfgPath, configFor(sets[want]...))
		} else {
			writeFileAtomic(t, cfgPath, bad)
		}
		wantOK := map[bool]string{true: "1", false: "0"}[good]
		if viaSignal {
			if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		} else {
			code, body := post(t, "http://"+p.addr+"/-/reload")
			if wantCode := map[bool]int{true: 200, false: 500}[good]; code != wantCode {
				t.Fatalf("round %d: POST /-/reload = %d %s, want %d", round, code, body, wantCode)
			}
		}
		var set int
		var ok string
		deadline := time.Now().Add(20 * time.Second)
		for set, ok = served(); (set != want || ok != wantOK) && time.Now().Before(deadline); set, ok = served() {
			time.Sleep(50 * time.Millisecond)
		}
		if set != want || ok != wantOK {
			t.Fatalf("round %d (good %v, SIGHUP %v): serving set %d with reload_successful %s, want set %d and %s",
				round, good, viaSignal, set, ok, want, wantOK)
		}
		serving = want
		// Let the scrapers overlap the new state before the next reload.
		for n := scrapes.Load(); scrapes.Load() < n+6; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()

	t.Logf("%d scrapes during 8 reloads, %d failed", scrapes.Load(), failures.Load())
	if failures.Load() != 0 {
		t.Errorf("%d scrapes failed; first: %s", failures.Load(), firstFailure)
	}
	logs := p.stderr.String()
	for _, bad := range []string{"DATA RACE", "panic"} {
		if strings.Contains(logs, bad) {
			t.Errorf("exporter stderr has %q:\n%s", bad, logs)
		}
	}
	if got := strings.Count(logs, "error reloading config"); got != 4 {
		t.Errorf("%d 'error reloading config' log lines, want one per bad reload (4)", got)
	}
}

// TestBinarySecretsCanary runs the real binary at debug level against jobs
// whose every secret field holds a canary, with the key holding one too,
// through scrapes, faults whose bodies echo the canary, good and bad
// reloads (SIGHUP and POST) and error pages; the canary must appear in no
// /metrics answer, no HTTP answer and no log line.
func TestBinarySecretsCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim := simulator.New(simulator.Options{APIKey: testKey, Seed: 1,
		Jobs: simulator.FillSecrets(simulator.DefaultJobs(), secretCanary)})
	api := httptest.NewServer(sim)
	defer api.Close()
	defer sim.Close()
	ids := sim.JobIDs()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kubiya.yml")
	writeFileAtomic(t, cfgPath, configFor(ids...))
	p := startExporter(t, bin, cfgPath, api.URL) // --log.level=debug
	base := "http://" + p.addr

	var answers []string // every HTTP answer body, checked at the end
	scrape := func(what string) string {
		t.Helper()
		code, body := get(t, base+"/metrics", "X-Prometheus-Scrape-Timeout-Seconds", "3")
		if code != http.StatusOK {
			t.Errorf("%s: /metrics = %d", what, code)
		}
		answers = append(answers, body)
		return body
	}

	body := scrape("healthy API")
	if v, _ := metricValue(body, `kubiya_job_up{job_id="`+ids[0]+`"}`); v != "1" {
		t.Fatalf("job not up on a healthy API:\n%s", body)
	}

	// Faults whose bodies carry the canary; each must leave it behind.
	faults := []struct {
		name  string
		fault simulator.Fault
	}{
		{"500 echoing the canary", simulator.FaultInternal("pool " + secretCanary)},
		{"502 HTML", simulator.Fault{Status: 502, Body: simulator.HTMLErrorBody(502) + secretCanary}},
		{"401 echoing the canary", simulator.Fault{Status: 401, Body: `{"detail":{"error":"Unauthorized","message":"` + secretCanary + `"}}`}},
		{"429", simulator.Fault{Status: 429, Body: secretCanary, RetryAfter: "60"}},
		{"wrong types", simulator.Fault{Status: 200, Body: `{"id":"x","total_executions":"` + secretCanary + `"}`}},
		{"bad timestamp", simulator.Fault{Status: 200, Body: `{"id":"x","created_at":"` + secretCanary + `"}`}},
		{"invalid JSON", simulator.Fault{Status: 200, Body: `{"id":"x",` + secretCanary + `}`}},
		{"scalar", simulator.Fault{Status: 200, Body: `"` + secretCanary + `"`}},
		{"truncated", simulator.Fault{Truncate: true}},
		{"reset mid-body", simulator.Fault{ResetMidBody: true}},
		{"hang", simulator.Fault{Hang: true}},
	}
	for _, f := range faults {
		sim.SetGlobalFault(f.fault)
		body := scrape(f.name)
		if v, _ := metricValue(body, `kubiya_job_up{job_id="`+ids[0]+`"}`); v != "0" {
			t.Errorf("%s: job not down", f.name)
		}
	}
	sim.ClearGlobalFault()
	sim.RejectKey(true)
	scrape("key rejected")
	sim.RejectKey(false)

	// Reloads: good, and bad ones that hold the key in the file.
	reloads := []struct {
		name, config string
		ok           bool
	}{
		{"good", configFor(ids[0]), true},
		{"key inline, zero timeout", "control_plane:\n  authorization: {credentials: " + testKey + "}\n  timeout: 0s\njobs: [" + ids[0] + "]\n", false},
		{"key inline, bad job ID", "control_plane:\n  authorization: {credentials: " + testKey + "}\njobs: ['" + ids[0] + "/x']\n", false},
		{"key in a YAML syntax error", "control_plane:\n  authorization:\n    credentials: \"" + testKey + "\n  timeout: [\njobs: [" + ids[0] + "]\n", false},
		{"key with the wrong type", "control_plane:\n  authorization:\n    credentials: [" + testKey + "]\njobs: [" + ids[0] + "]\n", false},
		{"key and basic auth", "control_plane:\n  authorization: {credentials: " + testKey + "}\n  basic_auth: {username: u, password: " + secretCanary + "}\njobs: [" + ids[0] + "]\n", false},
		{"good with the key inline", "control_plane:\n  authorization: {credentials: " + testKey + "}\njobs: [" + ids[0] + "]\n", true},
	}
	for i, r := range reloads {
		writeFileAtomic(t, cfgPath, r.config)
		wantCode := map[bool]int{true: 200, false: 500}[r.ok]
		code, body := post(t, base+"/-/reload")
		answers = append(answers, body)
		if code != wantCode {
			t.Errorf("reload %q: POST /-/reload = %d %s, want %d", r.name, code, body, wantCode)
		}
		// The same file by SIGHUP.
		before := strings.Count(p.stderr.String(), "reload")
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, func() bool { return strings.Count(p.stderr.String(), "reload") > before })
		body = scrape("after reload " + r.name)
		if v, _ := metricValue(body, "kubiya_exporter_config_last_reload_successful"); v != map[bool]string{true: "1", false: "0"}[r.ok] {
			t.Errorf("reload %d %q: kubiya_exporter_config_last_reload_successful %s", i, r.name, v)
		}
	}

	// Error pages.
	for _, page := range []struct{ method, path string }{
		{http.MethodGet, "/does-not-exist"}, {http.MethodGet, "/-/reload"}, {http.MethodGet, "/"},
		{http.MethodPost, "/metrics"}, {http.MethodGet, "/metrics?x=" + "%zz"},
	} {
		req, _ := http.NewRequest(page.method, base+page.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers = append(answers, string(b))
	}

	for i, a := range answers {
		if strings.Contains(a, "CANARY") {
			t.Errorf("HTTP answer %d shows the canary:\n%.2000s", i, a)
		}
	}
	logs := p.stderr.String()
	if strings.Contains(logs, "CANARY") {
		t.Errorf("log shows the canary:\n%s", logs)
	}
	for _, want := range []string{"level=debug", "class=server_error", "class=bad_response", "class=timeout", "error reloading config"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q, so this test did not exercise what it claims:\n%.3000s", want, logs)
		}
	}
}

// TestBinaryRefusesKeyFlags: there is no flag that takes the API key, so a
// key never shows in `ps` or a unit file's command line.
func TestBinaryRefusesKeyFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	good := filepath.Join(t.TempDir(), "good.yml")
	writeFileAtomic(t, good, configFor("job_a"))
	for _, flag := range []string{"--api-key", "--kubiya.api-key", "--api.key", "--kubiya.key", "--control-plane.api-key", "--key", "--token", "--bearer-token"} {
		t.Run(flag, func(t *testing.T) {
			cmd := exec.Command(bin, "--config.file="+good, flag+"="+testKey, "--config.check")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "unknown long flag '"+flag+"'") {
				t.Fatalf("exit %d, want 2 with unknown long flag:\n%s", code, out)
			}
			if strings.Contains(string(out), "CANARY") {
				t.Fatalf("key echoed:\n%s", out)
			}
		})
	}
	// And no flag in --help mentions taking a key as its value.
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if regexp.MustCompile(`^\s+--\S*(key|token|password|secret)\S*=`).MatchString(line) {
			t.Errorf("a flag seems to take a secret: %s", line)
		}
	}
}

// TestBinaryWarnsOnReadableCredentialsFile: a key file readable by group or
// others draws one warning in the log (naming the file, not the key); a
// 0600 one draws none.
func TestBinaryWarnsOnReadableCredentialsFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim, api := newSimulatorAPI(t)
	ids := sim.JobIDs()
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o600, false}, {0o400, false}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "api-key")
			if err := os.WriteFile(keyFile, []byte(testKey+"\n"), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(keyFile, tt.mode); err != nil { // umask
				t.Fatal(err)
			}
			cfgPath := filepath.Join(dir, "kubiya.yml")
			writeFileAtomic(t, cfgPath, "control_plane:\n  authorization:\n    credentials_file: "+keyFile+"\njobs: ["+ids[0]+"]\n")
			p := startExporter(t, bin, cfgPath, api.URL)
			code, body := get(t, "http://"+p.addr+"/metrics")
			if v, _ := metricValue(body, `kubiya_job_up{job_id="`+ids[0]+`"}`); code != 200 || v != "1" {
				t.Fatalf("the key from the file does not work: %d\n%s", code, body)
			}
			logs := p.stderr.String()
			warned := strings.Count(logs, "readable by group or others")
			if (warned == 1) != tt.warn || warned > 1 {
				t.Errorf("mode %v: %d warnings, want warning %v:\n%s", tt.mode, warned, tt.warn, logs)
			}
			if tt.warn && !strings.Contains(logs, keyFile) {
				t.Errorf("the warning does not name the file:\n%s", logs)
			}
			if strings.Contains(logs, "CANARY") {
				t.Errorf("key in the log:\n%s", logs)
			}
		})
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kubiya_exporter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestBinaryWebConfigTLSAndBasicAuth starts the binary with an
// exporter-toolkit web config (TLS with a generated certificate, basic auth
// with a bcrypt hash): /metrics answers 401 without or with wrong
// credentials, 200 with the right ones, and only over TLS.
func TestBinaryWebConfigTLSAndBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	sim, api := newSimulatorAPI(t)
	ids := sim.JobIDs()

	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	const user, password = "prometheus", "CANARY-web-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	writeFileAtomic(t, webConfig, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
		certFile, keyFile, user, hash))
	cfgPath := filepath.Join(dir, "kubiya.yml")
	writeFileAtomic(t, cfgPath, configFor(ids[0]))

	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--web.listen-address="+addr, "--web.config.file="+webConfig)
	cmd.Env = append(os.Environ(), "KUBIYA_API_KEY="+testKey, "KUBIYA_CONTROL_PLANE_BASE_URL="+api.URL)
	stderr := newSyncBuffer()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(url, u, pw string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if u != "" {
			req.SetBasicAuth(u, pw)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	metricsURL := "https://" + addr + "/metrics"
	waitFor(t, 20*time.Second, func() bool { code, _, _ := do(metricsURL, "", ""); return code != 0 })

	tests := []struct {
		name, url, user, password string
		want                      int
	}{
		{"no credentials", metricsURL, "", "", http.StatusUnauthorized},
		{"wrong password", metricsURL, user, "wrong", http.StatusUnauthorized},
		{"wrong user", metricsURL, "admin", password, http.StatusUnauthorized},
		{"reload needs credentials too", "https://" + addr + "/-/reload", "", "", http.StatusUnauthorized},
		{"right credentials", metricsURL, user, password, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, err := do(tt.url, tt.user, tt.password)
			if err != nil || code != tt.want {
				t.Fatalf("%d %v, want %d\n%.500s", code, err, tt.want, body)
			}
			if tt.want == http.StatusOK && !strings.Contains(body, `kubiya_job_up{job_id="`+ids[0]+`"} 1`) {
				t.Fatalf("metrics lack the job:\n%.2000s", body)
			}
			if strings.Contains(body, "CANARY") || strings.Contains(body, string(hash)) {
				t.Fatalf("answer shows the password or its hash:\n%.500s", body)
			}
		})
	}
	// Plain HTTP to the TLS port gets no metrics.
	code, body := get(t, "http://"+addr+"/metrics")
	if code == http.StatusOK || strings.Contains(body, "kubiya_up") {
		t.Errorf("plain HTTP served metrics: %d", code)
	}
	// A client that does not trust the certificate cannot connect.
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("a client without the CA connected")
	}
	if logs := stderr.String(); strings.Contains(logs, "CANARY") || strings.Contains(logs, string(hash)) {
		t.Errorf("log shows the password, its hash or the key:\n%s", logs)
	}
}
