package kubiya

// The list decoder before jsontext (encoding/json's Decoder, element by
// element), kept as the reference the current one must agree with.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeJobList reads a bare JSON array of JobResponse element by element,
// so no more than one element is ever buffered (plus the decoder's read
// buffer), whatever the size of the organization.
func decodeJobListV1(r io.Reader) (*JobList, error) {
	cr := &countingReader{r: r}
	dec := json.NewDecoder(cr)
	tok, err := dec.Token()
	if err != nil {
		return nil, listSyntaxErrorV1(err, cr.n)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("not a JSON array (starts with %s)", tokenKindV1(tok))
	}
	list := &JobList{}
	for i := 0; dec.More(); i++ {
		j := new(Job)
		if err := dec.Decode(j); err != nil {
			var typeErr *json.UnmarshalTypeError
			var timeErr *TimeError
			if !errors.As(err, &typeErr) && !errors.As(err, &timeErr) {
				// Syntax, truncation or a read error: the stream itself is
				// broken and nothing after this point can be trusted, so the
				// whole list fails.
				return nil, fmt.Errorf("element %d: %w", i, listSyntaxErrorV1(err, cr.n))
			}
			// A wrong type or an unparsable timestamp: the decoder has read
			// the whole element before decoding it, so the next one starts
			// cleanly. The API writes id first, so the ID is usually known.
			list.Skipped = append(list.Skipped, SkippedJob{Index: i, ID: j.ID, Err: describeJSONError(err, 0)})
			continue
		}
		if j.ID == "" {
			list.Skipped = append(list.Skipped, SkippedJob{Index: i, Err: errNotAJob})
			continue
		}
		list.Jobs = append(list.Jobs, j)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, listSyntaxErrorV1(err, cr.n)
	}
	// Anything after the array but whitespace is a broken answer.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("data after the JSON array")
		}
		return nil, listSyntaxErrorV1(err, cr.n)
	}
	return list, nil
}

func listSyntaxErrorV1(err error, read int64) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON near byte %d", syntaxErr.Offset)
	case errors.Is(err, errBodyCap):
		return err
	default:
		// A read error; the caller classifies it from capReader.
		return fmt.Errorf("reading the body after %d bytes: %w", read, err)
	}
}

// tokenKind names a JSON token's kind, never its value.
func tokenKindV1(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "'" + v.String() + "'"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "an unknown token"
	}
}
