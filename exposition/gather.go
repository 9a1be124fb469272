// Package exposition serves what one scrape gathered in the Prometheus
// exposition formats: it merges the scrape's registry with the process's,
// writes the text format without re-checking what the registries checked,
// and gzips the answer.
package exposition

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/collector"
)

// Gatherer gathers the scrape's own registry and then the global
// one. prometheus.Gatherers would re-check every metric (hash, label and
// UTF-8 checks) and re-sort every family the two registries have already
// checked and sorted: at 10,000 jobs, 160,000 series checked twice. The two
// registries have disjoint metric names by design, so their sorted
// families are merged by name; should a name ever be in both, the answer
// falls back to prometheus.Gatherers on what was gathered (no second scrape).
type Gatherer struct {
	Scrape, Global prometheus.Gatherer
}

func (g Gatherer) Gather() ([]*dto.MetricFamily, error) {
	a, errA := g.Scrape.Gather()
	b, errB := g.Global.Gather()
	merged := make([]*dto.MetricFamily, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].GetName(), b[j].GetName()); {
		case c < 0:
			merged = append(merged, a[i])
			i++
		case c > 0:
			merged = append(merged, b[j])
			j++
		default:
			return prometheus.Gatherers{gathered(a, errA), gathered(b, errB)}.Gather()
		}
	}
	merged = append(append(merged, a[i:]...), b[j:]...)
	return merged, errors.Join(errA, errB)
}

// textGatherer is a Gatherer that can also answer with families that
// write their own text (collector.ScrapeRegistry).
type textGatherer interface {
	GatherText() ([]collector.TextFamily, error)
}

// GatherText is Gather for the text format: the scrape's job series come
// as families that write their own text (collector/textfmt.go).
func (g Gatherer) GatherText() ([]collector.TextFamily, error) {
	st, ok := g.Scrape.(textGatherer)
	if !ok {
		mfs, err := g.Gather()
		return wrapFamilies(mfs), err
	}
	a, errA := st.GatherText()
	b, errB := g.Global.Gather()
	merged := make([]collector.TextFamily, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].Name(), b[j].GetName()); {
		case c < 0:
			merged = append(merged, a[i])
			i++
		case c > 0:
			merged = append(merged, collector.FamilyOf(b[j]))
			j++
		default:
			mfs := make([]*dto.MetricFamily, len(a))
			for k, f := range a {
				mfs[k] = f.MetricFamily()
			}
			all, err := prometheus.Gatherers{gathered(mfs, errA), gathered(b, errB)}.Gather()
			return wrapFamilies(all), err
		}
	}
	merged = append(merged, a[i:]...)
	for _, mf := range b[j:] {
		merged = append(merged, collector.FamilyOf(mf))
	}
	return merged, errors.Join(errA, errB)
}

func wrapFamilies(mfs []*dto.MetricFamily) []collector.TextFamily {
	fams := make([]collector.TextFamily, len(mfs))
	for i, mf := range mfs {
		fams[i] = collector.FamilyOf(mf)
	}
	return fams
}

func gathered(mfs []*dto.MetricFamily, err error) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, err })
}

// Gzip compresses answers for clients that accept gzip, as
// Prometheus does, at klauspost/compress's fastest level: on this
// exposition text (long, repetitive label sets) it costs about a sixth of
// the CPU of compress/gzip's default level (which promhttp uses) for a
// similar size (BENCHMARKS.md).
type Gzip struct{ pool sync.Pool }

// NewGzip returns a Gzip with an empty pool of writers.
func NewGzip() *Gzip {
	return &Gzip{pool: sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}}
}

// Serve runs h with w compressed when r accepts gzip. h must not compress
// itself (promhttp.HandlerOpts.DisableCompression).
func (g *Gzip) Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	gw := &gzipResponseWriter{ResponseWriter: w, pool: &g.pool}
	defer gw.close()
	h.ServeHTTP(gw, r)
}

// acceptsGzip reads Accept-Encoding the simple way Prometheus needs: gzip
// listed and not refused with q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// gzipResponseWriter compresses the body, unless the handler removed the
// Content-Encoding header before writing (promhttp does when it answers
// with an error page).
type gzipResponseWriter struct {
	http.ResponseWriter
	pool    *sync.Pool
	gz      *gzip.Writer
	decided bool
}

func (w *gzipResponseWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	if w.Header().Get("Content-Encoding") == "gzip" {
		w.Header().Del("Content-Length")
		w.gz = w.pool.Get().(*gzip.Writer)
		w.gz.Reset(w.ResponseWriter)
	}
}

func (w *gzipResponseWriter) WriteHeader(code int) {
	w.decide()
	w.ResponseWriter.WriteHeader(code)
}

func (w *gzipResponseWriter) Write(p []byte) (int, error) {
	w.decide()
	if w.gz == nil {
		return w.ResponseWriter.Write(p)
	}
	return w.gz.Write(p)
}

func (w *gzipResponseWriter) close() {
	if !w.decided {
		// Nothing written: an empty gzip stream keeps the header honest.
		w.decide()
	}
	if w.gz != nil {
		_ = w.gz.Close()
		w.gz.Reset(nil)
		w.pool.Put(w.gz)
		w.gz = nil
	}
}
