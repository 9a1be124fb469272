package collector

import (
	"strings"
	"unicode/utf8"
)

// maxLogErrLen bounds the text of an error in a log line. Errors are built
// without bodies or secrets, but some carry input (a cron parser quoting a
// megabyte-long cron_schedule): one bad field must not make a megabyte log line.
const maxLogErrLen = 512

// logErr is err's text, valid UTF-8 and at most maxLogErrLen bytes.
func logErr(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(s) <= maxLogErrLen {
		return s
	}
	cut := maxLogErrLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
