package collector

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The per-request registry of a scrape. prometheus.Registry checks every
// collected metric (label names against the descriptor, UTF-8 and an
// xxhash of every label value, a map of every series for duplicates) and
// sorts every family: at 10,000 jobs, 160,000 series and 1.1 million label
// pairs, a third of a scrape's CPU (BENCHMARKS.md). The job series of this
// package (*series) are built from the package's fixed descriptors and
// labelValue'd values, so most of those checks cannot fail for them.
// ScrapeRegistry takes them straight into their families and checks only
// what could still go wrong: that each family is in the registry's order
// (sorting it when not) and holds no two series with the same labels.
// Every other metric, and every descriptor, goes through a
// prometheus.Registry as before.

// seriesFamily is one family made of *series.
type seriesFamily struct {
	desc       *prometheus.Desc
	name, help string
	typ        dto.MetricType
}

// seriesFamilies are the families emitJob and emitJobDown build, sorted by
// name; familyIndex maps a descriptor to its place.
var seriesFamilies, familyIndex = func() ([]seriesFamily, map[*prometheus.Desc]int) {
	counters := []*prometheus.Desc{jobExecutionsDesc, jobSucceededDesc, jobFailedDesc}
	var fams []seriesFamily
	for _, d := range allDescs {
		if d == upDesc || d == scrapeDurationDesc {
			continue // prometheus.MustNewConstMetric, not *series
		}
		f := seriesFamily{desc: d, name: descNames[d][0], help: descNames[d][1], typ: dto.MetricType_GAUGE}
		if slices.Contains(counters, d) {
			f.typ = dto.MetricType_COUNTER
		}
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b seriesFamily) int { return strings.Compare(a.name, b.name) })
	index := make(map[*prometheus.Desc]int, len(fams))
	for i, f := range fams {
		index[f.desc] = i
	}
	return fams, index
}()

// ScrapeRegistry gathers one scrape's collector; make one per request,
// like a prometheus.Registry.
type ScrapeRegistry struct {
	c prometheus.Collector
}

// NewScrapeRegistry returns a registry of c alone.
func NewScrapeRegistry(c prometheus.Collector) *ScrapeRegistry {
	return &ScrapeRegistry{c: c}
}

// replay is a collector that describes as c and collects what was already
// collected from it.
type replay struct {
	c       prometheus.Collector
	metrics []prometheus.Metric
}

func (r replay) Describe(ch chan<- *prometheus.Desc) { r.c.Describe(ch) }

func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r.metrics {
		ch <- m
	}
}

// Gather implements prometheus.Gatherer with a prometheus.Registry's
// answer: the families sorted by name, their metrics sorted by label
// values, a duplicate dropped with an error.
func (r *ScrapeRegistry) Gather() ([]*dto.MetricFamily, error) {
	described := make(map[*prometheus.Desc]bool, len(seriesFamilies))
	dch := make(chan *prometheus.Desc, 32)
	go func() { r.c.Describe(dch); close(dch) }()
	for d := range dch {
		if _, ok := familyIndex[d]; ok {
			described[d] = true
		}
	}

	fams := make([][]*series, len(seriesFamilies))
	var others []prometheus.Metric
	mixed := false
	mch := make(chan prometheus.Metric, 1024)
	go func() { r.c.Collect(mch); close(mch) }()
	for m := range mch {
		if s, ok := m.(*series); ok && described[s.desc] {
			i := familyIndex[s.desc]
			fams[i] = append(fams[i], s)
			continue
		}
		if _, ok := familyIndex[m.Desc()]; ok {
			// Another kind of metric in one of our families: the family
			// must be built in one piece, so let the registry do it all.
			mixed = true
		}
		others = append(others, m)
	}
	if mixed {
		for i := range fams {
			for _, s := range fams[i] {
				others = append(others, s)
			}
			fams[i] = nil
		}
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(replay{c: r.c, metrics: others}); err != nil {
		return nil, err
	}
	gathered, regErr := reg.Gather()
	errs := []error{regErr}

	own := make([]*dto.MetricFamily, 0, len(seriesFamilies))
	for i, ss := range fams {
		if len(ss) == 0 {
			continue
		}
		mf, err := seriesFamilies[i].build(ss)
		if err != nil {
			errs = append(errs, err)
		}
		if mf != nil {
			own = append(own, mf)
		}
	}

	// Both lists are sorted by name and their names are disjoint (mixed).
	merged := make([]*dto.MetricFamily, 0, len(own)+len(gathered))
	for len(own) > 0 && len(gathered) > 0 {
		if own[0].GetName() < gathered[0].GetName() {
			merged, own = append(merged, own[0]), own[1:]
		} else {
			merged, gathered = append(merged, gathered[0]), gathered[1:]
		}
	}
	merged = append(append(merged, own...), gathered...)
	return merged, errors.Join(errs...)
}

// compareSeries orders series as the registry does (its MetricSorter):
// by the number of labels, then by the label values in label-name order.
func compareSeries(a, b *series) int {
	if c := len(a.labels) - len(b.labels); c != 0 {
		return c
	}
	for i, l := range a.labels {
		if c := strings.Compare(*l.Value, *b.labels[i].Value); c != 0 {
			return c
		}
	}
	return 0
}

// build makes the family of ss: in order (the collector emits most
// families sorted; the others are sorted here), a duplicate dropped with an
// error (the first collected is kept, as the registry keeps it). The
// metrics are allocated in one piece.
func (f *seriesFamily) build(ss []*series) (*dto.MetricFamily, error) {
	sorted, dups := true, false
	for i := 1; i < len(ss); i++ {
		switch c := compareSeries(ss[i-1], ss[i]); {
		case c > 0:
			sorted = false
		case c == 0:
			dups = true
		}
	}
	switch {
	case dups:
		// Rare (a bug): the stable sort keeps duplicates in collection order.
		slices.SortStableFunc(ss, compareSeries)
	case !sorted:
		slices.SortFunc(ss, compareSeries) // no two equal: stable or not is the same
	}
	var err error
	n := 0
	for i, s := range ss {
		if dups && i > 0 && compareSeries(ss[n-1], s) == 0 {
			if err == nil {
				err = fmt.Errorf("collected metric %s with labels %s was collected before with the same name and label values",
					f.name, labelString(s.labels))
			}
			continue
		}
		if (s.counter != nil) != (f.typ == dto.MetricType_COUNTER) {
			return nil, fmt.Errorf("collected metric %s is not of its family's type", f.name)
		}
		ss[n] = s
		n++
	}
	ss = ss[:n]
	metrics := make([]dto.Metric, len(ss))
	ptrs := make([]*dto.Metric, len(ss))
	for i, s := range ss {
		_ = s.Write(&metrics[i])
		ptrs[i] = &metrics[i]
	}
	name, help, typ := f.name, f.help, f.typ
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &typ, Metric: ptrs}, err
}

func labelString(ls []*dto.LabelPair) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", *l.Name, *l.Value)
	}
	b.WriteByte('}')
	return b.String()
}
