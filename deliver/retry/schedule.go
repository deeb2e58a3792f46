// Package retry decides what happens after a delivery attempt: which
// answers are worth retrying, and when the next attempt is due. Like NSPS,
// a failing event gets a short schedule (about 100 attempts over a day,
// exponential backoff with jitter), then a long one (1 h, 2 h, 4 h … 24 h,
// repeating the last step) until max age, when it is failed.
package retry

import (
	"math/rand/v2"
	"time"
)

// Schedule is a handler's retry policy. The zero value is not usable; start
// from Default.
type Schedule struct {
	// Initial is the wait after the first failed attempt; each further
	// wait doubles up to MaxInterval.
	Initial, MaxInterval time.Duration
	// Attempts is the number of attempts of the short schedule (the
	// first attempt included).
	Attempts int
	// Long are the waits after the short schedule is spent; the last one
	// repeats until MaxAge.
	Long []time.Duration
	// MaxAge is how long after its first attempt an event is given up
	// (failed) instead of retried.
	MaxAge time.Duration
	// MaxRetryAfter caps a target's Retry-After, so a misconfigured
	// target cannot park a key for a year.
	MaxRetryAfter time.Duration
	// Jitter is the fraction (0 to 1) each wait is spread by, both ways,
	// so keys that failed together do not retry together.
	Jitter float64
}

// Default is the NSPS-like policy of issue 13: 1 s doubling to 15 min,
// 100 attempts (about 24 h), then 1 h, 2 h, 4 h, 8 h, 16 h and every 24 h
// up to 30 days; Retry-After capped at 1 h; ±20 % jitter.
func Default() Schedule {
	return Schedule{
		Initial: time.Second, MaxInterval: 15 * time.Minute, Attempts: 100,
		Long:          []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour},
		MaxAge:        30 * 24 * time.Hour,
		MaxRetryAfter: time.Hour,
		Jitter:        0.2,
	}
}

// Wait returns the wait after failed attempt n (1-based), before jitter.
func (s Schedule) Wait(n int) time.Duration {
	if n < s.Attempts {
		d := s.Initial
		for i := 1; i < n && d < s.MaxInterval; i++ {
			d *= 2
		}
		return min(d, s.MaxInterval)
	}
	if len(s.Long) == 0 {
		return s.MaxInterval
	}
	i := n - s.Attempts
	if i >= len(s.Long) {
		i = len(s.Long) - 1
	}
	return s.Long[i]
}

// Next returns when attempt n+1 is due after attempt n failed at now, for
// an event first tried at first; retryAfter is the target's Retry-After (0
// when absent). ok is false when the event has reached MaxAge and must be
// failed instead.
func (s Schedule) Next(n int, first, now time.Time, retryAfter time.Duration) (at time.Time, ok bool) {
	d := s.jitter(s.Wait(n))
	if retryAfter > 0 {
		d = max(d, min(retryAfter, s.MaxRetryAfter))
	}
	at = now.Add(d)
	if s.MaxAge > 0 && at.Sub(first) > s.MaxAge {
		return time.Time{}, false
	}
	return at, true
}

func (s Schedule) jitter(d time.Duration) time.Duration {
	if s.Jitter <= 0 {
		return d
	}
	f := 1 + s.Jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
