package simulator

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Default job IDs, fixed so tests, dashboards and the demo can name them.
const (
	JobEveryMinute = "job_0b7d3c52-6a41-4f0e-9c1d-2e8f5a6b7c01" // heartbeat-check: */1 * * * *, UTC
	JobHourly      = "job_1c8e4d63-7b52-4a1f-8d2e-3f9a6b7c8d02" // hourly-sync: 0 * * * *, team
	JobNightly     = "job_6f1c2d3e-8a7b-4c5d-9e0f-1a2b3c4d5e6f" // nightly-report: 0 17 * * * UTC, the README's example
	JobNewYork     = "job_2d9f5e74-8c63-4b20-9e3f-4a0b7c8d9e03" // ny-morning-digest: 0 9 * * * America/New_York, workflow
	JobFlaky       = "job_3e0a6f85-9d74-4c31-8f40-5b1c8d9e0f04" // flaky-backup: */5 * * * *, fails ~40%
	JobWeekly      = "job_4f1b7096-ae85-4d42-9051-6c2d9e0f1a05" // weekly-cost-report: @weekly descriptor, team
	JobWebhook     = "job_5a2c81a7-bf96-4e53-a162-7d3e0f1a2b06" // github-webhook-triage: webhook
	JobManual      = "job_6b3d92b8-c0a7-4f64-b273-8e4f1a2b3c07" // incident-responder: manual, team
	JobDisabled    = "job_7c4ea3c9-d1b8-4075-8384-9f5a2b3c4d08" // legacy-cleanup: disabled cron, stale next
	JobNeverRan    = "job_8d5fb4da-e2c9-4186-9495-a06b3c4d5e09" // quarterly-audit: never ran, entity_type null
)

func execEnv(env map[string]string, secrets []string, mcp map[string]any) json.RawMessage {
	if mcp == nil {
		mcp = map[string]any{}
	}
	// A struct keeps the schema's key order, as the Python server does.
	return mustJSON(struct {
		EnvVars        map[string]string `json:"env_vars"`
		Secrets        []string          `json:"secrets"`
		IntegrationIDs []string          `json:"integration_ids"`
		MCPServers     map[string]any    `json:"mcp_servers"`
	}{env, secrets, []string{"9a7c3e1f-2b4d-4e6f-8a0c-1d3e5f7a9b2c"}, mcp})
}

