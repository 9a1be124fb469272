package exposition

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// FuzzGzipCache: whatever the answers, and however each edits the last,
// every answer through one cached Gzip decompresses (one member, CRC-32
// and size checked) to exactly what was written. The segment sizes are
// shrunk (segments of 64 to 512 bytes, caching after 1 KiB, one line in
// 4 a boundary) so that small inputs, fast to fuzz, go through every path
// of the cache; the text is a fuzzed piece repeated up to 16 times, and
// edits overwrite, insert or delete bytes of it.
func FuzzGzipCache(f *testing.F) {
	sizes := segmentSizes{min: 64, max: 512, cacheAfter: 1 << 10, boundaryMask: 3}
	start := expositionText(sizes.cacheAfter+100, 7)
	f.Add([]byte("kubiya_job_up{job_id=\"a\"} 1\nkubiya_job_up{job_id=\"b\"} 0\n"), uint8(40), []byte{0, 10, '2'}, uint64(1))
	f.Add(expositionText(2<<10, 9), uint8(15), []byte{1, 200, 'x', 2, 17, 0, 0, 99, '\n'}, uint64(2))
	f.Add(bytes.Repeat([]byte{'\n'}, 700), uint8(20), []byte{2, 0, 0}, uint64(3))
	f.Add(bytes.Repeat([]byte("no newline at all "), 40), uint8(30), []byte{1, 255, '\n'}, uint64(4))
	f.Fuzz(func(t *testing.T, piece []byte, repeat uint8, edits []byte, seed uint64) {
		if len(piece) > 2<<10 {
			return
		}
		text := bytes.Repeat(piece, int(repeat%16)+1)
		answers := [][]byte{text, edit(text, edits), text}
		g := newGzip(GzipOptions{Cache: true}, sizes)
		for i, a := range answers {
			want := append(start[:len(start):len(start)], a...)
			got, gzipped, err := serveErr(g, true, writeChunks(smallChunks(want, seed+uint64(i))))
			if err != nil || !gzipped {
				t.Fatalf("answer %d: gzipped %v, %v", i, gzipped, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("answer %d: %d bytes differ from the %d written, first at %d", i, len(got), len(want), firstDiff(got, want))
			}
		}
	})
}

// edit applies edits to a copy of text, three bytes an edit: an operation
// (overwrite, insert, delete), a position (as a fraction of text in 256ths)
// and a byte.
func edit(text, edits []byte) []byte {
	out := bytes.Clone(text)
	for len(edits) >= 3 {
		op, at, b := edits[0]%3, int(edits[1]), edits[2]
		edits = edits[3:]
		i := at * len(out) / 256
		switch {
		case op == 1 || len(out) == 0:
			out = append(out[:i], append([]byte{b}, out[i:]...)...)
		case op == 0:
			out[i] = b
		default:
			out = append(out[:i], out[i+1:]...)
		}
	}
	return out
}

// smallChunks splits b into writes of 1 to 700 bytes (seeded).
func smallChunks(b []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 5))
	var out [][]byte
	for len(b) > 0 {
		n := min(1+rng.IntN(700), len(b))
		out, b = append(out, b[:n]), b[n:]
	}
	return out
}
