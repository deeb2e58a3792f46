// Package target sends one request to a handler's connector and says what
// came back, guarded by a circuit breaker and a rate limit so a target that
// is down is probed, not hammered.
package target

import (
	"bytes"
	"context"
	"errors"
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
	cfg     Config
	client  *http.Client
	limiter *rate.Limiter
	auth    []string // the Authorization header, nil without a token
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
	t := &Target{cfg: cfg, client: &http.Client{
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}}
	if cfg.BearerToken != "" {
		t.auth = []string{"Bearer " + cfg.BearerToken}
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
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(req.Body))
	if err != nil {
		return Response{Class: retry.Retriable, Err: err}
	}
	ts := time.Now().Unix()
	// Keys already in canonical form, assigned directly: Header.Set would
	// canonicalise each of them on every request.
	h := make(http.Header, 8) // sized once: growing the map costs more
	hr.Header = h
	h[hContentType] = contentJSON
	h[hUserAgent] = userAgent
	h[hID] = []string{req.EventID}
	h[hTimestamp] = []string{strconv.FormatInt(ts, 10)}
	h[hAttempt] = []string{strconv.Itoa(req.Attempt)}
	if t.cfg.SigningKey != nil {
		h[hSignature] = []string{webhook.Sign(t.cfg.SigningKey, req.EventID, ts, req.Body)}
	}
	if t.auth != nil {
		h[hAuthorization] = t.auth
	}
	start := time.Now()
	resp, err := t.client.Do(hr)
	if err != nil {
		return Response{Class: retry.Retriable, Err: errors.Unwrap(err), Latency: time.Since(start), Sent: true}
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
