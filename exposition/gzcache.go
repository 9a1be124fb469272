package exposition

// The compressed-segment cache. Most of a large answer is byte-identical
// from one scrape to the next (job info, status, schedules; the counters
// of jobs that did not run), yet gzip compressed all of it every time: at
// 10,000 jobs, 33 MB of text and a third of a scrape's CPU.
//
// segmentWriter writes the gzip framing itself (RFC 1952: header, raw
// deflate, CRC-32 and size of the uncompressed stream) and cuts the text
// into segments at line ends chosen by content: a segment closes after a
// line whose hash (of the line without its last space-separated field, the
// sample's value, so a changed value does not move a boundary) has its
// low boundaryBits bits zero, once the segment holds at least minSegment
// bytes, and at maxSegment bytes regardless. An inserted, deleted or
// changed line so changes only its own segment, and perhaps the next:
// boundaries after it fall on the same lines as before. Each segment is
// deflated on its own (fresh window, ending byte-aligned with a sync
// flush), so its compressed bytes can follow any other segment's; the
// stream ends with an empty final block. Compressed segments are kept in
// a map keyed by the segment's seeded xxhash and length, shared by
// concurrent answers; a segment found there is sent as it is.
//
// The first cacheAfter bytes of an answer, and all of a smaller answer,
// are one ordinary deflate stream, as without the cache: small answers are
// cheap to compress and not worth the memory.
//
// Sizes, measured on 10,000-job answers (docs/scaling.md): smaller
// segments hardly raise the hit rate (when a few percent of the jobs ran,
// nearly every segment of the families their runs change has a changed
// line, at any segment size that compresses well) but each segment's
// fresh window costs size: with a 16 KiB minimum the answer is 3.4% larger
// than one level-1 stream, 32 KiB 2.1%, 64 KiB 1.3%.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/flate"
)

const (
	minSegment   = 32 << 10
	maxSegment   = 128 << 10
	boundaryBits = 6 // one line in 64 past minSegment ends a segment: 47 KB on average
	cacheAfter   = 256 << 10
	// cacheMaxBytes bounds the compressed bytes kept: at 10,000 jobs the
	// cache holds 7 to 10 MB (two answers' worth of changed segments).
	cacheMaxBytes = 64 << 20
)

// segmentSizes are where segments end and when caching starts: the
// constants above, or (in tests) small ones that exercise the same code
// on small answers.
type segmentSizes struct {
	min, max, cacheAfter int
	boundaryMask         uint64
}

func defaultSegmentSizes() segmentSizes {
	return segmentSizes{min: minSegment, max: maxSegment, cacheAfter: cacheAfter, boundaryMask: 1<<boundaryBits - 1}
}

// gzipHeader is a gzip member header without name, time or extra fields;
// XFL 4 says "fastest", OS 255 "unknown", as klauspost/compress writes it.
const gzipHeader = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"

// finalBlock is an empty final deflate block with fixed codes.
const finalBlock = "\x03\x00"

// chunker finds where a segment ends. Its zero value starts a segment.
type chunker struct {
	sz        *segmentSizes
	scan      int // bytes of the segment already searched for line ends
	lineStart int // start of the line that contains scan
}

// cut returns the length of the segment that b starts, or 0 when b does
// not yet hold a whole one (more input may end it). b only grows between
// calls, up to sz.max bytes.
func (c *chunker) cut(b []byte) int {
	minSeg, maxSeg := c.sz.min, c.sz.max
	if c.scan < minSeg-1 {
		// A line ending before the minimum never ends a segment: skip to
		// it, knowing only where the line it is in starts.
		to := min(minSeg-1, len(b))
		if i := bytes.LastIndexByte(b[c.scan:to], '\n'); i >= 0 {
			c.lineStart = c.scan + i + 1
		}
		c.scan = to
	}
	end := min(len(b), maxSeg)
	for c.scan < end {
		i := bytes.IndexByte(b[c.scan:end], '\n')
		if i < 0 {
			c.scan = end
			break
		}
		nl := c.scan + i
		if isBoundary(b[c.lineStart:nl], c.sz.boundaryMask) {
			return nl + 1
		}
		c.lineStart, c.scan = nl+1, nl+1
	}
	if len(b) >= maxSeg {
		return maxSeg
	}
	return 0
}

// isBoundary reports whether a segment ends after line (without its
// '\n'). The hash leaves out what follows the last space, a sample's value,
// so that a new value does not move a boundary and change the next
// segment too. Any bytes are fine: boundaries only decide what is reused.
func isBoundary(line []byte, mask uint64) bool {
	if sp := bytes.LastIndexByte(line, ' '); sp > 0 {
		line = line[:sp]
	}
	return xxhash.Sum64(line)&mask == 0
}

// segmentKey names a segment's uncompressed bytes. The hash is seeded
// per cache, so label values chosen to collide with another segment
// cannot be computed. A chance collision (about one in 2^64 per lookup)
// would almost surely not go unnoticed: the answer's CRC-32 is computed
// from the bytes the handler wrote, so the client would reject the
// answer rather than read wrong samples. (A CRC-32 of
// each segment in the key would cost a second pass over the text, about
// 0.4 µs per job.)
type segmentKey struct {
	hash uint64
	size uint32
}

type segmentEntry struct {
	data []byte // compressed; never modified once cached
	used uint64 // the last answer that used it
}

// segmentCache holds compressed segments for the answers that use them.
// An answer (from the point where it starts caching) has an id; each
// entry remembers the highest id that used it, and when an answer ends the
// entries used neither by it nor by the answer before are dropped.
type segmentCache struct {
	seed     uint64
	maxBytes int
	sizes    segmentSizes

	mu      sync.Mutex
	entries map[segmentKey]segmentEntry
	bytes   int
	last    uint64 // the last answer id given out
}

