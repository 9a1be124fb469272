// Package textenc holds the pieces of the Prometheus text exposition
// format the exporter writes itself (textfmt.go, collector/textfmt.go),
// byte for byte as github.com/prometheus/common/expfmt writes them.
package textenc

import (
	"math"
	"strconv"
	"strings"
)

// AppendEscaped escapes like expfmt: backslash and newline, and the double
// quote inside label values.
func AppendEscaped(buf []byte, s string, quote bool) []byte {
	clean := true
	if quote {
		// One table load per byte: this runs on every label value.
		for i := 0; i < len(s); i++ {
			if escapedInLabel[s[i]] {
				clean = false
				break
			}
		}
	} else {
		clean = !strings.ContainsAny(s, "\\\n")
	}
	if clean {
		return append(buf, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			buf = append(buf, '\\', '\\')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '"' && quote:
			buf = append(buf, '\\', '"')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// escapedInLabel marks the bytes AppendEscaped escapes in a label value.
var escapedInLabel = [256]bool{'\\': true, '\n': true, '"': true}

// AppendFloat formats like expfmt's writeFloat.
func AppendFloat(buf []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(buf, '1')
	case f == 0:
		return append(buf, '0')
	case f == -1:
		return append(buf, "-1"...)
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, +1):
		return append(buf, "+Inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-Inf"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, 64)
}
