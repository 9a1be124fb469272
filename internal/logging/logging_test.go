package logging

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
)

// TestOneFormat: a go-kit line and a slog line (as exporter-toolkit writes
// them) have the same keys in the same order, in both formats, and the
// level filter applies to both.
func TestOneFormat(t *testing.T) {
	var buf bytes.Buffer
	logger, slogger := New(&buf, "logfmt", "info")
	level.Info(logger).Log("msg", "from go-kit", "k", "v")
	slogger.Info("from slog", "k", "v")
	level.Debug(logger).Log("msg", "hidden")
	slogger.Debug("hidden")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := regexp.MustCompile(`^level=info ts=\d{4}-\d\d-\d\dT[0-9:.]+Z caller=logging_test\.go:\d+ msg="from (go-kit|slog)" k=v$`)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		if !want.MatchString(l) {
			t.Errorf("line %q does not match %s", l, want)
		}
	}

	buf.Reset()
	logger, slogger = New(&buf, "json", "debug")
	level.Debug(logger).Log("msg", "a")
	slogger.Debug("b")
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		ts, _ := m["ts"].(string)
		if m["level"] != "debug" || !strings.HasSuffix(ts, "Z") || m["caller"] == nil || m["time"] != nil {
			t.Errorf("json line %s: want level, ts in UTC, caller, no time", l)
		}
	}
}