func newSegmentCache(maxBytes int, sizes segmentSizes) *segmentCache {
	return &segmentCache{seed: rand.Uint64(), maxBytes: maxBytes, sizes: sizes, entries: map[segmentKey]segmentEntry{}}
}

func (c *segmentCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last++
	return c.last
}

// get returns the compressed segment for k, if cached, and marks it used
// by answer id.
func (c *segmentCache) get(k segmentKey, id uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if e.used < id {
		e.used = id
		c.entries[k] = e
	}
	return e.data, true
}

// put caches a copy of data for k as used by answer id, unless the cache
// is full.
func (c *segmentCache) put(k segmentKey, data []byte, id uint64) {
	data = bytes.Clone(data) // outside the lock; rarely wasted
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok { // another answer, in flight too, put it
		if e.used < id {
			e.used = id
			c.entries[k] = e
		}
		return
	}
	if c.bytes+len(data) > c.maxBytes {
		return
	}
	c.entries[k] = segmentEntry{data: data, used: id}
	c.bytes += len(data)
}

// end drops the entries used neither by answer id nor by the one before.
// An answer that failed half-way ends too: entries it did not reach were
// used by the answer before it, and survive until the next one.
func (c *segmentCache) end(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.used+1 < id {
			delete(c.entries, k)
			c.bytes -= len(e.data)
		}
	}
}

func (c *segmentCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// segmentWriter writes one gzip member with cached segments. It is reused
// (Gzip.writers); reset makes it ready for an answer.
type segmentWriter struct {
	cache   *segmentCache
	out     sink
	started bool // header written
	fw      *flate.Writer
	comp    bytes.Buffer // one compressed segment
	seg     []byte       // the segment being collected
	ch      chunker
	digest  *xxhash.Digest
	crc     uint32
	total   int    // uncompressed bytes
	id      uint64 // answer id once caching started, else 0
	// Uncompressed bytes sent from the cache and compressed now.
	cached, compressed int
}

func newSegmentWriter(sizes segmentSizes) *segmentWriter {
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	return &segmentWriter{fw: fw, seg: make([]byte, 0, sizes.max), digest: xxhash.New()}
}

// reset readies s to write an answer to w, or (w nil) drops references.
func (s *segmentWriter) reset(w io.Writer, c *segmentCache) {
	s.cache, s.out = c, sink{w: w}
	s.started = false
	s.fw.Reset(&s.out)
	s.comp.Reset()
	s.seg, s.ch = s.seg[:0], chunker{}
	if c != nil {
		s.ch.sz = &c.sizes
	}
	s.crc, s.total, s.id = 0, 0, 0
	s.cached, s.compressed = 0, 0
}

func (s *segmentWriter) start() {
	if !s.started {
		s.started = true
		_, _ = io.WriteString(&s.out, gzipHeader)
	}
}

func (s *segmentWriter) Write(p []byte) (int, error) {
	if s.out.err != nil {
		return 0, s.out.err
	}
	s.start()
	n := len(p)
	for len(p) > 0 {
		old := len(s.seg)
		take := min(len(p), s.cache.sizes.max-old)
		s.seg = append(s.seg, p[:take]...)
		end := s.ch.cut(s.seg)
		if end == 0 {
			p = p[take:]
			continue
		}
		// The segment ends inside what was just appended (cut has seen
		// the rest before): the bytes after its end are taken from p again.
		s.emit(s.seg[:end])
		p = p[end-old:]
		s.seg, s.ch = s.seg[:0], chunker{sz: &s.cache.sizes}
		if s.out.err != nil {
			break
		}
	}
	if s.out.err != nil {
		return 0, s.out.err
	}
	return n, nil
}

// emit compresses seg, or sends it from the cache.
func (s *segmentWriter) emit(seg []byte) {
	s.crc = crc32.Update(s.crc, crc32.IEEETable, seg)
	s.total += len(seg)
	if s.id == 0 {
		_, _ = s.fw.Write(seg)
		s.compressed += len(seg)
		if s.total >= s.cache.sizes.cacheAfter {
			// Byte-aligned, so segments compressed elsewhere can follow.
			_ = s.fw.Flush()
			s.id = s.cache.begin()
		}
		return
	}
	s.digest.ResetWithSeed(s.cache.seed)
	_, _ = s.digest.Write(seg)
	k := segmentKey{hash: s.digest.Sum64(), size: uint32(len(seg))}
	if data, ok := s.cache.get(k, s.id); ok {
		_, _ = s.out.Write(data)
		s.cached += len(seg)
		return
	}
	s.comp.Reset()
	s.fw.Reset(&s.comp)
	_, _ = s.fw.Write(seg)
	_ = s.fw.Flush() // byte-aligned, and no back-reference into another segment
	s.cache.put(k, s.comp.Bytes(), s.id)
	_, _ = s.out.Write(s.comp.Bytes())
	s.compressed += len(seg)
}

// close ends the member: the last segment, the final block, the trailer.
func (s *segmentWriter) close() {
	if s.out.err != nil {
		if s.id != 0 {
			s.cache.end(s.id)
		}
		return
	}
	s.start()
	if len(s.seg) > 0 {
		s.emit(s.seg)
		s.seg = s.seg[:0]
	}
	if s.id == 0 {
		_ = s.fw.Close()
	} else {
		_, _ = io.WriteString(&s.out, finalBlock)
		s.cache.end(s.id)
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], s.crc)
	binary.LittleEndian.PutUint32(trailer[4:], uint32(s.total)) // mod 2^32, as gzip wants
	_, _ = s.out.Write(trailer[:])
}
