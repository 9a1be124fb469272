package kubiya

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
)

// ExecutionStatuses lists the execution statuses the API documents, in its
// order. Others may appear; they are data.
var ExecutionStatuses = []string{"pending", "running", "waiting_for_input", "completed", "failed", "cancelled"}

// Executions is one page of a job's executions, newest first (likely; the
// caller should not rely on the order).
type Executions struct {
	JobID      string
	TotalCount int64
	Executions []Execution
}

// Execution is one execution record.
//
// trigger_metadata is deliberately not decoded (it may echo anything a
// webhook sent). ErrorMessage may hold secrets a run printed: never put it
// in a label or an error, and log it only at debug level, truncated.
type Execution struct {
	ID           string   `json:"execution_id"`
	TriggerType  string   `json:"trigger_type"`
	Status       string   `json:"status"`
	StartedAt    Time     `json:"started_at"`
	CompletedAt  Time     `json:"completed_at"`
	DurationMS   *float64 `json:"duration_ms"` // nil when null or absent
	ErrorMessage string   `json:"error_message"`
}

// ListExecutions fetches up to limit of the newest executions of a job
// (GET /api/v1/jobs/{id}/executions?limit=N&offset=0), with the same
// escaping, retries, body cap and outcome reporting as GetJob.
func (c *Client) ListExecutions(ctx context.Context, jobID string, limit int) (*Executions, error) {
	u := c.jobURL(jobID, "/executions")
	u.RawQuery = url.Values{"limit": {strconv.Itoa(limit)}, "offset": {"0"}}.Encode()
	return get(ctx, c, EndpointExecutions, u, c.opts.MaxBodyBytes, whole(DecodeExecutions))
}

// DecodeExecutions decodes an executions answer. Nulls, missing optional
// fields, unknown fields and null list elements are accepted; an answer
// without an "executions" key, wrong types, bad timestamps and truncation
// are errors. Error texts never quote a value from the body.
func DecodeExecutions(body []byte) (*Executions, error) {
	var raw struct {
		JobID      string          `json:"job_id"`
		TotalCount int64           `json:"total_count"`
		Executions json.RawMessage `json:"executions"`
	}
	if err := decodeObject(body, &raw); err != nil {
		return nil, err
	}
	if raw.Executions == nil {
		// Some other JSON object (a proxy's, another endpoint's): not an
		// empty list.
		return nil, errors.New("not an executions answer: no executions key")
	}
	var list []*Execution
	if err := json.Unmarshal(raw.Executions, &list); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			if typeErr.Type != nil && typeErr.Type.Kind() == reflect.Slice {
				return nil, fmt.Errorf("field \"executions\": want an array, got JSON %s", typeErr.Value)
			}
			return nil, fmt.Errorf("executions: element: want an object, got JSON %s", typeErr.Value)
		}
		return nil, fmt.Errorf("executions: %w", describeJSONError(err, len(raw.Executions)))
	}
	out := &Executions{JobID: raw.JobID, TotalCount: raw.TotalCount, Executions: make([]Execution, 0, len(list))}
	for _, e := range list {
		if e != nil {
			out.Executions = append(out.Executions, *e)
		}
	}
	return out, nil
}
