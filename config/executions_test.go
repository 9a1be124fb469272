package config

import (
	"strings"
	"testing"
)

func TestExecutionsConfig(t *testing.T) {
	const base = "jobs: [job_a]\n"
	tests := []struct {
		name        string
		yaml        string
		wantEnabled bool
		wantLimit   int
		wantErr     string
	}{
		{"absent: off", base, false, 0, ""},
		{"null: off", base + "executions:\n", false, 0, ""},
		{"empty: off", base + "executions: {}\n", false, 0, ""},
		{"enabled with the default limit", base + "executions: {enabled: true}\n", true, DefaultExecutionsLimit, ""},
		{"enabled with a limit", base + "executions:\n  enabled: true\n  limit: 50\n", true, 50, ""},
		{"limit 1", base + "executions: {enabled: true, limit: 1}\n", true, 1, ""},
		{"limit 1000", base + "executions: {enabled: true, limit: 1000}\n", true, 1000, ""},
		{"disabled with a limit", base + "executions: {enabled: false, limit: 5}\n", false, 0, ""},
		{"limit 0", base + "executions: {enabled: true, limit: 0}\n", false, 0, "executions.limit 0: must be between 1 and 1000"},
		{"limit negative", base + "executions: {enabled: true, limit: -3}\n", false, 0, "executions.limit -3"},
		{"limit over the API's maximum", base + "executions: {enabled: true, limit: 1001}\n", false, 0, "executions.limit 1001"},
		{"limit not a number", base + "executions: {enabled: true, limit: lots}\n", false, 0, "cannot unmarshal"},
		{"enabled not a bool", base + "executions: {enabled: sometimes}\n", false, 0, "cannot unmarshal"},
		{"unknown key", base + "executions: {enabled: true, window: 5}\n", false, 0, `executions.window: unknown key "window" (line 2)`},
		{"misspelt section", base + "execution: {enabled: true}\n", false, 0, `line 2: unknown key "execution"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), env(EnvAPIKey, "k"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			enabled, limit := cfg.Executions != nil && cfg.Executions.Enabled, 0
			if enabled {
				limit = cfg.Executions.Limit
			}
			if enabled != tt.wantEnabled || limit != tt.wantLimit {
				t.Errorf("enabled, limit = %v, %d; want %v, %d", enabled, limit, tt.wantEnabled, tt.wantLimit)
			}
		})
	}
}
