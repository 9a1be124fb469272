// Command kubiya_exporter exposes Kubiya control plane jobs as Prometheus
// metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // schedules compute the same in a scratch image as on a laptop

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/kubiya/kubiya_exporter/config"
	"github.com/kubiya/kubiya_exporter/internal/collector"
	"github.com/kubiya/kubiya_exporter/internal/kubiya"
	"github.com/kubiya/kubiya_exporter/internal/logging"
)

const (
	exporterName   = "kubiya_exporter"
	defaultAddress = ":9862"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv))
}

func run(args []string, getenv func(string) string) int {
	app := kingpin.New(exporterName, "Prometheus exporter for Kubiya control plane jobs.")
	webFlags := kingpinflag.AddFlags(app, defaultAddress)
	var (
		metricsPath   = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		configFile    = app.Flag("config.file", "Configuration file. The API key comes from KUBIYA_API_KEY or control_plane.authorization.credentials_file, never from a flag.").Default("kubiya.yml").String()
		configCheck   = app.Flag("config.check", "Validate the configuration file, print what is wrong, and exit 0 if it is valid, 1 if not.").Bool()
		timeoutOffset = app.Flag("scrape.timeout-offset", "Subtracted from Prometheus' X-Prometheus-Scrape-Timeout-Seconds to leave time to send the answer.").Default("0.5s").Duration()
		logLevel      = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum(logging.Levels...)
		logFormat     = app.Flag("log.format", "Output format of every log line, the web server's included. One of: [logfmt, json]").Default("logfmt").Enum(logging.Formats...)
		shutdownWait  = app.Flag("web.shutdown-timeout", "On SIGTERM or SIGINT, stop accepting connections and wait this long at most for the scrapes in flight to be answered, then exit.").Default("15s").Duration()
		shardIndex    = app.Flag("shard", "This replica's shard, 0 to --total-shards - 1: it reports only the jobs (static and discovered) whose ID hashes to it (FNV-1a 64 of the ID, modulo --total-shards). See docs/scaling.md.").Default("0").Int()
		totalShards   = app.Flag("total-shards", "How many shards the jobs are split into; 1 means no sharding.").Default("1").Int()
		maxRequests   = app.Flag("web.max-requests", "Maximum number of parallel scrape requests. Use 0 to disable.").Default("40").Int()
	)
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", exporterName, err)
		return 2
	}
	shard := collector.Shard{Index: *shardIndex, Total: *totalShards}
	if *totalShards < 1 || *shardIndex < 0 || *shardIndex >= *totalShards {
		fmt.Fprintf(os.Stderr, "%s: --shard=%d --total-shards=%d: need --total-shards >= 1 and 0 <= --shard < --total-shards\n", exporterName, *shardIndex, *totalShards)
		return 2
	}

	logger, toolkitLogger := logging.New(os.Stderr, *logFormat, *logLevel)

	if *configCheck {
		cfg, err := config.Load(*configFile, getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, err) // it names the file
			return 1
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(os.Stderr, "%s: warning: %s\n", *configFile, w)
		}
		fmt.Printf("%s: OK\n", *configFile)
		return 0
	}

	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())

	registry := newRegistry()
	apiMetrics := collector.NewAPIMetrics(registry)

	var current atomic.Pointer[scrapeTarget]
	safeConfig := config.NewSafeConfig(*configFile, getenv, registry)
	var reloadErr atomic.Pointer[error] // the last reload's outcome, for /-/ready
	// reload makes a new configuration current; on SIGHUP and POST /-/reload
	// it also logs the outcome (a failed first load stops the exporter).
	reload := func(logged bool) error {
		_, err := safeConfig.Reload(func(cfg *config.Config) error {
			prev := current.Load()
			target, err := newScrapeTarget(cfg, logger, apiMetrics, shard, prev)
			if err != nil {
				return err
			}
			current.Store(target)
			if prev != nil && prev.httpClient != target.httpClient {
				// Scrapes still running keep their connections.
				prev.httpClient.CloseIdleConnections()
			}
			for _, w := range cfg.Warnings() {
				level.Warn(logger).Log("msg", w)
			}
			return nil
		})
		reloadErr.Store(&err)
		switch {
		case logged && err != nil:
			level.Error(logger).Log("msg", "error reloading config", "err", err)
		case logged:
			level.Info(logger).Log("msg", "reloaded configuration", "file", *configFile)
		}
		return err
	}
	if err := reload(false); err != nil {
		level.Error(logger).Log("msg", "cannot load configuration", "err", err)
		return 1
	}
	level.Info(logger).Log("msg", "loaded configuration", "file", *configFile, "jobs", len(safeConfig.Get().Jobs),
		"discovery", safeConfig.Get().Discovery.Enabled, "shard", shard.Index, "total_shards", shard.Total)

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, metricsHandler(registry, &current, *timeoutOffset, *maxRequests, logger))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.Handle("/-/ready", readyHandler(safeConfig.Get, &reloadErr))
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		if err := reload(true); err != nil {
			http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	})
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Kubiya Exporter",
			Description: "Prometheus exporter for Kubiya control plane jobs",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: *metricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
			Profiling: "false", // no pprof handlers are mounted
		})
		if err != nil {
			level.Error(logger).Log("msg", "cannot build landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}

	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	shutdownDone := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)
	go func() {
		for sig := range signals {
			if sig == syscall.SIGHUP {
				_ = reload(true)
				continue
			}
			shutdown(server, sig, *shutdownWait, logger)
			close(shutdownDone)
			return
		}
	}()

	if err := web.ListenAndServe(server, webFlags, toolkitLogger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Error(logger).Log("msg", "HTTP server failed", "err", err)
		return 1
	}
	// Serve returns as soon as Shutdown starts; the scrapes in flight end
	// when Shutdown returns.
	<-shutdownDone
	return 0
}

