package config

import (
	"strings"
	"testing"
)

// fuzzKey stands for an API key from the environment: no error may show it.
const fuzzKey = "fuzz-key-CANARY-5c1e"

// FuzzParse feeds arbitrary YAML to the config loader. Seeds live in
// testdata/fuzz/FuzzParse; `make fuzz` runs it for FUZZTIME.
func FuzzParse(f *testing.F) {
	for _, s := range []string{good, "jobs: [job_a]\n", "control_plane: {timeout: 0s}\njobs: [job_a]\n",
		"jobs: ['../../health', job_a, job_a]\n", "control_plane:\n  bearer_token: a\n  authorization: {credentials: b}\njobs: [job_a]\n",
		"a: &a [*a, *a]\n", "jobs: [\n"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, withKey bool) {
		getenv := env()
		if withKey {
			getenv = env(EnvAPIKey, fuzzKey)
		}
		cfg, err := Parse(data, getenv)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a config and an error: %v", err)
			}
			if strings.Contains(err.Error(), fuzzKey) {
				t.Fatalf("error shows the API key: %v", err)
			}
			return
		}
		// What Parse accepts, Validate accepts; IDs are unique and safe.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate refuses: %v", err)
		}
		seen := map[string]bool{}
		for _, id := range cfg.Jobs {
			if seen[id] || !jobIDPattern.MatchString(id) {
				t.Fatalf("job ID %q duplicated (%v) or unsafe", id, seen[id])
			}
			seen[id] = true
		}
		if !hasCredentials(&cfg.ControlPlane.HTTPClientConfig) {
			t.Fatal("accepted a config without credentials")
		}
		if s := cfg.ControlPlane.HTTPClientConfig.String(); strings.Contains(s, fuzzKey) {
			t.Fatalf("key visible in %s", s)
		}
	})
}
