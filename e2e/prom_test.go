package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// promClient is the few Prometheus HTTP API calls the test needs (the
// client_golang API package would pull in json-iterator for this).
type promClient struct{ base string }

type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// get calls a Prometheus API endpoint and returns data when status is
// "success"; any other status is an error naming the API's error.
func (c promClient) get(ctx context.Context, path string, q url.Values) (json.RawMessage, []string, error) {
	code, body, err := httpDo(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus %s: %w", path, err)
	}
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, fmt.Errorf("prometheus %s: HTTP %d, undecodable body %.200q: %w", path, code, body, err)
	}
	if r.Status != "success" {
		return nil, r.Warnings, fmt.Errorf("prometheus %s: status %q, %s: %s", path, r.Status, r.ErrorType, r.Error)
	}
	return r.Data, r.Warnings, nil
}

// result is a query result: Vector for instant queries (a scalar becomes a
// one-sample vector without labels), Matrix for range queries.
type result struct {
	Type     string
	Vector   model.Vector
	Matrix   model.Matrix
	Warnings []string
}

// Len is the number of series.
func (r result) Len() int {
	if r.Type == "matrix" {
		return len(r.Matrix)
	}
	return len(r.Vector)
}

func decodeResult(data json.RawMessage, warnings []string) (result, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return result{}, fmt.Errorf("decode query data: %w", err)
	}
	r := result{Type: d.ResultType, Warnings: warnings}
	var err error
	switch d.ResultType {
	case "vector":
		err = json.Unmarshal(d.Result, &r.Vector)
	case "matrix":
		err = json.Unmarshal(d.Result, &r.Matrix)
	case "scalar":
		var s model.Scalar
		if err = json.Unmarshal(d.Result, &s); err == nil {
			r.Vector = model.Vector{{Metric: model.Metric{}, Value: s.Value, Timestamp: s.Timestamp}}
		}
	default:
		err = fmt.Errorf("unexpected result type %q", d.ResultType)
	}
	if err != nil {
		return result{}, fmt.Errorf("decode %s result: %w", d.ResultType, err)
	}
	return r, nil
}

func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// Query runs an instant query at now.
func (c promClient) Query(ctx context.Context, expr string) (result, error) {
	data, w, err := c.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {promTime(time.Now())}})
	if err != nil {
		return result{}, err
	}
	return decodeResult(data, w)
}

// QueryRange runs a range query over [end-rng, end].
func (c promClient) QueryRange(ctx context.Context, expr string, end time.Time, rng, step time.Duration) (result, error) {
	data, w, err := c.get(ctx, "/api/v1/query_range", url.Values{
		"query": {expr}, "start": {promTime(end.Add(-rng))}, "end": {promTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	})
	if err != nil {
		return result{}, err
	}
	return decodeResult(data, w)
}

// LabelValues is /api/v1/label/<label>/values?match[]=<selector>, as
// Grafana resolves label_values(selector, label) variables.
func (c promClient) LabelValues(ctx context.Context, label, selector string, from, to time.Time) ([]string, error) {
	q := url.Values{"start": {promTime(from)}, "end": {promTime(to)}}
	if selector != "" {
		q.Set("match[]", selector)
	}
	data, _, err := c.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", q)
	if err != nil {
		return nil, err
	}
	var vs []string
	if err := json.Unmarshal(data, &vs); err != nil {
		return nil, fmt.Errorf("decode label values: %w", err)
	}
	return vs, nil
}

// promAlert is one entry of /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending, firing
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts returns the pending and firing alerts.
func (c promClient) Alerts(ctx context.Context) ([]promAlert, error) {
	data, _, err := c.get(ctx, "/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	var d struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode alerts: %w", err)
	}
	return d.Alerts, nil
}

// target is one entry of /api/v1/targets' activeTargets.
type target struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	ScrapeURL string            `json:"scrapeUrl"`
}

// Targets returns the active targets.
func (c promClient) Targets(ctx context.Context) ([]target, error) {
	data, _, err := c.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}})
	if err != nil {
		return nil, err
	}
	var d struct {
		Active []target `json:"activeTargets"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode targets: %w", err)
	}
	return d.Active, nil
}

// RuleCount is the number of rules Prometheus has loaded.
func (c promClient) RuleCount(ctx context.Context) (int, error) {
	data, _, err := c.get(ctx, "/api/v1/rules", nil)
	if err != nil {
		return 0, err
	}
	var d struct {
		Groups []struct {
			Rules []json.RawMessage `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("decode rules: %w", err)
	}
	n := 0
	for _, g := range d.Groups {
		n += len(g.Rules)
	}
	return n, nil
}
