package collector

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/textenc"
)

// The text exposition of the job series, written from the series
// themselves instead of dto.MetricFamily: a job's five per-job labels are
// on some 15 series, so they are escaped and written once per job
// (jobSeries.jobText) and copied per series. The bytes are expfmt's
// (TestScrapeRegistryText compares them).

// appendLabelText appends labels as the text format writes them between
// the braces: name="escaped value", comma-separated.
func appendLabelText(buf []byte, labels []*dto.LabelPair) []byte {
	for i, lp := range labels {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, lp.GetName()...)
		buf = append(buf, '=', '"')
		buf = textenc.AppendEscaped(buf, lp.GetValue(), true)
		buf = append(buf, '"')
	}
	return buf
}

// jobTextSize is the size of the per-job label text without escapes.
func jobTextSize(values []string) int {
	n := 0
	for i, v := range values {
		n += len(jobValueNames[i]) + len(v) + 4
	}
	return n
}

// appendHeader appends the family's HELP and TYPE lines.
func (f *seriesFamily) appendHeader(buf []byte) []byte {
	buf = append(buf, "# HELP "...)
	buf = append(buf, f.name...)
	buf = append(buf, ' ')
	buf = textenc.AppendEscaped(buf, f.help, false)
	buf = append(buf, "\n# TYPE "...)
	buf = append(buf, f.name...)
	if f.typ == dto.MetricType_COUNTER {
		return append(buf, " counter\n"...)
	}
	return append(buf, " gauge\n"...)
}

// appendSeriesText appends one sample line of s in family name.
func appendSeriesText(buf []byte, name string, s *series) []byte {
	buf = append(buf, name...)
	if len(s.labels) > 0 {
		buf = append(buf, '{')
		if s.prefixed {
			buf = append(buf, s.job.jobText...)
			if len(s.labels) > numJobLabels {
				buf = append(buf, ',')
				buf = appendLabelText(buf, s.labels[numJobLabels:])
			}
		} else {
			buf = appendLabelText(buf, s.labels)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ' ')
	buf = textenc.AppendFloat(buf, s.value())
	return append(buf, '\n')
}
