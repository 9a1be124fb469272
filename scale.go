package main

import (
	"github.com/kubiya/kubiya_exporter/collector"
	"github.com/kubiya/kubiya_exporter/config"
	"github.com/kubiya/kubiya_exporter/kubiya"
)

// discoveryOptions maps the discovery section to the collector's options.
func discoveryOptions(d config.Discovery) collector.Discovery {
	return collector.Discovery{
		Enabled:           d.Enabled,
		Filter:            kubiya.ListFilter{Enabled: d.JobEnabled, TriggerType: d.TriggerType},
		NameInclude:       d.NameInclude.Compiled(),
		NameExclude:       d.NameExclude.Compiled(),
		EntityNameInclude: d.EntityNameInclude.Compiled(),
		EntityNameExclude: d.EntityNameExclude.Compiled(),
	}
}
