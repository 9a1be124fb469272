package collector

// maxLogErrLen bounds the text of an error in a log line. Errors are built
// without bodies or secrets, but some carry input (a cron parser quoting a
// megabyte-long cron_schedule): one bad field must not make a megabyte log line.
const maxLogErrLen = 512

// logErr is err's text, valid UTF-8 and at most maxLogErrLen bytes.
func logErr(err error) string {
	if err == nil {
		return ""
	}
	return truncateUTF8(err.Error(), maxLogErrLen)
}
