// Package target sends one request to a handler's connector and says what
// came back, guarded by a circuit breaker and a rate limit so a target that
// is down is probed, not hammered.
package target

import (
	"context"
	"encoding/base64"
	"net/http"
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
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	t := &Target{cfg: cfg, transport: tr}
	t.tmpl, t.tmplErr = http.NewRequest(http.MethodPost, cfg.URL, nil)
	if t.tmplErr == nil {
		// One URL, and the environment is read once per process: the
		// proxy is the same for every request, so it is chosen here, not
		// per request (an error is left to each request, as before).
		if p, err := http.ProxyFromEnvironment(t.tmpl); err == nil {
			tr.Proxy = nil
			if p != nil {
				tr.Proxy = http.ProxyURL(p)
			}
		}
	}
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
// the rate limit first; ctx ends the wait and the request. A goroutine that
// sends one request after another does better with a Sender of its own.
func (t *Target) Send(ctx context.Context, req Request) Response {
	s := t.NewSender(ctx)
	defer s.Close()
	return s.Send(req)
}
