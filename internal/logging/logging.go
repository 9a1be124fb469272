// Package logging builds the one log format of the exporter and the
// simulator: go-kit lines (logfmt or JSON) keyed level, ts, caller, msg, and
// an *slog.Logger for libraries that log with slog (exporter-toolkit) that
// writes the same lines.
package logging

import (
	"io"
	"log/slog"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// Levels and Formats are the values New accepts, for flags.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"logfmt", "json"}
)

// New returns a go-kit logger writing to w in format ("logfmt" or "json")
// at lvl and above, and an *slog.Logger writing the same lines through it.
func New(w io.Writer, format, lvl string) (log.Logger, *slog.Logger) {
	var base log.Logger
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	// Both packages parse the four Levels; anything else is info.
	var sl slog.Level
	if sl.UnmarshalText([]byte(lvl)) != nil {
		sl = slog.LevelInfo
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	bridged := log.LoggerFunc(func(kv ...any) error { return base.Log(asGoKit(kv)...) })
	return log.With(base, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller),
		slog.New(sloggokit.NewGoKitHandler(bridged, sl))
}

// asGoKit turns the slog bridge's "level, [caller,] time, msg, ..." into the
// go-kit logger's "level, ts (UTC), [caller,] msg, ...".
func asGoKit(kv []any) []any {
	for i := 2; i <= 4 && i+1 < len(kv); i += 2 {
		if t, ok := kv[i+1].(time.Time); ok && kv[i] == slog.TimeKey {
			kv[i], kv[i+1] = "ts", t.UTC()
			if i == 4 { // after caller: swap the pairs
				kv[2], kv[3], kv[4], kv[5] = kv[4], kv[5], kv[2], kv[3]
			}
			break
		}
	}
	return kv
}
