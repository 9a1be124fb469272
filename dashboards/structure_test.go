package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests read the committed JSON files, not the builders, so they
// also hold if someone edits the JSON by hand.

type dashFile struct {
	name string
	uid  string
	vars []string // variables that must exist, in this order
}

var dashFiles = []dashFile{
	{OverviewFile, OverviewUID, []string{"datasource", "job", "instance", "job_name", "entity_type", "entity_name"}},
	{JobFile, JobUID, []string{"datasource", "job", "instance", "job_name", "entity_type", "entity_name", "job_id"}},
}

func readDashboard(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// panelsOf flattens rows (collapsed rows nest their panels).
func panelsOf(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(ps []any)
	walk = func(ps []any) {
		for _, p := range ps {
			m := p.(map[string]any)
			out = append(out, m)
			if sub, ok := m["panels"].([]any); ok {
				walk(sub)
			}
		}
	}
	ps, _ := d["panels"].([]any)
	walk(ps)
	return out
}

func targetsOf(p map[string]any) []map[string]any {
	var out []map[string]any
	ts, _ := p["targets"].([]any)
	for _, t := range ts {
		out = append(out, t.(map[string]any))
	}
	return out
}

func dsUID(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["uid"].(string)
	return s
}

func TestDashboardUIDsAndTitles(t *testing.T) {
	uids, titles := map[string]string{}, map[string]string{}
	for _, f := range dashFiles {
		d := readDashboard(t, f.name)
		uid, _ := d["uid"].(string)
		title, _ := d["title"].(string)
		if uid != f.uid {
			t.Errorf("%s: uid %q, want %q", f.name, uid, f.uid)
		}
		if prev, dup := uids[uid]; dup {
			t.Errorf("%s: uid %q also used by %s", f.name, uid, prev)
		}
		if prev, dup := titles[title]; dup || title == "" {
			t.Errorf("%s: title %q empty or also used by %s", f.name, title, prev)
		}
		uids[uid], titles[title] = f.name, f.name
		if _, ok := d["id"]; ok && d["id"] != nil {
			t.Errorf("%s: has a numeric id; it is instance-specific and breaks import", f.name)
		}
	}
}

func TestPanelsAndTargets(t *testing.T) {
	for _, f := range dashFiles {
		d := readDashboard(t, f.name)
		ids := map[float64]string{}
		titles := map[string]bool{}
		for _, p := range panelsOf(d) {
			typ, _ := p["type"].(string)
			title, _ := p["title"].(string)
			where := fmt.Sprintf("%s: panel %q", f.name, title)
			id, _ := p["id"].(float64)
			if prev, dup := ids[id]; dup || id == 0 {
				t.Errorf("%s: id %v missing or also used by %q", where, id, prev)
			}
			ids[id] = title
			if typ == "row" || typ == "text" {
				continue
			}
			// The e2e test and people name panels by title.
			if title == "" || titles[title] {
				t.Errorf("%s: a %s panel title %q is empty or not unique", f.name, typ, title)
			}
			titles[title] = true
			if got := dsUID(p["datasource"]); got != DatasourceRef {
				t.Errorf("%s: datasource %q, want %q", where, got, DatasourceRef)
			}
			targets := targetsOf(p)
			if len(targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			refIDs := map[string]bool{}
			for _, tg := range targets {
				ref, _ := tg["refId"].(string)
				if ref == "" || refIDs[ref] {
					t.Errorf("%s: refId %q empty or duplicated", where, ref)
				}
				refIDs[ref] = true
				if got := dsUID(tg["datasource"]); got != DatasourceRef {
					t.Errorf("%s/%s: target datasource %q, want %q", where, ref, got, DatasourceRef)
				}
				if expr, _ := tg["expr"].(string); strings.TrimSpace(expr) == "" {
					t.Errorf("%s/%s: empty expr", where, ref)
				}
			}
			checkOrganizeRefs(t, where, p, refIDs)
		}
	}
}

// checkOrganizeRefs: a table built by merge names value columns
// "Value #<refId>"; an organize transform renaming a refId that does not
// exist would silently show an unnamed or missing column.
func checkOrganizeRefs(t *testing.T, where string, p map[string]any, refIDs map[string]bool) {
	trs, _ := p["transformations"].([]any)
	for _, tr := range trs {
		m := tr.(map[string]any)
		if m["id"] != "organize" {
			continue
		}
		opts, _ := m["options"].(map[string]any)
		for _, key := range []string{"excludeByName", "renameByName", "indexByName"} {
			fields, _ := opts[key].(map[string]any)
			for name := range fields {
				if ref, ok := strings.CutPrefix(name, "Value #"); ok && !refIDs[ref] {
					t.Errorf("%s: organize.%s names %q but there is no target %s", where, key, name, ref)
				}
			}
		}
	}
}

func TestGridLayout(t *testing.T) {
	type cell struct{ x, y int }
	for _, f := range dashFiles {
		d := readDashboard(t, f.name)
		taken := map[cell]string{}
		for _, p := range panelsOf(d) {
			title, _ := p["title"].(string)
			g, _ := p["gridPos"].(map[string]any)
			x, y, w, h := int(g["x"].(float64)), int(g["y"].(float64)), int(g["w"].(float64)), int(g["h"].(float64))
			if w <= 0 || h <= 0 || x < 0 || x+w > 24 {
				t.Errorf("%s: panel %q has gridPos %v outside the 24-column grid", f.name, title, g)
			}
			reported := false // one report per panel is enough
			for i := x; i < x+w; i++ {
				for j := y; j < y+h; j++ {
					if other, ok := taken[cell{i, j}]; ok && !reported {
						t.Errorf("%s: panels %q and %q overlap at (%d,%d)", f.name, other, title, i, j)
						reported = true
					}
					taken[cell{i, j}] = title
				}
			}
		}
	}
}

func TestVariables(t *testing.T) {
	for _, f := range dashFiles {
		d := readDashboard(t, f.name)
		list, _ := d["templating"].(map[string]any)["list"].([]any)
		byName := map[string]map[string]any{}
		var names []string
		for _, v := range list {
			m := v.(map[string]any)
			name, _ := m["name"].(string)
			names = append(names, name)
			byName[name] = m
		}
		if !slices.Equal(names, f.vars) {
			t.Errorf("%s: variables %v, want %v (order matters: later ones use earlier ones)", f.name, names, f.vars)
		}
		if ds := byName["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
			t.Errorf("%s: datasource variable must be type datasource, query prometheus: %v", f.name, ds)
		}
		for _, name := range names[1:] {
			v := byName[name]
			if v["type"] != "query" || dsUID(v["datasource"]) != DatasourceRef {
				t.Errorf("%s: variable %s must be a query variable on %s: %v", f.name, name, DatasourceRef, v)
			}
			q, _ := v["query"].(string)
			if !strings.HasPrefix(q, "label_values(") {
				t.Errorf("%s: variable %s query %q is not label_values()", f.name, name, q)
			}
			multi := name != "job_id"
			if v["multi"] != multi || v["includeAll"] != multi {
				t.Errorf("%s: variable %s multi/includeAll = %v/%v, want %v", f.name, name, v["multi"], v["includeAll"], multi)
			}
			if multi && v["allValue"] != AllValue {
				t.Errorf("%s: variable %s allValue %v, want %q (Substitute assumes it)", f.name, name, v["allValue"], AllValue)
			}
		}
		// The exporter-target variables come from the exporter's own metric.
		for name, want := range map[string]string{
			"job":      "label_values(kubiya_up, job)",
			"instance": `label_values(kubiya_up{job=~"$job"}, instance)`,
		} {
			if got := byName[name]["query"]; got != want {
				t.Errorf("%s: variable %s query %v, want %s", f.name, name, got, want)
			}
		}
	}
}

var (
	// targetMatcherRE finds job/instance matchers; their value must be the
	// variable, never a literal such as job="kubiya".
	targetMatcherRE = regexp.MustCompile(`\b(job|instance)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	metricNameRE    = regexp.MustCompile(`\b(?:kubiya_[a-z_]+|up)\b`)
)

func TestQueriesUseOnlyVariablesAndContractMetrics(t *testing.T) {
	for _, f := range dashFiles {
		b, err := os.ReadFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := Queries(b)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := Variables(b)
		if err != nil {
			t.Fatal(err)
		}
		exprs := map[string]string{}
		for _, q := range qs {
			exprs[fmt.Sprintf("panel %q/%s", q.PanelTitle, q.RefID)] = q.Expr
		}
		for _, v := range vs {
			exprs["variable "+v.Name] = v.Query
		}
		for where, expr := range exprs {
			for _, m := range targetMatcherRE.FindAllStringSubmatch(expr, -1) {
				if m[3] != "$"+m[1] {
					t.Errorf("%s %s: hardcoded %s%s%q, want $%s", f.name, where, m[1], m[2], m[3], m[1])
				}
			}
			for _, name := range metricNameRE.FindAllString(expr, -1) {
				if _, ok := contract[name]; !ok {
					t.Errorf("%s %s: metric %s is not in the metric contract", f.name, where, name)
				}
				if slices.Contains(forbiddenMetrics, name) {
					t.Errorf("%s %s: uses %s, which the dashboards must not show", f.name, where, name)
				}
			}
		}
	}
}

func TestJobLinksPointAtJobDashboard(t *testing.T) {
	b, err := os.ReadFile(OverviewFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	want := "/d/" + JobUID + "/kubiya-job?var-job_id=${__data.fields.job_id}"
	if !strings.Contains(s, want) {
		t.Errorf("%s: no data link %q to the job dashboard", OverviewFile, want)
	}
}