// DefaultJobs is the realistic job set the simulator starts with when
// Options.Jobs is nil. They are templates (zero CreatedAt): New stamps their
// times from its clock, and their counts are history as of that moment.
func DefaultJobs() []Job {
	mcp := map[string]any{"github": map[string]any{
		"transport": "sse", "url": "https://mcp.acme-corp.internal/github/sse",
		"headers": map[string]string{"Authorization": "Bearer ghp_sim0000000000000000000000000000000000"},
	}}
	agent, team, workflow := Ptr("agent"), Ptr("team"), Ptr("workflow")
	cron := func(id, name, spec string, tz *string) Job {
		return Job{
			ID: id, Name: name, Enabled: true, TriggerType: "cron",
			CronSchedule: Ptr(spec), CronTimezone: tz, TemporalScheduleID: Ptr("job-" + id),
			PlanningMode: "predefined_agent", EntityType: agent,
			ExecutorType: "auto", Config: json.RawMessage(`{}`),
			ExecutionEnvironment: json.RawMessage(`{"env_vars":{},"secrets":[],"integration_ids":[],"mcp_servers":{}}`),
			CreatedBy:            Ptr("3f9c1e2a-7b4d-4c8e-9a1f-2d3e4f5a6b7c"), CreatedByEmail: Ptr("platform@acme-corp.example"),
		}
	}
	utc := Ptr("UTC")

	minute := cron(JobEveryMinute, "heartbeat-check", "*/1 * * * *", utc)
	minute.Description = Ptr("Checks that the cluster API answers, every minute")
	minute.EntityID, minute.EntityName = Ptr("a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a5b"), Ptr("sre-bot")
	minute.PromptTemplate = "Run `kubectl get --raw /readyz` against {{cluster}} and report anything unusual"
	minute.Config = json.RawMessage(`{"cluster":"prod-eu-1","kubeconfig_secret":"kc-prod-eu-1"}`)
	minute.ExecutionEnvironment = execEnv(map[string]string{"CLUSTER": "prod-eu-1", "DATADOG_API_KEY": "dd_sim_5f2a9c0e7b3d1f4a6c8e0b2d4f6a8c0e"}, []string{"kubeconfig-prod"}, nil)
	minute.TotalExecutions, minute.SuccessfulExecutions, minute.FailedExecutions = 1440, 1431, 8
	minute.FailureRate = 0.02

	hourly := cron(JobHourly, "hourly-sync", "0 * * * *", utc)
	hourly.EntityType, hourly.EntityID, hourly.EntityName = team, Ptr("b2c3d4e5-0002-4f6a-9b0c-1d2e3f4a5b6c"), Ptr("data-platform")
	hourly.PlanningMode = "predefined_team"
	hourly.PromptTemplate = "Sync the billing warehouse tables for {{date}}"
	hourly.SystemPrompt = Ptr("You are the data platform team. Never drop tables.")
	hourly.ExecutorType, hourly.WorkerQueueName = "specific_queue", Ptr("data-queue")
	hourly.ExecutionEnvironment = execEnv(map[string]string{"WAREHOUSE_DSN": "postgres://sync:s1m-p4ss@warehouse.internal:5432/billing"}, []string{"warehouse-password"}, mcp)
	hourly.TotalExecutions, hourly.SuccessfulExecutions, hourly.FailedExecutions = 720, 712, 7
	hourly.FailureRate = 0.01

	nightly := cron(JobNightly, "nightly-report", "0 17 * * *", utc)
	nightly.EntityID, nightly.EntityName = Ptr("2b7e9c1a-0d4f-4e8a-9b6c-3f5d7a1e2c4b"), Ptr("reporter")
	nightly.PromptTemplate = "Summarise {{topic}}"
	nightly.CreatedBy = Ptr("user-uuid")
	nightly.CreatedByEmail = nil
	nightly.TotalExecutions, nightly.SuccessfulExecutions, nightly.FailedExecutions = 42, 39, 2
	nightly.FailureRate = 0.05

	ny := cron(JobNewYork, "ny-morning-digest", "0 9 * * *", Ptr("America/New_York"))
	ny.Description = Ptr("Morning digest for the New York office, 09:00 local time")
	ny.EntityType, ny.EntityID, ny.EntityName = workflow, Ptr("c3d4e5f6-0003-4a7b-8c1d-2e3f4a5b6c7d"), Ptr("morning-digest")
	ny.PlanningMode = "predefined_workflow"
	ny.PromptTemplate = "Collect overnight incidents and open PRs for {{team}}"
	ny.ExecutorType, ny.EnvironmentName = "environment", Ptr("production")
	ny.TotalExecutions, ny.SuccessfulExecutions, ny.FailedExecutions = 58, 57, 1
	ny.FailureRate = 0.03

	flaky := cron(JobFlaky, "flaky-backup", "*/5 * * * *", utc)
	flaky.Description = Ptr("Snapshots the staging database; fails often")
	flaky.EntityID, flaky.EntityName = Ptr("d4e5f6a7-0004-4b8c-9d2e-3f4a5b6c7d8e"), Ptr("backup-agent")
	flaky.PromptTemplate = "Snapshot {{database}} to s3://acme-backups/{{date}}"
	flaky.Config = json.RawMessage(`{"aws_secret_access_key":"sim/AbCdEf0123456789abcdef0123456789ABCD","bucket":"acme-backups"}`)
	flaky.TotalExecutions, flaky.SuccessfulExecutions, flaky.FailedExecutions = 2016, 1190, 824
	flaky.FailureRate = 0.4

	weekly := cron(JobWeekly, "weekly-cost-report", "@weekly", nil)
	weekly.EntityType, weekly.EntityID, weekly.EntityName = team, Ptr("e5f6a7b8-0005-4c9d-8e3f-4a5b6c7d8e9f"), Ptr("finops")
	weekly.PlanningMode = "predefined_team"
	weekly.PromptTemplate = "Report cloud spend by team for the week ending {{date}}"
	weekly.ExecutionEnvironment = json.RawMessage(`{}`)
	weekly.TotalExecutions, weekly.SuccessfulExecutions, weekly.FailedExecutions = 12, 12, 0

	webhook := Job{
		ID: JobWebhook, Name: "github-webhook-triage", Description: Ptr("Triage new GitHub issues"),
		Enabled: true, TriggerType: "webhook",
		WebhookURL:    Ptr("https://control-plane.kubiya.ai/api/v1/webhooks/jobs/wh_7Kq2mZx9Lp4Rt8Vb3Nc6Yd1Fg5Hj0Ws"),
		WebhookSecret: Ptr("whsec_3b9f0c2e8a7d4f1b6c5e9a0d2f4b7c1e"),
		PlanningMode:  "on_the_fly", EntityType: agent, EntityID: Ptr("f6a7b8c9-0006-4d0e-9f4a-5b6c7d8e9f0a"), EntityName: Ptr("triage-bot"),
		PromptTemplate: "Label and route this issue: {{payload.issue.title}}",
		SystemPrompt:   Ptr("You triage issues for acme-corp. Internal token: sim-int-9f8e7d6c"),
		ExecutorType:   "auto", Config: json.RawMessage(`{"github_token":"ghp_sim1111111111111111111111111111111111"}`),
		ExecutionEnvironment: execEnv(map[string]string{"GITHUB_ORG": "acme-corp"}, []string{"github-app-key"}, mcp),
		TotalExecutions:      317, SuccessfulExecutions: 309, FailedExecutions: 6,
		CreatedBy: Ptr("3f9c1e2a-7b4d-4c8e-9a1f-2d3e4f5a6b7c"), UpdatedBy: Ptr("3f9c1e2a-7b4d-4c8e-9a1f-2d3e4f5a6b7c"),
		CreatedByEmail: Ptr("platform@acme-corp.example"), UpdatedByEmail: Ptr("platform@acme-corp.example"),
		FailureRate: 0.02,
	}

	manual := Job{
		ID: JobManual, Name: "incident-responder", Enabled: true, TriggerType: "manual",
		PlanningMode: "predefined_team", EntityType: team, EntityID: Ptr("a7b8c9d0-0007-4e1f-8a5b-6c7d8e9f0a1b"), EntityName: Ptr("on-call"),
		PromptTemplate: "Investigate incident {{incident_id}} and post a summary",
		ExecutorType:   "auto", Config: json.RawMessage(`{"pagerduty_token":"pd_sim_u+8cQ2xZ7r"}`),
		TotalExecutions: 7, SuccessfulExecutions: 6, FailedExecutions: 1,
		CreatedBy: Ptr("7d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a"),
	}

	disabled := cron(JobDisabled, "legacy-cleanup", "30 2 * * *", utc)
	disabled.Enabled = false
	disabled.Description = Ptr("Old cleanup job, disabled during the migration")
	disabled.EntityID, disabled.EntityName = Ptr("b8c9d0e1-0008-4f2a-9b6c-7d8e9f0a1b2c"), Ptr("janitor")
	disabled.PromptTemplate = "Delete {{kind}} older than 30 days"
	disabled.UpdatedBy, disabled.UpdatedByEmail = Ptr("7d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a"), Ptr("sre-lead@acme-corp.example")
	disabled.TotalExecutions, disabled.SuccessfulExecutions, disabled.FailedExecutions = 95, 90, 5

	never := cron(JobNeverRan, "quarterly-audit", "0 0 1 */3 *", utc)
	never.EntityType = nil
	never.PlanningMode = "on_the_fly"
	never.PromptTemplate = "Audit IAM roles and report unused ones"

	return []Job{minute, hourly, nightly, ny, flaky, weekly, webhook, manual, disabled, never}
}

