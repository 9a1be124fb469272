package simulator

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// faultSpec is the admin API's JSON form of a Fault.
type faultSpec struct {
	JobID                 string `json:"job_id"`
	Status                int    `json:"status"`
	Body                  string `json:"body"`
	HTML                  bool   `json:"html"` // body := the gateway HTML page for status
	ContentType           string `json:"content_type"`
	RetryAfter            string `json:"retry_after"`
	Latency               string `json:"latency"`
	Hang                  bool   `json:"hang"`
	Truncate              bool   `json:"truncate"`
	TrickleBytesPerSecond int    `json:"trickle_bytes_per_second"`
	ResetMidBody          bool   `json:"reset_mid_body"`
	Oversize              int64  `json:"oversize"`
}

func (fs faultSpec) fault() (Fault, error) {
	f := Fault{
		Status: fs.Status, Body: fs.Body, ContentType: fs.ContentType, RetryAfter: fs.RetryAfter,
		Hang: fs.Hang, Truncate: fs.Truncate, TrickleBytesPerSecond: fs.TrickleBytesPerSecond,
		ResetMidBody: fs.ResetMidBody, Oversize: fs.Oversize,
	}
	if fs.Latency != "" {
		d, err := time.ParseDuration(fs.Latency)
		if err != nil {
			return f, err
		}
		f.Latency = d
	}
	if fs.HTML {
		if fs.Status == 0 {
			return f, errors.New("html needs a status")
		}
		f.Body, f.ContentType = HTMLErrorBody(fs.Status), cmp.Or(f.ContentType, "text/html")
	}
	return f, nil
}

// admin serves /_simulator/<rest>; see the package documentation.
func (s *Server) admin(w http.ResponseWriter, r *http.Request, rest string) {
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		segs[i] = u
	}
	q := r.URL.Query()
	route := r.Method + " " + segs[0]
	if segs[0] == "jobs" && len(segs) == 3 {
		route = r.Method + " jobs/{id}/" + segs[2]
	} else if segs[0] == "jobs" && len(segs) == 2 {
		route = r.Method + " jobs/{id}"
	} else if len(segs) != 1 {
		route = ""
	}
	var err error
	switch route {
	case "GET stats":
		adminJSON(w, map[string]any{"requests": s.Requests(), "job_requests": s.AllJobRequests(), "now": FormatTime(s.clock())})
		return
	case "POST reset-counters", "DELETE stats":
		s.ResetCounters()
	case "GET jobs":
		adminJSON(w, s.JobIDs())
		return
	case "POST jobs":
		var j Job
		if err = json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&j); err == nil {
			s.UpsertJob(j)
		}
	case "GET jobs/{id}":
		j, ok := s.Job(segs[1])
		if !ok {
			adminError(w, http.StatusNotFound, ErrNoJob(segs[1]))
			return
		}
		adminJSON(w, j)
		return
	case "DELETE jobs/{id}":
		err = s.DeleteJob(segs[1])
	case "POST jobs/{id}/failing":
		err = boolParam(q, func(v bool) error { return s.SetJobFailing(segs[1], v) })
	case "POST jobs/{id}/stop":
		err = s.SetStopped(segs[1], true)
	case "POST jobs/{id}/resume":
		err = s.SetStopped(segs[1], false)
	case "POST jobs/{id}/enabled":
		err = boolParam(q, func(v bool) error { return s.SetEnabled(segs[1], v) })
	case "POST jobs/{id}/status":
		err = s.SetStatus(segs[1], q.Get("value"))
	case "POST jobs/{id}/recreate":
		err = s.RecreateJob(segs[1])
	case "POST jobs/{id}/trigger":
		var id string
		if id, err = s.TriggerJob(segs[1]); err == nil {
			adminJSON(w, map[string]string{"execution_id": id})
			return
		}
	case "POST faults":
		var fs faultSpec
		if err = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&fs); err == nil {
			var f Fault
			if f, err = fs.fault(); err == nil {
				if fs.JobID == "" {
					s.SetGlobalFault(f)
				} else {
					s.SetFault(fs.JobID, f)
				}
			}
		}
	case "DELETE faults":
		if id, ok := q["job_id"]; ok {
			for _, v := range id {
				if v == "" {
					s.ClearGlobalFault()
				} else {
					s.ClearFault(v)
				}
			}
		} else {
			s.ClearFaults()
		}
	case "POST reject-key":
		err = boolParam(q, func(v bool) error { s.RejectKey(v); return nil })
	case "POST api-key":
		var b []byte
		if b, err = io.ReadAll(io.LimitReader(r.Body, 4096)); err == nil {
			s.SetAPIKey(strings.TrimSpace(string(b)))
		}
	case "POST latency":
		var d time.Duration
		if d, err = time.ParseDuration(q.Get("value")); err == nil {
			s.SetLatency(d)
		}
	case "POST advance":
		var d time.Duration
		if d, err = time.ParseDuration(q.Get("by")); err == nil {
			s.Advance(d)
		}
	default:
		adminError(w, http.StatusNotFound, errors.New("unknown admin endpoint "+r.Method+" /_simulator/"+rest))
		return
	}
	switch {
	case errors.As(err, new(ErrNoJob)):
		adminError(w, http.StatusNotFound, err)
	case err != nil:
		adminError(w, http.StatusBadRequest, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func boolParam(q url.Values, set func(bool) error) error {
	v := q.Get("value")
	if v == "" {
		v = "true"
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	return set(b)
}

func adminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(mustJSON(v), '\n'))
}

func adminError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(mustJSON(map[string]string{"error": err.Error()}), '\n'))
}
