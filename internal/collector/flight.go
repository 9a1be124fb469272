package collector

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

// flights shares one API request among the overlapping scrapes that need
// it (two Prometheus replicas cost one request). A shared request does not
// belong to the scrape that started it: it keeps that scrape's context
// values but not its cancellation, and is cancelled only when every scrape
// waiting for it has given up, so a scrape that joins late with a longer
// deadline is not cut short by an earlier one's. Its deadline is the latest
// of theirs: the client's retries wait only when that leaves time.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one shared request, and its context.
type flight struct {
	context.Context
	cancel  context.CancelFunc
	latest  atomic.Int64 // the waiters' latest deadline in Unix ns; math.MaxInt64: one has none
	waiters int          // guarded by flights.mu
	done    chan struct{}
	val     any
	err     error
}

func (f *flight) Deadline() (time.Time, bool) {
	ns := f.latest.Load()
	return time.Unix(0, ns), ns != math.MaxInt64
}

// scrapeDeadline is the error of a request its scrape stopped waiting for;
// waiting says for what, when it was not the answer.
func scrapeDeadline(waiting string) error {
	return &kubiya.Error{Class: kubiya.ClassTimeout, Err: errors.New("scrape deadline exceeded" + waiting)}
}

// do returns the result of fn for key, calling it unless a call for key is
// in flight, and gives up when ctx ends.
func (g *flights) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	latest := int64(math.MaxInt64)
	if d, ok := ctx.Deadline(); ok {
		latest = d.UnixNano()
	}
	g.mu.Lock()
	f := g.m[key]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		f.Context, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
		f.latest.Store(latest)
		if g.m == nil {
			g.m = make(map[string]*flight)
		}
		g.m[key] = f
		go func() {
			f.val, f.err = fn(f)
			g.mu.Lock()
			g.forget(key, f)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	if latest > f.latest.Load() {
		f.latest.Store(latest)
	}
	g.mu.Unlock()
	leave := func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if f.waiters--; f.waiters == 0 {
			g.forget(key, f) // a scrape coming now starts afresh
		}
	}
	stop := context.AfterFunc(ctx, leave)
	select {
	case <-f.done:
		if stop() {
			leave()
		}
		return f.val, f.err
	case <-ctx.Done():
		return nil, scrapeDeadline("")
	}
}

// forget cancels f and removes it from g unless a newer flight took its key.
func (g *flights) forget(key string, f *flight) {
	f.cancel()
	if g.m[key] == f {
		delete(g.m, key)
	}
}