// genSchedules are what GenerateJobs picks from: mostly frequent UTC
// schedules, some daily ones in other zones.
var genSchedules = [...]struct{ spec, tz string }{
	{"*/1 * * * *", "UTC"}, {"*/5 * * * *", "UTC"}, {"*/15 * * * *", "UTC"}, {"0 * * * *", "UTC"},
	{"30 */2 * * *", "UTC"}, {"@hourly", ""}, {"0 17 * * *", "UTC"}, {"0 9 * * *", "America/New_York"},
	{"0 6 * * 1-5", "Europe/Berlin"}, {"@daily", ""}, {"0 0 * * 0", "UTC"}, {"15 3 * * *", "Asia/Kolkata"},
}

// GenerateJobs returns n synthetic template jobs for load tests, determined
// by seed: ~80% cron (a few disabled, some never ran), ~12% webhook, the
// rest manual; entity types agent, team, workflow or null.
func GenerateJobs(n int, seed int64) []Job {
	jobs := make([]Job, n)
	entities := [...]*string{Ptr("agent"), Ptr("team"), Ptr("workflow"), nil}
	modes := [...]string{"predefined_agent", "predefined_team", "predefined_workflow", "on_the_fly"}
	base := uint64(seed) * 0x9e3779b97f4a7c15
	for i := range jobs {
		x := splitmix64(base + uint64(i))
		r := func(k uint64) uint64 { return splitmix64(x ^ k*0xbf58476d1ce4e5b9) }
		id := "job_" + uuidFrom(r(1), r(2))
		ent := int(r(3) % 4)
		j := Job{
			ID: id, Enabled: true, PlanningMode: modes[ent], EntityType: entities[ent],
			EntityID: Ptr(uuidFrom(r(4), r(5))), EntityName: Ptr("entity-" + strconv.Itoa(int(r(6)%500))),
			PromptTemplate: "Handle task {{task}} for shard " + strconv.Itoa(i), ExecutorType: "auto",
			Config:               json.RawMessage(`{"token":"sim-` + strconv.FormatUint(r(7), 36) + `"}`),
			ExecutionEnvironment: json.RawMessage(`{"env_vars":{"SHARD":"` + strconv.Itoa(i) + `"},"secrets":["gen-secret"],"integration_ids":[],"mcp_servers":{}}`),
			CreatedBy:            Ptr("3f9c1e2a-7b4d-4c8e-9a1f-2d3e4f5a6b7c"),
			FailureRate:          float64(r(8)%30) / 100,
		}
		if ent == 3 {
			j.EntityID, j.EntityName = nil, nil
		}
		switch kind := r(9) % 100; {
		case kind < 80:
			sc := genSchedules[r(10)%uint64(len(genSchedules))]
			j.TriggerType, j.CronSchedule, j.TemporalScheduleID = "cron", Ptr(sc.spec), Ptr("job-"+id)
			if sc.tz != "" {
				j.CronTimezone = Ptr(sc.tz)
			}
			j.Name = fmt.Sprintf("gen-cron-%05d", i)
			j.Enabled = kind >= 4
		case kind < 92:
			j.TriggerType, j.Name = "webhook", fmt.Sprintf("gen-webhook-%05d", i)
			j.WebhookURL = Ptr("https://control-plane.kubiya.ai/api/v1/webhooks/jobs/wh_" + strconv.FormatUint(r(11), 36))
			j.WebhookSecret = Ptr("whsec_" + strconv.FormatUint(r(12), 16))
		default:
			j.TriggerType, j.Name = "manual", fmt.Sprintf("gen-manual-%05d", i)
		}
		if r(13)%10 != 0 { // 10% never ran
			total := int64(1 + r(14)%5000)
			failed := int64(float64(total) * j.FailureRate)
			j.TotalExecutions, j.FailedExecutions = total, failed
			j.SuccessfulExecutions = total - failed - int64(r(15)%2)
			j.SuccessfulExecutions = max(j.SuccessfulExecutions, 0)
		}
		jobs[i] = j
	}
	return jobs
}
