package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubiya/kubiya_exporter/simulator"
)

// Jobs the faults use.
const (
	failingJobID = simulator.JobEveryMinute // (a) every run fails from now on
	stoppedJobID = missedRunJobID           // (b) stops running, stays enabled
)

// TestEndToEnd runs the simulator, the exporter, Prometheus with the shipped
// rules and Alertmanager with the example config, checks the series and
// every dashboard query, then injects faults into the simulator and checks
// that exactly the matching alerts reach the webhook.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: builds binaries and runs Prometheus and Alertmanager for a few minutes")
	}
	for _, p := range prometheuses(t, requireBinaries(t)["prometheus"]) {
		t.Run(p.name, func(t *testing.T) { endToEnd(t, p.path) })
	}
}

// endToEnd is TestEndToEnd with one Prometheus server binary.
func endToEnd(t *testing.T, prometheus string) {
	began := time.Now()
	s := startStack(t, prometheus)
	phase := func(name string) { t.Logf("=== %s at +%v", name, time.Since(began).Round(time.Second)) }

	phase("series")
	checkSeries(t, s)
	if t.Failed() {
		return
	}
	s.loadRules(t)

	phase("dashboards, healthy")
	checkDashboardsHealthy(t, s)

	phase("faults: failing job, stopped job")
	faultsAt := time.Now()
	s.admin(t, "POST", "jobs/"+failingJobID+"/failing?value=true", "")
	s.admin(t, "POST", "jobs/"+stoppedJobID+"/stop", "")
	checkJobFaults(t, s)
	if t.Failed() {
		return
	}
	t.Logf("job faults alerted within %v", time.Since(faultsAt).Round(time.Second))
	checkDashboardsFaulted(t, s)
	// Nothing else fired so far, in Prometheus (pending included) or at the
	// webhook; the control plane is still up.
	checkOnlyExpectedAlerts(t, s, time.Time{})
	logScrapeHealth(t, s)

	phase("fault: API key rejected")
	rejectAt := time.Now()
	s.admin(t, "POST", "reject-key?value=true", "")
	checkControlPlaneDown(t, s)
	s.admin(t, "POST", "reject-key?value=false", "")
	eventually(t, "KubiyaControlPlaneDown resolved at the webhook", 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		_, ok := s.hook.Find("resolved", map[string]string{"alertname": "KubiyaControlPlaneDown"})
		return ok, "no resolved notification; webhook got:\n" + s.hook.dump()
	})

	phase("final check")
	checkOnlyExpectedAlerts(t, s, rejectAt)
	if errs := s.hook.Errors(); len(errs) > 0 {
		t.Errorf("the webhook got undecodable requests: %v", errs)
	}
	t.Logf("notifications received:\n%s", s.hook.dump())
	phase("done")
}

