// Command kubiya-simulator serves the simulator of the Kubiya control
// plane's jobs API (package simulator) for the demo and end-to-end tests.
//
// The API key comes from the KUBIYA_API_KEY environment variable or
// --api-key-file, never from a flag value; with neither, it is "demo-key".
// Faults are injected at runtime through the /_simulator/ admin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/kubiya/kubiya_exporter/internal/logging"
	"github.com/kubiya/kubiya_exporter/simulator"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubiya-simulator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kubiya-simulator", flag.ContinueOnError)
	listen := fs.String("web.listen-address", "127.0.0.1:8480", "address to listen on (port 0 picks a free port; the address is logged)")
	jobs := fs.Int("jobs", 0, "number of synthetic jobs (0 = the default realistic set)")
	latency := fs.Duration("latency", 0, "latency added to every /api/v1 request")
	seed := fs.Int64("seed", 1, "seed for deterministic jobs and run outcomes")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	format := fs.String("log.format", "logfmt", "log format: logfmt or json (the exporter's)")
	keyFile := fs.String("api-key-file", "", "file holding the API key (else $KUBIYA_API_KEY, else demo-key)")
	org := fs.String("organization", "acme-corp", "organization_id of the jobs")
	canary := fs.String("secret-canary", "", "if set, embed this string in every secret field of every job (leak tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !slices.Contains(logging.Levels, *level) || !slices.Contains(logging.Formats, *format) {
		return fmt.Errorf("--log.level %q, --log.format %q: want one of %v and one of %v", *level, *format, logging.Levels, logging.Formats)
	}
	_, log := logging.New(os.Stderr, *format, *level)

	key, source, err := apiKey(*keyFile)
	if err != nil {
		return err
	}
	if source == "default" {
		log.Info("no KUBIYA_API_KEY or --api-key-file; using the demo key", "api_key", key)
	} else {
		log.Info("API key loaded", "source", source)
	}

	var js []simulator.Job
	if *jobs > 0 {
		js = simulator.GenerateJobs(*jobs, *seed)
	} else {
		js = simulator.DefaultJobs()
	}
	if *canary != "" {
		js = simulator.FillSecrets(js, *canary)
	}
	sim := simulator.New(simulator.Options{APIKey: key, Jobs: js, Organization: *org, Seed: *seed, Logger: log})
	sim.SetLatency(*latency)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	log.Info("listening", "address", ln.Addr().String(), "url", "http://"+ln.Addr().String(), "jobs", len(js))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sim.Close() // release hanging requests so Shutdown can finish
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// apiKey returns the key and where it came from; the file wins over the env.
func apiKey(file string) (key, source string, err error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("--api-key-file: %w", err)
		}
		if key = strings.TrimSpace(string(b)); key == "" {
			return "", "", fmt.Errorf("--api-key-file %s is empty", file)
		}
		return key, "file", nil
	}
	if key = strings.TrimSpace(os.Getenv("KUBIYA_API_KEY")); key != "" {
		return key, "env", nil
	}
	return "demo-key", "default", nil
}
