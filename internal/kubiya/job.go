package kubiya

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Job is the part of the API's JobResponse the exporter uses.
//
// Fields the API notes list as secrets (webhook_url, webhook_secret,
// prompt_template, system_prompt, config, execution_environment) are
// deliberately absent: what is never decoded can never leak into a label,
// a log line or an error.
type Job struct {
	ID               string `json:"id"`
	OrganizationID   string `json:"organization_id"`
	Name             string `json:"name"`
	Enabled          bool   `json:"enabled"`
	Status           string `json:"status"`
	TriggerType      string `json:"trigger_type"`
	CronSchedule     string `json:"cron_schedule"`
	CronTimezone     string `json:"cron_timezone"`
	PlanningMode     string `json:"planning_mode"`
	EntityType       string `json:"entity_type"`
	EntityID         string `json:"entity_id"`
	EntityName       string `json:"entity_name"`
	ExecutorType     string `json:"executor_type"`
	WorkerQueueName  string `json:"worker_queue_name"`
	EnvironmentName  string `json:"environment_name"`
	LastExecutionID  string `json:"last_execution_id"`
	LastExecutionAt  Time   `json:"last_execution_at"`
	NextExecutionAt  Time   `json:"next_execution_at"`
	LastTriggeredAt  Time   `json:"last_triggered_at"`
	CreatedAt        Time   `json:"created_at"`
	UpdatedAt        Time   `json:"updated_at"`
	TotalExecutions  int64  `json:"total_executions"`
	SuccessfulExecs  int64  `json:"successful_executions"`
	FailedExecutions int64  `json:"failed_executions"`
}

// errNotAJob marks a well-formed JSON document that is not a job.
var errNotAJob = errors.New("not a job: no id")

// DecodeJob decodes one JobResponse. Nulls, missing optional fields and
// unknown fields are accepted; wrong types, truncation and anything that is
// not a JSON object with an id are errors.
func DecodeJob(body []byte) (*Job, error) {
	var j Job
	if err := decodeObject(body, &j); err != nil {
		return nil, err
	}
	if j.ID == "" {
		return nil, errNotAJob
	}
	return &j, nil
}

// decodeObject decodes body, which must be one JSON object, into v.
func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errors.New("empty body")
	}
	if body[0] != '{' {
		return notAnObject(body[0])
	}
	if err := json.Unmarshal(body, v); err != nil {
		return describeJSONError(err, len(body))
	}
	return nil
}

// notAnObject names what a body that should be a JSON object looks like
// instead, by its first byte, without quoting any of it.
func notAnObject(first byte) error {
	kind := "not JSON"
	switch {
	case first == '[':
		kind = "a JSON array"
	case first == '"':
		kind = "a JSON string"
	case first == '-' || first >= '0' && first <= '9':
		kind = "a JSON number"
	case first == 't' || first == 'f':
		kind = "a JSON boolean"
	case first == 'n':
		kind = "JSON null"
	case first == '<':
		kind = "HTML or XML"
	}
	return fmt.Errorf("not a JSON object: %s", kind)
}

// describeJSONError keeps only the shape of a decode error: json's messages
// can quote the offending value, and a value may be a secret.
func describeJSONError(err error, bodyLen int) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *TimeError
	switch {
	case errors.As(err, &timeErr):
		return timeErr
	case errors.As(err, &typeErr):
		// Value is "number <literal>" for a number that does not fit: keep
		// only the kind, or a megabyte of digits would reach the log.
		kind, _, _ := strings.Cut(typeErr.Value, " ")
		return fmt.Errorf("field %q: want %s, got JSON %s", typeErr.Field, typeErr.Type, kind)
	case errors.As(err, &syntaxErr) && syntaxErr.Offset >= int64(bodyLen):
		return errors.New("truncated JSON")
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON at byte %d", syntaxErr.Offset)
	default:
		return errors.New("invalid JSON")
	}
}

// Time is an API timestamp; the zero value means null or absent.
type Time struct{ time.Time }

// TimeError reports a timestamp that does not parse. It names the value's
// length, not the value.
type TimeError struct{ Len int }

func (e *TimeError) Error() string {
	return fmt.Sprintf("unparsable timestamp (%d bytes)", e.Len)
}

// The server writes UTC with a Z and fractional seconds only when non-zero;
// Kubiya's own Go client also accepts offsets and naive (UTC) times.
var timeLayouts = []string{
	time.RFC3339Nano,                // 2025-11-20T10:15:30.123456Z, +05:30
	"2006-01-02T15:04:05.999999999", // naive: means UTC
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return &TimeError{Len: len(b)}
	}
	// The server's own form, RFC 3339, parses without copying b.
	if t.Time.UnmarshalText(b[1:len(b)-1]) == nil {
		t.Time = t.Time.UTC()
		return nil
	}
	s := string(b[1 : len(b)-1])
	// A JSON encoder may escape any character ("\u005a" for "Z"); only
	// then is the slower unquoting needed.
	if strings.IndexByte(s, '\\') >= 0 {
		if err := json.Unmarshal(b, &s); err != nil {
			return &TimeError{Len: len(b)}
		}
	}
	var err error
	t.Time, err = ParseTime(s)
	return err
}

// ParseTime parses an API timestamp in any of the accepted forms. An empty
// string is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC(), nil
		}
	}
	return time.Time{}, &TimeError{Len: len(s)}
}
