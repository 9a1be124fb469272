package exposition

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// expositionText is about size bytes of text shaped like a large answer:
// families of one line per job, label sets that differ in a job ID and
// name, values that are mostly timestamps and small counts.
func expositionText(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	families := []string{"kubiya_job_created_timestamp_seconds", "kubiya_job_enabled", "kubiya_job_executions_total",
		"kubiya_job_info", "kubiya_job_status", "kubiya_job_up"}
	var b []byte
	for f := 0; len(b) < size; f++ {
		name := families[f%len(families)] + strings.Repeat("_x", f/len(families))
		b = fmt.Appendf(b, "# HELP %s Something about jobs.\n# TYPE %s gauge\n", name, name)
		for j := 0; j < 3000 && len(b) < size; j++ {
			b = fmt.Appendf(b, "%s{job_id=\"job_%08x-%04x\",job_name=\"gen-cron-%05d\",trigger_type=\"cron\",entity_type=\"agent\"} %d\n",
				name, rng.Uint32(), j, j, 1700000000+rng.IntN(100000))
		}
	}
	return b
}

// chunked splits b into the writes a handler makes: one, 32 KiB ones
// (writeText's), or random sizes (seeded) from 1 byte to 300 KiB.
func chunked(b []byte, mode string, seed uint64) [][]byte {
	var size func() int
	switch mode {
	case "one":
		return [][]byte{b}
	case "32k":
		size = func() int { return 32 << 10 }
	case "random":
		rng := rand.New(rand.NewPCG(seed, 2))
		size = func() int {
			if rng.IntN(4) == 0 {
				return 1 + rng.IntN(16)
			}
			return 1 + rng.IntN(300<<10)
		}
	default:
		panic(mode)
	}
	var out [][]byte
	for len(b) > 0 {
		n := min(size(), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// mutate changes a copy of text's lines: op is "change" (a line's last
// byte before its '\n'), "insert" (a new line) or "delete", at the line
// that lies at each of the fractions at of text.
func mutate(text []byte, op string, at ...float64) []byte {
	lines := slices.Collect(func(yield func([]byte) bool) {
		for l := range bytes.Lines(text) {
			if !yield(bytes.Clone(l)) {
				return
			}
		}
	})
	for _, f := range slices.Backward(at) {
		i := min(int(f*float64(len(lines))), len(lines)-1)
		if i < 0 { // no lines left
			lines = append(lines, []byte("inserted 1\n"))
			continue
		}
		switch op {
		case "change":
			l := lines[i]
			k := len(l) - 1
			if k < 0 || l[k] != '\n' {
				k = len(l)
				l = append(l, '0')
			}
			if k > 0 {
				k--
			}
			l[k] = '0' + (l[k]+1)%10
			lines[i] = l
		case "insert":
			lines = slices.Insert(lines, i, []byte("kubiya_job_up{job_id=\"inserted\"} 1\n"))
		case "delete":
			lines = slices.Delete(lines, i, i+1)
		}
	}
	return bytes.Join(lines, nil)
}

// serve answers one request through g with handler and returns what the
// client gets, decompressed when it is gzip.
func serve(t *testing.T, g *Gzip, acceptGzip bool, handler http.HandlerFunc) (body []byte, gzipped bool) {
	t.Helper()
	body, gzipped, err := serveErr(g, acceptGzip, handler)
	if err != nil {
		t.Fatal(err)
	}
	return body, gzipped
}

// serveErr is serve for any goroutine: a gzipped answer must be exactly
// one valid gzip member.
func serveErr(g *Gzip, acceptGzip bool, handler http.HandlerFunc) (body []byte, gzipped bool, err error) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptGzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	g.Serve(rec, req, handler)
	if v := rec.Header().Values("Vary"); !slices.Contains(v, "Accept-Encoding") {
		return nil, false, fmt.Errorf("Vary = %v, want Accept-Encoding", v)
	}
	if rec.Header().Get("Content-Encoding") != "gzip" {
		return rec.Body.Bytes(), false, nil
	}
	raw := bytes.NewReader(rec.Body.Bytes())
	zr, err := gzip.NewReader(raw)
	if err != nil {
		return nil, true, fmt.Errorf("gzip header: %w", err)
	}
	zr.Multistream(false)
	body, err = io.ReadAll(zr) // checks CRC-32 and size
	if err != nil {
		return nil, true, fmt.Errorf("gunzip: %w", err)
	}
	if raw.Len() != 0 {
		return nil, true, fmt.Errorf("%d bytes after the gzip member", raw.Len())
	}
	return body, true, nil
}

func writeChunks(chunks [][]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				panic(err)
			}
		}
	}
}

