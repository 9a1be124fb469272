// Command kubiya-bench is the load harness behind `make bench`: it runs the
// real kubiya_exporter binary against the real kubiya-simulator binary, on
// 127.0.0.1 only, for each job count and mode, and prints what one scrape
// costs: wall time (median, p95), exporter CPU, peak RSS, API requests, and
// the ideal the mode could reach. Method and results: BENCHMARKS.md.
//
// Modes:
//
//	per-job  the N IDs listed under jobs:, one GET each, max_concurrency C
//	         (static_via_list_above: 0); ideal = ceil(N/C) x latency
//	list     discovery.enabled, no static IDs: one GET /api/v1/jobs;
//	         ideal = the list answer alone plus its decode, both measured
//	         here against the simulator with the exporter's own client
//
// --churn F runs a fraction F of the jobs (the simulator's manual trigger)
// before each measured scrape, so that many jobs' counters and times
// change between answers, as they do between scrapes a scrape interval
// apart; --exporter-flag passes a flag to the exporter (for example
// --web.max-requests=0).
//
// Every process it starts is killed when it ends; every wait has a deadline.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

const apiKey = "bench-key"

type options struct {
	exporter, simulator string
	sizes               []int
	modes               []string
	latency             time.Duration
	scrapes             int
	concurrency         int
	bigConcurrency      int // per-job mode at N >= 10000
	maxDuration         time.Duration
	jsonOut             string
	churn               float64
	exporterFlags       []string
}

// flagList is a repeatable string flag.
type flagList []string

func (f *flagList) String() string     { return strings.Join(*f, " ") }
func (f *flagList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var o options
	var sizes, modes string
	flag.StringVar(&o.exporter, "exporter", "./kubiya_exporter", "exporter binary")
	flag.StringVar(&o.simulator, "simulator", "./kubiya-simulator", "simulator binary")
	flag.StringVar(&sizes, "jobs", "100,1000,10000", "job counts")
	flag.StringVar(&modes, "modes", "per-job,list", "modes: per-job, list")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "latency the simulator adds to every API request")
	flag.IntVar(&o.scrapes, "scrapes", 10, "measured scrapes per run (after one warm-up scrape)")
	flag.IntVar(&o.concurrency, "max-concurrency", 8, "control_plane.max_concurrency in per-job mode")
	flag.IntVar(&o.bigConcurrency, "max-concurrency-10k", 64, "max_concurrency in per-job mode at 10,000 jobs or more (at 8 one scrape takes 62 s)")
	flag.DurationVar(&o.maxDuration, "max-duration", 10*time.Minute, "give up after this long")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.Float64Var(&o.churn, "churn", 0, "fraction of the jobs to run (simulator trigger) before each measured scrape")
	flag.Var((*flagList)(&o.exporterFlags), "exporter-flag", "extra exporter flag (repeatable)")
	flag.Parse()
	if o.churn < 0 || o.churn > 1 {
		fatalf("--churn: %v is not a fraction", o.churn)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("--jobs: bad count %q", s)
		}
		o.sizes = append(o.sizes, n)
	}
	o.modes = strings.Split(modes, ",")
	ctx, cancel := context.WithTimeout(context.Background(), o.maxDuration)
	defer cancel()
	results, err := run(ctx, o)
	printResults(o, results)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		_ = os.MkdirAll(filepath.Dir(o.jsonOut), 0o755)
		if werr := os.WriteFile(o.jsonOut, b, 0o644); werr != nil {
			fatalf("%v", werr)
		}
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kubiya-bench: "+format+"\n", args...)
	os.Exit(1)
}

