package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Paths relative to this package's directory (go test runs tests there).
const (
	ruleFile    = "kubiya.rules.yml"
	amConfig    = "alertmanager.example.yml"
	runbookFile = "../docs/runbook.md"
	readmeFile  = "README.md"
	repoRoot    = ".."
	runbookURL  = "https://github.com/kubiya/kubiya_exporter/blob/main/docs/runbook.md#"
)

// Receivers of alertmanager.example.yml by severity label.
var receiverBySeverity = map[string]string{
	"critical": "kubiya-pager",
	"warning":  "kubiya-ticket",
	"info":     "kubiya-low-priority",
}

// tools says how to install each external binary the tests run.
var tools = map[string]string{
	"promtool": "apt-get install -y prometheus (Debian/Ubuntu), or a Prometheus release tarball",
	"amtool":   "apt-get install -y prometheus-alertmanager (Debian/Ubuntu), or an Alertmanager release tarball",
	"jsonnet":  "apt-get install -y jsonnet, or go install github.com/google/go-jsonnet/cmd/jsonnet@v0.21.0 (or set JSONNET to a jsonnet binary)",
}

// need returns the path of an external tool. A missing tool skips the test
// locally but fails it in CI (CI non-empty), where a skip would hide that
// nothing was checked.
func need(t *testing.T, name string) string {
	t.Helper()
	if name == "jsonnet" {
		if p := os.Getenv("JSONNET"); p != "" {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found and CI is set (a skip in CI is a failure); install it: %s", name, tools[name])
	}
	t.Skipf("%s not found; install it to run this test: %s", name, tools[name])
	return ""
}

// run runs a tool in dir and returns its combined output.
func run(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// promtool is one promtool binary the rule tests run with.
type promtool struct {
	name string // "promtool 2.42.0"
	path string
}

// promtoolMajor is the major version of the promtool binary that
// `promtools` looks for, by where it comes from: Debian's package (2.x) on
// PATH, and 3.x from the environment variable PROMTOOL3 (.ci/run builds it
// from the Go module proxy).
var promtoolMajor = map[string]string{"PATH": "2", "PROMTOOL3": "3"}

// promtools returns the promtools to run the rules with: Debian's 2.x
// (`promtool` on PATH) and Prometheus 3's (the path in PROMTOOL3). The two
// read range selectors differently (3.x's are open on the left), so the
// rules and their tests must hold on both. A missing one is skipped locally
// (with a message) and fails the test when CI is set.
func promtools(t *testing.T) []promtool {
	t.Helper()
	var out []promtool
	for _, src := range []string{"PATH", "PROMTOOL3"} {
		var path string
		if src == "PATH" {
			path, _ = exec.LookPath("promtool")
		} else {
			path = os.Getenv("PROMTOOL3")
		}
		if path == "" {
			msg := "promtool on PATH not found; install it: " + tools["promtool"]
			if src == "PROMTOOL3" {
				msg = "PROMTOOL3 is not set; set it to a promtool 3.x binary (.ci/run builds one: go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0)"
			}
			if os.Getenv("CI") != "" {
				t.Fatalf("%s (a skip in CI is a failure)", msg)
			}
			t.Logf("not run with this promtool: %s", msg)
			continue
		}
		v := prometheusVersion(t, path)
		if !strings.HasPrefix(v, promtoolMajor[src]+".") {
			t.Fatalf("%s (from %s): version %q, want promtool %s.x", path, src, v, promtoolMajor[src])
		}
		out = append(out, promtool{name: "promtool " + v, path: path})
	}
	if len(out) == 0 {
		t.Skip("no promtool found")
	}
	return out
}

// prometheusVersion is the version of a Prometheus or promtool binary:
// what --version says (release builds, Debian's), or for a binary built with
// `go install …@v0.316.0`, whose --version is empty, its module version read
// by `go version -m` (v0.316.0 is Prometheus 3.16.0).
func prometheusVersion(t *testing.T, bin string) string {
	t.Helper()
	out, _ := run(t, ".", bin, "--version")
	if m := regexp.MustCompile(`version (\d+\.\d+\.\d+)`).FindStringSubmatch(out); m != nil {
		return m[1]
	}
	out, err := run(t, ".", "go", "version", "-m", bin)
	m := regexp.MustCompile(`(?m)^\s*mod\s+github\.com/prometheus/prometheus\s+v0\.(\d+)\.(\d+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("%s: no version from --version or go version -m: %v\n%s", bin, err, out)
	}
	n, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("%d.%d.%s", n/100, n%100, m[2])
}

func mustRun(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

// rule is one rule of the rule file, read from its text. The file is kept
// in a regular layout (one key per line, folded scalars), which
// TestRuleFileLayout checks, so no YAML library is needed.
type rule struct {
	group       string
	alert       string // alert name, or
	record      string
	expr        string
	forDuration string
	severity    string
	summary     string
	description string
	runbookURL  string
}

var keyLine = regexp.MustCompile(`^(\s*)(- )?([a-z_]+):\s?(.*)$`)

// parseRules reads the groups and rules of a rule file laid out like
// kubiya.rules.yml. A value is the rest of its key's line plus the
// following lines indented deeper than the key (folded: joined by spaces).
func parseRules(t *testing.T, text string) []rule {
	t.Helper()
	lines := strings.Split(text, "\n")
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	value := func(i int, rest string, keyIndent int) string {
		parts := []string{}
		if r := strings.TrimSpace(rest); r != "" && r != ">-" && r != ">" {
			parts = append(parts, strings.Trim(r, `'"`))
		}
		for j := i + 1; j < len(lines); j++ {
			l := lines[j]
			if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			if indent(l) <= keyIndent {
				break
			}
			parts = append(parts, strings.TrimSpace(l))
		}
		return strings.Join(parts, " ")
	}
	var rules []rule
	var group string
	var cur *rule
	for i, l := range lines {
		m := keyLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		keyIndent := len(m[1])
		if m[2] != "" {
			keyIndent += 2
		}
		key, rest := m[3], m[4]
		switch key {
		case "name":
			if m[2] != "" {
				group = strings.TrimSpace(rest)
			}
		case "alert", "record":
			rules = append(rules, rule{group: group})
			cur = &rules[len(rules)-1]
			if key == "alert" {
				cur.alert = strings.TrimSpace(rest)
			} else {
				cur.record = strings.TrimSpace(rest)
			}
		}
		if cur == nil {
			continue
		}
		switch key {
		case "expr":
			cur.expr = value(i, rest, keyIndent)
		case "for":
			cur.forDuration = strings.TrimSpace(rest)
		case "severity":
			cur.severity = strings.TrimSpace(rest)
		case "summary":
			cur.summary = value(i, rest, keyIndent)
		case "description":
			cur.description = value(i, rest, keyIndent)
		case "runbook_url":
			cur.runbookURL = strings.TrimSpace(rest)
		}
	}
	return rules
}

func readRules(t *testing.T) (string, []rule) {
	t.Helper()
	b, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := parseRules(t, string(b))
	if len(rules) == 0 {
		t.Fatalf("no rules parsed from %s", ruleFile)
	}
	return string(b), rules
}

func alertRules(rules []rule) []rule {
	var out []rule
	for _, r := range rules {
		if r.alert != "" {
			out = append(out, r)
		}
	}
	return out
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// TestRuleFileLayout checks what the tools do not: the conventions every
// alert must follow, and a layout every consumer parses the same way.
func TestRuleFileLayout(t *testing.T) {
	text, rules := readRules(t)

	// Debian's jsonnet 0.18 std.parseYaml emits literal newlines into JSON
	// strings and fails on block scalars ("|"); folded scalars (">-") with
	// even indentation read the same in every YAML parser.
	for i, l := range strings.Split(text, "\n") {
		if regexp.MustCompile(`:\s*\|[-+]?\s*$`).MatchString(l) {
			t.Errorf("%s:%d: literal block scalar %q; use a folded scalar (>-) with even indentation so the mixin parses it with every jsonnet", ruleFile, i+1, strings.TrimSpace(l))
		}
	}

	var groups []string
	for _, r := range rules {
		if !slices.Contains(groups, r.group) {
			groups = append(groups, r.group)
		}
		if r.record != "" && r.group != "kubiya.rules" {
			t.Errorf("recording rule %s is in group %q, want kubiya.rules", r.record, r.group)
		}
		if r.alert != "" && r.group != "kubiya.alerts" {
			t.Errorf("alert %s is in group %q, want kubiya.alerts", r.alert, r.group)
		}
		if r.record != "" && !regexp.MustCompile(`^kubiya_job:[a-z0-9_]+(:[a-z0-9_]+)?$`).MatchString(r.record) {
			t.Errorf("recording rule %s does not follow level:metric:operations naming", r.record)
		}
	}
	if want := []string{"kubiya.rules", "kubiya.alerts"}; !slices.Equal(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}

	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6}\s+(.+)$`).FindAllStringSubmatch(string(runbook), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	for _, r := range alertRules(rules) {
		t.Run(r.alert, func(t *testing.T) {
			if seen[r.alert] {
				t.Errorf("duplicate alert name")
			}
			seen[r.alert] = true
			if !strings.HasPrefix(r.alert, "Kubiya") {
				t.Errorf("alert name should start with Kubiya")
			}
			if _, ok := receiverBySeverity[r.severity]; !ok {
				t.Errorf("severity %q, want critical, warning or info", r.severity)
			}
			if d, err := time.ParseDuration(r.forDuration); err != nil || d <= 0 {
				t.Errorf("for: %q, want a positive duration", r.forDuration)
			}
			if r.summary == "" || r.description == "" {
				t.Errorf("summary and description annotations are required")
			}
			if strings.HasPrefix(r.alert, "KubiyaJob") {
				for what, text := range map[string]string{"summary": r.summary, "description": r.description} {
					if !strings.Contains(text, "$labels.job_id") {
						t.Errorf("%s does not name the job by $labels.job_id: %q", what, text)
					}
					// KubiyaJobScrapeFailing has no job_name label (the job
					// could not be fetched); it looks the name up instead.
					if !strings.Contains(text, "$labels.job_name") && !strings.Contains(text, `label "job_name"`) {
						t.Errorf("%s does not name the job by job_name: %q", what, text)
					}
				}
			}
			anchor, ok := strings.CutPrefix(r.runbookURL, runbookURL)
			if !ok {
				t.Fatalf("runbook_url %q does not start with %s", r.runbookURL, runbookURL)
			}
			if anchor != strings.ToLower(r.alert) || !anchors[anchor] {
				t.Errorf("runbook_url anchor #%s: want #%s and a heading \"%s\" in %s", anchor, strings.ToLower(r.alert), r.alert, runbookFile)
			}
			if !bytes.Contains(readme, []byte("| "+r.alert+" |")) && !bytes.Contains(readme, []byte("| `"+r.alert+"` |")) {
				t.Errorf("%s has no table row for this alert", readmeFile)
			}
		})
	}
}

// The API's next_execution_at is wrong for non-UTC jobs and stale for
// disabled ones: no alert may use it.
func TestNoAlertUsesAPINextExecution(t *testing.T) {
	_, rules := readRules(t)
	for _, r := range rules {
		if strings.Contains(r.expr, "kubiya_job_next_execution_timestamp_seconds") {
			t.Errorf("%s%s uses kubiya_job_next_execution_timestamp_seconds (stale for disabled jobs, UTC-only); use kubiya_job_schedule_*", r.alert, r.record)
		}
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	_, rules := readRules(t)
	for _, p := range promtools(t) {
		out := mustRun(t, ".", p.path, "check", "rules", ruleFile)
		if want := "SUCCESS: " + strconv.Itoa(len(rules)) + " rules found"; !strings.Contains(out, want) {
			t.Errorf("%s check rules: want %q in\n%s", p.name, want, out)
		}
	}
}

func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files in tests/: %v", err)
	}

	// Every alert is tested both firing and not firing. Test files keep
	// `alertname:` directly followed by `exp_alerts:`; `exp_alerts: []` is a
	// not-firing case, anything else a firing one.
	firing, quiet := map[string]int{}, map[string]int{}
	caseRE := regexp.MustCompile(`(?m)^\s*alertname:\s*(\S+)\s*\n\s*exp_alerts:[ \t]*(.*)$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "../"+ruleFile) {
			t.Errorf("%s does not load ../%s", f, ruleFile)
		}
		for _, m := range caseRE.FindAllStringSubmatch(string(b), -1) {
			if strings.TrimSpace(m[2]) == "[]" {
				quiet[m[1]]++
			} else {
				firing[m[1]]++
			}
		}
	}
	_, rules := readRules(t)
	for _, r := range alertRules(rules) {
		if firing[r.alert] == 0 {
			t.Errorf("%s has no promtool test where it fires", r.alert)
		}
		if quiet[r.alert] == 0 {
			t.Errorf("%s has no promtool test where it does not fire", r.alert)
		}
		delete(firing, r.alert)
		delete(quiet, r.alert)
	}
	for name := range firing {
		t.Errorf("tests name unknown alert %s", name)
	}
	for name := range quiet {
		t.Errorf("tests name unknown alert %s", name)
	}

	for _, p := range promtools(t) {
		for _, f := range files {
			t.Run(p.name+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				out := mustRun(t, ".", p.path, "test", "rules", f)
				if !strings.Contains(out, "SUCCESS") {
					t.Errorf("%s test rules %s:\n%s", p.name, f, out)
				}
			})
		}
	}
}

