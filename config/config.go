// Package config parses, validates and safely reloads the exporter's YAML
// configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
)

// Environment variables Kubiya's own tools read; the exporter honours them.
const (
	EnvBaseURL = "KUBIYA_CONTROL_PLANE_BASE_URL"
	EnvAPIKey  = "KUBIYA_API_KEY"
)

// Defaults.
const (
	DefaultURL            = "https://control-plane.kubiya.ai"
	DefaultTimeout        = 10 * time.Second
	DefaultMaxConcurrency = 8
)

// jobIDPattern admits both ID forms the API uses (job_<uuid>, a bare UUID)
// and nothing that could change the meaning of a URL path.
var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// Config is the whole configuration file.
type Config struct {
	ControlPlane ControlPlane `yaml:"control_plane"`
	Jobs         []string     `yaml:"jobs"`
	Executions   *Executions  `yaml:"executions"` // executions.go; nil when the key is absent
	Discovery    Discovery    `yaml:"discovery"`  // discovery.go
}

// ControlPlane says where the API is and how to talk to it.
type ControlPlane struct {
	URL            string         `yaml:"url"`
	Timeout        model.Duration `yaml:"timeout"`
	MaxConcurrency int            `yaml:"max_concurrency"`
	// The prometheus/common HTTP client settings (authorization, TLS, proxy),
	// inlined as blackbox_exporter does.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
}

// UnmarshalYAML applies defaults before decoding, because yaml.v2 does not
// call the inlined HTTPClientConfig's own unmarshaler.
func (c *ControlPlane) UnmarshalYAML(unmarshal func(any) error) error {
	*c = ControlPlane{
		URL:              DefaultURL,
		Timeout:          model.Duration(DefaultTimeout),
		MaxConcurrency:   DefaultMaxConcurrency,
		HTTPClientConfig: commoncfg.DefaultHTTPClientConfig,
	}
	type plain ControlPlane
	return keyed("control_plane", unmarshal, (*plain)(c), new(plain))
}