// Result is one (mode, N) run.
type Result struct {
	Mode        string  `json:"mode"`
	Jobs        int     `json:"jobs"`
	Concurrency int     `json:"max_concurrency,omitempty"`
	Scrapes     int     `json:"scrapes"`
	WallMedian  float64 `json:"wall_median_s"`
	WallP95     float64 `json:"wall_p95_s"`
	CPUPerScr   float64 `json:"cpu_per_scrape_s"`
	CPUPerJobUS float64 `json:"cpu_per_job_us"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	ReqPerScr   float64 `json:"api_requests_per_scrape"`
	ReqMax      int64   `json:"api_requests_max"`
	Ideal       float64 `json:"ideal_s"`
	APIAnswer   float64 `json:"api_answer_s,omitempty"` // list mode: the list answer alone
	BodyBytes   int     `json:"body_bytes_gzip"`
	JobsUp      int     `json:"jobs_up"`
	Churn       float64 `json:"churn"`
	Flags       string  `json:"exporter_flags,omitempty"`
	// the answer's Content-Type, as negotiated with Prometheus' Accept
	ContentType string `json:"content_type"`
}

func run(ctx context.Context, o options) ([]Result, error) {
	tmp, err := os.MkdirTemp("", "kubiya-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var results []Result
	for _, n := range o.sizes {
		simAddr, err := freeAddr()
		if err != nil {
			return results, err
		}
		sim, err := start(ctx, tmp, "simulator", o.simulator, "--web.listen-address="+simAddr,
			"--jobs="+strconv.Itoa(n), "--latency="+o.latency.String(), "--log.level=warn")
		if err != nil {
			return results, err
		}
		simURL := "http://" + simAddr
		err = waitHTTP(ctx, simURL+"/api/health")
		if err == nil {
			var rs []Result
			rs, err = runSize(ctx, o, tmp, simURL, n)
			results = append(results, rs...)
		}
		sim.stop()
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func runSize(ctx context.Context, o options, tmp, simURL string, n int) ([]Result, error) {
	ids, err := simulatorIDs(ctx, simURL)
	if err != nil {
		return nil, err
	}
	if len(ids) != n {
		return nil, fmt.Errorf("simulator has %d jobs, want %d", len(ids), n)
	}
	var results []Result
	for _, mode := range o.modes {
		cfg := fmt.Sprintf("control_plane:\n  url: %s\n  timeout: 300s\n", simURL)
		r := Result{Mode: mode, Jobs: n, Scrapes: o.scrapes, Churn: o.churn, Flags: strings.Join(o.exporterFlags, " ")}
		switch mode {
		case "per-job":
			r.Concurrency = o.concurrency
			if n >= 10000 {
				r.Concurrency = o.bigConcurrency
			}
			cfg += fmt.Sprintf("  max_concurrency: %d\ndiscovery:\n  static_via_list_above: 0\njobs:\n", r.Concurrency)
			var b strings.Builder
			for _, id := range ids {
				b.WriteString("  - " + id + "\n")
			}
			cfg += b.String()
			r.Ideal = math.Ceil(float64(n)/float64(r.Concurrency)) * o.latency.Seconds()
		case "list":
			cfg += "discovery:\n  enabled: true\n"
			answer, withDecode, err := measureList(ctx, simURL, o.scrapes)
			if err != nil {
				return results, err
			}
			r.APIAnswer, r.Ideal = answer, withDecode
		default:
			return results, fmt.Errorf("unknown mode %q", mode)
		}
		path := filepath.Join(tmp, fmt.Sprintf("%s-%d.yml", mode, n))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return results, err
		}
		if err := measureExporter(ctx, o, tmp, simURL, path, ids, &r); err != nil {
			return results, fmt.Errorf("%s N=%d: %w", mode, n, err)
		}
		fmt.Fprintf(os.Stderr, "%-8s N=%-6d churn %.2f %s wall p50 %.3fs p95 %.3fs  cpu/scrape %.3fs (%.1f µs/job)  rss %.1f MB  req/scrape %.1f  ideal %.3fs  %s\n",
			r.Mode, r.Jobs, r.Churn, r.Flags, r.WallMedian, r.WallP95, r.CPUPerScr, r.CPUPerJobUS, r.PeakRSSMB, r.ReqPerScr, r.Ideal, formatName(r.ContentType))
		results = append(results, r)
	}
	return results, nil
}

// measureList times the list answer alone (GET and read the body) and the
// list through the exporter's own client (GET, stream decode), median of k.
func measureList(ctx context.Context, simURL string, k int) (answer, withDecode float64, err error) {
	client := &http.Client{Transport: bearer{http.DefaultTransport}}
	kc, err := kubiya.NewClient(simURL, client, kubiya.Options{})
	if err != nil {
		return 0, 0, err
	}
	var a, d []float64
	for range k {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/api/v1/jobs", nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("list: HTTP %d, %v", resp.StatusCode, err)
		}
		a = append(a, time.Since(start).Seconds())
		start = time.Now()
		if _, err := kc.ListJobs(ctx, kubiya.ListFilter{}); err != nil {
			return 0, 0, err
		}
		d = append(d, time.Since(start).Seconds())
	}
	return quantile(a, 0.5), quantile(d, 0.5), nil
}

type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+apiKey)
	return b.next.RoundTrip(r)
}

// measureExporter starts the exporter with cfg, scrapes it once to warm
// up, then o.scrapes times as Prometheus does (its Accept header, gzip),
// one at a time.
func measureExporter(ctx context.Context, o options, tmp, simURL, cfg string, ids []string, r *Result) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := append([]string{"--config.file=" + cfg, "--web.listen-address=" + addr, "--log.level=error"}, o.exporterFlags...)
	exp, err := start(ctx, tmp, "exporter-"+r.Mode+"-"+strconv.Itoa(r.Jobs), o.exporter, args...)
	if err != nil {
		return err
	}
	defer exp.stop()
	base := "http://" + addr
	if err := waitHTTP(ctx, base+"/-/healthy"); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	scrape := func() (time.Duration, int, int, error) {
		// Prometheus 3's Accept header (its default scrape_protocols).
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1")
		req.Header.Set("Accept-Encoding", "gzip")
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "300")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		wall := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("scrape: HTTP %d, %v", resp.StatusCode, err)
		}
		up, err := countUp(body, resp.Header.Get("Content-Encoding") == "gzip")
		r.ContentType = resp.Header.Get("Content-Type")
		return wall, len(body), up, err
	}
	if _, _, up, err := scrape(); err != nil { // warm-up: connections, schedule cache
		return err
	} else if up != r.Jobs {
		return fmt.Errorf("warm-up scrape: %d jobs up, want %d", up, r.Jobs)
	}
	var walls []float64
	var reqs []int64
	rng := rand.New(rand.NewPCG(uint64(r.Jobs), 1))
	// Exporter CPU from before the first measured scrape to after the
	// last, idle time between them included (it is idle while the jobs
	// run in the simulator).
	cpu0, err := procCPU(exp.pid())
	if err != nil {
		return err
	}
	for range o.scrapes {
		if err := runJobs(ctx, simURL, ids, o.churn, rng); err != nil {
			return err
		}
		if err := resetCounters(ctx, simURL); err != nil {
			return err
		}
		wall, size, up, err := scrape()
		if err != nil {
			return err
		}
		n, err := apiRequests(ctx, simURL)
		if err != nil {
			return err
		}
		walls, reqs = append(walls, wall.Seconds()), append(reqs, n)
		r.BodyBytes, r.JobsUp = size, up
	}
	cpu1, err := procCPU(exp.pid())
	if err != nil {
		return err
	}
	r.WallMedian, r.WallP95 = quantile(walls, 0.5), quantile(walls, 0.95)
	r.CPUPerScr = (cpu1 - cpu0).Seconds() / float64(o.scrapes)
	r.CPUPerJobUS = r.CPUPerScr / float64(r.Jobs) * 1e6
	var sum int64
	for _, n := range reqs {
		sum += n
		r.ReqMax = max(r.ReqMax, n)
	}
	r.ReqPerScr = float64(sum) / float64(len(reqs))
	r.PeakRSSMB, err = peakRSS(exp.pid())
	return err
}

// runJobs runs a fraction of the jobs now (POST /_simulator/jobs/{id}/trigger),
// eight at a time.
func runJobs(ctx context.Context, simURL string, ids []string, fraction float64, rng *rand.Rand) error {
	k := int(math.Round(fraction * float64(len(ids))))
	if k == 0 {
		return nil
	}
	pick := rng.Perm(len(ids))[:k]
	next := make(chan string)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var first error
			for id := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, simURL+"/_simulator/jobs/"+url.PathEscape(id)+"/trigger", nil)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						err = fmt.Errorf("trigger %s: HTTP %d", id, resp.StatusCode)
					}
				}
				if first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for _, i := range pick {
		next <- ids[i]
	}
	close(next)
	var err error
	for range 8 {
		err = errors.Join(err, <-errs)
	}
	return err
}

// countUp counts kubiya_job_up series with value 1 in the answer.
func countUp(body []byte, gzipped bool) (int, error) {
	var rd io.Reader = bytes.NewReader(body)
	if gzipped {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return 0, err
		}
		rd = zr
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		// " 1" in the text format, " 1.0" in OpenMetrics.
		if bytes.HasPrefix(line, []byte("kubiya_job_up{")) && (bytes.HasSuffix(line, []byte(" 1")) || bytes.HasSuffix(line, []byte(" 1.0"))) {
			n++
		}
	}
	return n, sc.Err()
}

// procCPU is the CPU time all threads of pid have used, in nanoseconds from
// /proc/<pid>/task/*/schedstat (/proc/<pid>/stat counts in 10 ms ticks).
func procCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total, nil
}

// peakRSS is VmHWM from /proc/<pid>/status, in MB (10^6 bytes).
func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024 / 1e6, err
		}
	}
	return 0, errors.New("no VmHWM")
}

func simulatorIDs(ctx context.Context, simURL string) ([]string, error) {
	var ids []string
	err := getJSON(ctx, simURL+"/_simulator/jobs", &ids)
	return ids, err
}

func resetCounters(ctx context.Context, simURL string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, simURL+"/_simulator/reset-counters", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reset-counters: HTTP %d", resp.StatusCode)
	}
	return nil
}

// apiRequests is the number of /api/v1 requests since the last reset.
func apiRequests(ctx context.Context, simURL string) (int64, error) {
	var stats struct {
		Requests map[string]int64 `json:"requests"`
	}
	if err := getJSON(ctx, simURL+"/_simulator/stats", &stats); err != nil {
		return 0, err
	}
	var n int64
	for kind, c := range stats.Requests {
		if kind != "health" {
			n += c
		}
	}
	return n, nil
}

func getJSON(ctx context.Context, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	// Nearest rank: with 10 samples p95 is the largest.
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// freeAddr picks a free loopback port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(ctx context.Context, u string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 30s", u)
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// start runs a binary with its output in a log file, under ctx.
func start(ctx context.Context, dir, name, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBIYA_API_KEY="+apiKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func printResults(o options, rs []Result) {
	fmt.Printf("\nlatency %v, %d measured scrapes per row (after 1 warm-up), scrapes sequential, %.0f%% of the jobs run before each\n\n", o.latency, o.scrapes, 100*o.churn)
	fmt.Println("| mode | jobs | max_concurrency | churn | wall p50 (s) | wall p95 (s) | ideal (s) | p50 / ideal | exporter CPU / scrape (s) | CPU / job (µs) | peak RSS (MB) | API requests / scrape (mean, max) | answer gzip (KB) | format |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		conc := "-"
		if r.Concurrency > 0 {
			conc = strconv.Itoa(r.Concurrency)
		}
		mode := r.Mode
		if r.Flags != "" {
			mode += " `" + r.Flags + "`"
		}
		fmt.Printf("| %s | %d | %s | %.0f%% | %.3f | %.3f | %.3f | %.2f | %.3f | %.1f | %.1f | %.1f, %d | %d | %s |\n",
			mode, r.Jobs, conc, 100*r.Churn, r.WallMedian, r.WallP95, r.Ideal, r.WallMedian/r.Ideal, r.CPUPerScr, r.CPUPerJobUS,
			r.PeakRSSMB, r.ReqPerScr, r.ReqMax, r.BodyBytes/1000, formatName(r.ContentType))
	}
	var list []Result
	for _, r := range rs {
		if r.Mode == "list" {
			list = append(list, r)
		}
	}
	if len(list) > 0 {
		fmt.Println("\nList mode against the API's own answer time (the list GET alone, read to the end, median):")
		fmt.Println()
		fmt.Println("| jobs | API answer (s) | answer + decode (s) | wall p50 (s) | wall p50 - answer (s) |")
		fmt.Println("|---:|---:|---:|---:|---:|")
		for _, r := range list {
			fmt.Printf("| %d | %.3f | %.3f | %.3f | %.3f |\n", r.Jobs, r.APIAnswer, r.Ideal, r.WallMedian, r.WallMedian-r.APIAnswer)
		}
	}
}

// formatName names an exposition format by its Content-Type.
func formatName(contentType string) string {
	switch {
	case strings.HasPrefix(contentType, "application/openmetrics-text; version=1.0.0"):
		return "OpenMetrics 1.0.0"
	case strings.HasPrefix(contentType, "text/plain; version=0.0.4"):
		return "text 0.0.4"
	}
	return contentType
}
