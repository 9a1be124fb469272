package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Stable identifiers: other dashboards, links and provisioning refer to them.
const (
	OverviewUID  = "kubiya-overview"
	JobUID       = "kubiya-job"
	OverviewFile = "kubiya-overview.json"
	JobFile      = "kubiya-job.json"

	// DatasourceRef is the only data source any panel or target may use.
	DatasourceRef = "${datasource}"

	// AllValue is the "All" value of every multi-value variable. It is ".*"
	// rather than ".+" because entity_type and entity_name are empty (the
	// label is absent) for jobs without an entity, and ".+" would hide them.
	AllValue = ".*"

	// missedRunGrace and missedRunToleranceSeconds are those of the
	// KubiyaJobMissedRun alert (alerts/kubiya.rules.yml); keep them equal.
	missedRunGrace            = "10m"
	missedRunToleranceSeconds = 60

	// schemaVersion 39 is what Grafana 10.4 writes. The SDK defaults to a
	// newer one; declaring the oldest version we target lets newer Grafana
	// run its (harmless) migrations instead of older Grafana skipping them.
	schemaVersion = 39
)

// Label selectors shared by the queries. Every selector is scoped to the
// exporter target ($job, $instance) so two exporters never mix.
const (
	targetSel = `job=~"$job", instance=~"$instance"`
	filterSel = targetSel + `, job_name=~"$job_name", entity_type=~"$entity_type", entity_name=~"$entity_name"`
	oneJobSel = targetSel + `, job_id="$job_id"`
	matchJob  = `on (job, instance, job_id)`
)

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(DatasourceRef)}
}

// query is a range query (time series panels).
func query(expr, legend string) *prometheus.DataqueryBuilder {
	q := prometheus.NewDataqueryBuilder().Datasource(datasource()).Expr(expr).Range()
	if legend != "" {
		q = q.LegendFormat(legend)
	}
	return q
}

// instant is an instant query (stats, bar gauges).
func instant(expr, legend string) *prometheus.DataqueryBuilder {
	q := prometheus.NewDataqueryBuilder().Datasource(datasource()).Expr(expr).Instant()
	if legend != "" {
		q = q.LegendFormat(legend)
	}
	return q
}

// tableQuery is an instant query in table format: labels become columns,
// and the value column is named "Value #<refId>" for the merge transform.
func tableQuery(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(datasource()).Expr(expr).
		Instant().Format(prometheus.PromQueryFormatTable)
}

// datasourceVariable's default is the import input's placeholder: Grafana's
// import screen replaces it with the data source picked there. Provisioned
// without import, the placeholder matches no data source and Grafana
// selects its default Prometheus.
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	ds := "${" + DatasourceInput.Name + "}"
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Type("prometheus").
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: &ds},
			Value: dashboard.StringOrArrayOfString{String: &ds},
		})
}

// labelVariable is a query variable over label_values(selector, label).
func labelVariable(name, label, selector, valueLabel string, multi bool) *dashboard.QueryVariableBuilder {
	q := fmt.Sprintf("label_values(%s, %s)", selector, valueLabel)
	v := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		// On time range change: jobs come and go, and an old range should
		// offer the jobs that existed then.
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if multi {
		v = v.Multi(true).IncludeAll(true).AllValue(AllValue).
			Current(dashboard.VariableOption{
				Selected: cog.ToPtr(true),
				Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
				Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
			})
	}
	return v
}

// commonVariables are the variables of both dashboards, in dependency order.
func commonVariables() []cog.Builder[dashboard.VariableModel] {
	info := "kubiya_job_info{" + targetSel + "}"
	return []cog.Builder[dashboard.VariableModel]{
		datasourceVariable(),
		labelVariable("job", "Exporter job", "kubiya_up", "job", true),
		labelVariable("instance", "Exporter instance", `kubiya_up{job=~"$job"}`, "instance", true),
		labelVariable("job_name", "Job name", info, "job_name", true),
		labelVariable("entity_type", "Entity type", info, "entity_type", true),
		labelVariable("entity_name", "Entity", "kubiya_job_info{"+targetSel+`, entity_type=~"$entity_type"}`, "entity_name", true),
	}
}

