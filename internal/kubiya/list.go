package kubiya

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// DefaultMaxListBodyBytes caps a list response. The list has no pagination,
// so its size grows with the organization: a JobResponse is 1–3 KiB, so
// 256 MiB is room for roughly 100,000 jobs with large prompts. The body is
// decoded as a stream, one element at a time, so the cap bounds bytes read
// (and time spent), not memory held: memory grows with the number of jobs
// kept, not with the size of the body.
const DefaultMaxListBodyBytes = 256 << 20

// ListFilter is what GET /api/v1/jobs can filter on server-side. The zero
// value lists every job of the organization.
type ListFilter struct {
	Enabled     *bool  // ?enabled=true|false; nil: both
	TriggerType string // ?trigger_type=cron|webhook|manual; "": all
}

// JobList is one list answer.
type JobList struct {
	// Jobs that decoded, in the API's order (newest first).
	Jobs []*Job
	// Skipped are elements that were well-formed JSON but not a valid job
	// (wrong field types, an unparsable timestamp, no id, not an object).
	// One bad element does not fail the list: the other jobs of the
	// organization are still good data, and the caller reports the bad one
	// (kubiya_job_up 0 when its ID is known).
	Skipped []SkippedJob
}

// SkippedJob is a list element that did not decode. Err, like every error
// of this package, holds no value from the body.
type SkippedJob struct {
	Index int    // position in the array
	ID    string // the element's id when it could be read before the error, else ""
	Err   error
}

// ListJobs fetches every job of the organization that matches f with one
// GET /api/v1/jobs request, retried like GetJob. A body that is not a JSON
// array, is truncated, has a syntax error or exceeds the cap fails the whole
// list with ClassBadResponse: the exporter cannot tell which jobs are
// missing then.
func (c *Client) ListJobs(ctx context.Context, f ListFilter) (*JobList, error) {
	return get(ctx, c, EndpointListJobs, c.listURL(f), c.opts.MaxListBodyBytes, decodeJobList)
}

func (c *Client) listURL(f ListFilter) *url.URL {
	u := c.jobsURL("", "")
	q := url.Values{}
	if f.Enabled != nil {
		q.Set("enabled", strconv.FormatBool(*f.Enabled))
	}
	if f.TriggerType != "" {
		q.Set("trigger_type", f.TriggerType)
	}
	u.RawQuery = q.Encode()
	return u
}

// decodeJobList reads a bare JSON array of JobResponse element by element,
// so no more than one element is ever buffered (plus the decoder's read
// buffer), whatever the size of the organization.
func decodeJobList(r io.Reader) (*JobList, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, listSyntaxError(err, dec)
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("not a JSON array (starts with %s)", tokenKind(tok))
	}
	list := &JobList{}
	for i := 0; dec.More(); i++ {
		j := new(Job)
		err := dec.Decode(j)
		var typeErr *json.UnmarshalTypeError
		var timeErr *TimeError
		switch {
		case err == nil && j.ID != "":
			list.Jobs = append(list.Jobs, j)
		case err == nil:
			list.Skipped = append(list.Skipped, SkippedJob{Index: i, Err: errNotAJob})
		case errors.As(err, &typeErr) || errors.As(err, &timeErr):
			// A wrong type or an unparsable timestamp: the decoder read the
			// whole element before decoding it, so the next one starts
			// cleanly. The API writes id first, so the ID is usually known.
			list.Skipped = append(list.Skipped, SkippedJob{Index: i, ID: j.ID, Err: describeJSONError(err, 0)})
		default:
			// Syntax, truncation or a read error: the stream itself is
			// broken and nothing after this point can be trusted, so the
			// whole list fails.
			return nil, fmt.Errorf("element %d: %w", i, listSyntaxError(err, dec))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, listSyntaxError(err, dec)
	}
	// Anything after the array but whitespace is a broken answer.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("data after the JSON array")
		}
		return nil, listSyntaxError(err, dec)
	}
	return list, nil
}

// listSyntaxError describes a list that cannot be read on, by position,
// never by content.
func listSyntaxError(err error, dec *json.Decoder) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON near byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		// Token reads a number as a float64; its error would quote one
		// out of range, where the array or its end should be.
		return errors.New("not a JSON array: a number")
	default:
		// A read error; Client.once classifies it.
		return fmt.Errorf("reading the body near byte %d: %w", dec.InputOffset(), err)
	}
}

// tokenKind names a JSON token's kind, never its value.
func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "'" + v.String() + "'"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}
