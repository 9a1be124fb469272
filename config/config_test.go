package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const good = `
control_plane:
  url: https://control-plane.kubiya.ai
  authorization:
    type: Bearer
    credentials_file: /etc/kubiya_exporter/api-key
  timeout: 10s
  max_concurrency: 8
jobs:
  - job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f
  - job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f
  - 2b7e9c1a-0d4f-4e8a-9b6c-3f5d7a1e2c4b
`

func TestParseValid(t *testing.T) {
	cfg, err := Parse([]byte(good), env())
	if err != nil {
		t.Fatal(err)
	}
	cp := cfg.ControlPlane
	if cp.URL != "https://control-plane.kubiya.ai" || time.Duration(cp.Timeout) != 10*time.Second || cp.MaxConcurrency != 8 {
		t.Errorf("control plane = %+v", cp)
	}
	if cp.HTTPClientConfig.Authorization.CredentialsFile != "/etc/kubiya_exporter/api-key" {
		t.Errorf("authorization = %+v", cp.HTTPClientConfig.Authorization)
	}
	if len(cfg.Jobs) != 2 {
		t.Errorf("jobs = %v, want the duplicate dropped", cfg.Jobs)
	}
	if !cp.HTTPClientConfig.FollowRedirects || !cp.HTTPClientConfig.EnableHTTP2 {
		t.Errorf("prometheus/common HTTP defaults not applied: %+v", cp.HTTPClientConfig)
	}
}

func TestParseDefaultsAndEnvironment(t *testing.T) {
	cfg, err := Parse([]byte("jobs: [job_a]\n"), env(EnvAPIKey, "k-123", EnvBaseURL, "http://127.0.0.1:8480"))
	if err != nil {
		t.Fatal(err)
	}
	cp := cfg.ControlPlane
	if cp.URL != "http://127.0.0.1:8480" || time.Duration(cp.Timeout) != DefaultTimeout || cp.MaxConcurrency != DefaultMaxConcurrency {
		t.Errorf("control plane = %+v", cp)
	}
	a := cp.HTTPClientConfig.Authorization
	if a == nil || a.Type != "Bearer" || string(a.Credentials) != "k-123" {
		t.Fatalf("API key from the environment not used: %+v", a)
	}
	// The key must never be printed back.
	if s := cp.HTTPClientConfig.String(); strings.Contains(s, "k-123") {
		t.Errorf("key visible in %s", s)
	}
}

