package target

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/webhook"
)

// Sender sends a Target's requests one after another, for one goroutine:
// it reuses its request, headers and deadline timer from one request to
// the next (net/http allows reusing a request once its answer's body is
// closed), where Target.Send makes them anew each time. Not safe for
// concurrent use.
type Sender struct {
	t      *Target
	parent context.Context
	// ctx is the requests' context, a child of parent that timer cancels
	// when a request overruns the timeout; a cancelled one is replaced.
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	// req is the request being reused (nil: build one); body is what its
	// GetBody rewinds to; buf the last body once the transport is done
	// with it (Buffer).
	req       *http.Request
	body, buf []byte
	// vals hold the per-request header values, in place; ts is the
	// timestamp header's second, tsText its text.
	vals   []string
	ts     int64
	tsText string
}

// NewSender returns a Sender whose requests end when ctx ends. Close it
// when done.
func (t *Target) NewSender(ctx context.Context) *Sender {
	s := &Sender{t: t, parent: ctx}
	s.renew()
	return s
}

// renew makes a fresh context and timer: the last timer fired, so the
// context is (being) cancelled, and the request made with it is dropped.
func (s *Sender) renew() {
	ctx, cancel := context.WithCancelCause(s.parent)
	s.ctx, s.cancel, s.req = ctx, cancel, nil
	if s.t.cfg.Timeout > 0 {
		// The timer keeps its own cancel: after Stop fails it may still run
		// while the next context is being made.
		s.timer = time.AfterFunc(time.Hour, func() { cancel(context.DeadlineExceeded) })
		s.timer.Stop()
	}
}

// Close releases the sender's context and timer.
func (s *Sender) Close() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel(context.Canceled)
}

// request returns the request to send body with, its per-request headers
// set.
func (s *Sender) request(req Request, now time.Time) *http.Request {
	hr := s.req
	if hr == nil {
		hr = s.t.tmpl.WithContext(s.ctx) // a shallow copy: the parsed URL is shared, never modified
		// Keys already in canonical form, assigned directly: Header.Set
		// would canonicalise each of them.
		h := make(http.Header, 8)
		s.vals = make([]string, 4)
		h[hContentType] = contentJSON
		h[hUserAgent] = userAgent
		h[hID] = s.vals[0:1:1]
		h[hTimestamp] = s.vals[1:2:2]
		h[hAttempt] = s.vals[2:3:3]
		if s.t.cfg.SigningKey != nil {
			h[hSignature] = s.vals[3:4:4]
		}
		if s.t.auth != nil {
			h[hAuthorization] = s.t.auth
		}
		hr.Header = h
		// Lets the transport resend on a kept-alive connection the target
		// closed before reading anything, as http.NewRequest allows.
		hr.GetBody = s.rewind
		s.req = hr
	}
	if ts := now.Unix(); ts != s.ts || s.tsText == "" {
		s.ts, s.tsText = ts, strconv.FormatInt(ts, 10)
	}
	s.vals[0], s.vals[1], s.vals[2] = req.EventID, s.tsText, strconv.Itoa(req.Attempt)
	if s.t.cfg.SigningKey != nil {
		s.vals[3] = webhook.Sign(s.t.cfg.SigningKey, req.EventID, s.ts, req.Body)
	}
	s.body = req.Body
	hr.ContentLength = int64(len(req.Body))
	hr.Body, _ = s.rewind()
	return hr
}

func (s *Sender) rewind() (io.ReadCloser, error) {
	if len(s.body) == 0 {
		return http.NoBody, nil
	}
	// Exactly this wrapping: net/http knows a NopCloser of a bytes.Reader
	// is in memory and writes it with the headers in one write; a reader
	// of another type gets its headers flushed first, a second syscall.
	return io.NopCloser(bytes.NewReader(s.body)), nil
}

// Buffer returns an empty buffer to build the next request's body in: the
// last body's, when the transport is done with it (the caller gives a body
// up to the Sender when it sends it).
func (s *Sender) Buffer() []byte { return s.buf[:0] }

// Send posts req and reads at most ExcerptBytes of the answer. It waits for
// the rate limit first.
func (s *Sender) Send(req Request) Response {
	t := s.t
	if t.limiter != nil {
		if err := t.limiter.Wait(s.ctx); err != nil {
			return Response{Class: retry.Retriable, Err: err}
		}
	}
	if t.tmplErr != nil {
		return Response{Class: retry.Retriable, Err: t.tmplErr}
	}
	start := time.Now()
	hr := s.request(req, start)
	if s.timer != nil {
		s.timer.Reset(t.cfg.Timeout)
	}
	resp, err := t.transport.RoundTrip(hr)
	if err != nil {
		// The transport may still hold the request (it closes its body
		// on its own time): the next one is made anew.
		s.req, s.buf = nil, nil
		s.stopTimer()
		return Response{Class: retry.Retriable, Err: err, Latency: time.Since(start), Sent: true}
	}
	var excerpt string
	n := int64(ExcerptBytes)
	if resp.ContentLength >= 0 { // -1: unknown
		n = min(n, resp.ContentLength)
	}
	if n > 0 { // not for a 204 or an empty answer
		buf := make([]byte, n)
		k, _ := io.ReadFull(resp.Body, buf)
		excerpt = string(buf[:k])
		// Drain a little more so the connection can be reused, no more:
		// the target decides the size of its answers.
		io.CopyN(io.Discard, resp.Body, 64<<10) //nolint:errcheck // best effort
	}
	resp.Body.Close()
	s.stopTimer()
	if s.req != nil { // else the timer fired and the request was dropped
		s.buf = req.Body
	}
	r := Response{Status: resp.StatusCode, Class: retry.Classify(resp.StatusCode), Excerpt: excerpt, Latency: time.Since(start), Sent: true}
	if r.Class == retry.Retriable {
		r.RetryAfter = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r
}

// stopTimer disarms the timeout once the request is over; if it fired
// already, the context is spent and the next request gets a new one.
func (s *Sender) stopTimer() {
	if s.timer != nil && !s.timer.Stop() {
		s.renew()
	}
}