// shutdown stops accepting connections and waits, at most timeout, for the
// requests in flight to be answered.
func shutdown(server *http.Server, sig os.Signal, timeout time.Duration, logger log.Logger) {
	level.Info(logger).Log("msg", "shutting down; waiting for the scrapes in flight", "signal", sig, "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		level.Warn(logger).Log("msg", "scrapes still in flight at --web.shutdown-timeout were cut", "err", err)
		return
	}
	level.Info(logger).Log("msg", "shut down")
}

// readyHandler answers /-/ready: 200 when a configuration is loaded (config
// is nil before), the last reload worked and the key is readable now; else
// 503 and the reason.
func readyHandler(config func() *config.Config, reloadErr *atomic.Pointer[error]) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		cfg, last := config(), reloadErr.Load()
		var reason error
		switch {
		case cfg == nil:
			reason = errors.New("no configuration loaded")
		case last != nil && *last != nil:
			reason = fmt.Errorf("the last configuration reload failed: %w", *last)
		default:
			reason = cfg.CheckCredentials()
		}
		if reason != nil {
			http.Error(w, "Not ready: "+reason.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	}
}

// scrapeTarget is what one configuration builds: the API client, the
// collector and the longest a scrape may take.
type scrapeTarget struct {
	exporter     *collector.Exporter
	timeout      time.Duration
	controlPlane config.ControlPlane // what the client was made from
	client       *kubiya.Client
	httpClient   *http.Client
}

// newScrapeTarget builds the target of cfg. prev, the target of the
// configuration before a reload, lends its client when the control plane
// settings did not change, and its exporter's state (collector.Reload).
func newScrapeTarget(cfg *config.Config, logger log.Logger, observer kubiya.Observer, shard collector.Shard, prev *scrapeTarget) (*scrapeTarget, error) {
	t := &scrapeTarget{timeout: time.Duration(cfg.ControlPlane.Timeout), controlPlane: cfg.ControlPlane}
	if prev != nil && prev.controlPlane.URL == cfg.ControlPlane.URL &&
		reflect.DeepEqual(prev.controlPlane.HTTPClientConfig, cfg.ControlPlane.HTTPClientConfig) {
		t.client, t.httpClient = prev.client, prev.httpClient
	} else {
		userAgent := exporterName + "/" + version.Version
		var err error
		t.httpClient, err = commoncfg.NewClientFromConfig(cfg.ControlPlane.HTTPClientConfig, exporterName,
			commoncfg.WithUserAgent(userAgent))
		if err != nil {
			return nil, fmt.Errorf("control plane HTTP client: %w", err)
		}
		t.client, err = kubiya.NewClient(cfg.ControlPlane.URL, t.httpClient, kubiya.Options{UserAgent: userAgent, Observer: observer})
		if err != nil {
			return nil, err
		}
	}
	d := cfg.Discovery
	opts := collector.Options{
		Jobs:           cfg.Jobs,
		MaxConcurrency: cfg.ControlPlane.MaxConcurrency,
		Discovery: collector.Discovery{
			Enabled:           d.Enabled,
			Filter:            kubiya.ListFilter{Enabled: d.JobEnabled, TriggerType: d.TriggerType},
			NameInclude:       d.NameInclude.Compiled(),
			NameExclude:       d.NameExclude.Compiled(),
			EntityNameInclude: d.EntityNameInclude.Compiled(),
			EntityNameExclude: d.EntityNameExclude.Compiled(),
		},
		StaticViaListAbove: d.StaticViaListAbove,
		Shard:              shard,
	}
	if x := cfg.Executions; x != nil && x.Enabled {
		opts.Executions, opts.ExecutionsLimit = t.client, x.Limit
	}
	if prev != nil {
		t.exporter = prev.exporter.Reload(t.client, opts)
	} else {
		t.exporter = collector.New(t.client, logger, opts)
	}
	return t, nil
}

