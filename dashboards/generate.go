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

// ImportInput and Requirement are the `__inputs` and `__requires` entries
// of a dashboard file, which Grafana's import screen reads (the SDK's
// dashboard model has no fields for them).
type ImportInput struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Type        string `json:"type"`
	PluginID    string `json:"pluginId"`
	PluginName  string `json:"pluginName"`
}

type Requirement struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// DatasourceInput is the import input Grafana's import screen asks for: a
// Prometheus data source. Its placeholder is the datasource variable's
// default, so the dashboard opens on the data source picked at import.
var DatasourceInput = ImportInput{
	Name:        "DS_PROMETHEUS",
	Label:       "Prometheus",
	Description: "The Prometheus that scrapes the Kubiya exporter",
	Type:        "datasource",
	PluginID:    "prometheus",
	PluginName:  "Prometheus",
}

// importMeta is the file's `__inputs` and `__requires`: the data source
// input, Grafana 10 or later, the Prometheus data source plugin and every
// panel type the dashboard uses.
type importMeta struct {
	Inputs   []ImportInput `json:"__inputs"`
	Requires []Requirement `json:"__requires"`
}

func newImportMeta(d dashboard.Dashboard) importMeta {
	m := importMeta{
		Inputs: []ImportInput{DatasourceInput},
		Requires: []Requirement{
			{Type: "grafana", ID: "grafana", Name: "Grafana", Version: "10.0.0"},
			{Type: "datasource", ID: "prometheus", Name: "Prometheus", Version: "1.0.0"},
		},
	}
	seen := map[string]bool{}
	for _, p := range d.Panels {
		if p.Panel == nil || seen[p.Panel.Type] {
			continue
		}
		seen[p.Panel.Type] = true
		m.Requires = append(m.Requires, Requirement{Type: "panel", ID: p.Panel.Type, Name: panelNames[p.Panel.Type], Version: ""})
	}
	return m
}

var panelNames = map[string]string{
	"stat": "Stat", "timeseries": "Time series", "table": "Table", "bargauge": "Bar gauge", "state-timeline": "State timeline",
}

// render writes `__inputs` and `__requires` first, then the dashboard, with
// two-space indentation and a final newline, and without HTML escaping so
// "<" and "&" in queries and URLs stay readable.
func render(d dashboard.Dashboard) ([]byte, error) {
	marshal := func(v any) ([]byte, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSpace(buf.Bytes()), nil
	}
	meta, err := marshal(newImportMeta(d))
	if err != nil {
		return nil, err
	}
	body, err := marshal(d)
	if err != nil {
		return nil, err
	}
	// Both are JSON objects: join their members into one object.
	joined := append(append(meta[:len(meta)-1:len(meta)-1], ','), body[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, joined, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