// checkSeries: the target is up and the exporter's series for every
// simulator job are in Prometheus with the simulator's values.
func checkSeries(t *testing.T, s *stack) {
	t.Helper()
	n := len(s.jobs)
	eventually(t, "target up and every job fetched", 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts, err := s.prom.Targets(ctx)
		if err != nil {
			return false, err.Error()
		}
		if len(ts) != 1 || ts[0].Labels["job"] != scrapeJob || ts[0].Labels["instance"] != s.exporterAddr || ts[0].Health != "up" {
			return false, fmt.Sprintf("targets: %+v", ts)
		}
		// A few scrapes, so that rate() and increase() have two samples.
		r, err := s.prom.Query(ctx, fmt.Sprintf(`kubiya_up{job=%q} == 1 and on (job, instance) count by (job, instance) (kubiya_job_up == 1) == %d
			and on (job, instance) count_over_time(kubiya_up[1m]) >= 3`, scrapeJob, n))
		if err != nil {
			return false, err.Error()
		}
		return r.Len() == 1, "kubiya_up is not 1, not every job has kubiya_job_up 1, or fewer than 3 scrapes"
	})

	all := make([]string, 0, n)
	var cron, other []string
	for _, j := range s.jobs {
		all = append(all, j.ID)
		if j.cron() {
			cron = append(cron, j.ID)
		} else {
			other = append(other, j.ID)
		}
	}
	slices.Sort(all)
	slices.Sort(cron)
	if len(cron) == 0 || len(other) == 0 {
		t.Fatalf("want cron and non-cron jobs in the simulator, got %d and %d", len(cron), len(other))
	}
	// Every job has these; only cron jobs have the schedule series.
	for _, m := range []string{"kubiya_job_up", "kubiya_job_info", "kubiya_job_enabled", "kubiya_job_executions_total",
		"kubiya_job_executions_succeeded_total", "kubiya_job_executions_failed_total",
		"kubiya_job_created_timestamp_seconds", "kubiya_job_updated_timestamp_seconds"} {
		if got := jobIDs(s.instant(t, m)); !slices.Equal(got, all) {
			t.Errorf("%s: job_ids %v, want %v", m, got, all)
		}
	}
	for _, m := range []string{"kubiya_job_schedule_valid", "kubiya_job_schedule_next_timestamp_seconds",
		"kubiya_job_schedule_previous_timestamp_seconds"} {
		if got := jobIDs(s.instant(t, m)); !slices.Equal(got, cron) {
			t.Errorf("%s: job_ids %v, want the cron jobs %v (and none for webhook or manual jobs)", m, got, cron)
		}
	}
	if r := s.instant(t, `kubiya_job_schedule_valid != 1`); r.Len() != 0 {
		t.Errorf("invalid schedules: %v", r.Vector)
	}
	// Against the scrape's time, not the query's: a fire time may pass
	// between the two. 1s of slack for the exporter computing them a few
	// milliseconds after Prometheus stamps the scrape.
	if r := s.instant(t, `kubiya_job_schedule_next_timestamp_seconds < timestamp(kubiya_job_schedule_next_timestamp_seconds) - 1
		or kubiya_job_schedule_previous_timestamp_seconds > timestamp(kubiya_job_schedule_previous_timestamp_seconds) + 1`); r.Len() != 0 {
		t.Errorf("next fire time not in the future or previous not in the past: %v", r.Vector)
	}
	if r := s.instant(t, fmt.Sprintf(`kubiya_job_schedule_next_timestamp_seconds{job_id=%q} - kubiya_job_schedule_previous_timestamp_seconds`, simulator.JobEveryMinute)); r.Len() != 1 || r.Vector[0].Value != 60 {
		t.Errorf("every-minute job: next - previous = %v, want 60", r.Vector)
	}

	// Values and labels against the simulator.
	info := map[string]map[string]string{}
	for _, smp := range s.instant(t, "kubiya_job_info").Vector {
		m := map[string]string{}
		for k, v := range smp.Metric {
			m[string(k)] = string(v)
		}
		info[m["job_id"]] = m
	}
	values := func(expr string) map[string]float64 {
		out := map[string]float64{}
		for _, smp := range s.instant(t, expr).Vector {
			out[string(smp.Metric["job_id"])] = float64(smp.Value)
		}
		return out
	}
	enabled := values("kubiya_job_enabled")
	total := values("kubiya_job_executions_total")
	status := values("kubiya_job_status == 1")
	statusSeries := values("count by (job_id) (kubiya_job_status)")
	lastRun := values("kubiya_job_last_execution_timestamp_seconds")
	for _, j := range s.jobs {
		in := info[j.ID]
		if in["job_name"] != j.Name || in["trigger_type"] != j.TriggerType || in["status"] != j.Status {
			t.Errorf("job %s: info labels %v, want job_name %q trigger_type %q status %q", j.ID, in, j.Name, j.TriggerType, j.Status)
		}
		if j.EntityType == nil && in["entity_type"] != "" {
			t.Errorf("job %s: entity_type %q, want none (null in the API)", j.ID, in["entity_type"])
		}
		if j.cron() && in["cron_schedule"] != *j.CronSchedule {
			t.Errorf("job %s: cron_schedule %q, want %q", j.ID, in["cron_schedule"], *j.CronSchedule)
		}
		if want := map[bool]float64{true: 1, false: 0}[j.Enabled]; enabled[j.ID] != want {
			t.Errorf("job %s: kubiya_job_enabled %v, want %v", j.ID, enabled[j.ID], want)
		}
		if total[j.ID] < float64(j.TotalExecutions) {
			t.Errorf("job %s: executions_total %v, want at least the simulator's %d at start", j.ID, total[j.ID], j.TotalExecutions)
		}
		if _, ok := status[j.ID]; !ok || statusSeries[j.ID] != 4 {
			t.Errorf("job %s: kubiya_job_status: %v series, current one present: %v", j.ID, statusSeries[j.ID], ok)
		}
		if _, ok := lastRun[j.ID]; ok != (j.LastExecutionAt != nil) {
			t.Errorf("job %s: last_execution_timestamp present %v, API last_execution_at %v", j.ID, ok, j.LastExecutionAt)
		}
	}
	for _, expr := range []string{
		`kubiya_exporter_build_info`,
		`sum(kubiya_exporter_api_requests_total{code="ok"}) > 0`,
		`kubiya_exporter_api_request_duration_seconds_count`,
		`kubiya_scrape_duration_seconds`,
		`kubiya_exporter_config_last_reload_successful == 1`,
	} {
		if s.instant(t, expr).Len() == 0 {
			t.Errorf("no series for %s", expr)
		}
	}
}

