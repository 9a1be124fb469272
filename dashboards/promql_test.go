package dashboards

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// variableSets are the selections the parse test substitutes: everything
// "All", single values, and several values of every multi-value variable
// (with characters that need escaping).
var variableSets = map[string]map[string]string{
	"all": {
		"job": AllSelected, "instance": AllSelected, "job_name": AllSelected,
		"entity_type": AllSelected, "entity_name": AllSelected, "job_id": "job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f",
	},
	"single": {
		"job": "kubiya", "instance": "127.0.0.1:9862", "job_name": "nightly-report",
		"entity_type": "agent", "entity_name": "reporter", "job_id": "job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f",
	},
	"multi": {
		"job": MultiValue("kubiya", "kubiya-ha"), "instance": MultiValue("10.0.0.1:9862", "10.0.0.2:9862"),
		"job_name": MultiValue("nightly.report", "weekly (all)"), "entity_type": MultiValue("agent", "team"),
		"entity_name": MultiValue("reporter", "on-call+bot"), "job_id": "job_1",
	},
}

var rangesSeconds = []int{300, 6 * 3600, 7 * 86400}

// knownLabels are labels a query may group or match on.
func knownLabels() map[string]bool {
	known := map[string]bool{"job": true, "instance": true}
	for _, ls := range contract {
		for _, l := range ls {
			known[l] = true
		}
	}
	return known
}

// TestQueriesParse substitutes every panel query of both dashboards as
// Grafana would and parses it with Prometheus' own PromQL parser. It also
// checks what the text checks cannot: every series selector is scoped to
// the exporter target, and names only contract metrics and their labels.
func TestQueriesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	known := knownLabels()
	for _, f := range dashFiles {
		b, err := os.ReadFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := Queries(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			for setName, vars := range variableSets {
				for _, rs := range rangesSeconds {
					expr := Substitute(q.Expr, vars, rs)
					where := fmt.Sprintf("%s panel %q/%s (%s, range %ds)", f.name, q.PanelTitle, q.RefID, setName, rs)
					ast, err := p.ParseExpr(expr)
					if err != nil {
						t.Errorf("%s: %v\n  %s", where, err, expr)
						continue
					}
					checkAST(t, where, ast, vars, known)
				}
			}
		}
	}
}

func checkAST(t *testing.T, where string, ast parser.Expr, vars map[string]string, known map[string]bool) {
	t.Helper()
	// The matcher holds the string after PromQL unquoting (a\\.b -> a\.b).
	want := map[string]string{}
	for _, name := range []string{"job", "instance"} {
		v, err := strconv.Unquote(`"` + Substitute("$"+name, vars, 0) + `"`)
		if err != nil {
			t.Fatalf("%s: $%s does not substitute to a valid string: %v", where, name, err)
		}
		want[name] = v
	}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			allowed, ok := contract[n.Name]
			if !ok {
				t.Errorf("%s: metric %q is not in the contract", where, n.Name)
			}
			scoped := map[string]bool{}
			for _, m := range n.LabelMatchers {
				switch {
				case m.Name == model.MetricNameLabel:
				case m.Name == "job" || m.Name == "instance":
					if m.Type != labels.MatchRegexp || m.Value != want[m.Name] {
						t.Errorf("%s: %s matcher %s, want =~%q", where, n.Name, m, want[m.Name])
					}
					scoped[m.Name] = true
				case !slices.Contains(allowed, m.Name):
					t.Errorf("%s: %s has no label %q", where, n.Name, m.Name)
				}
			}
			if !scoped["job"] || !scoped["instance"] {
				t.Errorf("%s: selector %s is not scoped to $job and $instance", where, n)
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				if !known[l] {
					t.Errorf("%s: groups by unknown label %q", where, l)
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range append(slices.Clone(n.VectorMatching.MatchingLabels), n.VectorMatching.Include...) {
					if !known[l] {
						t.Errorf("%s: matches on unknown label %q", where, l)
					}
				}
			}
		}
		return nil
	})
}

// TestVariableQueriesParse checks the label_values() selectors the same way.
func TestVariableQueriesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, f := range dashFiles {
		b, err := os.ReadFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := Variables(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			sel, label, ok := v.LabelValues()
			if v.Type != "query" {
				continue
			}
			if !ok || sel == "" {
				t.Errorf("%s: variable %s: want label_values(selector, label), got %q", f.name, v.Name, v.Query)
				continue
			}
			for setName, vars := range variableSets {
				ms, err := p.ParseMetricSelector(Substitute(sel, vars, 3600))
				if err != nil {
					t.Errorf("%s: variable %s (%s): %v", f.name, v.Name, setName, err)
					continue
				}
				var metric string
				for _, m := range ms {
					if m.Name == model.MetricNameLabel {
						metric = m.Value
					}
				}
				has := func(l string) bool {
					return slices.Contains(contract[metric], l) || l == "job" || l == "instance" || l == model.MetricNameLabel
				}
				if _, ok := contract[metric]; !ok || !has(label) {
					t.Errorf("%s: variable %s reads label %q of %q, which the contract does not give it", f.name, v.Name, label, metric)
				}
				for _, m := range ms {
					if !has(m.Name) {
						t.Errorf("%s: variable %s matches label %q, which %q does not have", f.name, v.Name, m.Name, metric)
					}
				}
			}
		}
	}
}
