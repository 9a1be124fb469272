package exposition

import (
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kubiya/kubiya_exporter/collector"
	"github.com/kubiya/kubiya_exporter/internal/textenc"
)

// The text exposition of a large scrape. expfmt.MetricFamilyToText writes
// through a strings.Replacer per label value and re-validates the metric
// name on every sample: at 10,000 jobs (160,000 samples, 1.1 million label
// pairs) that was the largest single cost of a scrape (BENCHMARKS.md).
// The job series write their own text (collector/textfmt.go);
// appendTextFamily writes the same bytes for the other gauges and
// counters with legacy-valid names, checking each name once per family;
// every other family, and every other format (OpenMetrics, protobuf, a
// name[] filter), goes through expfmt and promhttp unchanged.
// TestTextFormatMatchesExpfmt and TestScrapeRegistryMatchesRegistry hold
// them byte-identical.

// Serve answers a scrape from g like promhttp.HandlerFor with opts
// (ContinueOnError), writing text-format answers with appendTextFamily.
func Serve(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer, opts promhttp.HandlerOpts) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() != expfmt.TypeTextPlain || (r.URL != nil && r.URL.Query().Has("name[]")) {
		promhttp.HandlerFor(g, opts).ServeHTTP(w, r)
		return
	}
	var fams []collector.TextFamily
	var err error
	if tg, ok := g.(textGatherer); ok {
		fams, err = tg.GatherText()
	} else {
		var mfs []*dto.MetricFamily
		mfs, err = g.Gather()
		fams = wrapFamilies(mfs)
	}
	if err != nil {
		if opts.ErrorLog != nil {
			opts.ErrorLog.Println("error gathering metrics:", err)
		}
		if len(fams) == 0 {
			w.Header().Del("Content-Encoding")
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(format))
	if err := writeText(w, fams, format); err != nil && opts.ErrorLog != nil {
		opts.ErrorLog.Println("error encoding and sending metric family:", err)
	}
}

// writeText writes mfs in the text format, as expfmt's encoder for format
// would; a family expfmt refuses is logged by the caller and skipped, as
// promhttp does with ContinueOnError. The text goes out in chunks of about
// flushAt bytes, never a whole family at once: at 10,000 jobs one family
// is megabytes of text.
func writeText(w io.Writer, fams []collector.TextFamily, format expfmt.Format) error {
	bufp := textBufs.Get().(*[]byte)
	defer textBufs.Put(bufp)
	buf := (*bufp)[:0]
	flush := func(b []byte) ([]byte, error) {
		if len(b) == 0 {
			return b, nil
		}
		_, err := w.Write(b)
		return b[:0], err
	}
	enc := expfmt.NewEncoder(w, format)
	var firstErr error
	for _, f := range fams {
		// The scrape's job series write themselves (collector/textfmt.go).
		next, ok, err := f.AppendText(buf, flushAt, flush)
		buf = next
		switch {
		case err != nil:
			return err
		case ok:
			continue
		}
		mf := f.MetricFamily()
		if textFamilyOK(mf) {
			if buf, err = appendTextFamily(buf, mf, flush); err != nil {
				return err
			}
			continue
		}
		if buf, err = flush(buf); err != nil {
			return err
		}
		if err := enc.Encode(mf); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if _, err := flush(buf); err != nil {
		return err
	}
	return firstErr
}

const flushAt = 32 << 10

// textBufs holds writeText's buffers across scrapes.
var textBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, flushAt+4<<10)
	return &b
}}

// textFamilyOK reports whether appendTextFamily writes mf: a gauge or
// counter family with a legacy-valid name, every sample with a value of
// the family's type and every label name legacy-valid. Anything else goes
// through expfmt. Label names are checked once per distinct name (the
// series of a family share their name strings, so mostly by pointer).
func textFamilyOK(mf *dto.MetricFamily) bool {
	typ := mf.GetType()
	if len(mf.Metric) == 0 || (typ != dto.MetricType_GAUGE && typ != dto.MetricType_COUNTER) ||
		!model.LegacyValidation.IsValidMetricName(mf.GetName()) {
		return false
	}
	var ptrs [16]*string
	var names [16]string
	nPtrs, nNames := 0, 0
	for _, m := range mf.Metric {
		if (typ == dto.MetricType_GAUGE && m.Gauge == nil) || (typ == dto.MetricType_COUNTER && m.Counter == nil) {
			return false
		}
	labels:
		for _, lp := range m.Label {
			p := lp.Name
			for _, q := range ptrs[:nPtrs] {
				if p == q {
					continue labels
				}
			}
			ln := lp.GetName()
			known := false
			for _, n := range names[:nNames] {
				if n == ln {
					known = true
					break
				}
			}
			if !known {
				if !model.LegacyValidation.IsValidLabelName(ln) {
					return false
				}
				if nNames < len(names) {
					names[nNames] = ln
					nNames++
				}
			}
			if p != nil && nPtrs < len(ptrs) {
				ptrs[nPtrs] = p
				nPtrs++
			}
		}
	}
	return true
}

// appendTextFamily appends mf, which textFamilyOK accepted, as
// expfmt.MetricFamilyToText writes it, handing buf to flush whenever it
// holds flushAt bytes or more.
func appendTextFamily(buf []byte, mf *dto.MetricFamily, flush func([]byte) ([]byte, error)) ([]byte, error) {
	name := mf.GetName()
	typ := mf.GetType()
	if mf.Help != nil {
		buf = append(buf, "# HELP "...)
		buf = append(buf, name...)
		buf = append(buf, ' ')
		buf = textenc.AppendEscaped(buf, mf.GetHelp(), false)
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
		if typ == dto.MetricType_GAUGE {
			v = m.Gauge.GetValue()
		} else {
			v = m.Counter.GetValue()
		}
		buf = append(buf, name...)
		for i, lp := range m.Label {
			if i == 0 {
				buf = append(buf, '{')
			} else {
				buf = append(buf, ',')
			}
			buf = append(buf, lp.GetName()...)
			buf = append(buf, '=', '"')
			buf = textenc.AppendEscaped(buf, lp.GetValue(), true)
			buf = append(buf, '"')
		}
		if len(m.Label) > 0 {
			buf = append(buf, '}')
		}
		buf = append(buf, ' ')
		buf = textenc.AppendFloat(buf, v)
		if m.TimestampMs != nil {
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, m.GetTimestampMs(), 10)
		}
		buf = append(buf, '\n')
		if len(buf) >= flushAt {
			var err error
			if buf, err = flush(buf); err != nil {
				return buf, err
			}
		}
	}
	return buf, nil
}
