package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/kubiya/kubiya_exporter/simulator"
)

const (
	// scrapeJob is the Prometheus scrape job of the exporter; the rules
	// select up{job=~"kubiya.*"}.
	scrapeJob = "kubiya"
	// apiKey is the simulator's key for this test (not a real secret).
	apiKey = "e2e-test-key"

	// missedRunJobID is a job the test adds to the simulator's default set
	// for the missed-run fault, so that the failing fault can use the
	// default every-minute job at the same time: every minute, never fails,
	// in a non-UTC zone with a half-hour offset.
	missedRunJobID   = "job_e2e0b1c2-d3e4-4f50-8a6b-7c8d9e0f1a2b"
	missedRunJobName = "e2e-minutely-sync"
)

// stack is the running system under test.
type stack struct {
	simURL       string
	exporterAddr string
	promAddr     string
	amAddr       string
	prom         promClient
	hook         *webhook
	shippedGrace string // the rules' missed-run grace, e.g. "10m"
	rules        []byte // the test copy of the rules
	rulesFile    string // what Prometheus' rule_files names
	promProc     *process
	jobs         []apiJob // the simulator's jobs at start, as the API shows them
}

// apiJob is the part of the API's JobResponse the test compares with.
type apiJob struct {
	ID                   string  `json:"id"`
	Name                 string  `json:"name"`
	Enabled              bool    `json:"enabled"`
	Status               string  `json:"status"`
	TriggerType          string  `json:"trigger_type"`
	CronSchedule         *string `json:"cron_schedule"`
	CronTimezone         *string `json:"cron_timezone"`
	EntityType           *string `json:"entity_type"`
	LastExecutionAt      *string `json:"last_execution_at"`
	TotalExecutions      int64   `json:"total_executions"`
	SuccessfulExecutions int64   `json:"successful_executions"`
	FailedExecutions     int64   `json:"failed_executions"`
}

func (j apiJob) cron() bool { return j.TriggerType == "cron" && j.CronSchedule != nil }

// job returns the simulator job with the given ID.
func (s *stack) job(t *testing.T, id string) apiJob {
	t.Helper()
	for _, j := range s.jobs {
		if j.ID == id {
			return j
		}
	}
	t.Fatalf("no simulator job %s", id)
	return apiJob{}
}

// listJobs reads every job through the simulator's API, as the exporter does.
func (s *stack) listJobs(ctx context.Context) ([]apiJob, error) {
	code, body, err := httpDo(ctx, http.MethodGet, s.simURL+"/api/v1/jobs", nil,
		map[string]string{"Authorization": "Bearer " + apiKey})
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("list jobs: HTTP %d %.200s: %w", code, body, errStatus)
	}
	var js []apiJob
	if err := json.Unmarshal(body, &js); err != nil {
		return nil, fmt.Errorf("decode jobs: %w", err)
	}
	return js, nil
}

// admin calls the simulator's admin API (see simulator/doc.go).
func (s *stack) admin(t *testing.T, method, path, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, out, err := httpDo(ctx, method, s.simURL+"/_simulator/"+path, strings.NewReader(body), nil)
	if err != nil {
		t.Fatalf("simulator admin %s %s: %v", method, path, err)
	}
	if code != http.StatusNoContent && code != http.StatusOK {
		t.Fatalf("simulator admin %s %s: HTTP %d %s", method, path, code, out)
	}
	t.Logf("simulator: %s /_simulator/%s", method, path)
}

