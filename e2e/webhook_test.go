package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// notifiedAlert is one alert of one Alertmanager webhook notification.
type notifiedAlert struct {
	Path        string // the receiver's URL path, e.g. /pager/kubiya
	Receiver    string // the receiver's name from the payload
	Status      string // firing or resolved
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	Received    time.Time
}

func (a notifiedAlert) String() string {
	return fmt.Sprintf("%s %s %s{severity=%q, job_id=%q, job_name=%q} via %s", a.Received.Format("15:04:05"),
		a.Status, a.Labels["alertname"], a.Labels["severity"], a.Labels["job_id"], a.Labels["job_name"], a.Path)
}

// webhook is the receiver the Alertmanager copy posts to.
type webhook struct {
	srv *httptest.Server

	mu     sync.Mutex
	alerts []notifiedAlert
	errs   []string
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- webhook notifications -----\n%s", w.dump())
		}
	})
	return w
}

// serve decodes the Alertmanager webhook payload (version 4).
func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var p struct {
		Version  string `json:"version"`
		Receiver string `json:"receiver"`
		Alerts   []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
		} `json:"alerts"`
	}
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || r.Method != http.MethodPost {
		w.errs = append(w.errs, fmt.Sprintf("%s %s: %v: %.300s", r.Method, r.URL.Path, err, body))
		http.Error(rw, "bad payload", http.StatusBadRequest)
		return
	}
	for _, a := range p.Alerts {
		w.alerts = append(w.alerts, notifiedAlert{Path: r.URL.Path, Receiver: p.Receiver, Status: a.Status,
			Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, Received: now})
	}
	rw.WriteHeader(http.StatusOK)
}

// Alerts returns every alert notified so far.
func (w *webhook) Alerts() []notifiedAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notifiedAlert(nil), w.alerts...)
}

// Errors returns the requests the webhook could not decode.
func (w *webhook) Errors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.errs...)
}

// Find returns the first notified alert with the given status whose labels
// include every label of match.
func (w *webhook) Find(status string, match map[string]string) (notifiedAlert, bool) {
	for _, a := range w.Alerts() {
		if a.Status == status && hasLabels(a.Labels, match) {
			return a, true
		}
	}
	return notifiedAlert{}, false
}

func (w *webhook) dump() string {
	var lines []string
	for _, a := range w.Alerts() {
		lines = append(lines, a.String())
	}
	sort.Strings(lines)
	lines = append(lines, w.Errors()...)
	if len(lines) == 0 {
		return "(none)"
	}
	return strings.Join(lines, "\n")
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if labels[k] != v {
			return false
		}
	}
	return true
}
