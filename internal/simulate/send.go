package simulate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provbus/provbus/producers/transatel"
)

// Credentials are what each source sends to authenticate, as configured in
// the ingest's ingest.auth. Empty values send none.
type Credentials struct {
	ESPFUser, ESPFPassword string
	TransatelSecret        string
	JeraSoftToken          string
	// JeraSoftHeader carries the token (default X-Auth-Token).
	JeraSoftHeader string
}

// Options configure Run. Zero values take the defaults noted.
type Options struct {
	// URL is the ingest's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Credentials sign or authenticate each source's requests.
	Credentials Credentials
	// Rate is the target events per second (≤ 0: as fast as possible).
	Rate float64
	// Duration and Events bound the run; whichever comes first (both
	// zero: 10 s).
	Duration time.Duration
	Events   int64
	// Batch is how many ESPF events go in one request (a JSON array,
	// default 1). Transatel and JeraSoft send one event per request, as
	// the real systems do.
	Batch int
	// Connections is the number of concurrent keep-alive connections
	// (default 16).
	Connections int
	// Progress receives a line per ProgressEvery (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Client overrides the HTTP client (default: one built for
	// Connections keep-alive connections).
	Client *http.Client
}

// request is one HTTP request to send: its source, body and event count.
type request struct {
	source string
	body   []byte
	events int
}

// Run sends gen's events to opts.URL until the bound is reached or ctx is
// done, and reports what the ingest answered. Requests are generated on
// one goroutine (the generator is sequential, which keeps a seed's
// sequence fixed) and sent by Connections workers.
func Run(ctx context.Context, gen *Generator, opts Options) (Report, error) {
	if opts.URL == "" {
		return Report{}, fmt.Errorf("simulate: no ingest URL")
	}
	if opts.Batch <= 0 {
		opts.Batch = 1
	}
	if opts.Connections <= 0 {
		opts.Connections = 16
	}
	if opts.Duration <= 0 && opts.Events <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	cl := opts.Client
	if cl == nil {
		cl = NewHTTPClient(opts.Connections)
	}
	base := strings.TrimRight(opts.URL, "/")
	s := &sender{opts: opts, cl: cl, urls: map[string]string{}, stats: newStats(opts.Connections)}
	for _, src := range []string{PortaBilling, Transatel, JeraSoft} {
		s.urls[src] = base + "/v1/sources/" + src + "/events"
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reqs := make(chan request, 2*opts.Connections)
	var wg sync.WaitGroup
	for w := range opts.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx, w, reqs)
		}()
	}
	start := time.Now()
	s.start = start
	progDone := make(chan struct{})
	go s.progress(ctx, progDone)
	s.generate(ctx, gen, reqs)
	close(reqs)
	wg.Wait()
	close(progDone)
	return s.stats.report(time.Since(start)), nil
}

// NewHTTPClient returns a client keeping up to conns connections alive to
// one host, as a webhook sender with a connection pool does.
func NewHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type sender struct {
	opts  Options
	cl    *http.Client
	urls  map[string]string
	stats *stats
	start time.Time
	sent  atomic.Int64
}

// generate paces requests: with a rate, request i leaves when its first
// event is due, so a slow ingest shows as latency and a backlog (the
// channel fills and generation waits) rather than as a quietly lower rate.
func (s *sender) generate(ctx context.Context, gen *Generator, out chan<- request) {
	var batch []byte
	batched := 0
	var generated int64
	deadline := time.Time{}
	if s.opts.Duration > 0 {
		deadline = s.start.Add(s.opts.Duration)
	}
	emit := func(r request) bool {
		if s.opts.Rate > 0 {
			due := s.start.Add(time.Duration(float64(generated-int64(r.events)) / s.opts.Rate * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				select {
				case <-ctx.Done():
					return false
				case <-time.After(d):
				}
			}
		}
		select {
		case <-ctx.Done():
			return false
		case out <- r:
			s.sent.Add(int64(r.events))
			return true
		}
	}
	flush := func() bool {
		if batched == 0 {
			return true
		}
		body := batch
		if batched == 1 && s.opts.Batch == 1 {
			body = batch[1 : len(batch)-1] // a single object, not an array
		}
		r := request{source: PortaBilling, body: body, events: batched}
		batch, batched = nil, 0
		return emit(r)
	}
	for {
		if s.opts.Events > 0 && generated >= s.opts.Events {
			break
		}
		if !deadline.IsZero() && generated%64 == 0 && time.Now().After(deadline) {
			break
		}
		ev := gen.Next()
		generated++
		if ev.Source != PortaBilling {
			if !emit(request{source: ev.Source, body: ev.Body, events: 1}) {
				return
			}
			continue
		}
		if batched == 0 {
			batch = append(make([]byte, 0, len(ev.Body)*s.opts.Batch+2), '[')
		} else {
			batch = append(batch, ',')
		}
		batch = append(batch, ev.Body...)
		batched++
		if batched == s.opts.Batch {
			batch = append(batch, ']')
			if !flush() {
				return
			}
		}
	}
	if batched > 0 {
		batch = append(batch, ']')
		flush()
	}
}

// work sends requests on one connection's worth of concurrency.
func (s *sender) work(ctx context.Context, w int, in <-chan request) {
	for r := range in {
		if ctx.Err() != nil {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.urls[r.source], bytes.NewReader(r.body))
		if err != nil {
			s.stats.record(w, r.events, 0, 0)
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		s.authenticate(req, r)
		t0 := time.Now()
		resp, err := s.cl.Do(req)
		if err != nil {
			s.stats.firstErr.CompareAndSwap(nil, err.Error())
			s.stats.record(w, r.events, 0, time.Since(t0))
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body) // read to the end so the connection is reused
		resp.Body.Close()
		s.stats.record(w, r.events, resp.StatusCode, time.Since(t0))
	}
}

func (s *sender) authenticate(req *http.Request, r request) {
	c := s.opts.Credentials
	switch r.source {
	case PortaBilling:
		if c.ESPFUser != "" {
			req.SetBasicAuth(c.ESPFUser, c.ESPFPassword)
		}
	case Transatel:
		if c.TransatelSecret != "" {
			req.Header.Set(transatel.SignatureHeader, transatel.Sign([]byte(c.TransatelSecret), r.body))
		}
	case JeraSoft:
		if c.JeraSoftToken != "" {
			h := c.JeraSoftHeader
			if h == "" {
				h = "X-Auth-Token"
			}
			req.Header.Set(h, c.JeraSoftToken)
		}
	}
}

func (s *sender) progress(ctx context.Context, done <-chan struct{}) {
	if s.opts.Progress == nil {
		return
	}
	t := time.NewTicker(s.opts.ProgressEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case now := <-t.C:
			acc, rej, fail := s.stats.counts()
			done := acc + rej + fail
			fmt.Fprintf(s.opts.Progress, "simulate: %5.1fs sent %d accepted %d rejected %d failed %d (%.0f events/s)\n",
				now.Sub(s.start).Seconds(), s.sent.Load(), acc, rej, fail, float64(done-last)/s.opts.ProgressEvery.Seconds())
			last = done
		}
	}
}
