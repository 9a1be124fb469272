package kubiya

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// sameAsV1 fails t unless decodeJobList and the encoding/json reference
// agree on body: the same jobs, the same skipped elements with the same
// error texts, and the list failing on the same bodies.
func sameAsV1(t *testing.T, body []byte) {
	t.Helper()
	got, err := decodeJobList(bytes.NewReader(body))
	want, wantErr := decodeJobListV1(bytes.NewReader(body))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("body %.200q: err = %v, encoding/json's %v", body, err, wantErr)
	}
	if err != nil {
		if msg := err.Error(); len(msg) > maxDecodeErrLen || !utf8.ValidString(msg) {
			t.Fatalf("error text %.300q", msg)
		}
		return
	}
	if len(got.Jobs) != len(want.Jobs) || len(got.Skipped) != len(want.Skipped) {
		t.Fatalf("body %.200q: %d jobs, %d skipped; encoding/json %d, %d", body, len(got.Jobs), len(got.Skipped), len(want.Jobs), len(want.Skipped))
	}
	for i := range got.Jobs {
		if *got.Jobs[i] != *want.Jobs[i] {
			t.Fatalf("body %.200q: job %d = %+v, encoding/json %+v", body, i, *got.Jobs[i], *want.Jobs[i])
		}
	}
	for i, s := range got.Skipped {
		w := want.Skipped[i]
		if s.Index != w.Index || s.ID != w.ID || s.Err.Error() != w.Err.Error() {
			t.Fatalf("body %.200q: skipped %d = %+v, encoding/json %+v", body, i, s, w)
		}
	}
}

func TestDecodeJobListMatchesEncodingJSON(t *testing.T) {
	for _, body := range listDiffSeeds() {
		sameAsV1(t, []byte(body))
	}
	sameAsV1(t, simulatorList(t, 200))
}

// FuzzDecodeJobList: the list decoder against encoding/json's.
func FuzzDecodeJobList(f *testing.F) {
	for _, body := range listDiffSeeds() {
		f.Add([]byte(body))
	}
	f.Add(simulatorList(f, 3))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsV1(t, body)
	})
}

func listDiffSeeds() []string {
	return []string{
		``, `[]`, ` [ ] `, `[`, `]`, `{}`, `"x"`, `1`, `null`, `true`, `[] []`, `[]x`, `[],`, `[1,]`, `[1 2]`,
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

// TestSimulatorJobsTakeFastPath: the simulator's jobs (the API's shape)
// decode without falling back to encoding/json.
func TestSimulatorJobsTakeFastPath(t *testing.T) {
	var elems []json.RawMessage
	if err := json.Unmarshal(simulatorList(t, 200), &elems); err != nil {
		t.Fatal(err)
	}
	for i, raw := range elems {
		if !decodeJobFast(raw, new(Job)) {
			t.Fatalf("element %d falls back to encoding/json: %s", i, raw)
		}
	}
}