// checkDashboardsHealthy runs every query of both dashboards with "All"
// and with pinned values, and checks the core panels.
func checkDashboardsHealthy(t *testing.T, s *stack) {
	t.Helper()
	// The job dashboard is checked for a cron job with runs, and for a
	// webhook job, which has no schedule series.
	cronJob, webhookJob := simulator.JobHourly, simulator.JobWebhook
	names := []string{s.job(t, cronJob).Name, s.job(t, webhookJob).Name}
	n := float64(len(s.jobs))
	disabled := 0.0
	for _, j := range s.jobs {
		if !j.Enabled {
			disabled++
		}
	}

	all := selection{name: "all", jobNames: names, jobID: cronJob}
	ov := runDashboard(t, s, "../dashboards/kubiya-overview.json", all)
	wantValue(t, ov, "Jobs watched", "A", n)
	wantValue(t, ov, "Enabled", "A", n-disabled)
	wantValue(t, ov, "Disabled", "A", disabled)
	wantValue(t, ov, "Control plane", "A", 1)
	wantValue(t, ov, "Overdue", "A", 0)
	for _, ref := range []string{"A", "B", "C", "D", "E", "F"} {
		nonEmpty(t, ov, "Jobs", ref)
	}
	for _, ref := range []string{"A", "F"} {
		if got := len(jobIDs(ov.get(t, "Jobs", ref))); got != len(s.jobs) {
			t.Errorf("Jobs %s: %d rows, want one per job (%d)", ref, got, len(s.jobs))
		}
	}
	if r := ov.get(t, "Jobs", "F"); maxValue(r) != 1 || minValue(r) != 1 {
		t.Errorf("Jobs F (fetch): %s, want 1 for every job", describe(r))
	}
	for _, title := range []string{"Executions started", "API requests by outcome", "Scrape duration", "Exporter and control plane up", "API latency", "Next scheduled run in"} {
		nonEmpty(t, ov, title, "A")
	}

	pinned := selection{name: "pinned", pinned: true, jobNames: names, jobID: cronJob}
	ovp := runDashboard(t, s, "../dashboards/kubiya-overview.json", pinned)
	if got := jobIDs(ovp.get(t, "Jobs", "A")); !slices.Equal(got, sortedCopy([]string{cronJob, webhookJob})) {
		t.Errorf("pinned to job names %v: Jobs A rows %v", names, got)
	}
	wantValue(t, ovp, "Control plane", "A", 1)

	jd := runDashboard(t, s, "../dashboards/kubiya-job.json", all)
	checkJobDashboardCore(t, jd, true)
	runDashboard(t, s, "../dashboards/kubiya-job.json", pinned)

	wh := runDashboard(t, s, "../dashboards/kubiya-job.json", selection{name: "webhook job", jobNames: names, jobID: webhookJob})
	checkJobDashboardCore(t, wh, false)
}

// checkJobDashboardCore checks the job dashboard's core panels; a non-cron
// job has no schedule, so its schedule panels must be empty.
func checkJobDashboardCore(t *testing.T, d dashboardResults, cron bool) {
	t.Helper()
	wantValue(t, d, "Fetch", "A", 1)
	wantValue(t, d, "Enabled", "A", 1)
	if r := nonEmpty(t, d, "Status", "A"); r.Len() == 1 && r.Vector[0].Metric["status"] != "active" {
		t.Errorf("Status: %v, want active", r.Vector)
	}
	for _, ref := range []string{"A", "B", "C", "D"} {
		nonEmpty(t, d, "Executions since creation", ref)
	}
	nonEmpty(t, d, "Job info", "A")
	nonEmpty(t, d, "Last run", "A")
	if !cron {
		for _, title := range []string{"Schedule", "Next run", "Next run in", "Last scheduled fire time"} {
			empty(t, d, title, "A")
		}
		return
	}
	nonEmpty(t, d, "Schedule", "A")
	nonEmpty(t, d, "Next run", "A")
	if v := single(t, d, "Next run in", "A"); v <= 0 {
		t.Errorf("Next run in = %v, want > 0", v)
	}
	wantValue(t, d, "Schedule valid", "A", 1)
}

