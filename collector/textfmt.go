package collector

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/kubiya/kubiya_exporter/internal/textenc"
)

// The text exposition of the job series, written from the series
// themselves instead of dto.MetricFamily: a job's label text is escaped
// once (jobSeries.render) and copied into each of its series' lines. The
// bytes are expfmt's (TestScrapeRegistryMatchesRegistry compares them).

// appendLabel appends one label as the text format writes it between the
// braces: name="escaped value".
func appendLabel(buf []byte, name, value string) []byte {
	buf = append(buf, name...)
	buf = append(buf, '=', '"')
	buf = textenc.AppendEscaped(buf, value, true)
	return append(buf, '"')
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
	buf = append(buf, '{')
	js := s.job
	switch {
	case s.labels == labelsUp:
		buf = append(buf, js.textPiece(textUp)...)
	case s.labels == labelsInfo:
		buf = append(buf, js.textPiece(textInfo)...)
	default:
		buf = append(buf, js.textPiece(textJob)...)
		if s.labels == labelsStatusUnknown {
			buf = append(buf, js.textPiece(textStatus)...)
		} else if s.labels >= labelsStatus {
			buf = append(buf, knownStatusText[s.labels-labelsStatus]...)
		}
	}
	buf = append(buf, '}', ' ')
	buf = textenc.AppendFloat(buf, s.v)
	return append(buf, '\n')
}
