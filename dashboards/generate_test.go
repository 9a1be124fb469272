package dashboards

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCommittedDashboardsAreCurrent fails when the JSON files differ from
// what the Go builders produce: someone edited the JSON by hand, or changed
// the builders without regenerating.
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Files {
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run `make dashboards` or `go generate ./dashboards`)", err)
		}
		if !bytes.Equal(committed, files[name]) {
			t.Errorf("%s is not what the builders generate; run `make dashboards` (or `go generate ./dashboards`) and commit the result.\n%s",
				name, firstDiff(string(committed), string(files[name])))
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Files {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs:\n%s", name, firstDiff(string(a[name]), string(b[name])))
		}
	}
}

// firstDiff shows the first differing line, enough to see what changed.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + x + "\n  generated: " + y
		}
	}
	return "(only trailing differences)"
}
