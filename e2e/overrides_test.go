package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"
)

// The test loads copies of the shipped alerts/kubiya.rules.yml and
// alerts/alertmanager.example.yml with only timing changed, so that what
// takes minutes or hours in production takes seconds here. Nothing else
// (expressions, labels, routing, inhibition) is touched.
const (
	// forDivisor shrinks every `for:` (1m→1s, 5m→5s, 15m→15s, 30m→30s)
	// and every `keep_firing_for:` (10m→10s).
	// Dividing all of them by the same factor keeps their order, which the
	// Alertmanager inhibition relies on: KubiyaControlPlaneDown (5m) fires
	// before the KubiyaJobScrapeFailing (15m) alerts it inhibits.
	forDivisor = 60
	// testGrace replaces the KubiyaJobMissedRun grace (the offset in the
	// kubiya_job:schedule_due_timestamp_seconds recording rule, 10m). It
	// must exceed the simulator's record delay (≤ 5s) plus a scrape and an
	// evaluation (1s each), or a job whose run is recorded late would look
	// overdue; the shipped 60s clock-skew tolerance is kept as is.
	testGrace = "20s"
	// dueRecord is the recording rule that holds the grace.
	dueRecord = "kubiya_job:schedule_due_timestamp_seconds"
	// amGroupWait and amGroupInterval replace every group_wait and
	// group_interval of the Alertmanager routes (10s-30s and 5m-30m).
	amGroupWait     = "1s"
	amGroupInterval = "2s"
)

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Limit    int    `yaml:"limit,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

var offsetRE = regexp.MustCompile(`\boffset\s+([0-9a-z]+)`)

// testRules returns the rule file with every `for:` divided by forDivisor
// (at least 1s) and the missed-run grace set to testGrace. It also returns
// the shipped grace, which the dashboards' missed-run queries use too.
// Decoding is strict: a field this function does not know (say
// keep_firing_for) fails the test rather than being dropped from the copy.
func testRules(shipped []byte) (out []byte, shippedGrace string, err error) {
	var f ruleFile
	if err := yaml.UnmarshalStrict(shipped, &f); err != nil {
		return nil, "", fmt.Errorf("decode rules: %w", err)
	}
	for gi := range f.Groups {
		for ri := range f.Groups[gi].Rules {
			r := &f.Groups[gi].Rules[ri]
			for _, d := range []*string{&r.For, &r.KeepFiringFor} {
				if *d == "" {
					continue
				}
				v, err := model.ParseDuration(*d)
				if err != nil {
					return nil, "", fmt.Errorf("rule %s: duration %q: %w", r.Alert, *d, err)
				}
				*d = model.Duration(max(time.Duration(v)/forDivisor, time.Second)).String()
			}
			if r.Record == dueRecord {
				m := offsetRE.FindAllStringSubmatch(r.Expr, -1)
				if len(m) != 1 {
					return nil, "", fmt.Errorf("rule %s: want exactly one offset (the grace), found %d in %q", dueRecord, len(m), r.Expr)
				}
				shippedGrace = m[0][1]
				r.Expr = offsetRE.ReplaceAllString(r.Expr, "offset "+testGrace)
			}
		}
	}
	if shippedGrace == "" {
		return nil, "", errors.New("no recording rule " + dueRecord + ": the missed-run grace cannot be shortened")
	}
	out, err = yaml.Marshal(f)
	return out, shippedGrace, err
}

// testAlertmanagerConfig returns the example Alertmanager config with every
// webhook URL's scheme and host replaced by webhookBase (the path is kept,
// so the receiver is known by the path it posts to) and every group_wait
// and group_interval shortened.
func testAlertmanagerConfig(shipped []byte, webhookBase string) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(shipped, &cfg); err != nil {
		return nil, fmt.Errorf("decode alertmanager config: %w", err)
	}
	base, err := url.Parse(webhookBase)
	if err != nil {
		return nil, err
	}
	route, ok := cfg["route"].(map[any]any)
	if !ok {
		return nil, errors.New("alertmanager config: no route")
	}
	shortenRoute(route, true)

	receivers, _ := cfg["receivers"].([]any)
	if len(receivers) == 0 {
		return nil, errors.New("alertmanager config: no receivers")
	}
	for _, r := range receivers {
		rm, _ := r.(map[any]any)
		hooks, _ := rm["webhook_configs"].([]any)
		if len(hooks) == 0 {
			// The test can only observe webhook receivers.
			return nil, fmt.Errorf("alertmanager config: receiver %v has no webhook_configs", rm["name"])
		}
		for _, h := range hooks {
			hm, _ := h.(map[any]any)
			s, _ := hm["url"].(string)
			u, err := url.Parse(s)
			if err != nil || s == "" {
				return nil, fmt.Errorf("alertmanager config: receiver %v: url %q: %v", rm["name"], s, err)
			}
			u.Scheme, u.Host = base.Scheme, base.Host
			hm["url"] = u.String()
		}
	}
	return yaml.Marshal(cfg)
}

func shortenRoute(r map[any]any, root bool) {
	if _, ok := r["group_wait"]; ok || root {
		r["group_wait"] = amGroupWait
	}
	if _, ok := r["group_interval"]; ok || root {
		r["group_interval"] = amGroupInterval
	}
	children, _ := r["routes"].([]any)
	for _, c := range children {
		if cm, ok := c.(map[any]any); ok {
			shortenRoute(cm, false)
		}
	}
}

// TestOverrides checks the overrides on the shipped files without any
// binary, so a change to the rules or the example config that the e2e
// test cannot follow fails fast, also under -short.
func TestOverrides(t *testing.T) {
	shipped, err := os.ReadFile("../alerts/kubiya.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	out, grace, err := testRules(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if grace != "10m" {
		t.Logf("note: the shipped missed-run grace is %s", grace)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(out, &f); err != nil {
		t.Fatalf("the copy does not decode: %v", err)
	}
	var orig ruleFile
	_ = yaml.Unmarshal(shipped, &orig)
	alerts := 0
	for gi, g := range f.Groups {
		for ri, r := range g.Rules {
			o := orig.Groups[gi].Rules[ri]
			if r.Alert != "" {
				alerts++
				if d, err := model.ParseDuration(r.For); err != nil || time.Duration(d) > 30*time.Second || d <= 0 {
					t.Errorf("%s: for %q, want 1s..30s", r.Alert, r.For)
				}
				if o.KeepFiringFor != "" {
					if d, err := model.ParseDuration(r.KeepFiringFor); err != nil || time.Duration(d) > 10*time.Second || d <= 0 {
						t.Errorf("%s: keep_firing_for %q, want 1s..10s", r.Alert, r.KeepFiringFor)
					}
				}
			}
			if r.Record == dueRecord {
				if !strings.Contains(r.Expr, "offset "+testGrace) {
					t.Errorf("%s: grace not replaced: %s", dueRecord, r.Expr)
				}
				continue
			}
			if r.Expr != o.Expr || fmt.Sprint(r.Labels) != fmt.Sprint(o.Labels) || fmt.Sprint(r.Annotations) != fmt.Sprint(o.Annotations) {
				t.Errorf("rule %s%s changed beyond its timing", r.Alert, r.Record)
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerting rules")
	}

	am, err := os.ReadFile("../alerts/alertmanager.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	amOut, err := testAlertmanagerConfig(am, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s := string(amOut)
	if strings.Contains(s, "example.internal") {
		t.Errorf("a receiver URL was not rewritten:\n%s", s)
	}
	for _, want := range []string{"http://127.0.0.1:1/pager/kubiya", "inhibit_rules", "KubiyaControlPlaneDown"} {
		if !strings.Contains(s, want) {
			t.Errorf("the copy lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range regexp.MustCompile(`group_(wait|interval): (\S+)`).FindAllStringSubmatch(s, -1) {
		if bad[2] != amGroupWait && bad[2] != amGroupInterval {
			t.Errorf("group_%s %s not shortened", bad[1], bad[2])
		}
	}
}
