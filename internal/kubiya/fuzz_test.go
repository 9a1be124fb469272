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
			checkErrText(t, err, body)
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

// checkErrText fails t if a decode error is long, not UTF-8, or quotes body.
func checkErrText(t *testing.T, err error, body []byte) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxDecodeErrLen || !utf8.ValidString(msg) {
		t.Fatalf("error text of %d bytes (valid UTF-8 %v): %.300q", len(msg), utf8.ValidString(msg), msg)
	}
	// A long body must not reappear in the error; a short one (a padded
	// "JSON") may match its words by chance.
	if trimmed := bytes.TrimSpace(body); len(trimmed) >= 16 && bytes.Contains([]byte(msg), trimmed) {
		t.Fatalf("error quotes the body: %q", msg)
	}
}

// FuzzDecodeJobList feeds arbitrary bodies to the list decoder and checks
// checkList's invariants. `make fuzz` runs it for FUZZTIME.
func FuzzDecodeJobList(f *testing.F) {
	for _, body := range listSeeds() {
		f.Add([]byte(body))
	}
	f.Add(simulatorList(f, 3))
	f.Fuzz(checkList)
}

// checkList fails t unless decodeJobList's answer for body is consistent:
// a body that is one JSON array decodes, anything else fails whole; each
// element is either a job, exactly as DecodeJob decodes it alone, or
// skipped where DecodeJob refuses it, in order, so there are never more
// results than elements; errors never quote the body.
func checkList(t *testing.T, body []byte) {
	list, err := decodeJobList(bytes.NewReader(body))
	start := bytes.TrimLeft(body, " \t\r\n")
	isArray := len(start) > 0 && start[0] == '[' && json.Valid(body)
	// encoding/json limits nesting to 10,000 levels: the whole body's in
	// json.Valid and Unmarshal, one element's in the stream decoder.
	deep := bytes.Count(body, []byte("["))+bytes.Count(body, []byte("{")) >= 10000
	if err != nil {
		checkErrText(t, err, body)
		if isArray && !deep {
			t.Fatalf("body %.200q is a JSON array, but the list failed: %v", body, err)
		}
		return
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		if deep {
			return
		}
		t.Fatalf("body %.200q decoded as a list of %d jobs, %d skipped, but is no JSON array: %v", body, len(list.Jobs), len(list.Skipped), err)
	}
	if n := len(list.Jobs) + len(list.Skipped); n != len(elems) {
		t.Fatalf("body %.200q: %d jobs + %d skipped for %d elements", body, len(list.Jobs), len(list.Skipped), len(elems))
	}
	jobs, skipped := list.Jobs, list.Skipped
	for i, raw := range elems {
		alone, aloneErr := DecodeJob(raw)
		if len(skipped) > 0 && skipped[0].Index == i {
			if aloneErr == nil || skipped[0].Err == nil {
				t.Fatalf("element %d %.200q skipped (%v), but decodes alone: %v", i, raw, skipped[0].Err, aloneErr)
			}
			checkErrText(t, skipped[0].Err, raw)
			skipped = skipped[1:]
			continue
		}
		if aloneErr != nil || *alone != *jobs[0] {
			t.Fatalf("element %d %.200q: listed as %+v, alone %+v, %v", i, raw, *jobs[0], alone, aloneErr)
		}
		jobs = jobs[1:]
	}
}

// listSeeds: the API's shapes and the ways a list can be odd or broken.
func listSeeds() []string {
	return []string{
		``, `[]`, ` [ ] `, `[`, `]`, `{}`, `"x"`, `1`, `1e999`, `[]1e999`, `null`, `true`, `[] []`, `[]x`, `[],`, `[1,]`, `[1 2]`,
		`[` + validJob + `]`,
		`[null, 1, "s", true, [], {}, {"id":""}, {"id":null}]`,
		`[{"id":"a","ID":"b"}]`, `[{"Id":"a"}]`, `[{"id":"a","Name":"n"}]`, `[{"id":"a","ſtatus":"x"}]`,
		`[{"id":"a","name":"x\u00e9\n"}]`, `[{"id":"a","name":"` + "\xff\xfe" + `"}]`, `[{"id":"a\ud800"}]`,
		`[{"id":"a","name":1},{"id":"b"}]`, `[{"name":1,"id":"a"}]`, `[{"id":"a","total_executions":1.5}]`,
		`[{"id":"a","total_executions":"1"}]`, `[{"id":"a","total_executions":1e2}]`, `[{"id":"a","total_executions":-0}]`,
		`[{"id":"a","total_executions":99999999999999999999}]`, `[{"id":"a","enabled":1}]`, `[{"id":"a","enabled":null}]`,
		`[{"id":"a","created_at":"yesterday","name":"n"}]`, `[{"name":"n","created_at":5,"id":"a"}]`,
		`[{"id":"a","created_at":{"x":1}}]`, `[{"id":"a","created_at":"2025-10-01T09:12:44\u005a"}]`,
		`[{"id":"a","created_at":"2025-11-21 17:00:00"},{"id":"b","next_execution_at":null}]`,
		`[{"id":"a","config":{"k":["v",{"x":"}\"]"}],"n":null},"prompt_template":"a \"b\" \\"}]`,
		`[{"id":"a","id":"b","enabled":true,"enabled":false}]`,
		`[ { "id" : "a" , "name" : "n" } , { "id" : "b" } ]`,
		`[{"id":"a"}` + strings.Repeat(" ", 3) + `]` + "\n",
		`[{"id":"a","name":"n"`, `[{"id":"a"},`, `[{"id":"a"}`, `[{"id":"a",}]`, `[{"id" "a"}]`,
	}
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
