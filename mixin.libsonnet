// kubiya_exporter monitoring mixin.
//
// Built from the same files Prometheus and Grafana load directly, so there
// is one source of truth:
//   alerts/kubiya.rules.yml            -> prometheusAlerts, prometheusRules
//   dashboards/kubiya-overview.json    -> grafanaDashboards
//   dashboards/kubiya-job.json
//
// Use with jsonnet-bundler / kube-prometheus, e.g.
//   local kubiya = (import 'github.com/kubiya/kubiya_exporter/mixin.libsonnet') + {
//     _config+:: { kubiyaExporterSelector: 'job=~"kubiya-exporter.*"' },
//   };
//   kubiya.prometheusAlerts  // { groups: [...] }
//
// Needs std.parseYaml (jsonnet / go-jsonnet 0.18 or later).
{
  _config+:: {
    // Selects the exporter's scrape target(s) in KubiyaExporterDown. The
    // rule file uses this default; override it if your scrape job for the
    // exporter is named differently.
    kubiyaExporterSelector: 'job=~"kubiya.*"',
  },

  local defaultSelector = 'job=~"kubiya.*"',
  local ruleFile = std.parseYaml(std.strReplace(
    importstr 'alerts/kubiya.rules.yml',
    defaultSelector,
    $._config.kubiyaExporterSelector,
  )),
  local hasAlerts(group) = std.length([r for r in group.rules if std.objectHas(r, 'alert')]) > 0,

  // Groups with alerting rules (kubiya.alerts).
  prometheusAlerts+:: {
    groups+: [g for g in ruleFile.groups if hasAlerts(g)],
  },

  // Groups with recording rules only (kubiya.rules).
  prometheusRules+:: {
    groups+: [g for g in ruleFile.groups if !hasAlerts(g)],
  },

  // File names are fixed; uids are set in the JSON files themselves.
  grafanaDashboards+:: {
    'kubiya-overview.json': import 'dashboards/kubiya-overview.json',
    'kubiya-job.json': import 'dashboards/kubiya-job.json',
  },
}