func newTestGzip(t *testing.T, cache bool) *Gzip {
	t.Helper()
	return NewGzip(GzipOptions{Cache: cache, Registerer: prometheus.NewRegistry()})
}

// TestGzipRoundTrip: whatever the handler writes, in whatever pieces, and
// however it changes from answer to answer, the client decompresses
// exactly it, with the cache on and off.
func TestGzipRoundTrip(t *testing.T) {
	big := expositionText(5<<20, 1)
	random := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	longLine := append(bytes.Repeat([]byte("long_line_without_end "), maxSegment/10), '\n')
	longLine = append(append(longLine, big[:400<<10]...), longLine...)
	tests := []struct {
		name string
		text []byte
		ops  []string // the mutation before the second and third answer
	}{
		{"empty", nil, []string{"insert", "delete"}},
		{"one short line", []byte("up 1\n"), []string{"change", "delete"}},
		{"no trailing newline", []byte("a 1\nb 2"), []string{"change", "insert"}},
		{"just under cacheAfter", expositionText(cacheAfter-100, 2), []string{"insert", "change"}},
		{"lines longer than a segment", longLine, []string{"change", "insert"}},
		{"5 MB exposition", big, []string{"change", "insert"}},
		{"2 MB exposition, deletions", big[:2<<20], []string{"delete", "delete"}},
		{"random bytes", random, []string{"change", "insert"}},
	}
	for _, tt := range tests {
		for _, cache := range []bool{true, false} {
			modes := []string{"one", "32k", "random"}
			if !cache {
				modes = modes[2:] // gzip.Writer's own tests cover the rest
			}
			for _, mode := range modes {
				t.Run(fmt.Sprintf("%s/cache=%v/%s", tt.name, cache, mode), func(t *testing.T) {
					g := newTestGzip(t, cache)
					text := tt.text
					for i := range 3 {
						if i > 0 {
							text = mutate(text, tt.ops[i-1], 0.1, 0.5, 0.97)
						}
						got, gzipped := serve(t, g, true, writeChunks(chunked(text, mode, uint64(i))))
						if !gzipped {
							t.Fatal("answer not gzipped")
						}
						if !bytes.Equal(got, text) {
							t.Fatalf("answer %d: got %d bytes, want %d (first difference at %d)", i, len(got), len(text), firstDiff(got, text))
						}
					}
				})
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestGzipHeaderPaths: a client without gzip gets the text as it is, and
// a handler that removes Content-Encoding (promhttp's error page) sends
// its body uncompressed; an answer with no body is an empty gzip member.
func TestGzipHeaderPaths(t *testing.T) {
	errorPage := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Del("Content-Encoding")
		http.Error(w, "An error has occurred", http.StatusInternalServerError)
	}
	tests := []struct {
		name       string
		acceptGzip bool
		handler    http.HandlerFunc
		want       string
		wantGzip   bool
	}{
		{"plain client", false, writeChunks([][]byte{[]byte("up 1\n")}), "up 1\n", false},
		{"error page", true, errorPage, "An error has occurred\n", false},
		{"no body", true, func(http.ResponseWriter, *http.Request) {}, "", true},
		{"status only", true, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }, "", true},
	}
	for _, tt := range tests {
		for _, cache := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/cache=%v", tt.name, cache), func(t *testing.T) {
				got, gzipped := serve(t, newTestGzip(t, cache), tt.acceptGzip, tt.handler)
				if string(got) != tt.want || gzipped != tt.wantGzip {
					t.Errorf("got %q (gzip %v), want %q (gzip %v)", got, gzipped, tt.want, tt.wantGzip)
				}
			})
		}
	}
}