// metricsHandler gathers one scrape per request (mysqld_exporter's registry
// per request), so the scrape's deadline reaches every API request; promhttp
// picks the format (text, OpenMetrics, protobuf). At most maxRequests scrapes
// run at once (0: no limit), as node_exporter's --web.max-requests; the
// others get 503.
func metricsHandler(global *prometheus.Registry, current *atomic.Pointer[scrapeTarget], offset time.Duration, maxRequests int, logger log.Logger) http.Handler {
	opts := promhttp.HandlerOpts{
		ErrorLog:          promhttpLogger{logger},
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          global,
		EnableOpenMetrics: true,
		// gzip below: klauspost's fastest level costs a fraction of the
		// CPU of compress/gzip's default on answers of megabytes.
		DisableCompression: true,
	}
	var inFlight chan struct{}
	if maxRequests > 0 {
		inFlight = make(chan struct{}, maxRequests)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight != nil {
			select {
			case inFlight <- struct{}{}:
				defer func() { <-inFlight }()
			default:
				http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", maxRequests), http.StatusServiceUnavailable)
				return
			}
		}
		target := current.Load()
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, target.timeout, offset))
		defer cancel()
		// The scrape first: its API requests then show in this answer's
		// kubiya_exporter_api_requests_total, not the next one's.
		promhttp.HandlerFor(gatherers{target.exporter.Scrape(ctx), global}, opts).ServeHTTP(w, r)
	})
	gzip, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		panic(err) // only for invalid options
	}
	return promhttp.InstrumentMetricHandler(global, gzip(handler))
}

// newRegistry returns the process' registry: Go, process and build info.
func newRegistry() *prometheus.Registry {
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(exporterName),
	)
	return registry
}

// gatherers joins what a scrape and the process' registry gathered, without
// prometheus.Gatherers' second check of every series each has checked (at
// 10,000 jobs, 190,000). Their metric names differ by construction, so
// nothing is merged: the scrape's are kubiya_up, kubiya_scrape_duration_seconds
// and kubiya_job_*; the registry's kubiya_exporter_*, go_*, process_* and
// promhttp_* (TestScrapeAndRegistryNamesDisjoint).
type gatherers []prometheus.Gatherer

func (g gatherers) Gather() ([]*dto.MetricFamily, error) {
	var all []*dto.MetricFamily
	var errs []error
	for _, gatherer := range g {
		mfs, err := gatherer.Gather()
		all = append(all, mfs...)
		errs = append(errs, err)
	}
	slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return all, errors.Join(errs...)
}

// scrapeTimeout is Prometheus' scrape timeout less offset, capped by the
// configured timeout.
func scrapeTimeout(r *http.Request, configured, offset time.Duration) time.Duration {
	secs, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	if err != nil || secs <= 0 {
		return configured
	}
	t := time.Duration(secs * float64(time.Second))
	if t > offset {
		t -= offset
	}
	return min(t, configured)
}

// promhttpLogger logs promhttp's errors as they are: go-kit's stdlib
// adapter would read "host:port: " in a network error as a file and line.
type promhttpLogger struct{ logger log.Logger }

func (l promhttpLogger) Println(v ...any) { level.Error(l.logger).Log("msg", fmt.Sprint(v...)) }
