package dashboards

import (
	"os"
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
		var d dashboard.Dashboard
		if err := sdkErr(d.UnmarshalJSONStrict(b)); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := sdkErr(d.Validate()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// sdkErr unwraps the SDK's habit of returning an empty cog.BuildErrors as a
// non-nil error.
func sdkErr(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}
