package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Job is one job as the control plane stores it. Every field of the API's
// JobResponse is here; nullable fields are pointers (nil encodes as null).
//
// Config, ExecutionEnvironment and ExecutionHistory are raw JSON so tests can
// put anything there (including canary strings). A nil Config encodes as {},
// a nil ExecutionHistory as [], a nil ExecutionEnvironment as null.
//
// A Job whose CreatedAt is zero is a template: New stamps its creation,
// update, last-run and next-run times from the simulator's clock (see
// DefaultJobs and GenerateJobs, which return templates).
type Job struct {
	ID                   string
	OrganizationID       string // "" → Options.Organization
	Name                 string
	Description          *string
	Enabled              bool
	Status               string // "" → "active" or "disabled" from Enabled
	TriggerType          string // cron, webhook, manual
	CronSchedule         *string
	CronTimezone         *string
	WebhookURL           *string
	WebhookSecret        *string
	TemporalScheduleID   *string
	PlanningMode         string // "" → predefined_agent
	EntityType           *string
	EntityID             *string
	EntityName           *string
	PromptTemplate       string
	SystemPrompt         *string
	ExecutorType         string // "" → auto
	WorkerQueueName      *string
	EnvironmentName      *string
	Config               json.RawMessage
	ExecutionEnvironment json.RawMessage
	LastExecutionID      *string
	LastExecutionAt      *time.Time
	NextExecutionAt      *time.Time
	TotalExecutions      int64
	SuccessfulExecutions int64
	FailedExecutions     int64
	ExecutionHistory     json.RawMessage
	CreatedBy            *string
	UpdatedBy            *string
	CreatedByEmail       *string
	UpdatedByEmail       *string
	CreatedAt            time.Time
	UpdatedAt            time.Time
	LastTriggeredAt      *time.Time

	// FailureRate is the probability in [0,1] that a simulated run fails.
	// It is simulator state, never encoded.
	FailureRate float64
}

// Ptr returns a pointer to v; handy for building Jobs in tests.
func Ptr[T any](v T) *T { return &v }

// FormatTime formats t the way the control plane does: UTC with a Z, and
// fractional seconds (microseconds, 6 digits) only when they are non-zero.
func FormatTime(t time.Time) string {
	return string(appendTime(nil, t, true))
}

// formatNaive is Python's datetime.utcnow().isoformat(): no zone suffix.
func formatNaive(t time.Time) string {
	return string(appendTime(nil, t, false))
}

func appendTime(dst []byte, t time.Time, zulu bool) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		dst = append(dst, '.')
		s := strconv.Itoa(us)
		for i := len(s); i < 6; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, s...)
	}
	if zulu {
		dst = append(dst, 'Z')
	}
	return dst
}

// parseTime accepts what FormatTime writes, offsets, and naive (UTC) times.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

// MarshalJSON encodes the job exactly as the API's JobResponse (compact, field
// order of the schema, no HTML escaping, like Starlette's JSONResponse).
func (j Job) MarshalJSON() ([]byte, error) {
	return appendJob(nil, &j), nil
}