// builtinAnnotations is the annotation Grafana adds to every dashboard
// ("Annotations & Alerts"); written out so the JSON has a list, as Grafana's
// own exports do.
func builtinAnnotations() []cog.Builder[dashboard.AnnotationQuery] {
	return []cog.Builder[dashboard.AnnotationQuery]{
		dashboard.NewAnnotationQueryBuilder().
			Name("Annotations & Alerts").
			Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
			Enable(true).Hide(true).
			IconColor("rgba(0, 211, 255, 1)").
			Type("dashboard").
			BuiltIn(1),
	}
}

func dashboardLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Kubiya dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"kubiya"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true),
	}
}

// jobLinkURL opens the job dashboard for the row's job_id, keeping the data
// source, exporter target and time range.
const jobLinkURL = "/d/" + JobUID + "/kubiya-job?var-job_id=${__data.fields.job_id}" +
	"&${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&${__url_time_range}"

// jobLinks is a field "links" override value: field data links are plain
// {title, url} objects, not the dashboard-link model.
func jobLinks() []map[string]any {
	return []map[string]any{{"title": "Job details", "url": jobLinkURL}}
}

// valueText maps numeric values to text and color (enabled, fetch OK, ...).
func valueText(pairs ...string) dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i := 0; i+2 < len(pairs); i += 3 {
		opts[pairs[i]] = dashboard.ValueMappingResult{
			Text:  cog.ToPtr(pairs[i+1]),
			Color: cog.ToPtr(pairs[i+2]),
			Index: cog.ToPtr(int32(i / 3)),
		}
	}
	return dashboard.ValueMapping{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}
}

// thresholds builds absolute thresholds: base color, then value/color pairs.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		s = append(s, dashboard.Threshold{Value: cog.ToPtr(toFloat(steps[i])), Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	panic(fmt.Sprintf("threshold value %v is not a number", v))
}

// finalize sets what the builders do not: panel ids (stable, in layout
// order, so links to a panel survive regeneration), refIds where missing,
// the schema version and link placement.
func finalize(d *dashboard.Dashboard) {
	d.SchemaVersion = schemaVersion
	// The SDK puts links and annotations in Grafana 12's controls menu by
	// default; older Grafana ignores the field, newer would hide them there.
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
	var id uint32
	for i := range d.Panels {
		id++
		switch {
		case d.Panels[i].Panel != nil:
			p := d.Panels[i].Panel
			p.Id = cog.ToPtr(id)
			for j, t := range p.Targets {
				if q, ok := t.(prometheus.Dataquery); ok && q.RefId == nil {
					q.RefId = cog.ToPtr(string(rune('A' + j)))
					p.Targets[j] = q
				}
			}
		case d.Panels[i].RowPanel != nil:
			d.Panels[i].RowPanel.Id = id
		}
	}
}

// missedRun is the KubiyaJobMissedRun alert's expression, inlined so the
// dashboards work without the recording rules: a fire time at least the
// grace old (the largest exporter-computed previous fire time in the hour
// before grace ago) is newer than the job's last sign of life (last
// execution, update or creation) plus a clock-skew tolerance; the job is
// enabled, not in a status other than active, still has a schedule, and has no run in progress (as the
// executions collector says; the alert also reads the counters). The naive
// "previous fire > last run + grace" would flag every job from the moment
// its fire time passes until its run is recorded.
func missedRun(selector string) string {
	return fmt.Sprintf(`(`+
		`max_over_time(kubiya_job_schedule_previous_timestamp_seconds{%[1]s}[1h] offset %[2]s)`+
		` > %[3]s (max by (job, instance, job_id) (kubiya_job_last_execution_timestamp_seconds{%[1]s} or kubiya_job_updated_timestamp_seconds{%[1]s} or kubiya_job_created_timestamp_seconds{%[1]s}) + %[4]d)`+
		` and %[3]s (kubiya_job_enabled{%[1]s} == 1)`+
		` and %[3]s kubiya_job_schedule_previous_timestamp_seconds{%[1]s}`+
		` unless %[3]s (kubiya_job_status{status!="active", %[1]s} == 1)`+
		` unless %[3]s (kubiya_job_executions_in_progress{%[1]s} > 0))`,
		selector, missedRunGrace, matchJob, missedRunToleranceSeconds)
}
