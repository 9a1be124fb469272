package kubiya

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// maxDecodeErrLen bounds a decode error's text: errors describe the shape
// of what was wrong, never quote the body.
const maxDecodeErrLen = 200

// FuzzDecodeJob feeds arbitrary bodies to the job decoder. Seeds live in
// testdata/fuzz/FuzzDecodeJob; `make fuzz` runs it for FUZZTIME.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(validJob))
	f.Add([]byte(`{"id":"job_1","last_execution_at":"2025-11-21T22:30:00+05:30","next_execution_at":null}`))
	f.Add([]byte(`{"id":"job_1","total_executions":1e999}`))
	f.Add([]byte(`[{"id":"job_1"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := DecodeJob(body)
		if err != nil {
			if j != nil {
				t.Fatalf("DecodeJob returned a job and an error %v", err)
			}
			msg := err.Error()
			if len(msg) > maxDecodeErrLen || !utf8.ValidString(msg) {
				t.Fatalf("error text of %d bytes (valid UTF-8 %v): %.300q", len(msg), utf8.ValidString(msg), msg)
			}
			// A long body must not reappear in the error; a short one (a
			// padded "JSON") may match its words by chance.
			if trimmed := bytes.TrimSpace(body); len(trimmed) >= 16 && bytes.Contains([]byte(msg), trimmed) {
				t.Fatalf("error quotes the body: %q", msg)
			}
			return
		}
		if j == nil || j.ID == "" {
			t.Fatalf("decoded a job without an id: %+v", j)
		}
		for name, ts := range map[string]Time{"last_execution_at": j.LastExecutionAt, "next_execution_at": j.NextExecutionAt,
			"last_triggered_at": j.LastTriggeredAt, "created_at": j.CreatedAt, "updated_at": j.UpdatedAt} {
			if !ts.IsZero() && ts.Location() != time.UTC {
				t.Fatalf("%s in %v, want UTC", name, ts.Location())
			}
		}
		// Decoding is a pure function of the body.
		j2, err := DecodeJob(body)
		if err != nil || *j2 != *j {
			t.Fatalf("second decode differs: %+v, %v", j2, err)
		}
	})
}

// FuzzParseTime feeds arbitrary strings to the timestamp parser, directly
// and as a JSON string.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "2025-11-20T10:15:30.123456Z", "2025-11-21T22:30:00+05:30", "2025-11-21T17:00:00",
		"2025-11-21 17:00:00", "0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTime(s)
		var timeErr *TimeError
		switch {
		case err != nil && (!errors.As(err, &timeErr) || timeErr.Len != len(s)):
			t.Fatalf("ParseTime(%q) error %v is not a TimeError naming the length", s, err)
		case err != nil:
		case s == "" && !ts.IsZero():
			t.Fatalf("ParseTime(\"\") = %v, want the zero time", ts)
		case ts.Location() != time.UTC:
			t.Fatalf("ParseTime(%q) in %v, want UTC", s, ts.Location())
		case ts.Year() >= 0 && ts.Year() <= 9999:
			// What the exporter parsed, it can parse again in the API's own form.
			back, err := ParseTime(ts.Format(time.RFC3339Nano))
			if err != nil || !back.Equal(ts) {
				t.Fatalf("ParseTime(%q) = %v, which does not round-trip: %v, %v", s, ts, back, err)
			}
		}

		// As a JSON value, the same string parses the same way.
		quoted, _ := json.Marshal(s)
		var jt Time
		jerr := json.Unmarshal(quoted, &jt)
		if (jerr == nil) != (err == nil) || (err == nil && !jt.Equal(ts)) {
			t.Fatalf("ParseTime(%q) = %v, %v but UnmarshalJSON(%s) = %v, %v", s, ts, err, quoted, jt.Time, jerr)
		}
	})
}

// TestDecodeJobEdgeCases pins what fuzzing found: a number too large for
// its field made an error text as long as the number, and a timestamp with
// a JSON escape in it was refused.
func TestDecodeJobEdgeCases(t *testing.T) {
	huge := `{"id":"job_1","total_executions":1` + strings.Repeat("0", 1<<20) + `}`
	tests := []struct {
		name, body string
		wantErr    string // "" = decodes
		check      func(*Job) bool
	}{
		{"huge number", huge, `field "total_executions": want int64, got JSON number`, nil},
		{"escaped timestamp", `{"id":"job_1","created_at":"2025-10-01T09:12:44\u005a"}`, "",
			func(j *Job) bool { return j.CreatedAt.Equal(time.Date(2025, 10, 1, 9, 12, 44, 0, time.UTC)) }},
		{"bad escape in timestamp", `{"id":"job_1","created_at":"2025\x"}`, "invalid JSON", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := DecodeJob([]byte(tt.body))
			switch {
			case tt.wantErr == "" && (err != nil || !tt.check(j)):
				t.Fatalf("DecodeJob = %+v, %v", j, err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || len(err.Error()) > maxDecodeErrLen):
				t.Fatalf("err = %.300v, want %q", err, tt.wantErr)
			}
		})
	}
}
