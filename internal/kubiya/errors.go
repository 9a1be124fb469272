package kubiya

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"
)

// Class says what kind of failure an API request had. The values are stable:
// they are the `code` label of kubiya_exporter_api_requests_total and the
// `class` key of log lines.
type Class string

// The outcome classes of an API request.
const (
	ClassOK             Class = "ok"
	ClassNotFound       Class = "not_found"
	ClassUnauthorized   Class = "unauthorized"
	ClassInvalidRequest Class = "invalid_request"
	ClassRateLimited    Class = "rate_limited"
	ClassServerError    Class = "server_error"
	ClassTimeout        Class = "timeout"
	ClassNetwork        Class = "network"
	ClassBadResponse    Class = "bad_response"
	// ClassCredentials: a file the HTTP client reads on each request (the
	// key's credentials_file, a TLS file) could not be read; nothing was sent.
	ClassCredentials Class = "credentials"
)

// Classes lists every class, for pre-initialising metrics.
var Classes = []Class{
	ClassOK, ClassNotFound, ClassUnauthorized, ClassInvalidRequest, ClassRateLimited,
	ClassServerError, ClassTimeout, ClassNetwork, ClassBadResponse, ClassCredentials,
}

// Error is a failed API request. Its text never holds the API key, a
// response body or a secret field: only the class, the HTTP status and a
// short description of what was wrong.
type Error struct {
	Class      Class
	StatusCode int           // 0 when no HTTP answer was received
	RetryAfter time.Duration // from a 429/503 Retry-After header, 0 if none
	Err        error         // the cause, already free of secrets
}

func (e *Error) Error() string {
	s := string(e.Class)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of an error returned by the client; ClassOK for nil.
func ClassOf(err error) Class {
	if err == nil {
		return ClassOK
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Class
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassTimeout
	}
	return ClassNetwork
}

// classifyStatus maps a non-2xx HTTP status to its class.
func classifyStatus(code int) Class {
	switch {
	case code == http.StatusNotFound:
		return ClassNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return ClassUnauthorized
	case code == http.StatusUnprocessableEntity || code == http.StatusBadRequest:
		return ClassInvalidRequest
	case code == http.StatusTooManyRequests:
		return ClassRateLimited
	case code >= 500:
		return ClassServerError
	default:
		return ClassBadResponse
	}
}

// classifyTransport classifies an error from http.Client.Do or a body read.
// The error text of url.Error includes the request URL, which holds the job
// ID but never the key (the key travels in a header), so it is kept.
func classifyTransport(ctx context.Context, err error) *Error {
	var netErr net.Error
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr):
		// prometheus/common reads credentials_file (and TLS files) on each
		// request; a failed read comes back from the round tripper.
		return &Error{Class: ClassCredentials, Err: err}
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return &Error{Class: ClassTimeout, Err: errors.New("deadline exceeded")}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &Error{Class: ClassTimeout, Err: err}
	default:
		return &Error{Class: ClassNetwork, Err: err}
	}
}
