package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Panel constructors with the defaults both dashboards share. Every panel
// gets the ${datasource} data source; the structural test enforces it.

func statPanel(title, desc string, w, h uint32) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).Description(desc).
		Datasource(datasource()).
		Span(w).Height(h).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

// countStat counts jobs; its color turns at the first job when alert is set.
func countStat(title, desc, expr string, alertColor string) *stat.PanelBuilder {
	p := statPanel(title, desc, 3, 4).WithTarget(instant(expr, "")).Unit("short").Decimals(0)
	if alertColor != "" {
		return p.Thresholds(thresholds("green", 1, alertColor))
	}
	return p.Thresholds(thresholds("text"))
}

func tsPanel(title, desc string, w, h uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).Description(desc).
		Datasource(datasource()).
		Span(w).Height(h).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeAuto).
		// The SDK leaves tooltip mode and sort as empty strings otherwise.
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"}))
}

func tablePanel(title, desc string, w, h uint32) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).Description(desc).
		Datasource(datasource()).
		Span(w).Height(h).
		// The SDK leaves the footer reducer null; Grafana expects a list.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}))
}

func barGauge(title, desc string, w, h uint32) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).Description(desc).
		Datasource(datasource()).
		Span(w).Height(h).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

func timelinePanel(title, desc string, w, h uint32) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Title(title).Description(desc).
		Datasource(datasource()).
		Span(w).Height(h).
		ShowValue(common.VisibilityModeNever).
		MergeValues(true).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
}

func row(title string) *dashboard.RowBuilder {
	return dashboard.NewRowBuilder(title)
}

// merge and organize turn several instant table queries into one table with
// one row per job_id (merge joins rows whose common label columns agree).
func merge() dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}
}

func organize(exclude []string, rename map[string]string, order []string) dashboard.DataTransformerConfig {
	ex := map[string]bool{}
	for _, n := range exclude {
		ex[n] = true
	}
	idx := map[string]int{}
	for i, n := range order {
		idx[n] = i
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
		"excludeByName": ex,
		"renameByName":  rename,
		"indexByName":   idx,
	}}
}

// Field override properties, as Grafana names them.
func prop(id string, value any) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: id, Value: value}
}

func cellColorText() dashboard.DynamicConfigValue {
	return prop("custom.cellOptions", map[string]any{"type": "color-text"})
}

func fixedColor(c string) dashboard.DynamicConfigValue {
	return prop("color", map[string]any{"mode": "fixed", "fixedColor": c})
}

func mappings(m ...dashboard.ValueMapping) dashboard.DynamicConfigValue {
	return prop("mappings", m)
}

func thresholdsProp(b *dashboard.ThresholdsConfigBuilder) dashboard.DynamicConfigValue {
	t, err := b.Build()
	if err != nil {
		panic(err) // static input; a failure is a programming error
	}
	return prop("thresholds", t)
}

var (
	okFailMapping     = valueText("1", "OK", "green", "0", "Failing", "red")
	enabledMapping    = valueText("1", "Enabled", "green", "0", "Disabled", "text")
	upDownMapping     = valueText("1", "Up", "green", "0", "Down", "red")
	reloadOKMapping   = valueText("1", "OK", "green", "0", "Failed", "red")
	scheduleOKMapping = valueText("1", "Valid", "green", "0", "Invalid", "red")
)

// Short names for the panel builders the helpers return.
type (
	statPanelBuilder     = stat.PanelBuilder
	timelinePanelBuilder = statetimeline.PanelBuilder
	tablePanelBuilder    = table.PanelBuilder
)
