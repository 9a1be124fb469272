package config

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestJobIDInput: an ID with a character no job ID has is refused at load
// with a message that names its position and shows it quoted (control
// characters escaped) and cut to 64 bytes, so a hostile or mistaken entry
// can neither reach a URL path nor forge or flood a log line. The client
// escapes IDs as well (kubiya.TestPathEscaping), as defense in depth.
func TestJobIDInput(t *testing.T) {
	key := env(EnvAPIKey, "k")
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"job_<uuid>", "job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f", true},
		{"bare UUID", "2b7e9c1a-0d4f-4e8a-9b6c-3f5d7a1e2c4b", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"129 characters", strings.Repeat("a", 129), false},
		{"a megabyte", strings.Repeat("b", 1<<20), false},
		{"path traversal", "../../api/health", false},
		{"sub-resource", "job_a/executions", false},
		{"query", "job_a?enabled=true", false},
		{"fragment", "job_a#x", false},
		{"percent escape", "job_a%2F..", false},
		{"dot", ".", false},
		{"space", "job a", false},
		{"leading dash", "-job", false},
		{"non-ASCII", "jöb_a", false},
		{"newline forging a log line", "job_a\nlevel=error msg=forged", false},
		{"NUL", "job\x00", false},
		{"invalid UTF-8 cut mid-rune", strings.Repeat("é", 40), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "jobs:\n  - job_ok\n  - " + quoteYAML(tt.id) + "\n"
			_, err := Parse([]byte(yaml), key)
			if tt.ok {
				if err != nil {
					t.Fatalf("valid ID refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ID %.40q accepted", tt.id)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "jobs[1] \"") || !strings.Contains(msg, "a job ID is letters, digits, '_' and '-'") {
				t.Errorf("message does not name the entry and the rule: %s", msg)
			}
			if len(msg) > 250 || strings.ContainsAny(msg, "\n\x00") || !utf8.ValidString(msg) {
				t.Errorf("message is %d bytes, raw control characters %v, valid UTF-8 %v: %.300q",
					len(msg), strings.ContainsAny(msg, "\n\x00"), utf8.ValidString(msg), msg)
			}
		})
	}
}

func quoteYAML(s string) string {
	// A YAML double-quoted scalar takes JSON-style escapes.
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\x00", `\0`)
	return `"` + r.Replace(s) + `"`
}
