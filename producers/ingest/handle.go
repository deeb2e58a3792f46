package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/producers/edge"
)

// bufPool recycles request body buffers: bodies are read whole (the HMAC
// needs the raw bytes) and most are small.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// handleEvents serves POST /v1/sources/{source}/events. What costs least
// is checked first: the source is served, the client may reach it, its
// rate is not exceeded, its client certificate is good — all before the
// body is read; then the credentials, before the content.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	src, ok := s.sources[name]
	g := s.gates[name]
	if !ok || g == nil {
		// The same answer for an unknown source and for one that is not
		// configured: a prober learns nothing about which exist.
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
		return
	}
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	counted := false // the events were counted one by one (produce reached)
	defer func() {
		s.s.metrics.IngestRequest(name, rw.code).Inc()
		if reason := rejectReason(rw.code); reason != "" && !counted {
			s.s.metrics.IngestEvent(name, metrics.TypeUnparsed, metrics.Rejected(reason)).Inc()
		}
	}()
	w = rw

	client := s.proxies.clientIP(r)
	// refused logs why a request was refused: never a credential, only
	// the source, the addresses and the reason.
	refused := func(reason string, err error) {
		s.s.log.Debug("request refused", zap.String("source", name), zap.String("reason", reason),
			zap.Stringer("client", client), zap.String("remote", r.RemoteAddr), zap.Error(err))
	}
	if !g.allowed(client) {
		refused("address not allowed", nil)
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "forbidden"})
		return
	}
	secs, ok, giveBack := reserve(g.limit, start)
	if !ok {
		refused("source rate limit", nil)
		writeTooMany(w, secs)
		return
	}
	if err := g.verifyClient(r); err != nil {
		refused("client certificate", err)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
		return
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		// A one-off huge body should not stay pinned in the pool.
		if buf.Cap() <= 4<<20 {
			bufPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.s.maxBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "body too large", "limit_bytes": s.s.maxBody})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "could not read body"})
		return
	}
	body := buf.Bytes()

	// Credentials before content: an unauthenticated sender learns
	// nothing about what the server would accept.
	var instance string
	if !g.open {
		var err error
		if instance, err = src.Authenticate(r, body); err != nil {
			refused("credentials", err)
			if name == "portabilling" {
				w.Header().Set("WWW-Authenticate", `Basic realm="provbus"`)
			}
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
			return
		}
		if secs, ok, _ := reserve(g.perCred[instance], start); !ok {
			// The installation's own bucket refuses it: its token of the
			// source's bucket goes back, so a flooding installation
			// does not starve the others (unauthenticated requests keep
			// theirs spent).
			giveBack()
			refused("credential rate limit", nil)
			writeTooMany(w, secs)
			return
		}
	}
	ct := r.Header.Get("Content-Type")
	if !isJSON(ct) {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
			"error": "unsupported content type", "content_type": ct, "want": "application/json",
		})
		return
	}

	b, err := s.prepare(src, body, meta{received: s.s.now(), remoteAddr: r.RemoteAddr, contentType: ct, instance: instance})
	if err != nil {
		var bad *edge.Error
		if errors.As(err, &bad) {
			writeBadRequest(w, bad)
			return
		}
		id := requestID()
		s.s.log.Error("prepare", zap.String("request_id", id), zap.String("source", name), zap.Error(err))
		w.Header().Set("X-Request-Id", id)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error", "request_id": id})
		return
	}
	err = s.produce(r.Context(), b.records)
	s.latency[name].Observe(time.Since(start).Seconds())
	counted = true
	if err != nil {
		s.account(name, b, metrics.RejectUnavailable)
		s.unavailable(w, "produce failed", err, zap.String("source", name), zap.Int("records", len(b.records)))
		return
	}
	s.account(name, b, "")
	if src.Status() == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeAccepted(w, src.Status(), b.accepted, b.quarantined)
}

// writeAccepted writes Accepted{accepted, quarantined} exactly as
// writeJSON would, without reflection: it answers every 200, with up to a
// hundred ids in it.
func writeAccepted(w http.ResponseWriter, code int, accepted, quarantined []string) {
	n := 64
	for _, id := range accepted {
		n += len(id) + 3
	}
	for _, id := range quarantined {
		n += len(id) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, `{"event_ids":`...)
	b = appendStrings(b, accepted)
	b = append(b, `,"quarantined":`...)
	b = appendStrings(b, quarantined)
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// appendStrings appends ss as a JSON array, as json.Marshal would.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as json.Marshal would: printable ASCII other than
// the characters it escapes (quote, backslash, and <, >, & for HTML) as
// is, anything else through json.Marshal itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Accepted is the body of a 200 answer.
type Accepted struct {
	// EventIDs are the ids of the events written to domain topics, in
	// request order.
	EventIDs []string `json:"event_ids"`
	// Quarantined are the ids of well-formed events of unknown types,
	// written to provbus.quarantine.
	Quarantined []string `json:"quarantined"`
}

// BadRequest is the body of a 400 answer: the first problem at the top
// level (so simple senders find "error" and "field"), the first
// edge.MaxProblems of them in Errors and how many there are in all in
// ErrorCount, so a body with a million bad elements gets a short answer.
type BadRequest struct {
	Error      string         `json:"error"`
	Field      string         `json:"field,omitempty"`
	Index      int            `json:"index"`
	Errors     []edge.Problem `json:"errors"`
	ErrorCount int            `json:"error_count"`
}

func writeBadRequest(w http.ResponseWriter, bad *edge.Error) {
	p := bad.Problems[0]
	listed := bad.Problems[:min(len(bad.Problems), edge.MaxProblems)]
	writeJSON(w, http.StatusBadRequest, BadRequest{Error: p.Error, Field: p.Field, Index: p.Index, Errors: listed, ErrorCount: bad.Count()})
}

// unavailable answers 503 with Retry-After and a request id; the error
// itself, which may name brokers and their addresses, goes only to the
// log, under the same id.
func (s *Server) unavailable(w http.ResponseWriter, msg string, err error, fields ...zap.Field) {
	id := requestID()
	s.s.log.Warn(msg, append(fields, zap.String("request_id", id), zap.Error(err))...)
	secs := int(s.s.retryAfter.Seconds())
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("X-Request-Id", id)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{
		"error": "kafka unavailable", "request_id": id, "retry_after": secs,
	})
}

// requestID is a random id tying an answer to its log line.
func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// isJSON accepts application/json and any +json media type.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true // what every sender sends: no ParseMediaType (a map per call)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// rejectReason names the rejection of a refused request for the metrics
// ("" for an answer that is not a rejection).
func rejectReason(code int) string {
	switch code {
	case http.StatusBadRequest:
		return metrics.RejectBadRequest
	case http.StatusUnauthorized:
		return metrics.RejectAuth
	case http.StatusRequestEntityTooLarge:
		return metrics.RejectTooLarge
	case http.StatusUnsupportedMediaType:
		return metrics.RejectMediaType
	case http.StatusForbidden:
		return metrics.RejectForbidden
	case http.StatusTooManyRequests:
		return metrics.RejectRateLimited
	case http.StatusServiceUnavailable:
		return metrics.RejectUnavailable
	case http.StatusInternalServerError:
		return metrics.RejectInternal
	}
	return ""
}

// statusWriter records the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}