// checkJobFaults waits for the alerts of faults (a) and (b), and for the
// disabled job's alert, at the webhook with the right labels and receiver.
func checkJobFaults(t *testing.T, s *stack) {
	t.Helper()
	failing, stopped, disabled := s.job(t, failingJobID), s.job(t, stoppedJobID), s.job(t, simulator.JobDisabled)
	cases := []struct {
		name    string
		labels  map[string]string
		path    string
		timeout time.Duration // worst case + margin, see docs/e2e.md
	}{
		// The next run (≤ 60s) is recorded ≤ 5s after its fire time and
		// fails ≤ 11.5s later; for: 1m → 1s.
		{"a job starts failing", map[string]string{"alertname": "KubiyaJobExecutionsFailing", "severity": "warning",
			"job_id": failing.ID, "job_name": failing.Name}, "/ticket/kubiya", 150 * time.Second},
		// The last run can be up to ~65s old and its completion ~17s after
		// its fire time; the rule needs a fire time older than the grace
		// (20s) and 60s newer than that activity, then for: 5m → 5s.
		{"a cron job stops running", map[string]string{"alertname": "KubiyaJobMissedRun", "severity": "warning",
			"job_id": stopped.ID, "job_name": stopped.Name}, "/ticket/kubiya", 240 * time.Second},
		// Not a fault of the test: the simulator's disabled job, for: 30m → 30s.
		{"a job is disabled", map[string]string{"alertname": "KubiyaJobDisabled", "severity": "info",
			"job_id": disabled.ID, "job_name": disabled.Name}, "/low-priority/kubiya", 120 * time.Second},
	}
	// A group: t.Run returns once its parallel subtests are done, so the
	// faults are waited for at the same time.
	t.Run("job faults", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				eventually(t, c.labels["alertname"]+" at the webhook", c.timeout, 500*time.Millisecond, func() (bool, string) {
					_, ok := s.hook.Find("firing", c.labels)
					return ok, "not notified; webhook got:\n" + s.hook.dump()
				})
				a, _ := s.hook.Find("firing", c.labels)
				if a.Path != c.path {
					t.Errorf("%s went to %s, want %s", a, a.Path, c.path)
				}
				for _, k := range []string{"summary", "description", "runbook_url"} {
					if a.Annotations[k] == "" {
						t.Errorf("%s: no %s annotation", a, k)
					}
				}
				if !strings.Contains(a.Annotations["summary"], c.labels["job_name"]) || !strings.Contains(a.Annotations["summary"], c.labels["job_id"]) {
					t.Errorf("%s: summary %q does not name the job by name and ID", a, a.Annotations["summary"])
				}
				if a.Labels["job"] != scrapeJob || a.Labels["instance"] != s.exporterAddr {
					t.Errorf("%s: job/instance labels %q/%q", a, a.Labels["job"], a.Labels["instance"])
				}
			})
		}
	})
}

