package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite README.md's values table from values.yaml")

const (
	tableStart = "<!-- values table: generated from charts/kubiya-exporter/values.yaml by `make chart-values-table` -->\n"
	tableEnd   = "<!-- end of values table -->\n"
)

// valuesTable renders the keys of values.yaml that carry a `# --` comment
// (helm-docs' convention), with their defaults as JSON and the comment.
func valuesTable(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	keyLine := regexp.MustCompile(`^( *)([A-Za-z0-9_]+):`)
	type level struct {
		indent int
		key    string
	}
	var stack []level
	var doc []string
	var b strings.Builder
	b.WriteString("| key | default | description |\n|---|---|---|\n")
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "# -- "):
			doc = []string{strings.TrimSpace(strings.TrimPrefix(trimmed, "# -- "))}
		case strings.HasPrefix(trimmed, "#") && doc != nil:
			doc = append(doc, strings.TrimSpace(strings.TrimPrefix(trimmed, "#")))
		case trimmed == "":
			doc = nil
		default:
			m := keyLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			indent := len(m[1])
			for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, level{indent, m[2]})
			if doc == nil {
				continue
			}
			var path []string
			var v any = values
			for _, l := range stack {
				path = append(path, l.key)
				v = v.(map[string]any)[l.key]
			}
			def, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", strings.Join(path, "."), def, strings.Join(doc, " "))
			doc = nil
		}
	}
	return b.String()
}

// TestValuesTable keeps README.md's table of the chart's values equal to
// values.yaml; -update rewrites it.
func TestValuesTable(t *testing.T) {
	readmePath := filepath.Join(repoRoot, "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), tableStart)
	table, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no values table between %q and %q", tableStart, tableEnd)
	}
	want := valuesTable(t)
	if !strings.Contains(want, "`shards`") {
		t.Fatalf("values table without shards:\n%s", want)
	}
	if table == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(before+tableStart+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's values table is not values.yaml's; run make chart-values-table. Want:\n%s", want)
}
