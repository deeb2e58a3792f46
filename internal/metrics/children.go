package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// children caches the counters of one vector by label set: WithLabelValues
// hashes its label strings on every call, so a hot path resolves each set
// once. max bounds the cache (0: no bound).
type children[K comparable] struct {
	mu  sync.RWMutex
	m   map[K]prometheus.Counter
	max int
}

// get returns the counter of k, made by resolve on first use. Once max
// label sets are cached, an unseen k gets overflow's counter, uncached, so
// both the cache and the series stay bounded.
func (c *children[K]) get(k K, resolve, overflow func() prometheus.Counter) prometheus.Counter {
	c.mu.RLock()
	ctr, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctr, ok := c.m[k]; ok {
		return ctr
	}
	if c.max > 0 && len(c.m) >= c.max {
		return overflow()
	}
	if c.m == nil {
		c.m = map[K]prometheus.Counter{}
	}
	ctr = resolve()
	c.m[k] = ctr
	return ctr
}