func TestParseErrors(t *testing.T) {
	key := env(EnvAPIKey, "k")
	tests := []struct {
		name, yaml, want string
		getenv           func(string) string
	}{
		{"unknown key names key and line", "jobs: [job_a]\ncontrol_plane:\n  urll: x\n", `control_plane.urll: unknown key "urll" (line 3)`, key},
		{"unknown top-level key", "jobz: [job_a]\n", `line 1: unknown key "jobz"`, key},
		{"bad scheme", "control_plane: {url: ftp://x}\njobs: [job_a]\n", "control_plane.url", key},
		{"no host", "control_plane: {url: 'https://'}\njobs: [job_a]\n", "needs an http or https scheme and a host", key},
		{"zero timeout", "control_plane: {timeout: 0s}\njobs: [job_a]\n", `control_plane.timeout: "0s" must be greater than 0`, key},
		{"bad duration names the key", "control_plane: {timeout: -5s}\njobs: [job_a]\n", `control_plane.timeout: not a valid duration string: "-5s"`, key},
		{"bad number names the key", "control_plane:\n  max_concurrency: x\njobs: [job_a]\n", "control_plane.max_concurrency: cannot unmarshal !!str `x` into int (line 2)", key},
		{"bad regex names the key, as written", "discovery: {enabled: true, name_include: '[)'}\n", "discovery.name_include: regular expression \"[)\": error parsing regexp: missing closing ]: `[)`", key},
		{"regex cannot escape the anchors", "discovery: {enabled: true, entity_name_exclude: 'a)|(b'}\n", "discovery.entity_name_exclude: regular expression \"a)|(b\"", key},
		{"zero concurrency", "control_plane: {max_concurrency: 0}\njobs: [job_a]\n", "control_plane.max_concurrency: 0 must be at least 1", key},
		{"no jobs", "control_plane: {}\n", "list at least one job ID", key},
		{"empty job id", "jobs: ['']\n", "jobs[0]: empty job ID", key},
		{"path characters", "jobs: ['../../health']\n", "jobs[0] \"../../health\"", key},
		{"query characters", "jobs: [job_a, 'a?b=c']\n", "jobs[1]", key},
		{"no key", "jobs: [job_a]\n", "no API key", env()},
		{"bad yaml", "jobs: [\n", "yaml", key},
		{"two credentials", "control_plane:\n  bearer_token: a\n  authorization: {credentials: b}\njobs: [job_a]\n", "control_plane:", key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), tt.getenv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubiya.yml")
	reg := prometheus.NewRegistry()
	sc := NewSafeConfig(path, env(EnvAPIKey, "k"), reg)

	writeFile(t, path, "jobs: [job_a]\n")
	if _, err := sc.Reload(nil); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(sc.reloadSuccess); v != 1 {
		t.Fatalf("reload successful = %v", v)
	}

	writeFile(t, path, "jobs: [job_a\n")
	if _, err := sc.Reload(nil); err == nil {
		t.Fatal("bad config accepted")
	}
	if got := sc.Get().Jobs; len(got) != 1 || got[0] != "job_a" {
		t.Fatalf("old config lost: %v", got)
	}
	if v := testutil.ToFloat64(sc.reloadSuccess); v != 0 {
		t.Fatalf("reload successful = %v after a bad reload", v)
	}

	writeFile(t, path, "jobs: [job_b]\n")
	refused := false
	if _, err := sc.Reload(func(*Config) error { refused = true; return os.ErrInvalid }); err == nil || !refused {
		t.Fatal("a config refused by accept was taken")
	}
	if sc.Get().Jobs[0] != "job_a" {
		t.Fatal("refused config replaced the old one")
	}

	if _, err := sc.Reload(nil); err != nil || sc.Get().Jobs[0] != "job_b" {
		t.Fatalf("good reload: %v, %v", err, sc.Get().Jobs)
	}
}

func TestWarningsForReadableCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	writeFile(t, keyFile, "k")
	cfg, err := Parse([]byte("control_plane:\n  authorization:\n    credentials_file: "+keyFile+"\njobs: [job_a]\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Fatalf("warnings for a 0600 file: %v", w)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 1 || !strings.Contains(w[0], "readable by group or others") {
		t.Fatalf("warnings = %v", w)
	}
	// Group-readable by its owner's group is a warning too; read through
	// this process's own group by another owner (Kubernetes' fsGroup) is not.
	if err := os.Chmod(keyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 1 {
		t.Fatalf("warnings for a 0640 file of our own = %v", w)
	}
	if os.Geteuid() == 0 { // only root can give the file to another owner
		if err := os.Chown(keyFile, 65532, os.Getegid()); err != nil {
			t.Fatal(err)
		}
		if w := cfg.Warnings(); len(w) != 0 {
			t.Fatalf("warnings for a 0640 file read through our own group = %v", w)
		}
		if err := os.Chmod(keyFile, 0o644); err != nil {
			t.Fatal(err)
		}
		if w := cfg.Warnings(); len(w) != 1 {
			t.Fatalf("warnings for a world-readable file of another owner = %v", w)
		}
	}
}

func TestLoadResolvesRelativeFilesAgainstTheConfigDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubiya.yml")
	writeFile(t, path, "control_plane:\n  authorization:\n    credentials_file: api-key\njobs: [job_a]\n")
	writeFile(t, filepath.Join(dir, "api-key"), "k")
	cfg, err := Load(path, env())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ControlPlane.HTTPClientConfig.Authorization.CredentialsFile, filepath.Join(dir, "api-key"); got != want {
		t.Fatalf("credentials_file = %q, want %q", got, want)
	}
}

// TestLoadChecksCredentialsFile: Load (--config.check, start, reload)
// refuses a key file it cannot use, naming the file and the reason.
// Unreadability for a non-root user is tested through the binary
// (TestBinaryCredentialsChecks), which can run the exporter as uid 65532.
func TestLoadChecksCredentialsFile(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(path string) // makes (or not) the key file
		want  string
	}{
		{"ok", func(p string) { writeFile(t, p, "k\n") }, ""},
		{"missing", func(string) {}, "no such file or directory"},
		{"empty", func(p string) { writeFile(t, p, "") }, "api-key: empty"},
		{"only whitespace", func(p string) { writeFile(t, p, " \n\t\n") }, "api-key: empty"},
		{"a directory", func(p string) { _ = os.Mkdir(p, 0o700) }, "is a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(filepath.Join(dir, "api-key"))
			path := filepath.Join(dir, "kubiya.yml")
			writeFile(t, path, "control_plane:\n  authorization:\n    credentials_file: api-key\njobs: [job_a]\n")
			_, err := Load(path, env(EnvAPIKey, "from-env-but-the-file-wins"))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "control_plane.authorization.credentials_file") ||
				!strings.Contains(err.Error(), filepath.Join(dir, "api-key")) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming the key, the file and %q", err, tt.want)
			}
		})
	}
}
