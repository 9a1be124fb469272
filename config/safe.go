package config

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SafeConfig holds the current configuration and replaces it only with one
// that loaded and validated: a bad reload leaves the old one serving.
type SafeConfig struct {
	reloadMu sync.Mutex // one reload at a time, so accept and the swap pair up
	c        atomic.Pointer[Config]
	path     string
	getenv   func(string) string

	reloadSuccess   prometheus.Gauge
	reloadTimestamp prometheus.Gauge
}

// NewSafeConfig returns an empty SafeConfig for the file at path and
// registers its reload metrics with reg.
func NewSafeConfig(path string, getenv func(string) string, reg prometheus.Registerer) *SafeConfig {
	sc := &SafeConfig{
		path:   path,
		getenv: getenv,
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubiya_exporter_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubiya_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	reg.MustRegister(sc.reloadSuccess, sc.reloadTimestamp)
	return sc
}

// Reload loads the file again and, if it is valid and accept (when not nil)
// takes it, makes it current. On any error the previous configuration stays.
// accept lets the caller build what depends on the config (the API client)
// and refuse the config if that fails.
func (sc *SafeConfig) Reload(accept func(*Config) error) (*Config, error) {
	sc.reloadMu.Lock()
	defer sc.reloadMu.Unlock()
	cfg, err := Load(sc.path, sc.getenv)
	if err == nil && accept != nil {
		err = accept(cfg)
	}
	if err != nil {
		sc.reloadSuccess.Set(0)
		return nil, err
	}
	sc.c.Store(cfg)
	sc.reloadSuccess.Set(1)
	sc.reloadTimestamp.Set(float64(time.Now().UnixNano()) / 1e9)
	return cfg, nil
}

// Get returns the current configuration; nil before the first good load.
func (sc *SafeConfig) Get() *Config { return sc.c.Load() }