// startStack builds and starts the simulator, the exporter, Alertmanager and
// Prometheus, each on its own loopback port, and the webhook receiver.
func startStack(t *testing.T, prometheus string) *stack {
	t.Helper()
	bins := requireBinaries(t)
	dir := t.TempDir()
	began := time.Now()
	exporterBin, simBin := buildBinaries(t, dir)
	t.Logf("built the exporter and the simulator in %v", time.Since(began).Round(100*time.Millisecond))

	s := &stack{}
	_, s.simURL = startSimulator(t, simBin, apiKey)
	// The extra job is a template (no created_at): the simulator stamps a
	// plausible history, as for its default jobs.
	s.admin(t, http.MethodPost, "jobs", `{"id":"`+missedRunJobID+`","name":"`+missedRunJobName+`",
		"enabled":true,"trigger_type":"cron","cron_schedule":"*/1 * * * *","cron_timezone":"Asia/Kolkata",
		"entity_type":"agent","entity_id":"e2e00000-0000-4000-8000-000000000001","entity_name":"e2e-agent",
		"prompt_template":"Sync {{what}}","total_executions":500,"successful_executions":500,"failed_executions":0,
		"failure_rate":0}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if s.jobs, err = s.listJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if want := len(simulator.DefaultJobs()) + 1; len(s.jobs) != want {
		t.Fatalf("simulator has %d jobs, want %d", len(s.jobs), want)
	}

	s.hook = newWebhook(t)

	// Rules: a checked copy with short durations.
	shippedRules, err := os.ReadFile("../alerts/kubiya.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, grace, err := testRules(shippedRules)
	if err != nil {
		t.Fatal(err)
	}
	s.shippedGrace = grace
	s.rules = rules
	checked := filepath.Join(dir, "kubiya.rules.checked.yml")
	writeFile(t, checked, rules)
	runTool(t, bins["promtool"], "check", "rules", checked)
	// Prometheus starts with no rules; loadRules loads them once the
	// exporter has been scraped. See loadRules.
	s.rulesFile = filepath.Join(dir, "kubiya.rules.yml")
	writeFile(t, s.rulesFile, []byte("groups: []\n"))

	// Alertmanager: the example config pointed at the webhook.
	shippedAM, err := os.ReadFile("../alerts/alertmanager.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	amCfg, err := testAlertmanagerConfig(shippedAM, s.hook.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	amFile := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, amFile, amCfg)
	runTool(t, bins["amtool"], "check-config", amFile)
	_, s.amAddr = startOnFreePort(t, "alertmanager", bins["prometheus-alertmanager"], func(addr string) []string {
		return []string{"--config.file=" + amFile, "--storage.path=" + filepath.Join(dir, "am-data"),
			"--web.listen-address=" + addr, "--cluster.listen-address=", "--log.level=info"}
	}, nil, "/-/ready")

	// The exporter, with every simulator job.
	var cfg strings.Builder
	cfg.WriteString("control_plane:\n  timeout: 5s\njobs:\n")
	for _, j := range s.jobs {
		cfg.WriteString("  - " + j.ID + "\n")
	}
	exporterCfg := filepath.Join(dir, "kubiya.yml")
	writeFile(t, exporterCfg, []byte(cfg.String()))
	_, s.exporterAddr = startOnFreePort(t, "kubiya_exporter", exporterBin, func(addr string) []string {
		return []string{"--config.file=" + exporterCfg, "--web.listen-address=" + addr}
	}, []string{"KUBIYA_CONTROL_PLANE_BASE_URL=" + s.simURL, "KUBIYA_API_KEY=" + apiKey}, "/-/healthy")

	// Prometheus: scrape and evaluate every second, alerts to Alertmanager.
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%q]
`, s.rulesFile, s.amAddr, scrapeJob, s.exporterAddr)))
	runTool(t, bins["promtool"], "check", "config", promCfg)
	s.promProc, s.promAddr = startOnFreePort(t, "prometheus", prometheus, func(addr string) []string {
		return []string{"--config.file=" + promCfg, "--storage.tsdb.path=" + filepath.Join(dir, "prom-data"),
			"--web.listen-address=" + addr, "--log.level=info"}
	}, nil, "/-/ready")
	s.prom = promClient{base: "http://" + s.promAddr}
	t.Logf("stack up in %v: simulator %s, exporter %s, prometheus %s, alertmanager %s, webhook %s",
		time.Since(began).Round(100*time.Millisecond), s.simURL, s.exporterAddr, s.promAddr, s.amAddr, s.hook.srv.URL)
	return s
}

// loadRules puts the test copy of the rules in place and has Prometheus
// reload (SIGHUP). It is called once the exporter has been scraped, as in
// a Prometheus that has been running for a while: a freshly started
// Prometheus takes about 5s before its first scrape (its scrape manager
// applies targets on a 5s tick), during which the absent() branch of
// KubiyaExporterDown holds, and with the test's for: of 5s (5m shipped) it
// would fire. With the shipped 5m it cannot.
func (s *stack) loadRules(t *testing.T) {
	t.Helper()
	writeFile(t, s.rulesFile, s.rules)
	var f ruleFile
	if err := yaml.Unmarshal(s.rules, &f); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, g := range f.Groups {
		want += len(g.Rules)
	}
	if err := s.promProc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("reload prometheus: %v", err)
	}
	eventually(t, "Prometheus loaded the rules", 30*time.Second, 200*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := s.prom.RuleCount(ctx)
		return err == nil && n == want, fmt.Sprintf("%d of %d rules (%v)", n, want, err)
	})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// instant runs an instant query and fails the test on error.
func (s *stack) instant(t *testing.T, expr string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := s.prom.Query(ctx, expr)
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	return r
}

// amAlert is one entry of Alertmanager's /api/v2/alerts.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
		SilencedBy  []string `json:"silencedBy"`
	} `json:"status"`
}

func (s *stack) amAlerts(t *testing.T) []amAlert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, body, err := httpDo(ctx, http.MethodGet, "http://"+s.amAddr+"/api/v2/alerts", nil, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("alertmanager alerts: HTTP %d %v %.200s", code, err, body)
	}
	var as []amAlert
	if err := json.Unmarshal(body, &as); err != nil {
		t.Fatalf("decode alertmanager alerts: %v", err)
	}
	return as
}
