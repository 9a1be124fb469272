package collector

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/kubiya/kubiya_exporter/internal/kubiya"
)

func TestFailureLog(t *testing.T) {
	network := &kubiya.Error{Class: kubiya.ClassNetwork, Err: errors.New("connection refused")}
	creds := &kubiya.Error{Class: kubiya.ClassCredentials, Err: errors.New("open /etc/kubiya_exporter/api-key: permission denied")}
	notFound := &kubiya.Error{Class: kubiya.ClassNotFound, StatusCode: 404}
	tests := []struct {
		name  string
		adds  map[error]int // error -> how many jobs fail with it
		lines []string      // each must be one line of the log, in order
	}{
		{"a handful: a line each", map[error]int{network: handfulOfJobs}, []string{
			`msg="fetching job failed" job_id=job_0 class=network`, "job_id=job_1 ", "job_id=job_2 ", "job_id=job_3 ", "job_id=job_4 "}},
		{"above a handful: one line", map[error]int{network: 40}, []string{
			`msg="fetching jobs failed" class=network jobs=40 job_ids=job_0,job_1,job_2,… err="network: connection refused"`}},
		{"by class", map[error]int{network: 6, notFound: 1}, []string{
			`class=network jobs=6`, `job_id=job_0 class=not_found`}},
		{"an unreadable key: one line even for one job", map[error]int{creds: 1}, []string{
			`msg="cannot read the API key; no API request was sent" class=credentials jobs=1 job_ids=job_0 err="credentials: open /etc/kubiya_exporter/api-key: permission denied"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			f := newFailureLog(log.NewLogfmtLogger(&buf))
			for err, n := range tt.adds {
				for i := range n {
					f.add(fmt.Sprintf("job_%d", i), err)
				}
			}
			if buf.Len() != 0 {
				t.Fatalf("logged before flush: %s", buf.String())
			}
			f.flush()
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(got) != len(tt.lines) {
				t.Fatalf("%d lines, want %d:\n%s", len(got), len(tt.lines), buf.String())
			}
			for i, want := range tt.lines {
				if !strings.Contains(got[i]+" ", want) {
					t.Errorf("line %d = %s\nwant it to contain %s", i, got[i], want)
				}
			}
		})
	}
	// A shared request that ends after its scrape flushed is logged at once.
	var buf bytes.Buffer
	f := newFailureLog(log.NewLogfmtLogger(&buf))
	f.flush()
	f.add("job_late", network)
	if !strings.Contains(buf.String(), "job_id=job_late class=network") {
		t.Errorf("late failure: %q", buf.String())
	}
}
