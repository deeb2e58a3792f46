package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/provbus/provbus/console"
	"github.com/provbus/provbus/deliver"
	"github.com/provbus/provbus/topology"
)

// consoleDelivery is the console's console.Delivery over deliver.Admin,
// the code `provbus deliver status|pause|resume|redrive|skip` runs: an
// action taken in the console is the CLI's action, and what the console
// shows is what `provbus deliver status` prints.
type consoleDelivery struct {
	admin deliver.Admin
	// names maps the slugs of the handlers with a url to their names;
	// connectors holds each one's url without credentials.
	names      map[string]string
	connectors map[string]string
	all        []string // names, sorted

	// Status reads whole topics: one read serves every handler of a
	// page for statusTTL, and an action drops it so the page that
	// follows shows its effect.
	mu     sync.Mutex
	at     time.Time
	status map[string]deliver.Status
}

// statusTTL is how long one status read serves the handler pages.
const statusTTL = 2 * time.Second

// newConsoleDelivery returns the Delivery of e's deliver.handlers, or nil
// when none is configured (the pages then say delivery is not configured).
func newConsoleDelivery(e *env) (*consoleDelivery, error) {
	handlers, err := e.deliverHandlers()
	if err != nil || len(handlers) == 0 {
		return nil, err
	}
	host, _ := os.Hostname()
	a, err := e.deliverAdmin("console@" + host)
	if err != nil {
		return nil, err
	}
	d := &consoleDelivery{admin: a, names: map[string]string{}, connectors: map[string]string{}}
	for _, h := range handlers { // sorted by name
		d.names[topology.Slug(h.Name)] = h.Name
		d.connectors[h.Name] = withoutCredentials(h.Target.URL)
		d.all = append(d.all, h.Name)
	}
	return d, nil
}

// withoutCredentials drops what may carry a secret from a connector url:
// user info, query and fragment.
func withoutCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func (d *consoleDelivery) name(slug string) (string, error) {
	if n, ok := d.names[slug]; ok {
		return n, nil
	}
	return "", console.ErrNotDelivered
}

func (d *consoleDelivery) Status(ctx context.Context, slug string) (console.DeliveryStatus, error) {
	name, err := d.name(slug)
	if err != nil {
		return console.DeliveryStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status == nil || time.Since(d.at) > statusTTL {
		st, err := d.admin.Status(ctx, d.all, time.Now().Add(-deliverStatusWindow))
		if err != nil {
			return console.DeliveryStatus{}, err
		}
		d.status, d.at = map[string]deliver.Status{}, time.Now()
		for _, s := range st {
			d.status[s.Handler] = s
		}
	}
	s := d.status[name]
	return console.DeliveryStatus{
		Paused: s.Paused, Delivered: int64(s.Delivered), Retrying: int64(s.Retrying), Failed: int64(s.Failed), Blocked: int64(s.Blocked),
		BlockedKeys: s.BlockedKeys, LastError: s.LastError, Connector: d.connectors[name],
	}, nil
}

// acted drops the cached status after an action.
func (d *consoleDelivery) acted() {
	d.mu.Lock()
	d.status = nil
	d.mu.Unlock()
}

func (d *consoleDelivery) Pause(ctx context.Context, slug string) error {
	return d.setPaused(ctx, slug, true)
}
func (d *consoleDelivery) Resume(ctx context.Context, slug string) error {
	return d.setPaused(ctx, slug, false)
}

func (d *consoleDelivery) setPaused(ctx context.Context, slug string, paused bool) error {
	name, err := d.name(slug)
	if err != nil {
		return err
	}
	defer d.acted()
	return d.admin.SetPaused(ctx, name, paused)
}

func (d *consoleDelivery) Redrive(ctx context.Context, slug string) (int, error) {
	name, err := d.name(slug)
	if err != nil {
		return 0, err
	}
	defer d.acted()
	return d.admin.Redrive(ctx, name, deliver.RedriveFilter{})
}

func (d *consoleDelivery) Skip(ctx context.Context, slug, key string) error {
	name, err := d.name(slug)
	if err != nil {
		return err
	}
	defer d.acted()
	if _, err = d.admin.Skip(ctx, name, key); errors.Is(err, deliver.ErrNotFound) {
		return fmt.Errorf("%w: %v", console.ErrNothingToSkip, err)
	}
	return err
}

func (d *consoleDelivery) Attempts(ctx context.Context, key string, partition int32, since time.Time) ([]console.Attempt, error) {
	ds, err := d.admin.Attempts(ctx, key, partition, since)
	if err != nil {
		return nil, fmt.Errorf("delivery attempts: %w", err)
	}
	out := make([]console.Attempt, 0, len(ds))
	for _, a := range ds {
		out = append(out, console.Attempt{Handler: topology.Slug(a.Handler), EventID: a.EventID, At: a.At, Status: int(a.StatusCode),
			Outcome: a.Outcome, Response: a.Response, Error: a.Error})
	}
	return out, nil
}
