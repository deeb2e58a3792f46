// Package target sends one request to a handler's connector and says what
// came back, guarded by a circuit breaker and a rate limit so a target that
// is down is probed, not hammered.
package target

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/webhook"
)

// ExcerptBytes is how much of a response body is kept for history.
const ExcerptBytes = 1024

// Config is one handler's target.
type Config struct {
	URL         string
	BearerToken string
	// SigningKey is the decoded signing secret (nil: unsigned).
	SigningKey []byte
	Timeout    time.Duration
	// Rate is requests per second (0: unlimited).
	Rate int
}

// Target sends requests to one connector. It is safe for concurrent use.
type Target struct {
	cfg Config
	// transport is used directly, without an http.Client: the client
	// would clone every request's headers and hang a second deadline
	// context off it, for redirects that are never followed and a timeout
	// the request's context carries already.
	transport http.RoundTripper
	// tmpl is the request every attempt copies: the URL is parsed once,
	// not per request. tmplErr is why it could not be built (each Send
	// returns it, as a retriable failure, as the request would have).
	tmpl    *http.Request
	tmplErr error
	limiter *rate.Limiter
	// auth is the Authorization header: the bearer token, or the URL's
	// user info as Basic auth (what http.Client sent); nil without either.
	auth []string
}

// Canonical header keys (http.CanonicalHeaderKey) and constant values.
var (
	hContentType   = http.CanonicalHeaderKey("Content-Type")
	hUserAgent     = http.CanonicalHeaderKey("User-Agent")
	hAuthorization = http.CanonicalHeaderKey("Authorization")
	hID            = http.CanonicalHeaderKey(webhook.HeaderID)
	hTimestamp     = http.CanonicalHeaderKey(webhook.HeaderTimestamp)
	hSignature     = http.CanonicalHeaderKey(webhook.HeaderSignature)
	hAttempt       = http.CanonicalHeaderKey(webhook.HeaderAttempt)
	contentJSON    = []string{"application/json"}
	userAgent      = []string{"provbus-deliver"}
)

// New returns a Target. Redirects are not followed: a webhook target that
// moved is a configuration to fix, and following would resend the body,
// with its bearer token, to wherever the answer points.
func New(cfg Config) *Target {
	t := &Target{cfg: cfg, transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
	t.tmpl, t.tmplErr = http.NewRequest(http.MethodPost, cfg.URL, nil)
	switch {
	case cfg.BearerToken != "":
		t.auth = []string{"Bearer " + cfg.BearerToken}
	case t.tmplErr == nil && t.tmpl.URL.User != nil:
		// http.Client turned user info into Basic auth; RoundTrip does not.
		u := t.tmpl.URL.User
		p, _ := u.Password()
		t.auth = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+p))}
	}
	if cfg.Rate > 0 {
		t.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, cfg.Rate/10))
	}
	return t
}

// Request is one attempt.
type Request struct {
	EventID string
	Attempt int
	Body    []byte
}

// Response is what an attempt came to.
type Response struct {
	Status     int // 0: no response
	Class      retry.Class
	RetryAfter time.Duration
	Excerpt    string
	Err        error
	Latency    time.Duration
	// Sent: the request went out (it may have got no answer).
	Sent bool
}

// Answered reports whether the target answered at all: any HTTP status,
// even a 5xx, shows it is up.
func (r Response) Answered() bool { return r.Status != 0 }

// Send posts req and reads at most ExcerptBytes of the answer. It waits for
// the rate limit first; ctx ends the wait and the request.
func (t *Target) Send(ctx context.Context, req Request) Response {
	if t.limiter != nil {
		if err := t.limiter.Wait(ctx); err != nil {
			return Response{Class: retry.Retriable, Err: err}
		}
	}
	if t.tmplErr != nil {
		return Response{Class: retry.Retriable, Err: t.tmplErr}
	}
	if t.cfg.Timeout > 0 {
		// A child of the caller's context: with one context per sender
		// (deliver), the deadlines do not contend on a shared parent.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.Timeout)
		defer cancel()
	}
	hr := t.tmpl.WithContext(ctx) // a shallow copy: the parsed URL is shared, never modified
	body := req.Body
	hr.ContentLength = int64(len(body))
	if len(body) > 0 {
		hr.Body = io.NopCloser(bytes.NewReader(body))
		// Lets the transport resend on a kept-alive connection the target
		// closed before reading anything, as http.NewRequest allows.
		hr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		hr.Body = http.NoBody
	}
	ts := time.Now().Unix()
	// Keys already in canonical form, assigned directly: Header.Set would
	// canonicalise each of them on every request.
	h := make(http.Header, 8) // sized once: growing the map costs more
	hr.Header = h
	vals := [...]string{req.EventID, strconv.FormatInt(ts, 10), strconv.Itoa(req.Attempt)}
	vs := vals[:] // one allocation for the three per-request values
	h[hContentType] = contentJSON
	h[hUserAgent] = userAgent
	h[hID] = vs[0:1:1]
	h[hTimestamp] = vs[1:2:2]
	h[hAttempt] = vs[2:3:3]
	if t.cfg.SigningKey != nil {
		h[hSignature] = []string{webhook.Sign(t.cfg.SigningKey, req.EventID, ts, body)}
	}
	if t.auth != nil {
		h[hAuthorization] = t.auth
	}
	start := time.Now()
	resp, err := t.transport.RoundTrip(hr)
	if err != nil {
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
	r := Response{Status: resp.StatusCode, Class: retry.Classify(resp.StatusCode), Excerpt: excerpt, Latency: time.Since(start), Sent: true}
	if r.Class == retry.Retriable {
		r.RetryAfter = retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r
}
