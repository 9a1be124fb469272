package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Files lists the generated dashboard files in a stable order.
var Files = []string{OverviewFile, JobFile}

// Generate renders every dashboard to its committed JSON form, keyed by
// file name (see Files).
func Generate() (map[string][]byte, error) {
	builders := map[string]func() (dashboard.Dashboard, error){
		OverviewFile: Overview,
		JobFile:      Job,
	}
	out := make(map[string][]byte, len(builders))
	for _, name := range Files {
		d, err := builders[name]()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b, err := render(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// render marshals with two-space indentation and a final newline, and
// without HTML escaping so "<" and "&" in queries and URLs stay readable.
func render(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
