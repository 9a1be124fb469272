package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestCommittedJSONMatchesSchema decodes the committed files strictly into
// the SDK's dashboard model, which is generated from Grafana's schema:
// unknown fields and wrong types fail, so a hand edit that Grafana's schema
// would not accept is caught even before the "is it current" test.
func TestCommittedJSONMatchesSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for _, name := range Files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSchema(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSchemaCheckCatchesTypos: the check fails on an unknown key where
// Grafana would silently ignore it, in the dashboard, in a panel's
// fieldConfig.defaults (the SDK's strict decoder lets those through), in
// the import inputs, and on a missing unit.
func TestSchemaCheckCatchesTypos(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	b, err := os.ReadFile(JobFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new string }{
		{"unknown dashboard field", `"uid": "kubiya-job"`, `"uidd": "kubiya-job"`},
		{"unknown fieldConfig.defaults key", `"unit": "none"`, `"unitt": "none"`},
		{"unknown __inputs key", `"pluginName": "Prometheus"`, `"plugin_name": "Prometheus"`},
		{"wrong __requires", `"id": "state-timeline"`, `"id": "piechart"`},
	} {
		bad := strings.Replace(string(b), c.old, c.new, 1)
		if bad == string(b) {
			t.Fatalf("%s: %q not in %s", c.name, c.old, JobFile)
		}
		if err := checkSchema([]byte(bad)); err == nil {
			t.Errorf("%s (%s -> %s) passes the schema check", c.name, c.old, c.new)
		}
	}
}

// checkSchema checks a dashboard file: `__inputs` and `__requires` are the
// ones the generator writes for it (decoded strictly), the rest decodes
// strictly into the SDK's dashboard model and validates, and every panel's
// fieldConfig.defaults decodes strictly into the SDK's FieldConfig and sets
// a unit.
func checkSchema(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return err
	}
	metaJSON, err := json.Marshal(map[string]json.RawMessage{"__inputs": top["__inputs"], "__requires": top["__requires"]})
	if err != nil {
		return err
	}
	var meta importMeta
	dec := json.NewDecoder(bytes.NewReader(metaJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return fmt.Errorf("__inputs/__requires: %w", err)
	}
	delete(top, "__inputs")
	delete(top, "__requires")
	rest, err := json.Marshal(top)
	if err != nil {
		return err
	}
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(rest)); err != nil {
		return err
	}
	if err := sdkErr(d.Validate()); err != nil {
		return err
	}
	var raw struct {
		Panels []struct {
			Title       string `json:"title"`
			Type        string `json:"type"`
			FieldConfig struct {
				Defaults json.RawMessage `json:"defaults"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(rest, &raw); err != nil {
		return err
	}
	// The import screen asks for the Prometheus data source and lists what
	// the dashboard needs: Grafana, Prometheus, and each panel type used.
	if !reflect.DeepEqual(meta.Inputs, []ImportInput{DatasourceInput}) {
		return fmt.Errorf("__inputs = %+v, want [%+v]", meta.Inputs, DatasourceInput)
	}
	want := map[string]bool{"grafana/grafana": true, "datasource/prometheus": true}
	for _, p := range raw.Panels {
		if p.Type != "row" {
			want["panel/"+p.Type] = true
		}
	}
	got := map[string]bool{}
	for _, r := range meta.Requires {
		got[r.Type+"/"+r.ID] = true
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("__requires lists %v, want %v", got, want)
	}
	for _, p := range raw.Panels {
		if p.Type == "row" {
			continue
		}
		var fc dashboard.FieldConfig
		if err := sdkErr(fc.UnmarshalJSONStrict(p.FieldConfig.Defaults)); err != nil {
			return fmt.Errorf("panel %q: fieldConfig.defaults: %w", p.Title, err)
		}
		if fc.Unit == nil || *fc.Unit == "" {
			return fmt.Errorf("panel %q: no unit in fieldConfig.defaults (use \"none\" for states shown by value mappings)", p.Title)
		}
	}
	return nil
}

// sdkErr unwraps the SDK's habit of returning an empty cog.BuildErrors as a
// non-nil error.
func sdkErr(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}