// The short-duration copy for end-to-end tests is valid and really short.
func TestWithShortDurations(t *testing.T) {
	short := WithShortDurations("2s", "15s")
	if bytes.Contains(short, []byte("offset 10m")) {
		t.Error("missed-run grace not replaced")
	}
	fors := regexp.MustCompile(`(?m)^\s+for: (.+)$`).FindAllSubmatch(short, -1)
	if len(fors) != len(alertRules(parseRules(t, string(RuleFile)))) {
		t.Errorf("%d for: lines, want one per alert", len(fors))
	}
	for _, m := range fors {
		if string(m[1]) != "2s" {
			t.Errorf("for: %s left", m[1])
		}
	}
	keeps := regexp.MustCompile(`(?m)^\s+keep_firing_for: (.+)$`).FindAllSubmatch(short, -1)
	if len(keeps) == 0 {
		t.Error("no keep_firing_for: lines")
	}
	for _, m := range keeps {
		if string(m[1]) != "2s" {
			t.Errorf("keep_firing_for: %s left", m[1])
		}
	}
	if !bytes.Equal(RuleFile, mustRead(t, ruleFile)) {
		t.Error("embedded RuleFile differs from kubiya.rules.yml")
	}
	f := filepath.Join(t.TempDir(), "short.rules.yml")
	if err := os.WriteFile(f, short, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range promtools(t) {
		mustRun(t, ".", p.path, "check", "rules", f)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := need(t, "amtool")
	out := mustRun(t, ".", amtool, "check-config", amConfig)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config:\n%s", out)
	}
	if !bytes.Equal(AlertmanagerExample, mustRead(t, amConfig)) {
		t.Error("embedded AlertmanagerExample differs from alertmanager.example.yml")
	}
}

// TestAlertmanagerRoutes checks with `amtool config routes test` that each
// severity reaches its receiver, for hand-written label sets and for every
// alert of the rule file with its own severity.
func TestAlertmanagerRoutes(t *testing.T) {
	amtool := need(t, "amtool")
	type tc struct {
		name     string
		labels   []string
		receiver string
	}
	perJob := []string{"job=kubiya", "instance=kubiya-exporter:9862", "job_id=job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f", "job_name=nightly-report"}
	cases := []tc{
		{"critical exporter down (absent: no job/instance)", []string{"alertname=KubiyaExporterDown", "severity=critical"}, "kubiya-pager"},
		{"critical control plane down", []string{"alertname=KubiyaControlPlaneDown", "severity=critical", "job=kubiya", "instance=kubiya-exporter:9862"}, "kubiya-pager"},
		{"warning missed run", append([]string{"alertname=KubiyaJobMissedRun", "severity=warning"}, perJob...), "kubiya-ticket"},
		{"warning failures", append([]string{"alertname=KubiyaJobExecutionsFailing", "severity=warning"}, perJob...), "kubiya-ticket"},
		{"info disabled", append([]string{"alertname=KubiyaJobDisabled", "severity=info"}, perJob...), "kubiya-low-priority"},
		{"no severity falls back to chat", []string{"alertname=SomethingElse"}, "kubiya-chat"},
		{"unknown severity falls back to chat", []string{"alertname=SomethingElse", "severity=page"}, "kubiya-chat"},
	}
	_, rules := readRules(t)
	for _, r := range alertRules(rules) {
		cases = append(cases, tc{"rule " + r.alert, append([]string{"alertname=" + r.alert, "severity=" + r.severity}, perJob...), receiverBySeverity[r.severity]})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + amConfig, "--verify.receivers=" + c.receiver}, c.labels...)
			out, err := run(t, ".", amtool, args...)
			if err != nil {
				t.Errorf("%v routed elsewhere than %s: %v\n%s", c.labels, c.receiver, err, out)
			}
		})
	}
	// And a wrong expectation is caught (amtool exits non-zero).
	if out, err := run(t, ".", amtool, "config", "routes", "test", "--config.file="+amConfig, "--verify.receivers=kubiya-pager", "severity=info"); err == nil {
		t.Errorf("amtool accepted a wrong receiver:\n%s", out)
	}
}