// checkDashboardsFaulted: with faults (a) and (b) active, the overview
// counts the failing and the overdue job and the job dashboard shows the
// missed run. The dashboards' missed-run grace is replaced as in the rules.
func checkDashboardsFaulted(t *testing.T, s *stack) {
	t.Helper()
	failing, stopped := s.job(t, failingJobID), s.job(t, stoppedJobID)
	grace := func(expr string) string {
		return strings.ReplaceAll(expr, "offset "+s.shippedGrace, "offset "+testGrace)
	}
	names := []string{failing.Name, stopped.Name}
	sel := selection{name: "faulted, grace " + testGrace, jobNames: names, jobID: stoppedJobID, rewrite: grace}
	ov := runDashboard(t, s, "../dashboards/kubiya-overview.json", sel)
	if v := single(t, ov, "Failing", "A"); v < 1 {
		t.Errorf("Failing = %v, want the failing job counted", v)
	}
	if v := single(t, ov, "Failures in range", "A"); v <= 0 {
		t.Errorf("Failures in range = %v, want > 0", v)
	}
	if v := single(t, ov, "Overdue", "A"); v != 1 {
		t.Errorf("Overdue = %v, want 1 (the stopped job)", v)
	}
	if r := nonEmpty(t, ov, "Executions started", "A"); maxValue(r) <= 0 {
		t.Errorf("Executions started: no run seen in range (%s)", describe(r))
	}
	if r := nonEmpty(t, ov, "Failed executions", "A"); !slices.Contains(jobIDs(r), failing.ID) {
		t.Errorf("Failed executions: job_ids %v, want the failing job %s", jobIDs(r), failing.ID)
	}

	jd := runDashboard(t, s, "../dashboards/kubiya-job.json", sel)
	wantValue(t, jd, "Missed run", "A", 1)
	sel.jobID = failing.ID
	jf := runDashboard(t, s, "../dashboards/kubiya-job.json", sel)
	wantValue(t, jf, "Missed run", "A", 0)
	if r := nonEmpty(t, jf, "Executions", "C"); maxValue(r) <= 0 {
		t.Errorf("failing job: Executions C (failed) never > 0: %s", describe(r))
	}
	sel.jobID = simulator.JobHourly
	jh := runDashboard(t, s, "../dashboards/kubiya-job.json", sel)
	wantValue(t, jh, "Missed run", "A", 0)
}

// checkControlPlaneDown: with the key rejected, KubiyaControlPlaneDown
// pages, the per-job KubiyaJobScrapeFailing alerts fire in Prometheus but
// Alertmanager inhibits them, and the overview shows the control plane down
// while still counting every job.
func checkControlPlaneDown(t *testing.T, s *stack) {
	t.Helper()
	want := map[string]string{"alertname": "KubiyaControlPlaneDown", "severity": "critical", "job": scrapeJob, "instance": s.exporterAddr}
	eventually(t, "KubiyaControlPlaneDown at the webhook", 60*time.Second, 500*time.Millisecond, func() (bool, string) {
		_, ok := s.hook.Find("firing", want)
		return ok, "not notified; webhook got:\n" + s.hook.dump()
	})
	if a, _ := s.hook.Find("firing", want); a.Path != "/pager/kubiya" {
		t.Errorf("%s went to %s, want /pager/kubiya", a, a.Path)
	}

	ov := runDashboard(t, s, "../dashboards/kubiya-overview.json", selection{name: "key rejected", jobNames: []string{s.jobs[0].Name}})
	wantValue(t, ov, "Control plane", "A", 0)
	wantValue(t, ov, "Jobs watched", "A", float64(len(s.jobs)))
	if r := ov.get(t, "Jobs", "F"); len(jobIDs(r)) != len(s.jobs) || maxValue(r) != 0 {
		t.Errorf("Jobs F (fetch) with the key rejected: %s, want 0 for every job", describe(r))
	}

	// Every job fails to be fetched, but the rules raise no
	// KubiyaJobScrapeFailing while kubiya_up is 0: wait past its for (15s
	// here) and check that none fires. checkOnlyExpectedAlerts checks the
	// ALERTS history and the webhook at the end.
	time.Sleep(20 * time.Second)
	for _, a := range s.amAlerts(t) {
		if a.Labels["alertname"] == "KubiyaJobScrapeFailing" {
			t.Errorf("Alertmanager got KubiyaJobScrapeFailing for %s during the control-plane outage", a.Labels["job_id"])
		}
	}
}

