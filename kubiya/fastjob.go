package kubiya

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeListElement decodes one list element, raw: a complete, syntactically
// valid JSON value (jsontext has checked it). The common case, an object
// whose known fields hold values of their own type with no escapes, is
// decoded here in one pass over raw; anything else (another kind of value,
// a wrong type, a string with an escape or invalid UTF-8, a name that is
// not an exact field name but might match one case-insensitively, a
// timestamp that does not parse) is decoded again by encoding/json, so
// results and errors are exactly encoding/json's.
func decodeListElement(raw []byte) (*Job, error) {
	j := new(Job)
	if decodeJobFast(raw, j) {
		return j, nil
	}
	*j = Job{}
	return j, json.Unmarshal(raw, j)
}

// decodeJobFast reports false if raw needs encoding/json; j then holds
// partial results and must be reset.
func decodeJobFast(raw []byte, j *Job) bool {
	// The string fields are set at the end from one allocation.
	var strs pendingStrings
	if !decodeObjectFast(raw, j, &strs) {
		return false
	}
	strs.set()
	return true
}

// pendingStrings are string fields and their values, to be copied into
// one string: one allocation per job instead of one per field.
type pendingStrings struct {
	n    int
	size int
	dst  [16]*string
	src  [16][]byte
}

func (p *pendingStrings) add(dst *string, src []byte) bool {
	if p.n == len(p.dst) {
		return false // a name many times over: leave it to encoding/json
	}
	p.dst[p.n], p.src[p.n] = dst, src
	p.n++
	p.size += len(src)
	return true
}

func (p *pendingStrings) set() {
	var b strings.Builder
	b.Grow(p.size)
	for _, src := range p.src[:p.n] {
		b.Write(src)
	}
	all := b.String()
	off := 0
	for k, dst := range p.dst[:p.n] {
		end := off + len(p.src[k])
		*dst = all[off:end]
		off = end
	}
}

func decodeObjectFast(raw []byte, j *Job, strs *pendingStrings) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return true
	}
	for i < len(raw) {
		// The name: a string with no escape and no byte outside ASCII.
		if raw[i] != '"' {
			return false
		}
		end := bytes.IndexByte(raw[i+1:], '"')
		if end < 0 {
			return false
		}
		name := raw[i+1 : i+1+end]
		for _, c := range name {
			if c == '\\' || c >= utf8.RuneSelf {
				return false
			}
		}
		i = skipSpace(raw, i+2+end)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		vEnd, ok := valueEnd(raw, i)
		if !ok {
			return false
		}
		if !setField(j, strs, name, raw[i:vEnd]) {
			return false
		}
		i = skipSpace(raw, vEnd)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return skipSpace(raw, i+1) == len(raw)
		default:
			return false
		}
	}
	return false
}

// setField stores v, the raw value of the member name, in j the way
// encoding/json would, or reports false when it cannot tell.
func setField(j *Job, strs *pendingStrings, name, v []byte) bool {
	var s *string
	var n *int64
	var t *Time
	switch string(name) {
	case "id":
		s = &j.ID
	case "organization_id":
		s = &j.OrganizationID
	case "name":
		s = &j.Name
	case "status":
		s = &j.Status
	case "trigger_type":
		s = &j.TriggerType
	case "cron_schedule":
		s = &j.CronSchedule
	case "cron_timezone":
		s = &j.CronTimezone
	case "planning_mode":
		s = &j.PlanningMode
	case "entity_type":
		s = &j.EntityType
	case "entity_id":
		s = &j.EntityID
	case "entity_name":
		s = &j.EntityName
	case "executor_type":
		s = &j.ExecutorType
	case "worker_queue_name":
		s = &j.WorkerQueueName
	case "environment_name":
		s = &j.EnvironmentName
	case "last_execution_id":
		s = &j.LastExecutionID
	case "last_execution_at":
		t = &j.LastExecutionAt
	case "next_execution_at":
		t = &j.NextExecutionAt
	case "last_triggered_at":
		t = &j.LastTriggeredAt
	case "created_at":
		t = &j.CreatedAt
	case "updated_at":
		t = &j.UpdatedAt
	case "total_executions":
		n = &j.TotalExecutions
	case "successful_executions":
		n = &j.SuccessfulExecs
	case "failed_executions":
		n = &j.FailedExecutions
	case "enabled":
		switch string(v) {
		case "true":
			j.Enabled = true
		case "false":
			j.Enabled = false
		case "null":
		default:
			return false
		}
		return true
	default:
		// An unknown member is ignored, unless encoding/json would match
		// it to a field case-insensitively: every field name is lower
		// case, so only a name with an upper-case letter can.
		for _, c := range name {
			if 'A' <= c && c <= 'Z' {
				return false
			}
		}
		return true
	}
	switch {
	case s != nil:
		if v[0] == 'n' { // null leaves the field as it is
			return true
		}
		if v[0] != '"' {
			return false
		}
		body := v[1 : len(v)-1]
		if bytes.IndexByte(body, '\\') >= 0 || !utf8.Valid(body) {
			return false
		}
		return strs.add(s, body)
	case n != nil:
		if v[0] == 'n' {
			return true
		}
		x, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return false
		}
		*n = x
		return true
	default:
		return t.UnmarshalJSON(v) == nil
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// valueEnd returns the end of the JSON value starting at b[i], which is
// known to be valid.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := stringEnd(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default: // a number, true, false or null
		start := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, i > start
			}
			i++
		}
		return i, i > start
	}
}

// stringEnd returns the index after the closing quote of the string that
// starts at b[i].
func stringEnd(b []byte, i int) (int, bool) {
	i++
	for {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return 0, false
		}
		i += k
		// The quote is escaped if an odd number of backslashes precede it.
		bs := 0
		for p := i - 1; p >= 0 && b[p] == '\\'; p-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			return i, true
		}
	}
}