// keyed decodes a section into into; on failure it decodes the section's
// keys one at a time into scratch to name the first that fails: yaml.v2
// reports a duration's or a regular expression's error without its key.
func keyed(section string, unmarshal func(any) error, into, scratch any) error {
	err := unmarshal(into)
	var items yaml.MapSlice
	if err == nil || unmarshal(&items) != nil {
		return err
	}
	for _, item := range items {
		// An item that does not marshal names no key: err is returned.
		b, _ := yaml.Marshal(yaml.MapSlice{item})
		if kerr := yaml.UnmarshalStrict(b, scratch); kerr != nil {
			msg := strings.TrimPrefix(yamlMessage(kerr), "line 1: ")
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 { // yaml.v2 knew the line
				line, _, _ := strings.Cut(te.Errors[0], ":")
				msg += " (" + line + ")"
			}
			return fmt.Errorf("%s.%v: %s", section, item.Key, msg)
		}
	}
	return err
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type config\.\w+`)

// yamlMessage makes a yaml.v2 error read in terms of the file: an unknown
// field is an unknown key, not a Go type.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
	return unknownField.ReplaceAllString(msg, `unknown key "$1"`)
}

// Load reads and validates the file at path. getenv supplies the environment
// (os.Getenv in production) so tests need not touch the process's.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	// Relative credential and TLS files are relative to the config file, as
	// in Prometheus.
	cfg.ControlPlane.HTTPClientConfig.SetDirectory(filepath.Dir(path))
	if err := cfg.CheckCredentials(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML strictly (unknown keys are errors that name the key and
// line), applies defaults and environment overrides, and validates.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	cfg := &Config{}
	// control_plane and discovery may be omitted entirely; their defaults
	// still apply.
	if err := yaml.Unmarshal([]byte("control_plane: {}\ndiscovery: {}"), cfg); err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, errors.New(yamlMessage(err))
	}
	if v := getenv(EnvBaseURL); v != "" {
		cfg.ControlPlane.URL = v
	}
	hc := &cfg.ControlPlane.HTTPClientConfig
	if !hasCredentials(hc) {
		if key := getenv(EnvAPIKey); key != "" {
			hc.Authorization = &commoncfg.Authorization{Type: "Bearer", Credentials: commoncfg.Secret(key)}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Jobs = dedupe(cfg.Jobs)
	return cfg, nil
}

func hasCredentials(hc *commoncfg.HTTPClientConfig) bool {
	a := hc.Authorization
	return hc.BasicAuth != nil || hc.OAuth2 != nil || hc.BearerToken != "" || hc.BearerTokenFile != "" ||
		(a != nil && (a.Credentials != "" || a.CredentialsFile != "" || a.CredentialsRef != ""))
}

// Validate checks what YAML decoding cannot.
func (c *Config) Validate() error {
	var errs []error
	cp := c.ControlPlane
	if u, err := url.Parse(cp.URL); err != nil {
		errs = append(errs, fmt.Errorf("control_plane.url: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("control_plane.url %q: needs an http or https scheme and a host", u.Redacted()))
	}
	if cp.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("control_plane.timeout: %q must be greater than 0", cp.Timeout))
	}
	if cp.MaxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("control_plane.max_concurrency: %d must be at least 1", cp.MaxConcurrency))
	}
	if err := cp.HTTPClientConfig.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("control_plane: %w", err))
	}
	if !hasCredentials(&cp.HTTPClientConfig) {
		errs = append(errs, fmt.Errorf("no API key: set %s or control_plane.authorization.credentials_file", EnvAPIKey))
	}
	errs = append(errs, c.Executions.validate()) // errors.Join drops nils
	if len(c.Jobs) == 0 && !c.Discovery.Enabled {
		errs = append(errs, errors.New("jobs: list at least one job ID, or set discovery.enabled"))
	}
	errs = append(errs, c.Discovery.validate())
	for i, id := range c.Jobs {
		switch {
		case id == "":
			errs = append(errs, fmt.Errorf("jobs[%d]: empty job ID", i))
		case !jobIDPattern.MatchString(id):
			errs = append(errs, fmt.Errorf("jobs[%d] %q: a job ID is letters, digits, '_' and '-' (like job_<uuid>), at most 128 characters", i, truncate(id, 64)))
		}
	}
	return errors.Join(errs...)
}

// dedupe keeps the first occurrence of each ID: an ID listed twice is
// collected once.
func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CheckCredentials says whether the API key can be read: a credentials_file
// must exist, be readable by this process and not be empty. Load runs it
// (--config.check, start, reload); /-/ready runs it on every probe.
func (c *Config) CheckCredentials() error {
	a := c.ControlPlane.HTTPClientConfig.Authorization
	if a == nil || a.CredentialsFile == "" {
		return nil // the key is inline or from KUBIYA_API_KEY: Validate checked it
	}
	const key = "control_plane.authorization.credentials_file"
	b, err := os.ReadFile(a.CredentialsFile)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s: permission denied for uid %d", key, a.CredentialsFile, os.Geteuid())
	case err != nil:
		return fmt.Errorf("%s: %w", key, err)
	case len(bytes.TrimSpace(b)) == 0:
		return fmt.Errorf("%s %s: empty", key, a.CredentialsFile)
	}
	return nil
}

// Warnings lists what is allowed but unwise, for the caller to log.
func (c *Config) Warnings() []string {
	var warnings []string
	if a := c.ControlPlane.HTTPClientConfig.Authorization; a != nil && a.CredentialsFile != "" {
		if fi, err := os.Stat(a.CredentialsFile); err == nil && fi.Mode().Perm()&0o044 != 0 && !readThroughOwnGroup(fi) {
			warnings = append(warnings, fmt.Sprintf("credentials file %s is readable by group or others (mode %v); chmod 600 it", a.CredentialsFile, fi.Mode().Perm()))
		}
	}
	return warnings
}

// readThroughOwnGroup: the file is not world-readable and this process reads
// it as a member of its group, not as its owner. That is how Kubernetes gives
// a Secret to a non-root container (root-owned, group fsGroup, mode 0440), so
// the group is the exporter itself and no one else.
func readThroughOwnGroup(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode().Perm()&0o004 == 0 && int(st.Gid) == os.Getegid() && int(st.Uid) != os.Geteuid()
}
