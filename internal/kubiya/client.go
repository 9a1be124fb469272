// Package kubiya is a client for the Kubiya control plane's jobs API. It
// knows HTTP and JSON; it knows nothing of Prometheus.
package kubiya

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint names one kind of API request, for metrics and logs.
type Endpoint string

// The API endpoints the exporter reads.
const (
	EndpointGetJob     Endpoint = "get_job"
	EndpointListJobs   Endpoint = "list_jobs"
	EndpointExecutions Endpoint = "executions"
)

// DefaultMaxBodyBytes caps a single-job response: a JobResponse is a few KiB,
// so 4 MiB leaves room for large prompts while bounding memory.
const DefaultMaxBodyBytes = 4 << 20

// Observer is told the outcome of every API request; the exporter counts them.
type Observer interface {
	ObserveRequest(endpoint Endpoint, class Class, duration time.Duration)
}

// Client reads jobs from the control plane. It is safe for concurrent use.
type Client struct {
	base *url.URL
	http *http.Client
	opts Options
}

// Options configure a Client; zero values take defaults.
type Options struct {
	UserAgent    string
	MaxBodyBytes int64
	// MaxListBodyBytes caps a list answer (ListJobs).
	MaxListBodyBytes int64
	Observer         Observer
}

// NewClient returns a client for the control plane at baseURL. Authentication
// is the job of httpClient's transport (prometheus/common/config).
func NewClient(baseURL string, httpClient *http.Client, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("control plane URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("control plane URL needs an http or https scheme and a host")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	u.RawQuery, u.Fragment = "", ""
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxListBodyBytes <= 0 {
		opts.MaxListBodyBytes = DefaultMaxListBodyBytes
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "kubiya_exporter"
	}
	return &Client{base: u, http: httpClient, opts: opts}, nil
}

// GetJob fetches one job by ID.
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	return get(ctx, c, EndpointGetJob, c.jobURL(id, ""), c.opts.MaxBodyBytes, whole(DecodeJob))
}

// jobURL builds {base}/api/v1/jobs/{id}[/suffix] with id as one escaped path
// segment, so no configured ID can reach another path ("../../health",
// "x/executions", "a?b=c"). Dots are escaped too: a bare "." or ".." segment
// would be resolved away by proxies.
func (c *Client) jobURL(id, suffix string) *url.URL {
	return c.jobsURL("/"+id+suffix, "/"+strings.ReplaceAll(url.PathEscape(id), ".", "%2E")+suffix)
}

// jobsURL is {base}/api/v1/jobs followed by path, escaped as rawPath.
func (c *Client) jobsURL(path, rawPath string) *url.URL {
	u := *c.base
	u.Path = c.base.Path + "/api/v1/jobs" + path
	u.RawPath = c.base.EscapedPath() + "/api/v1/jobs" + rawPath
	return &u
}

// Retries: one more attempt for 429, 502, 503 and 504 (a gateway's transient
// answers; a 500 is the application's own and would fail again), waiting
// Retry-After or retryDelay, and only when that wait still fits before the
// context's deadline. A scrape is never made late by a retry.
const (
	maxAttempts = 2
	retryDelay  = 200 * time.Millisecond
)

func retryable(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// get GETs u, retrying as above, and decodes the 2xx body with decode as a
// reader capped at limit bytes. A decode error is ClassBadResponse, and so
// is a body over the cap; a read error keeps the transport's class
// (timeout, network). The outcome of each attempt is observed once.
func get[T any](ctx context.Context, c *Client, endpoint Endpoint, u *url.URL, limit int64, decode func(io.Reader) (*T, error)) (*T, error) {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		v, err := once(ctx, c, u, limit, decode)
		if c.opts.Observer != nil {
			c.opts.Observer.ObserveRequest(endpoint, ClassOf(err), time.Since(start))
		}
		if err == nil {
			return v, nil
		}
		var apiErr *Error
		if attempt >= maxAttempts || !errors.As(err, &apiErr) || !retryable(apiErr.StatusCode) {
			return nil, err
		}
		delay := retryDelay
		if apiErr.RetryAfter > 0 {
			delay = apiErr.RetryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 2*delay {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
	}
}

// whole adapts a decoder of a whole body (a job, a page of executions: a
// few KiB) to get.
func whole[T any](decode func([]byte) (*T, error)) func(io.Reader) (*T, error) {
	return func(r io.Reader) (*T, error) {
		body, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return decode(body)
	}
}

// once is one attempt of get.
func once[T any](ctx context.Context, c *Client, u *url.URL, limit int64, decode func(io.Reader) (*T, error)) (*T, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Class: ClassNetwork, Err: err}
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classifyTransport(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused; never keep the body:
		// an error page may echo anything.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		return nil, &Error{
			Class:      classifyStatus(resp.StatusCode),
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	body := &readErrReader{r: http.MaxBytesReader(nil, resp.Body, limit)}
	v, err := decode(body)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return v, nil
	case errors.As(body.err, &tooLarge):
		return nil, &Error{Class: ClassBadResponse, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("body larger than the %d-byte cap", limit)}
	case body.err != nil:
		// The connection failed mid-body: the transport's class, not a
		// bad answer.
		e := classifyTransport(ctx, body.err)
		e.StatusCode = resp.StatusCode
		return nil, e
	default:
		return nil, &Error{Class: ClassBadResponse, StatusCode: resp.StatusCode, Err: err}
	}
}

// readErrReader remembers the first read error but io.EOF, so a cut body
// or one over the cap is told from bad JSON.
type readErrReader struct {
	r   io.Reader
	err error
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
