package config

import (
	"strings"
	"testing"
)

func TestDiscoveryConfig(t *testing.T) {
	noEnv := func(k string) string {
		if k == EnvAPIKey {
			return "k"
		}
		return ""
	}
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults without a discovery section", yaml: "jobs: [job_1]", check: func(t *testing.T, c *Config) {
			if c.Discovery.Enabled || c.Discovery.StaticViaListAbove != DefaultStaticViaListAbove {
				t.Errorf("discovery = %+v", c.Discovery)
			}
		}},
		{name: "discovery alone needs no jobs", yaml: "discovery: {enabled: true}", check: func(t *testing.T, c *Config) {
			if !c.Discovery.Enabled || c.Discovery.StaticViaListAbove != DefaultStaticViaListAbove {
				t.Errorf("discovery = %+v", c.Discovery)
			}
		}},
		{name: "neither jobs nor discovery", yaml: "discovery: {enabled: false}", wantErr: "or set discovery.enabled"},
		{name: "filters", yaml: `
discovery:
  enabled: true
  job_enabled: false
  trigger_type: webhook
  name_include: 'prod-.*'
  name_exclude: '.*-tmp'
  entity_name_include: 'reporter|builder'
  entity_name_exclude: 'x'
  static_via_list_above: 0
`, check: func(t *testing.T, c *Config) {
			d := c.Discovery
			if d.JobEnabled == nil || *d.JobEnabled || d.TriggerType != "webhook" || d.StaticViaListAbove != 0 {
				t.Errorf("discovery = %+v", d)
			}
			for _, tt := range []struct {
				re    *Regexp
				s     string
				match bool
			}{
				{d.NameInclude, "prod-a", true}, {d.NameInclude, "xprod-a", false},
				{d.NameExclude, "a-tmp", true}, {d.NameExclude, "a-tmpx", false},
				{d.EntityNameInclude, "builder", true}, {d.EntityNameInclude, "reporters", false},
				{d.EntityNameExclude, "x", true}, {d.EntityNameExclude, "xx", false},
			} {
				if got := tt.re.MatchString(tt.s); got != tt.match {
					t.Errorf("%s matches %q = %v, want %v (anchored)", tt.re.original, tt.s, got, tt.match)
				}
			}
		}},
		{name: "bad regex", yaml: "discovery: {enabled: true, name_include: 'a('}", wantErr: "regular expression"},
		{name: "bad trigger type", yaml: "discovery: {enabled: true, trigger_type: hourly}", wantErr: "trigger_type"},
		{name: "negative threshold", yaml: "discovery: {enabled: true, static_via_list_above: -1}", wantErr: "static_via_list_above"},
		{name: "unknown key", yaml: "discovery: {enabled: true, name_regex: x}", wantErr: "name_regex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), noEnv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
	if (*Regexp)(nil).Compiled() != nil {
		t.Error("an absent filter must be nil")
	}
}
