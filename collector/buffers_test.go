package collector

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/kubiya/kubiya_exporter/kubiya"
)

// switchLister answers with whichever list was set last.
type switchLister struct {
	mu   sync.Mutex
	list *kubiya.JobList
}

func (l *switchLister) set(list *kubiya.JobList) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = list
}

func (l *switchLister) ListJobs(context.Context, kubiya.ListFilter) (*kubiya.JobList, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list, nil
}

func (l *switchLister) GetJob(context.Context, string) (*kubiya.Job, error) {
	return nil, &kubiya.Error{Class: kubiya.ClassNotFound}
}

// scrapeText gathers one scrape of s and writes its job families' text;
// write is called after gathering, so a test can run other scrapes in
// between.
func scrapeText(t *testing.T, s *Scrape) (write func() string) {
	t.Helper()
	fams, err := NewScrapeRegistry(s).GatherText()
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		var b strings.Builder
		flush := func(p []byte) ([]byte, error) { b.Write(p); return p[:0], nil }
		var buf []byte
		for _, f := range fams {
			if buf, _, err = f.AppendText(buf, 4096, flush); err != nil {
				t.Fatal(err)
			}
		}
		flush(buf)
		return b.String()
	}
}

// TestScrapeBuffersReused: a closed scrape's memory serves the next one,
// which answers exactly as a fresh exporter would, whether it has more or
// fewer jobs, and a scrape still being written is not disturbed by others
// that start and close meanwhile.
func TestScrapeBuffersReused(t *testing.T) {
	all := simulatorJobs(t, 300)
	lists := []*kubiya.JobList{
		all,
		{Jobs: all.Jobs[:40]},
		{Jobs: append(append([]*kubiya.Job(nil), oddJobs()...), all.Jobs[200:]...)},
		all,
	}
	want := make([]string, len(lists))
	for i, l := range lists {
		fresh := newDiscoveryExporter(l)
		want[i] = scrapeText(t, fresh.Scrape(context.Background()))()
	}

	api := &switchLister{}
	e := New(api, log.NewNopLogger(), Options{Discovery: Discovery{Enabled: true}, Now: newDiscoveryExporter(nil).now})
	for round := range 2 {
		for i, l := range lists {
			api.set(l)
			s := e.Scrape(context.Background())
			if got := scrapeText(t, s)(); got != want[i] {
				t.Fatalf("round %d, list %d: answer differs from a fresh exporter's", round, i)
			}
			s.Close()
		}
	}
	if len(e.buffers.free) == 0 {
		t.Fatal("no buffers kept for reuse")
	}

	// Overlapping: A is gathered, then B and C run and close (reusing
	// buffers), then A is written.
	api.set(lists[0])
	a := e.Scrape(context.Background())
	writeA := scrapeText(t, a)
	for _, i := range []int{1, 2} {
		api.set(lists[i])
		s := e.Scrape(context.Background())
		scrapeText(t, s)()
		s.Close()
	}
	if got := writeA(); got != want[0] {
		t.Fatal("an open scrape's answer changed while other scrapes reused memory")
	}
	a.Close()
}
