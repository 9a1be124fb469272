package collector

import (
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func expfmtWrite(w io.Writer, mf *dto.MetricFamily) (int, error) {
	return expfmt.MetricFamilyToText(w, mf)
}

// gatherText runs one scrape of c and returns the text exposition.
func gatherText(t testing.TB, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// lineLogger keeps every log line (logfmt), for tests that count or search
// them; safe for concurrent use.
type lineLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLogger) Log(kv ...any) error {
	var b strings.Builder
	_ = log.NewLogfmtLogger(&b).Log(kv...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// Lines returns the lines logged so far.
func (l *lineLogger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}
