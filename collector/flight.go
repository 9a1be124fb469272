package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// flights shares one API request among the overlapping scrapes that need
// it (two Prometheus replicas cost one request). A shared request does not
// belong to the scrape that started it: it is not cancelled with that
// scrape's client connection, and it runs until the latest deadline of
// the scrapes waiting for it, so a scrape that joins late with a longer
// deadline is not cut short by an earlier one's.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	ctx  *flightCtx
	done chan struct{}
	val  any
	err  error
}

var errScrapeDeadline = errors.New("scrape deadline exceeded")

// do returns the result of fn for key, calling it unless a call for key is
// in flight, and gives up when ctx ends.
func (g *flights) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	g.mu.Lock()
	f := g.m[key]
	if f == nil {
		f = &flight{ctx: &flightCtx{Context: context.WithoutCancel(ctx), done: make(chan struct{})}, done: make(chan struct{})}
		if g.m == nil {
			g.m = make(map[string]*flight)
		}
		g.m[key] = f
		go func() {
			f.val, f.err = fn(f.ctx)
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			f.ctx.end(context.Canceled)
			close(f.done)
		}()
	}
	f.ctx.extend(ctx)
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, &kubiya.Error{Class: kubiya.ClassTimeout, Err: errScrapeDeadline}
	}
}

// flightCtx is the context of a shared request: the values of the scrape
// that started it, and a deadline that each joining scrape can push back.
type flightCtx struct {
	context.Context
	done chan struct{}

	mu        sync.Mutex
	deadline  time.Time // zero: none
	unbounded bool      // a waiter has no deadline
	timer     *time.Timer
	err       error
}

// extend makes the deadline at least ctx's.
func (c *flightCtx) extend(ctx context.Context) {
	d, ok := ctx.Deadline()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil || c.unbounded || ok && !d.After(c.deadline):
	case !ok:
		c.unbounded, c.deadline = true, time.Time{}
		if c.timer != nil {
			c.timer.Stop()
		}
	case c.timer == nil:
		c.deadline = d
		c.timer = time.AfterFunc(time.Until(d), c.expire)
	default:
		c.deadline = d
		c.timer.Reset(time.Until(d))
	}
}

// expire ends c if its deadline passed; a timer that fired while a
// waiter pushed the deadline back has been reset and fires again.
func (c *flightCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.unbounded && !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
}

func (c *flightCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

func (c *flightCtx) endLocked(err error) {
	if c.err == nil {
		c.err = err
		close(c.done)
		if c.timer != nil {
			c.timer.Stop()
		}
	}
}

func (c *flightCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, !c.deadline.IsZero()
}

func (c *flightCtx) Done() <-chan struct{} { return c.done }

func (c *flightCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
