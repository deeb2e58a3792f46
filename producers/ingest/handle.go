package ingest

import (
	"bytes"
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

// handleEvents serves POST /v1/sources/{source}/events.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	src, ok := s.sources[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "unknown source", "source": name})
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
	if err := src.Authenticate(r, body); err != nil {
		if name == "portabilling" {
			w.Header().Set("WWW-Authenticate", `Basic realm="provbus"`)
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
		return
	}
	ct := r.Header.Get("Content-Type")
	if !isJSON(ct) {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
			"error": "unsupported content type", "content_type": ct, "want": "application/json",
		})
		return
	}

	b, err := s.prepare(src, body, meta{received: s.s.now(), remoteAddr: r.RemoteAddr, contentType: ct})
	if err != nil {
		var bad *edge.Error
		if errors.As(err, &bad) {
			writeBadRequest(w, bad)
			return
		}
		s.s.log.Error("prepare", zap.String("source", name), zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
		return
	}
	err = s.produce(r.Context(), b.records)
	s.latency[name].Observe(time.Since(start).Seconds())
	counted = true
	if err != nil {
		s.account(name, b, metrics.RejectUnavailable)
		s.s.log.Warn("produce failed", zap.String("source", name), zap.Int("records", len(b.records)), zap.Error(err))
		s.unavailable(w, err)
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
// level (so simple senders find "error" and "field"), all of them in
// Errors.
type BadRequest struct {
	Error  string         `json:"error"`
	Field  string         `json:"field,omitempty"`
	Index  int            `json:"index"`
	Errors []edge.Problem `json:"errors"`
}

func writeBadRequest(w http.ResponseWriter, bad *edge.Error) {
	p := bad.Problems[0]
	writeJSON(w, http.StatusBadRequest, BadRequest{Error: p.Error, Field: p.Field, Index: p.Index, Errors: bad.Problems})
}

func (s *Server) unavailable(w http.ResponseWriter, err error) {
	secs := int(s.s.retryAfter.Seconds())
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{
		"error": "kafka unavailable", "detail": err.Error(), "retry_after": secs,
	})
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