// checkOnlyExpectedAlerts checks every alert Prometheus has pending or
// firing, and every alert notified to the webhook, against what the faults
// explain. A zero rejectAt means the key was never rejected.
func checkOnlyExpectedAlerts(t *testing.T, s *stack, rejectAt time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now, err := s.listJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Ground truth: jobs that really failed a run since the start may
	// alert KubiyaJobExecutionsFailing (the flaky job fails ~40% of runs).
	failedRuns := map[string]bool{}
	for _, j := range now {
		for _, j0 := range s.jobs {
			if j0.ID == j.ID && j.FailedExecutions > j0.FailedExecutions {
				failedRuns[j.ID] = true
			}
		}
	}
	explain := func(l map[string]string, at time.Time) error {
		id := l["job_id"]
		switch name := l["alertname"]; {
		case name == "KubiyaJobExecutionsFailing" && (id == failingJobID || failedRuns[id]):
		case name == "KubiyaJobHighFailureRatio" && id == failingJobID:
		case name == "KubiyaJobMissedRun" && id == stoppedJobID:
		case name == "KubiyaJobDisabled" && id == simulator.JobDisabled:
		case name == "KubiyaControlPlaneDown" && !rejectAt.IsZero() && !at.Before(rejectAt):
		default:
			return fmt.Errorf("unexpected alert %s for job_id %q (%s)", name, id, l["job_name"])
		}
		return nil
	}
	// A scrape that times out on a loaded machine (1s scrape timeout) makes
	// the availability alerts pending for a moment; only firing ones (5s
	// of it, 15s for a job) are errors. Any other alert pending even once
	// is an error: its condition was true for a healthy job.
	transient := func(l map[string]string) bool {
		switch l["alertname"] {
		case "KubiyaExporterDown", "KubiyaControlPlaneDown", "KubiyaJobScrapeFailing":
			t.Logf("NOTE %s was pending for a moment (a slow or failed scrape): %v", l["alertname"], l)
			return true
		}
		return false
	}
	alerts, err := s.prom.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, a := range alerts {
		states = append(states, fmt.Sprintf("%s %s %s", a.State, a.Labels["alertname"], a.Labels["job_name"]))
		if err := explain(a.Labels, a.ActiveAt); err != nil && !(a.State == "pending" && transient(a.Labels)) {
			t.Errorf("Prometheus: %v, state %s since %v", err, a.State, a.ActiveAt.Format(time.TimeOnly))
		}
	}
	sort.Strings(states)
	t.Logf("Prometheus alerts now: %v", states)
	// Every alert that was pending or firing at any evaluation so far, not
	// only now: the ALERTS series of the whole test (it is shorter than 15m).
	// Before the key is rejected this is called with a zero rejectAt, so an
	// early KubiyaControlPlaneDown would be caught there.
	history := s.instant(t, `count by (alertname, alertstate, job_id, job_name) (count_over_time(ALERTS[15m]))`)
	for _, smp := range history.Vector {
		l := map[string]string{}
		for k, v := range smp.Metric {
			l[string(k)] = string(v)
		}
		if err := explain(l, time.Now()); err != nil && !(l["alertstate"] == "pending" && transient(l)) {
			t.Errorf("Prometheus ALERTS history: %v (%s)", err, l["alertstate"])
		}
	}
	for _, a := range s.hook.Alerts() {
		if a.Labels["alertname"] == "KubiyaJobScrapeFailing" {
			t.Errorf("webhook: %s: the rule raises no per-job fetch alert while the control plane is down", a)
			continue
		}
		if err := explain(a.Labels, a.StartsAt); err != nil {
			t.Errorf("webhook: %v: %s", err, a)
		}
	}
	for id := range failedRuns {
		if id != failingJobID {
			t.Logf("job %s failed a run during the test by itself (its failure_rate); KubiyaJobExecutionsFailing is allowed for it", id)
		}
	}
}

func minValue(r result) float64 {
	m := 1e308
	for _, s := range r.Vector {
		m = min(m, float64(s.Value))
	}
	for _, s := range r.Matrix {
		for _, p := range s.Values {
			m = min(m, float64(p.Value))
		}
	}
	return m
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// logScrapeHealth logs whether, until the key was rejected, a scrape failed
// or missed a job. One bad scrape makes every per-job alert resolve and
// start over (its instant series go stale), which shows as a resolved and
// re-fired notification. With a 1s scrape timeout that can happen on a
// loaded machine, so it is reported, not failed: the alert assertions hold
// either way.
func logScrapeHealth(t *testing.T, s *stack) {
	t.Helper()
	for _, expr := range []string{
		`min_over_time(up{job="kubiya"}[10m]) < 1`,
		`min_over_time(kubiya_up[10m]) < 1`,
		`min_over_time(kubiya_job_up[10m]) < 1`,
	} {
		if r := s.instant(t, expr); r.Len() != 0 {
			t.Logf("NOTE scrape gap before the key was rejected: %s: %v", expr, r.Vector)
		}
	}
	for _, expr := range []string{
		`count_over_time(up{job="kubiya"}[10m])`,
		`max_over_time(scrape_duration_seconds{job="kubiya"}[10m])`,
		`max_over_time(kubiya_scrape_duration_seconds[10m])`,
	} {
		t.Logf("%s = %v", expr, s.instant(t, expr).Vector)
	}
}
