package schemas

import "time"

// SetClock replaces the codec's clock, so a test can step past the
// negative TTL without sleeping.
func SetClock(c *Codec, now func() time.Time) { c.now = now }
