package target

import (
	"sync"
	"time"
)

// Breaker is a handler's circuit breaker. After Threshold retriable
// failures in a row it opens: no request goes out until the cool-down
// ends, then one probe does. A probe that succeeds closes it; one that
// fails opens it again for twice as long, up to MaxCooldown. Permanent
// failures (4xx) are answers from a working target and count as success.
type Breaker struct {
	Threshold   int
	Cooldown    time.Duration
	MaxCooldown time.Duration

	mu       sync.Mutex
	fails    int
	openedAt time.Time
	wait     time.Duration
	probing  bool
}

// NewBreaker returns a breaker opening after 10 failures in a row, for 5 s
// at first and at most 5 min.
func NewBreaker() *Breaker {
	return &Breaker{Threshold: 10, Cooldown: 5 * time.Second, MaxCooldown: 5 * time.Minute}
}

// Allow reports whether a request may go out at now, and until when the
// caller should wait otherwise. While half open it allows one probe.
func (b *Breaker) Allow(now time.Time) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return true, time.Time{}
	}
	until := b.openedAt.Add(b.wait)
	if now.Before(until) || b.probing {
		return false, until
	}
	b.probing = true
	return true, time.Time{}
}

// Record counts the result of an allowed request.
func (b *Breaker) Record(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	probe := b.probing
	b.probing = false
	if ok {
		b.fails, b.openedAt, b.wait = 0, time.Time{}, 0
		return
	}
	b.fails++
	switch {
	case probe:
		b.openedAt, b.wait = now, min(2*b.wait, b.MaxCooldown)
	case b.openedAt.IsZero() && b.fails >= b.Threshold:
		b.openedAt, b.wait = now, b.Cooldown
	}
}

// Open reports whether the breaker is open (or half open).
func (b *Breaker) Open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openedAt.IsZero()
}

// CancelProbe gives back a probe Allow granted but the caller did not use.
func (b *Breaker) CancelProbe() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}