// TestGzipCacheReuse: an identical answer comes from the cache but for
// its first cacheAfter bytes (and the segment that reaches past them); a
// changed, inserted or deleted line recompresses only the segments around
// it.
func TestGzipCacheReuse(t *testing.T) {
	text := expositionText(3<<20, 4)
	// The uncached start of an answer, the segments around one edit and
	// the last segment (which may end differently).
	const budget = cacheAfter + 4*maxSegment
	tests := []struct {
		name           string
		next           []byte
		maxCompressed  int
		wantCachedMost bool
	}{
		{"identical", text, cacheAfter + maxSegment, true},
		{"one changed value", mutate(text, "change", 0.5), budget, true},
		{"one inserted line", mutate(text, "insert", 0.3), budget, true},
		{"one deleted line", mutate(text, "delete", 0.7), budget, true},
		{"all new", expositionText(3<<20, 5), len(text) + maxSegment, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGzip(t, true)
			serve(t, g, true, writeChunks(chunked(text, "32k", 0)))
			if c := testutil.ToFloat64(g.cachedBytes); c != 0 {
				t.Fatalf("first answer: %v bytes from an empty cache", c)
			}
			first := testutil.ToFloat64(g.compressedBytes)
			if first != float64(len(text)) {
				t.Fatalf("first answer: %v bytes compressed, want %d", first, len(text))
			}
			got, _ := serve(t, g, true, writeChunks(chunked(tt.next, "random", 1)))
			if !bytes.Equal(got, tt.next) {
				t.Fatal("second answer differs")
			}
			cached := testutil.ToFloat64(g.cachedBytes)
			compressed := testutil.ToFloat64(g.compressedBytes) - first
			if cached+compressed != float64(len(tt.next)) {
				t.Errorf("cached %v + compressed %v bytes, want %d", cached, compressed, len(tt.next))
			}
			if compressed > float64(tt.maxCompressed) {
				t.Errorf("%v of %d bytes compressed again, want at most %d", compressed, len(tt.next), tt.maxCompressed)
			}
			if tt.wantCachedMost != (cached > float64(len(tt.next))/2) {
				t.Errorf("%v of %d bytes from the cache", cached, len(tt.next))
			}
		})
	}
}

// TestGzipCacheEviction: a segment survives while one of the last two
// answers used it, and then is dropped; the cache's bytes are what it
// holds.
func TestGzipCacheEviction(t *testing.T) {
	g := newTestGzip(t, true)
	a, b, c := expositionText(1<<20, 6), expositionText(1<<20, 7), expositionText(1<<20, 8)
	steps := []struct {
		text       []byte
		wantCached bool
	}{
		{a, false},
		{b, false},
		{a, true},  // a's segments were used by the answer before last
		{c, false}, // drops b's
		{b, false},
		{a, false}, // dropped after c and b
	}
	for i, s := range steps {
		before := testutil.ToFloat64(g.cachedBytes)
		serve(t, g, true, writeChunks(chunked(s.text, "32k", 0)))
		cached := testutil.ToFloat64(g.cachedBytes) - before
		if (cached > float64(len(s.text))/2) != s.wantCached {
			t.Errorf("answer %d: %v of %d bytes from the cache, want cached %v", i, cached, len(s.text), s.wantCached)
		}
		held := 0
		for _, e := range g.cache.entries {
			held += len(e.data)
		}
		if held != g.cache.size() || held == 0 || held > 2*len(s.text) {
			t.Errorf("answer %d: cache holds %d bytes, says %d", i, held, g.cache.size())
		}
	}
}

// TestSegmentCacheLimit: beyond maxBytes nothing more is cached, and the
// limit frees up when entries are dropped.
func TestSegmentCacheLimit(t *testing.T) {
	c := newSegmentCache(100, defaultSegmentSizes())
	id := c.begin()
	tests := []struct {
		key    uint64
		size   int
		wantIn bool
	}{
		{1, 60, true},
		{2, 60, false}, // 120 > 100
		{3, 40, true},
		{1, 60, true}, // already there
	}
	for _, tt := range tests {
		c.put(segmentKey{hash: tt.key}, make([]byte, tt.size), id)
		if _, ok := c.get(segmentKey{hash: tt.key}, id); ok != tt.wantIn {
			t.Errorf("key %d: cached %v, want %v", tt.key, ok, tt.wantIn)
		}
	}
	if c.size() != 100 {
		t.Errorf("size %d, want 100", c.size())
	}
	c.end(c.begin())
	c.end(c.begin())
	if c.size() != 0 || len(c.entries) != 0 {
		t.Errorf("after two answers that used nothing: %d bytes in %d entries", c.size(), len(c.entries))
	}
}

// TestChunkerResynchronizes: segments stay within their bounds, and after
// an edit the boundaries fall on the same lines again.
func TestChunkerResynchronizes(t *testing.T) {
	text := expositionText(3<<20, 9)
	cuts := func(b []byte) []string {
		var segs []string
		sizes := defaultSegmentSizes()
		for len(b) > 0 {
			ch := chunker{sz: &sizes}
			n := 0
			for k := 1; n == 0; k++ { // grow the input as writes would
				n = ch.cut(b[:min(len(b), k*5000)])
				if k*5000 >= len(b) && n == 0 {
					n = len(b)
				}
			}
			if n > maxSegment || (n < minSegment && n != len(b)) {
				t.Fatalf("segment of %d bytes", n)
			}
			segs = append(segs, string(b[:n]))
			b = b[n:]
		}
		return segs
	}
	base := cuts(text)
	for _, op := range []string{"change", "insert", "delete"} {
		t.Run(op, func(t *testing.T) {
			edited := cuts(mutate(text, op, 0.5))
			seen := map[string]bool{}
			for _, s := range base {
				seen[s] = true
			}
			differ := 0
			for _, s := range edited {
				if !seen[s] {
					differ++
				}
			}
			if differ == 0 || differ > 2 {
				t.Errorf("%d of %d segments differ, want 1 or 2", differ, len(edited))
			}
		})
	}
}