// UnmarshalJSON decodes a JobResponse document (used by the admin API to
// upsert jobs). Timestamps may carry Z, an offset, or no zone (UTC).
func (j *Job) UnmarshalJSON(data []byte) error {
	var w struct {
		ID                   string          `json:"id"`
		OrganizationID       string          `json:"organization_id"`
		Name                 string          `json:"name"`
		Description          *string         `json:"description"`
		Enabled              bool            `json:"enabled"`
		Status               string          `json:"status"`
		TriggerType          string          `json:"trigger_type"`
		CronSchedule         *string         `json:"cron_schedule"`
		CronTimezone         *string         `json:"cron_timezone"`
		WebhookURL           *string         `json:"webhook_url"`
		WebhookSecret        *string         `json:"webhook_secret"`
		TemporalScheduleID   *string         `json:"temporal_schedule_id"`
		PlanningMode         string          `json:"planning_mode"`
		EntityType           *string         `json:"entity_type"`
		EntityID             *string         `json:"entity_id"`
		EntityName           *string         `json:"entity_name"`
		PromptTemplate       string          `json:"prompt_template"`
		SystemPrompt         *string         `json:"system_prompt"`
		ExecutorType         string          `json:"executor_type"`
		WorkerQueueName      *string         `json:"worker_queue_name"`
		EnvironmentName      *string         `json:"environment_name"`
		Config               json.RawMessage `json:"config"`
		ExecutionEnvironment json.RawMessage `json:"execution_environment"`
		LastExecutionID      *string         `json:"last_execution_id"`
		LastExecutionAt      *string         `json:"last_execution_at"`
		NextExecutionAt      *string         `json:"next_execution_at"`
		TotalExecutions      int64           `json:"total_executions"`
		SuccessfulExecutions int64           `json:"successful_executions"`
		FailedExecutions     int64           `json:"failed_executions"`
		ExecutionHistory     json.RawMessage `json:"execution_history"`
		CreatedBy            *string         `json:"created_by"`
		UpdatedBy            *string         `json:"updated_by"`
		CreatedByEmail       *string         `json:"created_by_email"`
		UpdatedByEmail       *string         `json:"updated_by_email"`
		CreatedAt            *string         `json:"created_at"`
		UpdatedAt            *string         `json:"updated_at"`
		LastTriggeredAt      *string         `json:"last_triggered_at"`
		FailureRate          float64         `json:"failure_rate"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.ID == "" {
		return errors.New("job: id is required")
	}
	var errs []error
	optTime := func(s *string) *time.Time {
		if s == nil {
			return nil
		}
		t, err := parseTime(*s)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return &t
	}
	reqTime := func(s *string) time.Time {
		if t := optTime(s); t != nil {
			return *t
		}
		return time.Time{}
	}
	null := func(m json.RawMessage) json.RawMessage {
		if string(m) == "null" {
			return nil
		}
		return m
	}
	*j = Job{
		ID: w.ID, OrganizationID: w.OrganizationID, Name: w.Name, Description: w.Description,
		Enabled: w.Enabled, Status: w.Status, TriggerType: w.TriggerType,
		CronSchedule: w.CronSchedule, CronTimezone: w.CronTimezone,
		WebhookURL: w.WebhookURL, WebhookSecret: w.WebhookSecret, TemporalScheduleID: w.TemporalScheduleID,
		PlanningMode: w.PlanningMode, EntityType: w.EntityType, EntityID: w.EntityID, EntityName: w.EntityName,
		PromptTemplate: w.PromptTemplate, SystemPrompt: w.SystemPrompt, ExecutorType: w.ExecutorType,
		WorkerQueueName: w.WorkerQueueName, EnvironmentName: w.EnvironmentName,
		Config: null(w.Config), ExecutionEnvironment: null(w.ExecutionEnvironment),
		LastExecutionID: w.LastExecutionID, LastExecutionAt: optTime(w.LastExecutionAt),
		NextExecutionAt:      optTime(w.NextExecutionAt),
		TotalExecutions:      w.TotalExecutions,
		SuccessfulExecutions: w.SuccessfulExecutions, FailedExecutions: w.FailedExecutions,
		ExecutionHistory: null(w.ExecutionHistory), CreatedBy: w.CreatedBy, UpdatedBy: w.UpdatedBy,
		CreatedByEmail: w.CreatedByEmail, UpdatedByEmail: w.UpdatedByEmail,
		CreatedAt: reqTime(w.CreatedAt), UpdatedAt: reqTime(w.UpdatedAt),
		LastTriggeredAt: optTime(w.LastTriggeredAt), FailureRate: w.FailureRate,
	}
	return errors.Join(errs...)
}

// appendJob hand-encodes a job. At 10,000 jobs this runs for every job that
// changed since the last list request, so it avoids reflection.
func appendJob(b []byte, j *Job) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, j.ID)
	b = append(b, `,"organization_id":`...)
	b = appendString(b, j.OrganizationID)
	b = append(b, `,"name":`...)
	b = appendString(b, j.Name)
	b = append(b, `,"description":`...)
	b = appendOptString(b, j.Description)
	b = append(b, `,"enabled":`...)
	b = strconv.AppendBool(b, j.Enabled)
	b = append(b, `,"status":`...)
	b = appendString(b, j.Status)
	b = append(b, `,"trigger_type":`...)
	b = appendString(b, j.TriggerType)
	b = append(b, `,"cron_schedule":`...)
	b = appendOptString(b, j.CronSchedule)
	b = append(b, `,"cron_timezone":`...)
	b = appendOptString(b, j.CronTimezone)
	b = append(b, `,"webhook_url":`...)
	b = appendOptString(b, j.WebhookURL)
	b = append(b, `,"webhook_secret":`...)
	b = appendOptString(b, j.WebhookSecret)
	b = append(b, `,"temporal_schedule_id":`...)
	b = appendOptString(b, j.TemporalScheduleID)
	b = append(b, `,"planning_mode":`...)
	b = appendString(b, j.PlanningMode)
	b = append(b, `,"entity_type":`...)
	b = appendOptString(b, j.EntityType)
	b = append(b, `,"entity_id":`...)
	b = appendOptString(b, j.EntityID)
	b = append(b, `,"entity_name":`...)
	b = appendOptString(b, j.EntityName)
	b = append(b, `,"prompt_template":`...)
	b = appendString(b, j.PromptTemplate)
	b = append(b, `,"system_prompt":`...)
	b = appendOptString(b, j.SystemPrompt)
	b = append(b, `,"executor_type":`...)
	b = appendString(b, j.ExecutorType)
	b = append(b, `,"worker_queue_name":`...)
	b = appendOptString(b, j.WorkerQueueName)
	b = append(b, `,"environment_name":`...)
	b = appendOptString(b, j.EnvironmentName)
	b = append(b, `,"config":`...)
	b = appendRaw(b, j.Config, "{}")
	b = append(b, `,"execution_environment":`...)
	b = appendRaw(b, j.ExecutionEnvironment, "null")
	b = append(b, `,"last_execution_id":`...)
	b = appendOptString(b, j.LastExecutionID)
	b = append(b, `,"last_execution_at":`...)
	b = appendOptTime(b, j.LastExecutionAt)
	b = append(b, `,"next_execution_at":`...)
	b = appendOptTime(b, j.NextExecutionAt)
	b = append(b, `,"total_executions":`...)
	b = strconv.AppendInt(b, j.TotalExecutions, 10)
	b = append(b, `,"successful_executions":`...)
	b = strconv.AppendInt(b, j.SuccessfulExecutions, 10)
	b = append(b, `,"failed_executions":`...)
	b = strconv.AppendInt(b, j.FailedExecutions, 10)
	b = append(b, `,"execution_history":`...)
	b = appendRaw(b, j.ExecutionHistory, "[]")
	b = append(b, `,"created_by":`...)
	b = appendOptString(b, j.CreatedBy)
	b = append(b, `,"updated_by":`...)
	b = appendOptString(b, j.UpdatedBy)
	b = append(b, `,"created_by_email":`...)
	b = appendOptString(b, j.CreatedByEmail)
	b = append(b, `,"updated_by_email":`...)
	b = appendOptString(b, j.UpdatedByEmail)
	b = append(b, `,"created_at":`...)
	b = appendQuotedTime(b, j.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendQuotedTime(b, j.UpdatedAt)
	b = append(b, `,"last_triggered_at":`...)
	b = appendOptTime(b, j.LastTriggeredAt)
	return append(b, '}')
}

func appendRaw(b []byte, m json.RawMessage, ifNil string) []byte {
	if len(m) == 0 {
		return append(b, ifNil...)
	}
	return append(b, m...)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendQuotedTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = appendTime(b, t, true)
	return append(b, '"')
}

func appendOptTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendQuotedTime(b, *t)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way Python's json.dumps with
// ensure_ascii=False does: only quotes, backslashes and control characters
// are escaped. Invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// compactJSON normalises raw JSON so cached encodings stay compact; invalid
// JSON is kept as given (a test may want a broken document on purpose).
func compactJSON(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return m
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, m); err != nil {
		return m
	}
	return buf.Bytes()
}

// mustJSON marshals static values without HTML escaping (Starlette does not
// escape <, > or &).
func mustJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// clone returns a deep copy so callers never share pointers with the server.
func (j Job) clone() Job {
	cs := func(p *string) *string {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	ct := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	cr := func(m json.RawMessage) json.RawMessage {
		if m == nil {
			return nil
		}
		return append(json.RawMessage(nil), m...)
	}
	j.Description, j.CronSchedule, j.CronTimezone = cs(j.Description), cs(j.CronSchedule), cs(j.CronTimezone)
	j.WebhookURL, j.WebhookSecret, j.TemporalScheduleID = cs(j.WebhookURL), cs(j.WebhookSecret), cs(j.TemporalScheduleID)
	j.EntityType, j.EntityID, j.EntityName = cs(j.EntityType), cs(j.EntityID), cs(j.EntityName)
	j.SystemPrompt, j.WorkerQueueName, j.EnvironmentName = cs(j.SystemPrompt), cs(j.WorkerQueueName), cs(j.EnvironmentName)
	j.LastExecutionID, j.CreatedBy, j.UpdatedBy = cs(j.LastExecutionID), cs(j.CreatedBy), cs(j.UpdatedBy)
	j.CreatedByEmail, j.UpdatedByEmail = cs(j.CreatedByEmail), cs(j.UpdatedByEmail)
	j.LastExecutionAt, j.NextExecutionAt, j.LastTriggeredAt = ct(j.LastExecutionAt), ct(j.NextExecutionAt), ct(j.LastTriggeredAt)
	j.Config, j.ExecutionEnvironment, j.ExecutionHistory = cr(j.Config), cr(j.ExecutionEnvironment), cr(j.ExecutionHistory)
	return j
}

// FillSecrets returns copies of jobs with canary embedded in every field the
// README lists as secret (webhook_secret, webhook_url, prompt_template,
// system_prompt, config, execution_environment), for leak tests.
func FillSecrets(jobs []Job, canary string) []Job {
	out := make([]Job, len(jobs))
	q := string(appendString(nil, canary))
	for i, j := range jobs {
		j = j.clone()
		j.WebhookSecret = Ptr("whsec_" + canary)
		j.WebhookURL = Ptr("https://control-plane.kubiya.ai/api/v1/webhooks/" + canary)
		j.PromptTemplate = "Summarise {{topic}} " + canary
		j.SystemPrompt = Ptr("You are careful. " + canary)
		j.Config = json.RawMessage(`{"api_token":` + q + `,"nested":{"password":` + q + `}}`)
		j.ExecutionEnvironment = json.RawMessage(`{"env_vars":{"DB_PASSWORD":` + q + `},"secrets":[` + q +
			`],"integration_ids":[],"mcp_servers":{"internal":{"transport":"http","url":"https://mcp.internal.example/sse","headers":{"Authorization":` +
			string(appendString(nil, "Bearer "+canary)) + `}}}}`)
		out[i] = j
	}
	return out
}
