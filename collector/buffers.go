package collector

import "sync"

// A scrape of 10,000 jobs builds about 13 MB of series and label text
// (collector/series.go). Made anew for every scrape, that memory is most
// of what the collector allocates, and allocation is what sets the garbage
// collector going. A closed scrape (Scrape.Close, once its answer is
// written) hands its buffers back for the next one.

// scrapeBuffers are the memory one Collect writes its job series into.
type scrapeBuffers struct {
	jobs    []jobSeries
	arena   textArena
	values  [][numJobValues]string
	fetched []*result
	ups     []upEntry
	order   []int
	at      []int
	byInfo  []*jobSeries
}

// reset empties b for reuse, dropping what it points to (a buffer kept
// for the next scrape must not keep this scrape's jobs alive), and the
// arrays far larger than this scrape needed.
func (b *scrapeBuffers) reset() {
	b.jobs = emptied(b.jobs)
	b.values = emptied(b.values)
	b.fetched = emptied(b.fetched)
	b.ups = emptied(b.ups)
	b.order = emptied(b.order)
	b.at = emptied(b.at)
	b.byInfo = emptied(b.byInfo)
	b.arena.reset()
}

// emptied zeroes s and returns it empty, or nil when its array is more
// than twice what it held.
func emptied[T any](s []T) []T {
	clear(s)
	if cap(s) > 2*len(s)+64 {
		return nil
	}
	return s[:0]
}

// bufferPool keeps the buffers of the last closed scrapes. Unlike a
// sync.Pool it is not emptied by the garbage collector, which runs
// several times per large scrape.
type bufferPool struct {
	mu   sync.Mutex
	free []*scrapeBuffers
}

// maxFreeBuffers is how many closed scrapes' buffers are kept: one per
// overlapping scrape (an HA pair of Prometheus servers) is enough.
const maxFreeBuffers = 2

func (p *bufferPool) get() *scrapeBuffers {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return &scrapeBuffers{}
}

func (p *bufferPool) put(b *scrapeBuffers) {
	b.reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxFreeBuffers {
		p.free = append(p.free, b)
	}
}

// grow returns s with length n, reusing its array when it is large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
