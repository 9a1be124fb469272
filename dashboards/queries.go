package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Query is one panel target of a dashboard.
type Query struct {
	Dashboard  string // dashboard uid
	PanelID    int
	PanelTitle string
	RefID      string
	Expr       string // PromQL with Grafana template variables
	Legend     string
	Instant    bool   // evaluate at one time (stats, tables, bar gauges)
	Format     string // "time_series" (default) or "table"
	Datasource string // the target's data source uid, "${datasource}"
}

// Variable is one template variable of a dashboard.
type Variable struct {
	Name       string
	Type       string // "datasource", "query", ...
	Query      string // e.g. label_values(kubiya_up{job=~"$job"}, instance)
	Multi      bool
	IncludeAll bool
	AllValue   string
}

// LabelValues splits a label_values(selector, label) variable query into
// its series selector and label, as Grafana sends them to Prometheus'
// /api/v1/label/<label>/values?match[]=<selector>. ok is false for other
// queries; selector is empty for label_values(label).
func (v Variable) LabelValues() (selector, label string, ok bool) {
	q := strings.TrimSpace(v.Query)
	if !strings.HasPrefix(q, "label_values(") || !strings.HasSuffix(q, ")") {
		return "", "", false
	}
	args := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
	i := strings.LastIndex(args, ",")
	if i < 0 {
		return "", strings.TrimSpace(args), true
	}
	return strings.TrimSpace(args[:i]), strings.TrimSpace(args[i+1:]), true
}

// jsonDashboard is the part of the dashboard model the helpers read; it is
// decoded loosely so the helpers also work on hand-edited JSON.
type jsonDashboard struct {
	UID        string      `json:"uid"`
	Panels     []jsonPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   string          `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type jsonPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *jsonDatasource `json:"datasource"`
	Targets    []jsonTarget    `json:"targets"`
	Panels     []jsonPanel     `json:"panels"` // collapsed rows
}

type jsonTarget struct {
	RefID        string          `json:"refId"`
	Expr         string          `json:"expr"`
	LegendFormat string          `json:"legendFormat"`
	Instant      bool            `json:"instant"`
	Format       string          `json:"format"`
	Datasource   *jsonDatasource `json:"datasource"`
}

type jsonDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func (d *jsonDatasource) uid() string {
	if d == nil {
		return ""
	}
	return d.UID
}

func decode(dashboardJSON []byte) (*jsonDashboard, error) {
	var d jsonDashboard
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, fmt.Errorf("decode dashboard: %w", err)
	}
	return &d, nil
}

// allPanels flattens rows: panels of collapsed rows are nested.
func allPanels(ps []jsonPanel) []jsonPanel {
	var out []jsonPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// Queries returns every panel target of a dashboard, in panel order.
func Queries(dashboardJSON []byte) ([]Query, error) {
	d, err := decode(dashboardJSON)
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, p := range allPanels(d.Panels) {
		for _, t := range p.Targets {
			format := t.Format
			if format == "" {
				format = "time_series"
			}
			out = append(out, Query{
				Dashboard: d.UID, PanelID: p.ID, PanelTitle: p.Title,
				RefID: t.RefID, Expr: t.Expr, Legend: t.LegendFormat,
				Instant: t.Instant, Format: format, Datasource: t.Datasource.uid(),
			})
		}
	}
	return out, nil
}

// Variables returns a dashboard's template variables in order; a variable
// may refer to the ones before it.
func Variables(dashboardJSON []byte) ([]Variable, error) {
	d, err := decode(dashboardJSON)
	if err != nil {
		return nil, err
	}
	var out []Variable
	for _, v := range d.Templating.List {
		// query is a string, or an object {"query": "..."} in newer models.
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err == nil {
				q = obj.Query
			}
		}
		out = append(out, Variable{Name: v.Name, Type: v.Type, Query: q,
			Multi: v.Multi, IncludeAll: v.IncludeAll, AllValue: v.AllValue})
	}
	return out, nil
}

// AllSelected is the value Grafana stores for a multi-value variable set to
// "All". Substitute expands it to AllValue, which is what every variable of
// these dashboards declares as its allValue.
const AllSelected = "$__all"

// ScrapeIntervalSeconds is the scrape interval Substitute assumes for
// $__rate_interval: Grafana's default for a Prometheus data source.
const ScrapeIntervalSeconds = 15

// maxDataPoints approximates the points Grafana requests for a panel; it
// sets $__interval = range / maxDataPoints.
const maxDataPoints = 1000

var varRE = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)(?::([A-Za-z0-9_]+))?\}|([A-Za-z0-9_]+))`)

// Substitute expands Grafana template variables in a PromQL expression as
// Grafana's Prometheus data source would for a dashboard time range of
// rangeSeconds:
//
//   - $var, ${var} and ${var:format} take vars[var]. A value of
//     AllSelected ("$__all") becomes AllValue (".*"). Other values are
//     inserted as given: pass MultiValue(...) for several selected values.
//     The :regex format escapes the value as Grafana's template service
//     does, with single backslashes, which is not a valid escape inside a
//     PromQL string: Grafana has the same trap, so these dashboards do not
//     use :regex, and a value with a dot fails the parse test if one does.
//   - $__range, $__range_s, $__range_ms from rangeSeconds.
//   - $__interval, $__interval_ms: rangeSeconds/1000, at least 1s.
//   - $__rate_interval: max($__interval + scrape interval, 4 * scrape
//     interval), with ScrapeIntervalSeconds as the scrape interval.
//
// Unknown variables are left in place so that a later PromQL parse fails
// loudly instead of a query silently matching nothing.
func Substitute(expr string, vars map[string]string, rangeSeconds int) string {
	interval := max(rangeSeconds/maxDataPoints, 1)
	rate := max(interval+ScrapeIntervalSeconds, 4*ScrapeIntervalSeconds)
	builtin := map[string]string{
		"__range":         strconv.Itoa(rangeSeconds) + "s",
		"__range_s":       strconv.Itoa(rangeSeconds),
		"__range_ms":      strconv.Itoa(rangeSeconds * 1000),
		"__interval":      strconv.Itoa(interval) + "s",
		"__interval_ms":   strconv.Itoa(interval * 1000),
		"__rate_interval": strconv.Itoa(rate) + "s",
	}
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name, format := sub[1], sub[2]
		if name == "" {
			name = sub[3]
		}
		if v, ok := builtin[name]; ok {
			return v
		}
		v, ok := vars[name]
		if !ok {
			return m
		}
		switch {
		case v == AllSelected:
			return AllValue
		case format == "regex":
			return regexp.QuoteMeta(v)
		}
		return v
	})
}

// MultiValue formats the selected values of a multi-value variable as
// Grafana's Prometheus data source does: each value regex-escaped for use
// inside a PromQL string (so "a.b" becomes a\\.b: the string unescapes to
// the regex a\.b), joined as an alternation in parentheses; a single value
// is only escaped.
func MultiValue(values ...string) string {
	esc := make([]string, len(values))
	for i, v := range values {
		esc[i] = promRegexEscape(v)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// promRegexEscape is Grafana's prometheusSpecialRegexEscape: a regex escape
// written as a PromQL string literal, hence the doubled backslashes.
func promRegexEscape(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\\':
			b.WriteString(`\\\\`)
		case strings.ContainsRune(`$^*{}[]'+?.()|`, r):
			b.WriteString(`\\`)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
