package dashboards

import (
	"slices"
	"testing"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{
		"job":      "kubiya",
		"instance": "127.0.0.1:9862",
		"job_name": AllSelected,
		"job_id":   "job_6f1c2d3e",
		"multi":    MultiValue("a.b", "c"),
		"dotted":   "a.b",
		"job_idx":  "other", // a name that extends another must not be cut
	}
	tests := []struct {
		name, expr   string
		rangeSeconds int
		want         string
	}{
		{"plain", `up{job=~"$job"}`, 3600, `up{job=~"kubiya"}`},
		{"braces", `up{instance=~"${instance}"}`, 3600, `up{instance=~"127.0.0.1:9862"}`},
		{"all", `x{job_name=~"$job_name"}`, 3600, `x{job_name=~".*"}`},
		{"all with braces", `x{job_name=~"${job_name}"}`, 3600, `x{job_name=~".*"}`},
		{"all with regex format", `x{job_name=~"${job_name:regex}"}`, 3600, `x{job_name=~".*"}`},
		{"regex format escapes", `x{a=~"${dotted:regex}"}`, 3600, `x{a=~"a\.b"}`},
		{"raw keeps value", `x{a=~"$dotted"}`, 3600, `x{a=~"a.b"}`},
		{"multi value", `x{a=~"$multi"}`, 3600, `x{a=~"(a\\.b|c)"}`},
		{"longest name wins", `x{a="$job_id", b="$job_idx"}`, 3600, `x{a="job_6f1c2d3e", b="other"}`},
		{"adjacent text", `x{a="${job}_suffix"}`, 3600, `x{a="kubiya_suffix"}`},
		{"unknown left alone", `x{a="$nope"}`, 3600, `x{a="$nope"}`},
		{"range", `increase(x[$__range])`, 21600, `increase(x[21600s])`},
		{"range seconds", `x / $__range_s`, 600, `x / 600`},
		{"range ms", `x / $__range_ms`, 600, `x / 600000`},
		{"interval short range", `rate(x[$__interval])`, 600, `rate(x[1s])`},
		{"interval long range", `rate(x[$__interval])`, 86400, `rate(x[86s])`},
		{"interval ms", `x * $__interval_ms`, 86400, `x * 86000`},
		{"rate interval floor is 4 scrapes", `rate(x[$__rate_interval])`, 3600, `rate(x[60s])`},
		{"rate interval interval plus scrape", `rate(x[$__rate_interval])`, 7 * 86400, `rate(x[619s])`},
		{"several", `a{job=~"$job", instance=~"$instance"}[$__rate_interval]`, 3600, `a{job=~"kubiya", instance=~"127.0.0.1:9862"}[60s]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Substitute(tt.expr, vars, tt.rangeSeconds); got != tt.want {
				t.Errorf("Substitute(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestMultiValue(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"nightly"}, "nightly"},
		{[]string{"a", "b"}, "(a|b)"},
		{[]string{"v1.2", "x+y"}, `(v1\\.2|x\\+y)`},
		{[]string{`back\slash`}, `back\\\\slash`},
		{[]string{"(paren)|[br]{c}^$*?'"}, `\\(paren\\)\\|\\[br\\]\\{c\\}\\^\\$\\*\\?\\'`},
	}
	for _, tt := range tests {
		if got := MultiValue(tt.in...); got != tt.want {
			t.Errorf("MultiValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A hand-written dashboard with a collapsed row, a string and an object
// variable query, and a target without format.
const sampleDashboard = `{
  "uid": "sample",
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "job", "type": "query", "query": "label_values(kubiya_up, job)", "multi": true, "includeAll": true, "allValue": ".*"},
    {"name": "instance", "type": "query", "query": {"query": "label_values(kubiya_up{job=~\"$job\"}, instance)", "refId": "X"}},
    {"name": "name", "type": "query", "query": "label_values(job_name)"},
    {"name": "q", "type": "query", "query": "query_result(up)"}
  ]},
  "panels": [
    {"id": 1, "type": "stat", "title": "Up", "targets": [
      {"refId": "A", "expr": "up{job=~\"$job\"}", "instant": true, "datasource": {"type": "prometheus", "uid": "${datasource}"}}]},
    {"id": 2, "type": "row", "title": "Row", "collapsed": true, "panels": [
      {"id": 3, "type": "table", "title": "Inner", "targets": [
        {"refId": "A", "expr": "a", "format": "table", "legendFormat": "{{x}}"},
        {"refId": "B", "expr": "b"}]}]}
  ]
}`

func TestQueries(t *testing.T) {
	got, err := Queries([]byte(sampleDashboard))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{Dashboard: "sample", PanelID: 1, PanelTitle: "Up", RefID: "A", Expr: `up{job=~"$job"}`, Instant: true, Format: "time_series", Datasource: "${datasource}"},
		{Dashboard: "sample", PanelID: 3, PanelTitle: "Inner", RefID: "A", Expr: "a", Legend: "{{x}}", Format: "table"},
		{Dashboard: "sample", PanelID: 3, PanelTitle: "Inner", RefID: "B", Expr: "b", Format: "time_series"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Queries =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := Queries([]byte("{")); err == nil {
		t.Error("Queries accepted invalid JSON")
	}
}

func TestVariablesAndLabelValues(t *testing.T) {
	vs, err := Variables([]byte(sampleDashboard))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, selector, label string
		ok                    bool
	}{
		{"datasource", "", "", false},
		{"job", "kubiya_up", "job", true},
		{"instance", `kubiya_up{job=~"$job"}`, "instance", true},
		{"name", "", "job_name", true},
		{"q", "", "", false},
	}
	if len(vs) != len(tests) {
		t.Fatalf("got %d variables, want %d: %+v", len(vs), len(tests), vs)
	}
	for i, tt := range tests {
		v := vs[i]
		if v.Name != tt.name {
			t.Errorf("variable %d is %q, want %q", i, v.Name, tt.name)
		}
		sel, label, ok := v.LabelValues()
		if sel != tt.selector || label != tt.label || ok != tt.ok {
			t.Errorf("%s.LabelValues() = %q, %q, %v; want %q, %q, %v", v.Name, sel, label, ok, tt.selector, tt.label, tt.ok)
		}
	}
	if j := vs[1]; !j.Multi || !j.IncludeAll || j.AllValue != ".*" {
		t.Errorf("job variable = %+v, want multi, include all, allValue .*", j)
	}
}
