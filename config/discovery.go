package config

import (
	"errors"
	"fmt"
	"regexp"
)

// DefaultStaticViaListAbove: with more static IDs than this in one shard,
// they are read from one list request instead of one GET each. Fifty GETs
// at the default max_concurrency of 8 are 7 rounds of API latency and 50
// requests per scrape; one list is one round and one request, but decodes
// every job of the organization, so for a handful of IDs in an organization
// of thousands the GETs are cheaper.
const DefaultStaticViaListAbove = 50

// Discovery is the `discovery:` section: report every job the list
// endpoint returns that passes the filters, besides the static `jobs:`.
type Discovery struct {
	Enabled bool `yaml:"enabled"`
	// JobEnabled and TriggerType are sent to the API as ?enabled= and
	// ?trigger_type=; omitted, they select every job.
	JobEnabled  *bool  `yaml:"job_enabled"`
	TriggerType string `yaml:"trigger_type"`
	// Regular expressions (RE2) on the job's name and entity_name, anchored
	// at both ends like Prometheus relabeling: "prod" matches only "prod",
	// ".*prod.*" matches any name containing it. A null entity_name is
	// matched as "". Include, when set, keeps only matches; exclude then
	// drops matches.
	NameInclude       *Regexp `yaml:"name_include"`
	NameExclude       *Regexp `yaml:"name_exclude"`
	EntityNameInclude *Regexp `yaml:"entity_name_include"`
	EntityNameExclude *Regexp `yaml:"entity_name_exclude"`
	// StaticViaListAbove: when a shard has more static IDs than this, they
	// are read from the list (one request) instead of one GET each; 0
	// turns this off. It applies whether or not discovery is enabled.
	StaticViaListAbove int `yaml:"static_via_list_above"`
}

// UnmarshalYAML applies defaults before decoding.
func (d *Discovery) UnmarshalYAML(unmarshal func(any) error) error {
	*d = Discovery{StaticViaListAbove: DefaultStaticViaListAbove}
	type plain Discovery
	return keyed("discovery", unmarshal, (*plain)(d), new(plain))
}

func (d *Discovery) validate() error {
	var errs []error
	switch d.TriggerType {
	case "", "cron", "webhook", "manual":
	default:
		errs = append(errs, fmt.Errorf("discovery.trigger_type %q: must be cron, webhook or manual", truncate(d.TriggerType, 64)))
	}
	if d.StaticViaListAbove < 0 {
		errs = append(errs, errors.New("discovery.static_via_list_above must be 0 (never) or more"))
	}
	return errors.Join(errs...)
}

// Regexp is a regular expression from the config, anchored at both ends.
type Regexp struct {
	*regexp.Regexp
	original string
}

// UnmarshalYAML compiles the expression; an invalid one is a config error
// that names it.
func (r *Regexp) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	// Compiled alone first, so an error quotes what the user wrote, and
	// "a)|(b" cannot escape the anchoring.
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Errorf("regular expression %q: %w", truncate(s, 64), err)
	}
	*r = Regexp{Regexp: regexp.MustCompile("^(?:" + s + ")$"), original: s}
	return nil
}

// MarshalYAML writes the expression as it was given.
func (r Regexp) MarshalYAML() (any, error) { return r.original, nil }

// Compiled returns the compiled expression; nil for a nil *Regexp, so an
// absent filter selects everything.
func (r *Regexp) Compiled() *regexp.Regexp {
	if r == nil {
		return nil
	}
	return r.Regexp
}
