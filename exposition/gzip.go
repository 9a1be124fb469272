package exposition

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
)

// Gzip compresses answers for clients that accept gzip, as
// Prometheus does, at klauspost/compress's fastest level: on this
// exposition text (long, repetitive label sets) it costs about a sixth of
// the CPU of compress/gzip's default level (which promhttp uses) for a
// similar size (BENCHMARKS.md). With GzipOptions.Cache, parts of an answer
// that are byte-identical to parts of the last two answers are sent as
// they were compressed then instead of being compressed again
// (gzcache.go).
type Gzip struct {
	pool       sync.Pool // *gzip.Writer, without the cache
	writers    sync.Pool // *segmentWriter, with the cache
	cache      *segmentCache
	bytesTotal *prometheus.CounterVec
	// Children of bytesTotal, looked up once.
	cachedBytes, compressedBytes prometheus.Counter
}

// GzipOptions configures NewGzip.
type GzipOptions struct {
	// Cache keeps the compressed form of the last two answers, in segments
	// of about 47 KB, for up to 64 MiB (gzcache.go). At 10,000 jobs it
	// saves most of the compression's CPU for answers about 2% larger;
	// answers under 256 KiB are compressed as without it.
	Cache bool
	// Registerer, if not nil, gets the compression metrics
	// (kubiya_exporter_compression_*); registering twice panics.
	Registerer prometheus.Registerer
}

// NewGzip returns a Gzip with empty pools and, with opts.Cache, an empty
// cache.
func NewGzip(opts GzipOptions) *Gzip {
	return newGzip(opts, defaultSegmentSizes())
}

func newGzip(opts GzipOptions, sizes segmentSizes) *Gzip {
	g := &Gzip{
		pool: sync.Pool{New: func() any {
			w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
			return w
		}},
		bytesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubiya_exporter_compression_bytes_total",
			Help: "Uncompressed bytes of gzip-compressed answers: result=\"cached\" were sent as compressed for an earlier answer (--web.compression-cache), result=\"compressed\" were compressed for this one.",
		}, []string{"result"}),
	}
	g.cachedBytes = g.bytesTotal.WithLabelValues("cached")
	g.compressedBytes = g.bytesTotal.WithLabelValues("compressed")
	if opts.Cache {
		g.cache = newSegmentCache(cacheMaxBytes, sizes)
		g.writers.New = func() any { return newSegmentWriter(sizes) }
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(g.bytesTotal, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kubiya_exporter_compression_cache_bytes",
			Help: "Compressed bytes held by the compression cache (--web.compression-cache); 0 when it is off.",
		}, func() float64 {
			if g.cache == nil {
				return 0
			}
			return float64(g.cache.size())
		}))
	}
	return g
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
	gw := &gzipResponseWriter{ResponseWriter: w, g: g}
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
	g       *Gzip
	gz      *gzip.Writer   // without the cache
	sw      *segmentWriter // with the cache
	n       int            // uncompressed bytes, without the cache
	decided bool
}

func (w *gzipResponseWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	if w.Header().Get("Content-Encoding") != "gzip" {
		return
	}
	w.Header().Del("Content-Length")
	if w.g.cache != nil {
		w.sw = w.g.writers.Get().(*segmentWriter)
		w.sw.reset(w.ResponseWriter, w.g.cache)
		return
	}
	w.gz = w.g.pool.Get().(*gzip.Writer)
	w.gz.Reset(w.ResponseWriter)
}

func (w *gzipResponseWriter) WriteHeader(code int) {
	w.decide()
	w.ResponseWriter.WriteHeader(code)
}

func (w *gzipResponseWriter) Write(p []byte) (int, error) {
	w.decide()
	switch {
	case w.sw != nil:
		return w.sw.Write(p)
	case w.gz != nil:
		n, err := w.gz.Write(p)
		w.n += n
		return n, err
	}
	return w.ResponseWriter.Write(p)
}

func (w *gzipResponseWriter) close() {
	if !w.decided {
		// Nothing written: an empty gzip stream keeps the header honest.
		w.decide()
	}
	switch {
	case w.sw != nil:
		w.sw.close()
		w.g.cachedBytes.Add(float64(w.sw.cached))
		w.g.compressedBytes.Add(float64(w.sw.compressed))
		w.sw.reset(nil, nil)
		w.g.writers.Put(w.sw)
		w.sw = nil
	case w.gz != nil:
		_ = w.gz.Close()
		w.g.compressedBytes.Add(float64(w.n))
		w.gz.Reset(nil)
		w.g.pool.Put(w.gz)
		w.gz = nil
	}
}

// sink passes writes on to w until one fails, then keeps the error: the
// answer is lost anyway, and the caller checks once.
type sink struct {
	w   io.Writer
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}