type ruleGroups struct {
	Groups []struct {
		Name  string           `json:"name"`
		Rules []map[string]any `json:"rules"`
	} `json:"groups"`
}

func TestMixin(t *testing.T) {
	jsonnet := need(t, "jsonnet")
	eval := func(t *testing.T, expr string) []byte {
		t.Helper()
		return []byte(mustRun(t, repoRoot, jsonnet, "-e", expr))
	}
	decode := func(t *testing.T, b []byte) ruleGroups {
		t.Helper()
		var g ruleGroups
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		return g
	}
	_, rules := readRules(t)
	var wantAlerts, wantRecords []string
	for _, r := range rules {
		if r.alert != "" {
			wantAlerts = append(wantAlerts, r.alert)
		} else {
			wantRecords = append(wantRecords, r.record)
		}
	}
	alertsJSON := eval(t, `(import "mixin.libsonnet").prometheusAlerts`)
	recordsJSON := eval(t, `(import "mixin.libsonnet").prometheusRules`)

	t.Run("alerts and rules are the rule file's groups", func(t *testing.T) {
		names := func(g ruleGroups, key string) (got []string, other int) {
			for _, grp := range g.Groups {
				for _, r := range grp.Rules {
					if v, ok := r[key].(string); ok {
						got = append(got, v)
					} else {
						other++
					}
				}
			}
			return got, other
		}
		gotAlerts, nonAlerts := names(decode(t, alertsJSON), "alert")
		gotRecords, nonRecords := names(decode(t, recordsJSON), "record")
		if !slices.Equal(gotAlerts, wantAlerts) || nonAlerts != 0 {
			t.Errorf("prometheusAlerts: alerts %v (+%d other rules), want %v", gotAlerts, nonAlerts, wantAlerts)
		}
		if !slices.Equal(gotRecords, wantRecords) || nonRecords != 0 {
			t.Errorf("prometheusRules: records %v (+%d other rules), want %v", gotRecords, nonRecords, wantRecords)
		}
		// Nothing lost or changed in the split: together they are the file.
		whole := decode(t, eval(t, `std.parseYaml(importstr "alerts/kubiya.rules.yml")`))
		split := decode(t, eval(t, `local m = import "mixin.libsonnet"; { groups: m.prometheusRules.groups + m.prometheusAlerts.groups }`))
		if !reflect.DeepEqual(whole, split) {
			t.Error("prometheusRules + prometheusAlerts differ from alerts/kubiya.rules.yml")
		}
	})

	t.Run("promtool accepts the mixin output", func(t *testing.T) {
		dir := t.TempDir()
		for name, b := range map[string][]byte{"alerts.json": alertsJSON, "rules.json": recordsJSON} {
			f := filepath.Join(dir, name)
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, p := range promtools(t) {
				mustRun(t, ".", p.path, "check", "rules", f)
			}
		}
	})

	t.Run("exporter selector override", func(t *testing.T) {
		b := eval(t, `local m = (import "mixin.libsonnet") + { _config+:: { kubiyaExporterSelector: 'job="kubiya-prod"' } };
			[r.expr for g in m.prometheusAlerts.groups for r in g.rules if r.alert == "KubiyaExporterDown"][0]`)
		var expr string
		if err := json.Unmarshal(b, &expr); err != nil {
			t.Fatal(err)
		}
		if strings.Count(expr, `up{job="kubiya-prod"}`) != 2 || strings.Contains(expr, "kubiya.*") {
			t.Errorf("KubiyaExporterDown with an overridden selector: %s", expr)
		}
	})

	t.Run("dashboards", func(t *testing.T) {
		files := []string{"kubiya-overview.json", "kubiya-job.json"}
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(repoRoot, "dashboards", f)); errors.Is(err, os.ErrNotExist) {
				t.Skipf("TODO: dashboards/%s does not exist yet (being written); the mixin's grafanaDashboards is checked once it does", f)
			}
		}
		var got map[string]any
		if err := json.Unmarshal(eval(t, `(import "mixin.libsonnet").grafanaDashboards`), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(files) {
			t.Errorf("grafanaDashboards has %d entries, want %v", len(got), files)
		}
		for _, f := range files {
			var want any
			if err := json.Unmarshal(mustRead(t, filepath.Join(repoRoot, "dashboards", f)), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[f], want) {
				t.Errorf("grafanaDashboards[%q] differs from dashboards/%s", f, f)
			}
		}
	})
}
