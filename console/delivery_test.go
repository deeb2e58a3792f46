package console

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// fakeDelivery is a small in-memory Delivery: enough state for the pages
// and the action flow to be checked until the lead wires the deliver
// package. It refuses unknown handlers and keys like a real one would.
type fakeDelivery struct {
	mu      sync.Mutex
	n       int
	paused  map[string]bool
	failed  map[string]int64
	blocked map[string][]string
	// attempts by record key; reads counts Attempts calls.
	attempts map[string][]Attempt
	reads    int
}

func newFakeDelivery() *fakeDelivery {
	return &fakeDelivery{paused: map[string]bool{}, failed: map[string]int64{"huawei-pcrf": 2}, blocked: map[string][]string{"huawei-pcrf": {"11"}}, attempts: map[string][]Attempt{}}
}

func (f *fakeDelivery) calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.n }

// notDelivered is the fixture's handler without a url.
const notDelivered = "aricenthss"

func (f *fakeDelivery) Status(_ context.Context, slug string) (DeliveryStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slug == notDelivered {
		return DeliveryStatus{}, ErrNotDelivered
	}
	return DeliveryStatus{Paused: f.paused[slug], Delivered: 5, Failed: f.failed[slug], Blocked: int64(len(f.blocked[slug])),
		BlockedKeys: append([]string(nil), f.blocked[slug]...), Connector: "https://pcrf.example.net/hook"}, nil
}

func (f *fakeDelivery) Pause(_ context.Context, slug string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.paused[slug] = true
	return nil
}

func (f *fakeDelivery) Resume(_ context.Context, slug string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if !f.paused[slug] {
		return fmt.Errorf("%s is not paused", slug)
	}
	delete(f.paused, slug)
	return nil
}

func (f *fakeDelivery) Redrive(_ context.Context, slug string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	n := f.failed[slug]
	f.failed[slug] = 0
	return int(n), nil
}

func (f *fakeDelivery) Skip(_ context.Context, slug, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	keys := f.blocked[slug]
	for i, k := range keys {
		if k == key {
			f.blocked[slug] = append(keys[:i:i], keys[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("key %s of %s: %w", key, slug, ErrNothingToSkip)
}

// Attempts answers the attempts the fixture recorded for key, whatever
// the partition (the fake has one of each).
func (f *fakeDelivery) Attempts(_ context.Context, key string, _ int32, _ time.Time) ([]Attempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return append([]Attempt(nil), f.attempts[key]...), nil
}
