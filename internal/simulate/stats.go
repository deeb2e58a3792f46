package simulate

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Report is the outcome of a Run, counted in events (a batched request
// counts as many events as it carries).
type Report struct {
	Sent     int64 // events in requests sent
	Accepted int64 // events in requests answered 2xx
	Rejected int64 // events in requests answered otherwise
	Failed   int64 // events in requests with no answer (transport error)
	Requests int64
	Statuses map[int]int64 // requests per HTTP status (0 = no answer)
	// FirstError is the first transport error, when there was one.
	FirstError string
	Elapsed    time.Duration
	// Request latency, from sending the request to reading the whole
	// answer.
	P50, P95, P99, Max time.Duration
}

// Rate is the accepted events per second.
func (r Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// String is the summary `provbus simulate` prints.
func (r Report) String() string {
	return fmt.Sprintf("sent %d accepted %d rejected %d failed %d events in %d requests over %s (%.0f events/s accepted)\nlatency p50 %s p95 %s p99 %s max %s\nstatuses %v",
		r.Sent, r.Accepted, r.Rejected, r.Failed, r.Requests, r.Elapsed.Round(time.Millisecond), r.Rate(),
		r.P50, r.P95, r.P99, r.Max, r.Statuses)
}

// stats keeps per-worker latencies (no lock on the hot path) and shared
// counters.
type stats struct {
	workers                    []workerStats
	accepted, rejected, failed atomic.Int64
	firstErr                   atomic.Value // string
}

type workerStats struct {
	mu       sync.Mutex
	lat      []uint32 // microseconds
	statuses map[int]int64
}

func newStats(workers int) *stats {
	s := &stats{workers: make([]workerStats, workers)}
	for i := range s.workers {
		s.workers[i].statuses = map[int]int64{}
		s.workers[i].lat = make([]uint32, 0, 4096)
	}
	return s
}

func (s *stats) record(w, events, status int, d time.Duration) {
	switch {
	case status >= 200 && status < 300:
		s.accepted.Add(int64(events))
	case status == 0:
		s.failed.Add(int64(events))
	default:
		s.rejected.Add(int64(events))
	}
	ws := &s.workers[w]
	ws.mu.Lock()
	ws.statuses[status]++
	if status != 0 {
		ws.lat = append(ws.lat, uint32(min(d.Microseconds(), 1<<32-1)))
	}
	ws.mu.Unlock()
}

func (s *stats) counts() (accepted, rejected, failed int64) {
	return s.accepted.Load(), s.rejected.Load(), s.failed.Load()
}

func (s *stats) report(elapsed time.Duration) Report {
	r := Report{Statuses: map[int]int64{}, Elapsed: elapsed}
	r.Accepted, r.Rejected, r.Failed = s.counts()
	if v, ok := s.firstErr.Load().(string); ok {
		r.FirstError = v
	}
	r.Sent = r.Accepted + r.Rejected + r.Failed
	var all []uint32
	for i := range s.workers {
		ws := &s.workers[i]
		ws.mu.Lock()
		all = append(all, ws.lat...)
		for k, v := range ws.statuses {
			r.Statuses[k] += v
			r.Requests += v
		}
		ws.mu.Unlock()
	}
	slices.Sort(all)
	r.P50, r.P95, r.P99 = Percentile(all, 0.50), Percentile(all, 0.95), Percentile(all, 0.99)
	if len(all) > 0 {
		r.Max = time.Duration(all[len(all)-1]) * time.Microsecond
	}
	return r
}

// Percentile returns the q-quantile (nearest rank) of sorted microsecond
// samples.
func Percentile(sorted []uint32, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return time.Duration(sorted[i]) * time.Microsecond
}
