package target

import (
	"sync"
	"time"
)

// Breaker is a handler's circuit breaker. After Threshold requests in a
// row that got no answer at all (connection refused or reset, timeout) it
// opens: no request goes out until the cool-down ends, then one probe
// does. A probe that is answered closes it; one that is not opens it again
// for twice as long, up to MaxCooldown. Any HTTP answer, a 5xx included,
// shows the target is up: a 5xx is about one event, and per-key retries
// deal with it — counting them would let one failing key (retried often)
// stop the whole handler.
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

// NewBreaker returns a breaker opening after 10 unanswered requests in a
// row, for 5 s at first and at most 1 min.
func NewBreaker() *Breaker {
	return &Breaker{Threshold: 10, Cooldown: 5 * time.Second, MaxCooldown: time.Minute}
}

// Allow reports whether a request may go out at now, and otherwise until
// when the caller should wait (zero while a probe is out: its result
// decides). While half open it allows one probe.
func (b *Breaker) Allow(now time.Time) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return true, time.Time{}
	}
	if b.probing {
		return false, time.Time{} // the probe's result decides
	}
	until := b.openedAt.Add(b.wait)
	if now.Before(until) {
		return false, until
	}
	b.probing = true
	return true, time.Time{}
}

// Record counts an allowed request that was sent: answered or not.
func (b *Breaker) Record(answered bool, now time.Time) {
	ok := answered
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
