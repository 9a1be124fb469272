package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubiya/kubiya_exporter/dashboards"
)

// dashboardRangeSeconds is the dashboard time range the queries are run
// with ($__range, range query span).
const dashboardRangeSeconds = 600

// selection says how the dashboard variables are set.
type selection struct {
	name string
	// pinned selects the exporter's own job and instance values and two job
	// names through dashboards.MultiValue (escaped alternation), instead of
	// "All" everywhere; it exercises the escaping at run time.
	pinned   bool
	jobNames []string
	jobID    string // the job dashboard's single-value job_id
	// rewrite, if set, changes each substituted query before it runs (the
	// test's missed-run grace).
	rewrite func(string) string
}

// dashboardResults are one run of a dashboard's queries, by "title/refId".
type dashboardResults struct {
	uid     string
	vars    map[string]string
	results map[string]result
}

func (d dashboardResults) get(t *testing.T, title, refID string) result {
	t.Helper()
	r, ok := d.results[title+"/"+refID]
	if !ok {
		t.Fatalf("dashboard %s has no panel %q with refId %s (renamed? update the e2e test and dashboards/README.md)", d.uid, title, refID)
	}
	return r
}

// runDashboard resolves the variables of a dashboard file from Prometheus as
// Grafana would, substitutes every panel query and runs it, instant or
// range as the target says. Every query must return status success.
func runDashboard(t *testing.T, s *stack, file string, sel selection) dashboardResults {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := dashboards.Variables(b)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := dashboards.Queries(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatalf("%s: no queries", file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Now()
	rng := time.Duration(dashboardRangeSeconds) * time.Second

	values := map[string]string{}
	for _, v := range vars {
		if v.Type == "datasource" {
			values[v.Name] = "prometheus"
			continue
		}
		selector, label, ok := v.LabelValues()
		if !ok {
			t.Fatalf("%s: variable %s: query %q is not label_values(...)", file, v.Name, v.Query)
		}
		selector = dashboards.Substitute(selector, values, dashboardRangeSeconds)
		got, err := s.prom.LabelValues(ctx, label, selector, now.Add(-rng), now)
		if err != nil {
			t.Fatalf("%s: variable %s: %v", file, v.Name, err)
		}
		var want string
		switch v.Name {
		case "job":
			want = scrapeJob
		case "instance":
			want = s.exporterAddr
		case "job_name":
			want = sel.jobNames[0]
		case "job_id":
			want = sel.jobID
		}
		if want != "" && !slices.Contains(got, want) {
			t.Fatalf("%s: variable %s = label_values(%s, %s) gives %v, want it to include %q", file, v.Name, selector, label, got, want)
		}
		switch {
		case !v.Multi:
			values[v.Name] = want
		case sel.pinned && (v.Name == "job" || v.Name == "instance"):
			values[v.Name] = dashboards.MultiValue(want)
		case sel.pinned && v.Name == "job_name":
			values[v.Name] = dashboards.MultiValue(sel.jobNames...)
		default:
			values[v.Name] = dashboards.AllSelected
		}
	}

	out := dashboardResults{vars: values, results: map[string]result{}}
	step := max(rng/1000, time.Second)
	for _, q := range queries {
		out.uid = q.Dashboard
		expr := dashboards.Substitute(q.Expr, values, dashboardRangeSeconds)
		if sel.rewrite != nil {
			expr = sel.rewrite(expr)
		}
		if strings.Contains(expr, "$") {
			t.Errorf("%s panel %q %s: a variable is left after substitution: %s", q.Dashboard, q.PanelTitle, q.RefID, expr)
			continue
		}
		var r result
		if q.Instant {
			r, err = s.prom.Query(ctx, expr)
		} else {
			r, err = s.prom.QueryRange(ctx, expr, now, rng, step)
		}
		if err != nil {
			t.Errorf("%s panel %q %s (%s): %v\nquery: %s", q.Dashboard, q.PanelTitle, q.RefID, sel.name, err, expr)
			continue
		}
		if len(r.Warnings) > 0 {
			t.Logf("%s panel %q %s: warnings %v", q.Dashboard, q.PanelTitle, q.RefID, r.Warnings)
		}
		out.results[q.PanelTitle+"/"+q.RefID] = r
	}
	t.Logf("%s (%s): %d queries ran", out.uid, sel.name, len(out.results))
	return out
}

// nonEmpty fails unless the panel target returned at least one series.
func nonEmpty(t *testing.T, d dashboardResults, title, refID string) result {
	t.Helper()
	r := d.get(t, title, refID)
	if r.Len() == 0 {
		t.Errorf("%s panel %q %s: no data, want some (core panel)", d.uid, title, refID)
	}
	return r
}

// empty fails unless the panel target returned nothing.
func empty(t *testing.T, d dashboardResults, title, refID string) {
	t.Helper()
	if r := d.get(t, title, refID); r.Len() != 0 {
		t.Errorf("%s panel %q %s: %d series, want none: %v", d.uid, title, refID, r.Len(), r.Vector)
	}
}

// single returns the value of a panel target that must return exactly one
// sample (an instant stat).
func single(t *testing.T, d dashboardResults, title, refID string) float64 {
	t.Helper()
	r := d.get(t, title, refID)
	if r.Type != "vector" && r.Type != "scalar" || len(r.Vector) != 1 {
		t.Errorf("%s panel %q %s: want one sample, got %s with %d series: %v %v", d.uid, title, refID, r.Type, r.Len(), r.Vector, r.Matrix)
		return -1
	}
	return float64(r.Vector[0].Value)
}

// wantValue checks a single-sample panel's value.
func wantValue(t *testing.T, d dashboardResults, title, refID string, want float64) {
	t.Helper()
	if got := single(t, d, title, refID); got != want {
		t.Errorf("%s panel %q %s = %v, want %v", d.uid, title, refID, got, want)
	}
}

// jobIDs returns the job_id labels of a panel target's result.
func jobIDs(r result) []string {
	var ids []string
	for _, s := range r.Vector {
		ids = append(ids, string(s.Metric["job_id"]))
	}
	for _, s := range r.Matrix {
		ids = append(ids, string(s.Metric["job_id"]))
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// maxValue is the largest value in a result (any series, any point).
func maxValue(r result) float64 {
	m := -1.0
	for _, s := range r.Vector {
		m = max(m, float64(s.Value))
	}
	for _, s := range r.Matrix {
		for _, p := range s.Values {
			m = max(m, float64(p.Value))
		}
	}
	return m
}

func describe(r result) string {
	if r.Type == "matrix" {
		return fmt.Sprintf("%d series", len(r.Matrix))
	}
	return r.Vector.String()
}