// failingResponse fails every write once it has taken limit bytes, as a
// connection the client closed does.
type failingResponse struct {
	h     http.Header
	limit int
}

func (f *failingResponse) Header() http.Header { return f.h }
func (f *failingResponse) WriteHeader(int)     {}
func (f *failingResponse) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, io.ErrClosedPipe
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestGzipWriteError: when the client goes away the handler's writes
// fail, and the next answer is whole again.
func TestGzipWriteError(t *testing.T) {
	text := expositionText(2<<20, 13)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	for _, limit := range []int{0, 5, 100 << 10, 250 << 10} {
		for _, cache := range []bool{true, false} {
			t.Run(fmt.Sprintf("after %d bytes/cache=%v", limit, cache), func(t *testing.T) {
				g := newTestGzip(t, cache)
				serve(t, g, true, writeChunks(chunked(text, "32k", 0)))
				var failed error
				w := &failingResponse{h: http.Header{}, limit: limit}
				g.Serve(w, req, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					for _, c := range chunked(text, "32k", 0) {
						if _, err := w.Write(c); err != nil {
							failed = err
							return
						}
					}
				}))
				if failed == nil {
					t.Error("no write failed")
				}
				if got, _ := serve(t, g, true, writeChunks(chunked(text, "random", 1))); !bytes.Equal(got, text) {
					t.Error("answer after the failure differs")
				}
			})
		}
	}
}

// TestGzipConcurrent: answers in flight together share the cache and each
// gets its own text (run with -race).
func TestGzipConcurrent(t *testing.T) {
	g := newTestGzip(t, true)
	texts := [][]byte{expositionText(2<<20, 10), expositionText(2<<20, 10), expositionText(2<<20, 11)}
	texts[1] = mutate(texts[1], "insert", 0.2, 0.6)
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]string, len(texts))
		for i, text := range texts {
			wg.Go(func() {
				got, _, err := serveErr(g, true, writeChunks(chunked(text, "random", uint64(round*10+i))))
				switch {
				case err != nil:
					errs[i] = fmt.Sprintf("round %d, answer %d: %v", round, i, err)
				case !bytes.Equal(got, text):
					errs[i] = fmt.Sprintf("round %d, answer %d: %d bytes, want %d", round, i, len(got), len(text))
				}
			})
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Error(e)
			}
		}
	}
}

// discardResponse is a ResponseWriter that keeps nothing but its headers.
type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}

// BenchmarkGzip compresses a 32 MB answer (about what 10,000 jobs give)
// in writeText's 32 KiB writes: without the cache, with the cache and the
// same answer each time, and with the cache and answers that each change
// a value in one line of 64 in every other family (as when a few hundred
// jobs ran), never the same line as either answer before.
func BenchmarkGzip(b *testing.B) {
	text := expositionText(32<<20, 12)
	var changing [][]byte
	for v := range 4 {
		changed := bytes.Clone(text)
		family, line := 0, 0
		for i := 0; i < len(changed); i++ {
			if changed[i] != '\n' {
				continue
			}
			if bytes.HasPrefix(changed[i+1:], []byte("# HELP")) {
				family++
			}
			if line++; family%2 == 0 && (line+v*16)%64 == 0 && changed[i-1] != '\n' {
				changed[i-1] = '0' + (changed[i-1]+1)%10
			}
		}
		changing = append(changing, changed)
	}
	tests := []struct {
		name    string
		cache   bool
		answers [][]byte
	}{
		{"cache=off", false, [][]byte{text}},
		{"cache=on/same", true, [][]byte{text}},
		{"cache=on/changing", true, changing},
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			g := NewGzip(GzipOptions{Cache: tt.cache})
			handlers := make([]http.HandlerFunc, len(tt.answers))
			for i, a := range tt.answers {
				handlers[i] = writeChunks(chunked(a, "32k", 0))
				g.Serve(discardResponse{http.Header{}}, req, handlers[i])
			}
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				g.Serve(discardResponse{http.Header{}}, req, handlers[i%len(handlers)])
			}
		})
	}
}
