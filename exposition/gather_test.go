package exposition

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip": true, "": false, "identity": false, "deflate, gzip;q=1.0, *;q=0.5": true,
		"GZIP": true, "gzip;q=0": false, "gzip; q=0.000": false, "br, zstd": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// TestGathererMatchesGatherers: merging the two registries' answers
// gives what prometheus.Gatherers gives, with and without a shared name.
func TestGathererMatchesGatherers(t *testing.T) {
	fam := func(name string, vals ...float64) *dto.MetricFamily {
		mf := &dto.MetricFamily{Name: proto.String(name), Help: proto.String("h"), Type: dto.MetricType_GAUGE.Enum()}
		for i, v := range vals {
			mf.Metric = append(mf.Metric, &dto.Metric{
				Label: []*dto.LabelPair{{Name: proto.String("i"), Value: proto.String(strconv.Itoa(i))}},
				Gauge: &dto.Gauge{Value: proto.Float64(v)}})
		}
		return mf
	}
	tests := []struct {
		name         string
		scrape, glob []*dto.MetricFamily
	}{
		{"disjoint", []*dto.MetricFamily{fam("a", 1), fam("kubiya_up", 1), fam("z", 2)},
			[]*dto.MetricFamily{fam("go_goroutines", 3), fam("kubiya_exporter_x", 4, 5)}},
		{"shared name", []*dto.MetricFamily{fam("a", 1), fam("b", 1)}, []*dto.MetricFamily{fam("b", 2, 3)}},
		{"empty scrape", nil, []*dto.MetricFamily{fam("b", 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g1 := gathered(tt.scrape, nil)
			g2 := gathered(tt.glob, nil)
			want, wantErr := prometheus.Gatherers{g1, g2}.Gather()
			got, err := Gatherer{g1, g2}.Gather()
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("err = %v, Gatherers says %v", err, wantErr)
			}
			if text(t, got) != text(t, want) {
				t.Errorf("got\n%s\nwant\n%s", text(t, got), text(t, want))
			}
		})
	}
}

func text(t *testing.T, mfs []*dto.MetricFamily) string {
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
