package main

import (
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The text exposition of a large scrape. expfmt.MetricFamilyToText writes
// through a strings.Replacer per label value and re-validates the metric
// name on every sample: at 10,000 jobs (160,000 samples, 1.1 million label
// pairs) that was the largest single cost of a scrape (BENCHMARKS.md).
// appendTextFamily writes the same bytes for the families that dominate
// (gauges and counters with legacy-valid names), checking each name once
// per family; every other family, and every other format (OpenMetrics,
// protobuf, a name[] filter), goes through expfmt and promhttp unchanged.
// TestTextFormatMatchesExpfmt holds the two byte-identical.

// serveMetrics answers a scrape from g like promhttp.HandlerFor with opts
// (ContinueOnError), writing text-format answers with appendTextFamily.
func serveMetrics(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer, opts promhttp.HandlerOpts) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() != expfmt.TypeTextPlain || (r.URL != nil && r.URL.Query().Has("name[]")) {
		promhttp.HandlerFor(g, opts).ServeHTTP(w, r)
		return
	}
	mfs, err := g.Gather()
	if err != nil {
		if opts.ErrorLog != nil {
			opts.ErrorLog.Println("error gathering metrics:", err)
		}
		if len(mfs) == 0 {
			w.Header().Del("Content-Encoding")
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(format))
	if err := writeText(w, mfs, format); err != nil && opts.ErrorLog != nil {
		opts.ErrorLog.Println("error encoding and sending metric family:", err)
	}
}

// writeText writes mfs in the text format, as expfmt's encoder for format
// would; a family expfmt refuses is logged by the caller and skipped, as
// promhttp does with ContinueOnError.
func writeText(w io.Writer, mfs []*dto.MetricFamily, format expfmt.Format) error {
	const flushAt = 32 << 10
	buf := make([]byte, 0, 2*flushAt)
	enc := expfmt.NewEncoder(w, format)
	var firstErr error
	for _, mf := range mfs {
		if next, ok := appendTextFamily(buf, mf); ok {
			buf = next
			if len(buf) >= flushAt {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			continue
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if err := enc.Encode(mf); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return firstErr
}

// appendTextFamily appends mf as expfmt.MetricFamilyToText writes it, or
// returns ok false (and buf unchanged in length) for what it does not
// handle: types other than gauge and counter, names that need quoting or
// escaping, empty families, samples without a value of the family's type.
func appendTextFamily(buf []byte, mf *dto.MetricFamily) ([]byte, bool) {
	name := mf.GetName()
	typ := mf.GetType()
	if len(mf.Metric) == 0 || (typ != dto.MetricType_GAUGE && typ != dto.MetricType_COUNTER) ||
		!model.LegacyValidation.IsValidMetricName(name) {
		return buf, false
	}
	start := len(buf)
	var checked [16]string // label names already validated in this family
	nChecked := 0
	if mf.Help != nil {
		buf = append(buf, "# HELP "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = appendEscaped(buf, mf.GetHelp(), false)
		buf = append(buf, '\n')
	}
	buf = append(buf, "# TYPE "...)
	buf = append(buf, name...)
	if typ == dto.MetricType_COUNTER {
		buf = append(buf, " counter\n"...)
	} else {
		buf = append(buf, " gauge\n"...)
	}
	for _, m := range mf.Metric {
		var v float64
		switch {
		case typ == dto.MetricType_GAUGE && m.Gauge != nil:
			v = m.Gauge.GetValue()
		case typ == dto.MetricType_COUNTER && m.Counter != nil:
			v = m.Counter.GetValue()
		default:
			return buf[:start], false
		}
		buf = append(buf, name...)
		for i, lp := range m.Label {
			ln := lp.GetName()
			known := false
			for _, c := range checked[:nChecked] {
				if c == ln {
					known = true
					break
				}
			}
			if !known {
				if !model.LegacyValidation.IsValidLabelName(ln) {
					return buf[:start], false
				}
				if nChecked < len(checked) {
					checked[nChecked] = ln
					nChecked++
				}
			}
			if i == 0 {
				buf = append(buf, '{')
			} else {
				buf = append(buf, ',')
			}
			buf = append(buf, ln...)
			buf = append(buf, '=', '"')
			buf = appendEscaped(buf, lp.GetValue(), true)
			buf = append(buf, '"')
		}
		if len(m.Label) > 0 {
			buf = append(buf, '}')
		}
		buf = append(buf, ' ')
		buf = appendFloat(buf, v)
		if m.TimestampMs != nil {
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, m.GetTimestampMs(), 10)
		}
		buf = append(buf, '\n')
	}
	return buf, true
}

// appendEscaped escapes like expfmt: backslash and newline, and the double
// quote inside label values.
func appendEscaped(buf []byte, s string, quote bool) []byte {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\n' || (quote && c == '"') {
			clean = false
			break
		}
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

// appendFloat formats like expfmt's writeFloat.
func appendFloat(buf []byte, f float64) []byte {
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
