package config

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Deliver configures `provbus deliver`: which handlers are pushed to an
// HTTP connector, and how (docs/deliver.md). A handler without an entry is
// not delivered.
type Deliver struct {
	// Handlers maps a catalog handler name (Huawei::PCRF) to its target.
	Handlers map[string]DeliverHandler `yaml:"handlers"`
}

// DeliverHandler is one handler's connector. Zero fields take the defaults
// of WithDefaults; a zero value has no URL and is refused.
type DeliverHandler struct {
	URL string `yaml:"url"`
	// BearerToken is sent as "Authorization: Bearer …" when set.
	BearerToken string `yaml:"bearer_token"`
	// SigningSecret ("whsec_" + base64) signs every request (Standard
	// Webhooks) when set.
	SigningSecret string   `yaml:"signing_secret"`
	Timeout       Duration `yaml:"timeout"`
	// MaxInFlight bounds concurrent requests per instance (distinct keys).
	MaxInFlight int `yaml:"max_in_flight"`
	// Rate bounds requests per second per instance (0: unlimited).
	Rate  int          `yaml:"rate"`
	Retry DeliverRetry `yaml:"retry"`
	// OnPermanentFailure is "skip" (record it failed, move on) or "block"
	// (hold the key until an operator acts).
	OnPermanentFailure string `yaml:"on_permanent_failure"`
	// IncludeState puts the entity's state, as of delivery, in each body
	// (nil: true).
	IncludeState *bool `yaml:"include_state"`
}

// DeliverRetry is a handler's retry policy (deliver/retry.Schedule).
type DeliverRetry struct {
	Schedule DeliverSchedule `yaml:"schedule"`
	// Long are the waits after the short schedule; the last repeats.
	Long []Duration `yaml:"long"`
	// MaxAge: an event still failing this long after its first attempt
	// is failed.
	MaxAge Duration `yaml:"max_age"`
	// MaxRetryAfter caps a target's Retry-After.
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// DeliverSchedule is the short retry schedule: Initial doubling up to
// MaxInterval, Attempts attempts in all.
type DeliverSchedule struct {
	Initial     Duration `yaml:"initial"`
	MaxInterval Duration `yaml:"max_interval"`
	Attempts    int      `yaml:"attempts"`
}

// Permanent-failure policies.
const (
	OnPermanentSkip  = "skip"
	OnPermanentBlock = "block"
)

// WithDefaults fills the zero fields with issue 13's defaults.
func (h DeliverHandler) WithDefaults() DeliverHandler {
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&h.Timeout, 10*time.Second)
	if h.MaxInFlight == 0 {
		h.MaxInFlight = 16
	}
	def(&h.Retry.Schedule.Initial, time.Second)
	def(&h.Retry.Schedule.MaxInterval, 15*time.Minute)
	if h.Retry.Schedule.Attempts == 0 {
		h.Retry.Schedule.Attempts = 100
	}
	if len(h.Retry.Long) == 0 {
		for _, hours := range []time.Duration{1, 2, 4, 8, 16, 24} {
			h.Retry.Long = append(h.Retry.Long, Duration(hours*time.Hour))
		}
	}
	def(&h.Retry.MaxAge, 30*24*time.Hour)
	def(&h.Retry.MaxRetryAfter, time.Hour)
	if h.OnPermanentFailure == "" {
		h.OnPermanentFailure = OnPermanentSkip
	}
	if h.IncludeState == nil {
		on := true
		h.IncludeState = &on
	}
	return h
}

// validate checks deliver.handlers.
func (d Deliver) validate(bad func(key, format string, a ...any)) {
	for name, h := range d.Handlers {
		key := "deliver.handlers." + name
		if u, err := url.Parse(h.URL); err != nil {
			bad(key+".url", "not a URL") // the text may hold a secret: not repeated
		} else if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			bad(key+".url", "%q is not an http(s) URL", u.Redacted())
		} else if u.User != nil {
			bad(key+".url", "put credentials in bearer_token, not in the URL")
		}
		if h.SigningSecret != "" && !strings.HasPrefix(h.SigningSecret, "whsec_") {
			bad(key+".signing_secret", `must start with "whsec_" (Standard Webhooks)`)
		}
		if h.Timeout < 0 || h.MaxInFlight < 0 || h.Rate < 0 {
			bad(key, "timeout, max_in_flight and rate must not be negative")
		}
		if h.MaxInFlight > 1024 {
			bad(key+".max_in_flight", "at most 1024, got %d", h.MaxInFlight)
		}
		r := h.Retry
		if r.Schedule.Initial < 0 || r.Schedule.MaxInterval < 0 || r.Schedule.Attempts < 0 || r.MaxAge < 0 || r.MaxRetryAfter < 0 {
			bad(key+".retry", "durations and attempts must not be negative")
		}
		for i, l := range r.Long {
			if l <= 0 {
				bad(fmt.Sprintf("%s.retry.long[%d]", key, i), "must be positive")
			}
		}
		switch h.OnPermanentFailure {
		case "", OnPermanentSkip, OnPermanentBlock:
		default:
			bad(key+".on_permanent_failure", "%q is not skip or block", h.OnPermanentFailure)
		}
	}
}

// DeliverEnvName is the environment prefix of one handler's keys:
// PROVBUS_DELIVER_HANDLERS_ + the name upper-cased, every run of other
// characters than letters and digits as one "_" (Huawei::PCRF →
// PROVBUS_DELIVER_HANDLERS_HUAWEI_PCRF).
func DeliverEnvName(handler string) string {
	var b strings.Builder
	b.WriteString("PROVBUS_DELIVER_HANDLERS")
	sep := true
	for _, r := range strings.ToUpper(handler) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			if sep {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	return b.String()
}

// applyDeliverEnv overlays PROVBUS_DELIVER_HANDLERS_<NAME>_<KEY> on the
// handlers the file names, so secrets stay out of the file.
func applyDeliverEnv(cfg *Config, lookup func(string) (string, bool)) error {
	var err error
	for name, h := range cfg.Deliver.Handlers {
		v := reflect.ValueOf(&h).Elem()
		walk(v, DeliverEnvName(name), func(n string, f reflect.Value) {
			if s, ok := lookup(n); ok && err == nil {
				if e := setValue(f, s); e != nil {
					err = fmt.Errorf("%s: %w", n, e)
				}
			}
		})
		cfg.Deliver.Handlers[name] = h
	}
	return err
}
