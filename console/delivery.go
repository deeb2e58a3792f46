package console

import (
	"context"
	"errors"
	"time"
)

// ErrNotDelivered is what Delivery returns for a handler that has no
// delivery configured (no url): its page says so instead of an error.
var ErrNotDelivered = errors.New("no delivery is configured for this handler")

// ErrNothingToSkip is what Skip returns when the key has no waiting or
// blocked record (already skipped, or delivered meanwhile): a conflict
// with the page the operator saw, not a deliverer failure.
var ErrNothingToSkip = errors.New("nothing waits for this key")

// Delivery is what the handler pages need from the deliver component
// (handler topics → connectors). The console depends on this interface, not
// on the deliver package, so each side can change on its own; the provbus
// binary passes an adapter over the same code `provbus deliver` runs, so an
// action taken here is the CLI's action. Handlers are named by their slug
// (handler.<slug>).
type Delivery interface {
	// Status is the handler's delivery state now.
	Status(ctx context.Context, slug string) (DeliveryStatus, error)
	// Pause stops delivering to the handler's connector; records wait in
	// the topic. Resume starts again where it stopped.
	Pause(ctx context.Context, slug string) error
	Resume(ctx context.Context, slug string) error
	// Redrive sends the handler's failed deliveries again; it returns how
	// many it requeued.
	Redrive(ctx context.Context, slug string) (int, error)
	// Skip gives up on the record blocking key (a permanent failure that
	// holds back the key's later records), so the key moves on.
	Skip(ctx context.Context, slug, key string) error
	// Attempts lists the recorded delivery attempts of the handler
	// records with this key on this partition (an entity's records share
	// both), from since on (zero: all kept), oldest first, for the entity
	// timeline: one read for the whole timeline, not one per event.
	Attempts(ctx context.Context, key string, partition int32, since time.Time) ([]Attempt, error)
}

// DeliveryStatus counts a handler's deliveries by state.
type DeliveryStatus struct {
	Paused    bool
	Delivered int64
	Retrying  int64
	Failed    int64
	Blocked   int64
	// BlockedKeys are the keys held back by a failed record (Skip acts on
	// one); at most a page of them.
	BlockedKeys []string
	LastError   string
	Connector   string // the connector URL, without credentials
}

// Attempt is one delivery attempt and the connector's response.
type Attempt struct {
	Handler  string // the handler's slug
	EventID  string
	At       time.Time
	Status   int    // HTTP status, 0 when no response (timeout, refused)
	Outcome  string // delivered, retry, failed, skipped
	Response string // the response body, truncated by the deliverer
	Error    string
}
