// Package exposition serves what one scrape gathered in the Prometheus
// exposition formats: it merges the scrape's registry with the process's,
// writes the text format without re-checking what the registries checked,
// and gzips the answer.
package exposition

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/collector"
)

// Gatherer gathers the scrape's own registry and then the global
// one. prometheus.Gatherers would re-check every metric (hash, label and
// UTF-8 checks) and re-sort every family the two registries have already
// checked and sorted: at 10,000 jobs, 160,000 series checked twice. The two
// registries have disjoint metric names by design, so their sorted
// families are merged by name; should a name ever be in both, the answer
// falls back to prometheus.Gatherers on what was gathered (no second scrape).
type Gatherer struct {
	Scrape, Global prometheus.Gatherer
}

func (g Gatherer) Gather() ([]*dto.MetricFamily, error) {
	a, errA := g.Scrape.Gather()
	b, errB := g.Global.Gather()
	merged := make([]*dto.MetricFamily, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].GetName(), b[j].GetName()); {
		case c < 0:
			merged = append(merged, a[i])
			i++
		case c > 0:
			merged = append(merged, b[j])
			j++
		default:
			return prometheus.Gatherers{gathered(a, errA), gathered(b, errB)}.Gather()
		}
	}
	merged = append(append(merged, a[i:]...), b[j:]...)
	return merged, errors.Join(errA, errB)
}

// textGatherer is a Gatherer that can also answer with families that
// write their own text (collector.ScrapeRegistry).
type textGatherer interface {
	GatherText() ([]collector.TextFamily, error)
}

// GatherText is Gather for the text format: the scrape's job series come
// as families that write their own text (collector/textfmt.go).
func (g Gatherer) GatherText() ([]collector.TextFamily, error) {
	st, ok := g.Scrape.(textGatherer)
	if !ok {
		mfs, err := g.Gather()
		return wrapFamilies(mfs), err
	}
	a, errA := st.GatherText()
	b, errB := g.Global.Gather()
	merged := make([]collector.TextFamily, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].Name(), b[j].GetName()); {
		case c < 0:
			merged = append(merged, a[i])
			i++
		case c > 0:
			merged = append(merged, collector.FamilyOf(b[j]))
			j++
		default:
			mfs := make([]*dto.MetricFamily, len(a))
			for k, f := range a {
				mfs[k] = f.MetricFamily()
			}
			all, err := prometheus.Gatherers{gathered(mfs, errA), gathered(b, errB)}.Gather()
			return wrapFamilies(all), err
		}
	}
	merged = append(merged, a[i:]...)
	for _, mf := range b[j:] {
		merged = append(merged, collector.FamilyOf(mf))
	}
	return merged, errors.Join(errA, errB)
}

func wrapFamilies(mfs []*dto.MetricFamily) []collector.TextFamily {
	fams := make([]collector.TextFamily, len(mfs))
	for i, mf := range mfs {
		fams[i] = collector.FamilyOf(mf)
	}
	return fams
}

func gathered(mfs []*dto.MetricFamily, err error) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, err })
}
