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

// familyOf is the family of each descriptor of the job series. Read-only.
var familyOf = struct {
	up, info, enabled, status, executions, succeeded, failed, lastExecution, nextExecution,
	lastTriggered, created, updated, scheduleValid, schedulePrev, scheduleNext int
}{
	familyIndex[jobUpDesc], familyIndex[jobInfoDesc], familyIndex[jobEnabledDesc], familyIndex[jobStatusDesc],
	familyIndex[jobExecutionsDesc], familyIndex[jobSucceededDesc], familyIndex[jobFailedDesc],
	familyIndex[jobLastExecutionDesc], familyIndex[jobNextExecutionDesc], familyIndex[jobLastTriggeredDesc],
	familyIndex[jobCreatedDesc], familyIndex[jobUpdatedDesc], familyIndex[scheduleValidDesc],
	familyIndex[schedulePrevDesc], familyIndex[scheduleNextDesc],
}

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

// gathered is one family of a gather: either from the registry (mf) or
// of the job series (own, with its series in order).
type gathered struct {
	mf  *dto.MetricFamily
	own *seriesFamily
	ss  []*series
}

func (g gathered) name() string {
	if g.own != nil {
		return g.own.name
	}
	return g.mf.GetName()
}

// gather collects r's collector once and returns its families sorted by
// name, the job series' families not yet turned into dto.
func (r *ScrapeRegistry) gather() ([]gathered, error) {
	described := make([]bool, len(seriesFamilies))
	dch := make(chan *prometheus.Desc, 32)
	go func() { r.c.Describe(dch); close(dch) }()
	for d := range dch {
		if i, ok := familyIndex[d]; ok {
			described[i] = true
		}
	}

	fams := make([][]*series, len(seriesFamilies))
	var others []prometheus.Metric
	mixed := false
	maxSeq := -1
	mch := make(chan prometheus.Metric, 1024)
	go func() { r.c.Collect(mch); close(mch) }()
	for m := range mch {
		if s, ok := m.(*series); ok && described[s.family] {
			fams[s.family] = append(fams[s.family], s)
			maxSeq = max(maxSeq, int(s.job.seq))
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
	mfs, regErr := reg.Gather()
	errs := []error{regErr}

	cmp := newComparer(fams, maxSeq)
	own := make([]gathered, 0, len(seriesFamilies))
	for i, ss := range fams {
		if len(ss) == 0 {
			continue
		}
		ss, err := seriesFamilies[i].order(ss, cmp)
		if err != nil {
			errs = append(errs, err)
		}
		if len(ss) > 0 {
			own = append(own, gathered{own: &seriesFamilies[i], ss: ss})
		}
	}

	// Both lists are sorted by name and their names are disjoint (mixed).
	merged := make([]gathered, 0, len(own)+len(mfs))
	for len(own) > 0 && len(mfs) > 0 {
		if own[0].name() < mfs[0].GetName() {
			merged, own = append(merged, own[0]), own[1:]
		} else {
			merged, mfs = append(merged, gathered{mf: mfs[0]}), mfs[1:]
		}
	}
	merged = append(merged, own...)
	for _, mf := range mfs {
		merged = append(merged, gathered{mf: mf})
	}
	return merged, errors.Join(errs...)
}

// Gather implements prometheus.Gatherer with a prometheus.Registry's
// answer: the families sorted by name, their metrics sorted by label
// values, a duplicate dropped with an error.
func (r *ScrapeRegistry) Gather() ([]*dto.MetricFamily, error) {
	fams, err := r.gather()
	if fams == nil {
		return nil, err
	}
	mfs := make([]*dto.MetricFamily, len(fams))
	for i, f := range fams {
		mfs[i] = f.metricFamily()
	}
	return mfs, err
}

// TextFamily is one family of GatherText: a dto.MetricFamily, or a family
// of job series that writes its own text.
type TextFamily struct{ g gathered }

// FamilyOf wraps a dto family gathered elsewhere.
func FamilyOf(mf *dto.MetricFamily) TextFamily { return TextFamily{gathered{mf: mf}} }

// Name is the family's name.
func (f TextFamily) Name() string { return f.g.name() }

// MetricFamily returns the family as dto (built now for job series).
func (f TextFamily) MetricFamily() *dto.MetricFamily { return f.g.metricFamily() }

// AppendText appends the family in the text exposition format, byte for
// byte as expfmt.MetricFamilyToText, handing buf to flush whenever it
// holds flushAt bytes or more. ok is false, and nothing is appended, for a
// family that is not of job series: write MetricFamily() instead.
func (f TextFamily) AppendText(buf []byte, flushAt int, flush func([]byte) ([]byte, error)) (_ []byte, ok bool, err error) {
	if f.g.own == nil {
		return buf, false, nil
	}
	buf = f.g.own.appendHeader(buf)
	for _, s := range f.g.ss {
		buf = appendSeriesText(buf, f.g.own.name, s)
		if len(buf) >= flushAt {
			if buf, err = flush(buf); err != nil {
				return buf, true, err
			}
		}
	}
	return buf, true, nil
}

// GatherText is Gather for the text format: the families of job series
// are not turned into dto.MetricFamily but write their text themselves,
// which saves building and then walking 160,000 dto.Metric at 10,000 jobs.
func (r *ScrapeRegistry) GatherText() ([]TextFamily, error) {
	fams, err := r.gather()
	out := make([]TextFamily, len(fams))
	for i, f := range fams {
		out[i] = TextFamily{f}
	}
	return out, err
}

// comparer orders series as the registry does (its MetricSorter): by the
// number of labels, then by the label values in label-name order. Series
// of different jobs with the per-job labels first compare by their jobs'
// places in the scrape (jobSeries.seq) when the jobs in that order are
// known to be strictly ordered by their per-job labels (ordered): the
// collector emits them so, and one pass over the jobs checks it instead of
// a label walk per pair of series in every family.
type comparer struct{ ordered bool }

// newComparer checks that the jobs of the prefixed series in fams, by
// seq, are strictly ordered by their per-job labels. Two jobs sharing a seq
// leave the comparer comparing labels.
func newComparer(fams [][]*series, maxSeq int) *comparer {
	bySeq := make([]*jobSeries, maxSeq+1)
	for _, ss := range fams {
		for _, s := range ss {
			if !s.prefixed() {
				continue
			}
			switch j := bySeq[s.job.seq]; j {
			case nil:
				bySeq[s.job.seq] = s.job
			case s.job:
			default:
				return &comparer{}
			}
		}
	}
	var prev *jobSeries
	for _, j := range bySeq {
		if j == nil {
			continue
		}
		if prev != nil && compareValues(prev.values[:numJobLabels], j.values[:numJobLabels]) >= 0 {
			return &comparer{}
		}
		prev = j
	}
	return &comparer{ordered: true}
}

func (c *comparer) compare(a, b *series) int {
	if d := a.numLabels() - b.numLabels(); d != 0 {
		return d
	}
	from := 0
	if a.prefixed() && b.prefixed() {
		if a.job != b.job && c.ordered {
			return int(a.job.seq) - int(b.job.seq)
		}
		if a.job == b.job {
			from = numJobLabels
		}
	}
	for i := from; i < a.numLabels(); i++ {
		if d := strings.Compare(a.labelValue(i), b.labelValue(i)); d != 0 {
			return d
		}
	}
	return 0
}

// order puts ss in the registry's order (the collector emits its families
// sorted; others are sorted here) and drops a duplicate with an error
// (the first collected is kept, as the registry keeps it).
func (f *seriesFamily) order(ss []*series, c *comparer) ([]*series, error) {
	sorted, dups := true, false
	for i := 1; i < len(ss); i++ {
		switch d := c.compare(ss[i-1], ss[i]); {
		case d > 0:
			sorted = false
		case d == 0:
			dups = true
		}
	}
	if sorted && !dups {
		return ss, nil
	}
	// same(i) says ss[i] repeats the labels of the series before it.
	same := func(i int) bool { return c.compare(ss[i-1], ss[i]) == 0 }
	if keys, ok := sortKeys(ss); ok {
		slices.SortFunc(keys, func(a, b sortKey) int {
			if d := strings.Compare(a.key, b.key); d != 0 {
				return d
			}
			return a.i - b.i // collection order among duplicates
		})
		for i, k := range keys {
			ss[i] = k.s
		}
		same = func(i int) bool { return keys[i].key == keys[i-1].key }
	} else {
		// A label value with a NUL byte: compare series as they are,
		// stably (duplicates stay in collection order).
		slices.SortStableFunc(ss, c.compare)
	}
	var err error
	n := 0
	for i, s := range ss {
		if i > 0 && same(i) {
			if err == nil {
				err = fmt.Errorf("collected metric %s with labels %s was collected before with the same name and label values",
					f.name, labelString(s))
			}
			continue
		}
		ss[n] = s
		n++
	}
	return ss[:n], err
}

// sortKey is a series with its label values joined by NUL bytes: with no
// NUL in any value (and as many labels in every series, as a descriptor
// fixes) the keys sort as the registry sorts the series, in one memcmp
// each instead of a walk per label.
type sortKey struct {
	key string
	i   int
	s   *series
}

func sortKeys(ss []*series) ([]sortKey, bool) {
	var buf []byte
	ends := make([]int, len(ss))
	for i, s := range ss {
		if s.numLabels() != ss[0].numLabels() {
			return nil, false
		}
		for j := range s.numLabels() {
			v := s.labelValue(j)
			if strings.IndexByte(v, 0) >= 0 {
				return nil, false
			}
			if j > 0 {
				buf = append(buf, 0)
			}
			buf = append(buf, v...)
		}
		ends[i] = len(buf)
	}
	all := string(buf)
	keys := make([]sortKey, len(ss))
	start := 0
	for i, s := range ss {
		keys[i] = sortKey{key: all[start:ends[i]], i: i, s: s}
		start = ends[i]
	}
	return keys, true
}

// metricFamily returns g as dto, the metrics of job series allocated in
// one piece.
func (g gathered) metricFamily() *dto.MetricFamily {
	if g.own == nil {
		return g.mf
	}
	metrics := make([]dto.Metric, len(g.ss))
	ptrs := make([]*dto.Metric, len(g.ss))
	for i, s := range g.ss {
		_ = s.Write(&metrics[i])
		ptrs[i] = &metrics[i]
	}
	name, help, typ := g.own.name, g.own.help, g.own.typ
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &typ, Metric: ptrs}
}

func labelString(s *series) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range s.numLabels() {
		if i > 0 {
			b.WriteByte(',')
		}
		name, value := s.label(i)
		fmt.Fprintf(&b, "%s=%q", *name, *value)
	}
	b.WriteByte('}')
	return b.String()
}
