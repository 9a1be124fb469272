package simulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault changes how the simulator answers API requests. The zero Fault
// changes nothing. Fields combine: Latency delays whatever is sent; Status,
// Body and Oversize replace the real answer; Truncate, TrickleBytesPerSecond
// and ResetMidBody change how the (real or replaced) body is delivered.
type Fault struct {
	// Status replaces the response status (with Body, or an empty body).
	Status int
	// Body replaces the response body; with Status 0 it is sent with 200.
	Body string
	// ContentType of a replaced body; default application/json, or
	// text/html when Body starts with '<'.
	ContentType string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Latency is added before anything is sent.
	Latency time.Duration
	// Hang accepts the request and never answers, until the client gives
	// up (request context done) or Server.Close is called.
	Hang bool
	// Truncate sends only the first half of the body and ends the response
	// cleanly (no Content-Length), so the client sees cut-off JSON.
	Truncate bool
	// TrickleBytesPerSecond sends the body slowly, in small chunks.
	TrickleBytesPerSecond int
	// ResetMidBody hijacks the connection, sends headers and a few bytes,
	// then resets it (TCP RST).
	ResetMidBody bool
	// Oversize sends a valid-looking JSON object of this many bytes (status
	// 200 unless Status is set), streamed, with a Content-Length.
	Oversize int64
}

func (f Fault) replacesBody() bool { return f.Status != 0 || f.Body != "" || f.Oversize > 0 }

// HTMLErrorBody is the page an nginx-style gateway sends for status.
func HTMLErrorBody(status int) string {
	t := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return "<html>\r\n<head><title>" + t + "</title></head>\r\n<body>\r\n<center><h1>" + t +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
}

// FaultHTML is a gateway error (502, 503, 504…) with an HTML page.
func FaultHTML(status int) Fault {
	return Fault{Status: status, Body: HTMLErrorBody(status), ContentType: "text/html"}
}

// Fault502HTML, Fault503HTML and Fault504HTML are the proxy errors the README
// says may appear in front of the API.
func Fault502HTML() Fault { return FaultHTML(http.StatusBadGateway) }

// Fault503HTML is a 503 with an HTML page.
func Fault503HTML() Fault { return FaultHTML(http.StatusServiceUnavailable) }

// Fault504HTML is a 504 with an HTML page.
func Fault504HTML() Fault { return FaultHTML(http.StatusGatewayTimeout) }

// FaultInternal is the API's own 500: {"detail":"Failed to get job: <err>"}.
func FaultInternal(err string) Fault {
	return Fault{Status: http.StatusInternalServerError, Body: detailJSON("Failed to get job: " + err)}
}

// FaultRateLimited is a gateway 429; retryAfter may be empty (no header).
func FaultRateLimited(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, Body: detailJSON("Too Many Requests"), RetryAfter: retryAfter}
}

func detailJSON(msg string) string {
	return string(append(appendString([]byte(`{"detail":`), msg), '}'))
}

// response is an answer ready to be delivered, possibly with a fault.
type response struct {
	status      int
	contentType string
	header      map[string]string
	body        io.Reader
	size        int64
}

func jsonResponse(status int, b []byte) response {
	return response{status: status, contentType: "application/json", body: bytes.NewReader(b), size: int64(len(b))}
}

func detailResponse(status int, msg string) response {
	return jsonResponse(status, []byte(detailJSON(msg)))
}

// faultResponse builds the replaced answer of f for a request about id.
func faultResponse(f Fault, id string) response {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	var resp response
	if f.Oversize > 0 {
		resp = response{status: status, contentType: "application/json", body: newOversize(id, f.Oversize), size: f.Oversize}
	} else {
		ct := "application/json"
		if strings.HasPrefix(strings.TrimSpace(f.Body), "<") {
			ct = "text/html; charset=utf-8"
		}
		resp = response{status: status, contentType: ct, body: strings.NewReader(f.Body), size: int64(len(f.Body))}
	}
	if f.ContentType != "" {
		resp.contentType = f.ContentType
	}
	return resp
}

// newOversize streams {"id":"<id>","name":"xxxx…"} of exactly n bytes without
// holding it in memory (n may be far above any client's cap).
func newOversize(id string, n int64) io.Reader {
	head := appendString([]byte(`{"id":`), id)
	head = append(head, `,"name":"`...)
	tail := []byte(`"}`)
	pad := n - int64(len(head)) - int64(len(tail))
	if pad < 0 {
		return bytes.NewReader(bytes.Repeat([]byte(" "), int(n)))
	}
	return io.MultiReader(bytes.NewReader(head), io.LimitReader(fillReader('x'), pad), bytes.NewReader(tail))
}

type fillReader byte

func (c fillReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// deliver writes resp to w, shaped by f's delivery faults.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, resp response, f Fault) {
	h := w.Header()
	if resp.contentType != "" {
		h.Set("Content-Type", resp.contentType)
	}
	for k, v := range resp.header {
		h.Set(k, v)
	}
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.ResetMidBody:
		s.reset(w, resp)
	case f.Truncate:
		w.WriteHeader(resp.status)
		_, _ = io.CopyN(w, resp.body, resp.size/2)
	case f.TrickleBytesPerSecond > 0:
		h.Set("Content-Length", strconv.FormatInt(resp.size, 10))
		w.WriteHeader(resp.status)
		s.trickle(r.Context(), w, resp.body, f.TrickleBytesPerSecond)
	default:
		h.Set("Content-Length", strconv.FormatInt(resp.size, 10))
		w.WriteHeader(resp.status)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, resp.body)
		}
	}
}

// trickle sends rate bytes per second in ten chunks a second.
func (s *Server) trickle(ctx context.Context, w http.ResponseWriter, body io.Reader, rate int) {
	chunk := max(rate/10, 1)
	tick := time.NewTicker(time.Second * time.Duration(chunk) / time.Duration(rate))
	defer tick.Stop()
	rc := http.NewResponseController(w)
	buf := make([]byte, chunk)
	for {
		n, err := io.ReadFull(body, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		}
	}
}

// reset sends the status line, headers (with the full Content-Length) and a
// few body bytes, then aborts the TCP connection with an RST.
func (s *Server) reset(w http.ResponseWriter, resp response) {
	conn, bufrw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	fmt.Fprintf(bufrw, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		resp.status, http.StatusText(resp.status), resp.contentType, resp.size)
	_, _ = io.CopyN(bufrw, resp.body, min(16, resp.size/2))
	_ = bufrw.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST, not FIN
	}
}

// wait sleeps for d unless the request or the server ends first; it reports
// whether the full time passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}
