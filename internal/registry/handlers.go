package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
)

// Body limits: a schema document, and the small JSON bodies of config and
// mode requests.
const (
	maxSchemaBytes  = 1 << 20
	maxRequestBytes = 64 << 10
)

// routes puts our handlers in front of srfake's: registration and
// compatibility need the real check, other mutations need journalling,
// Confluent's answers where srfake's differ (confluent.go), and everything
// else (reads) is srfake's.
func (r *Registry) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", r.handleRoot)
	mux.HandleFunc("GET /schemas/types", r.handleSchemaTypes)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", r.handleIDSchema)
	mux.HandleFunc("GET /schemas/ids/{id}/versions", r.handleIDVersions)
	mux.HandleFunc("GET /subjects", r.handleSubjects)
	mux.HandleFunc("GET /subjects/{subject}/versions", r.handleVersions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", r.handleVersion)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/referencedby", r.handleVersion)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r.handleVersionSchema)
	mux.HandleFunc("POST /subjects/{subject}", r.handleLookup)
	mux.HandleFunc("POST /subjects/{subject}/versions", r.handleRegister)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.handleCompatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.handleCompatibility)
	mux.HandleFunc("DELETE /subjects/{subject}", r.handleDeleteSubject)
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", r.handleDeleteVersion)
	mux.HandleFunc("GET /config/{subject}", r.handleGetConfig)
	mux.HandleFunc("PUT /config", r.handlePutConfig)
	mux.HandleFunc("DELETE /config", r.handleDeleteGlobalConfig)
	mux.HandleFunc("PUT /config/{subject}", r.handlePutConfig)
	mux.HandleFunc("DELETE /config/{subject}", r.handleDeleteConfig)
	mux.HandleFunc("GET /mode/{subject}", r.handleGetMode)
	mux.HandleFunc("PUT /mode", r.handlePutMode)
	mux.HandleFunc("PUT /mode/{subject}", r.handlePutMode)
	for _, p := range []string{
		"DELETE /mode",
		"DELETE /mode/{subject}",
	} {
		mux.HandleFunc(p, r.handleJournalled)
	}
	mux.HandleFunc("/contexts/{context}/{rest...}", r.handleContext)
	mux.Handle("/", r.fake.Handler())
	return jsonErrors(mux)
}

// registerRequest is the body of POST /subjects/{s}/versions. id and
// version are only sent by clients importing schemas (IMPORT mode).
type registerRequest struct {
	sr.Schema
	ID      int `json:"id,omitempty"`
	Version int `json:"version,omitempty"`
}

func (r *Registry) handleRegister(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	var body registerRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxSchemaBytes)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code, "invalid request body: "+err.Error())
		return
	}
	if body.ID > 0 {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrOperationNotPermitted.Code,
			"registering with an explicit id (IMPORT mode) is not supported by the provbus registry")
		return
	}
	if body.Type != sr.TypeAvro {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code,
			fmt.Sprintf("schema type %s is not supported: the provbus registry takes AVRO only", body.Type))
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) || r.readOnly(w, subject) {
		return
	}

	// Confluent answers an already registered schema with its id before
	// any compatibility check, so re-registering at start-up is idempotent.
	if ss, ok := r.lookup(subject, body.Schema); ok {
		respondJSON(w, http.StatusOK, map[string]int{"id": ss.ID})
		return
	}

	ns, level, olds, ok := r.checkInputs(w, subject, body.Schema)
	if !ok {
		return
	}
	errs, err := check(level, ns, olds)
	if err != nil {
		r.internalError(w, err)
		return
	}
	if len(errs) > 0 {
		msgs := messages(errs)
		writeError(w, http.StatusConflict, sr.ErrIncompatibleSchema.Code, fmt.Sprintf(
			"Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]",
			subject, strings.Join(msgs, ", ")))
		r.log.Info("schema refused as incompatible", zap.String("subject", subject), zap.Strings("details", msgs))
		return
	}

	// srfake decides id and version (reusing the id of an equal schema
	// under another subject, as Confluent does).
	b, err := json.Marshal(body.Schema)
	if err != nil {
		r.internalError(w, err)
		return
	}
	rec := r.call(http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", b)
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	ss, ok := r.lookup(subject, body.Schema)
	if !ok {
		r.internalError(w, errors.New("schema vanished right after registration"))
		return
	}
	if r.journal != nil {
		schema := body.Schema
		e := entry{Op: opRegister, At: time.Now().UTC(), Subject: subject, Version: ss.Version, ID: ss.ID, Schema: &schema}
		if err := r.journal.append(e); err != nil {
			r.fail(w, err)
			return
		}
	}
	r.log.Info("schema registered", zap.String("subject", subject), zap.Int("version", ss.Version), zap.Int("id", ss.ID))
	respondJSON(w, http.StatusOK, map[string]int{"id": ss.ID})
}

func (r *Registry) handleCompatibility(w http.ResponseWriter, req *http.Request) {
	subject, version := req.PathValue("subject"), req.PathValue("version")
	verbose := req.URL.Query().Get("verbose") == "true"
	var body sr.Schema
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxSchemaBytes)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code, "invalid request body: "+err.Error())
		return
	}
	if body.Type != sr.TypeAvro {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code,
			fmt.Sprintf("schema type %s is not supported: the provbus registry takes AVRO only", body.Type))
		return
	}
	ns, level, olds, ok := r.checkInputs(w, subject, body)
	if !ok {
		return
	}
	// Without a version the check is the one registration would run; with
	// one it is against that version only, at the subject's level.
	if version != "" {
		n, latest, valid := parseVersion(version)
		if !valid {
			errInvalidVersion(w, version)
			return
		}
		if len(olds) == 0 {
			errSubjectNotFound(w, subject)
			return
		}
		picked, ok := pickVersion(olds, n, latest)
		if !ok {
			errVersionNotFound(w, n)
			return
		}
		olds = []versioned{picked}
	}
	errs, err := check(level, ns, olds)
	if err != nil {
		r.internalError(w, err)
		return
	}
	// Confluent sends messages only when asked with ?verbose=true.
	resp := struct {
		Is       bool     `json:"is_compatible"`
		Messages []string `json:"messages,omitempty"`
	}{Is: len(errs) == 0}
	if verbose {
		resp.Messages = messages(errs)
	}
	respondJSON(w, http.StatusOK, resp)
}

func pickVersion(olds []versioned, n int, latest bool) (versioned, bool) {
	if latest {
		return olds[len(olds)-1], true
	}
	for _, o := range olds {
		if o.version == n {
			return o, true
		}
	}
	return versioned{}, false
}

// handleJournalled lets srfake apply a mutation and journals it when
// srfake accepted it.
func (r *Registry) handleJournalled(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, sr.ErrJSONParseError.Code, "request body: "+err.Error())
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) {
		return
	}
	if rec, ok := r.mutate(w, req.Method, req.URL.RequestURI(), body); ok {
		rec.copyTo(w)
	}
}

// mutate has srfake apply one request and journals it when srfake accepted
// it. The caller holds r.mu and has checked writable. ok is false when the
// journal failed, and the request has then been answered.
func (r *Registry) mutate(w http.ResponseWriter, method, uri string, body []byte) (rec *recorder, ok bool) {
	rec = r.call(method, uri, body)
	if rec.status/100 == 2 && r.journal != nil {
		e := entry{Op: opRequest, At: time.Now().UTC(), Method: method, URI: uri, Body: string(body)}
		if err := r.journal.append(e); err != nil {
			r.fail(w, err)
			return nil, false
		}
	}
	return rec, true
}

// handleContext serves reads under /contexts/ and refuses writes, which we
// could not persist faithfully.
func (r *Registry) handleContext(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrOperationNotPermitted.Code,
			"writes under /contexts are not supported by the provbus registry")
		return
	}
	r.fake.Handler().ServeHTTP(w, req)
}

// writable refuses mutations after Close or after a failed journal write.
// The caller holds r.mu.
func (r *Registry) writable(w http.ResponseWriter) bool {
	switch {
	case r.closed:
		writeError(w, http.StatusServiceUnavailable, sr.ErrStoreError.Code, "registry is closed")
		return false
	case r.failed != nil:
		writeError(w, http.StatusInternalServerError, sr.ErrStoreError.Code,
			"registry is read-only after a failed write (restart it): "+r.failed.Error())
		return false
	}
	return true
}

// fail records a journal failure. The mutation is already in memory but
// not on disk, so the registry turns read-only rather than hand out ids a
// restart would reassign.
func (r *Registry) fail(w http.ResponseWriter, err error) {
	r.failed = err
	r.log.Error("schema registry journal write failed; refusing further writes", zap.Error(err))
	writeError(w, http.StatusInternalServerError, sr.ErrStoreError.Code, err.Error())
}

func (r *Registry) internalError(w http.ResponseWriter, err error) {
	r.log.Error("schema registry internal error", zap.Error(err))
	writeError(w, http.StatusInternalServerError, sr.ErrStoreError.Code, err.Error())
}

func messages(errs []*CompatibilityError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// checkInputs gathers what a compatibility check of schema under subject
// needs: the parsed schema, the subject's level and its live versions. On
// failure it has answered the request and ok is false.
func (r *Registry) checkInputs(w http.ResponseWriter, subject string, schema sr.Schema) (ns avro.Schema, level sr.CompatibilityLevel, olds []versioned, ok bool) {
	ns, err := r.parse(schema)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidSchema.Code, err.Error())
		return nil, 0, nil, false
	}
	if level, err = r.level(subject); err != nil {
		r.internalError(w, err)
		return nil, 0, nil, false
	}
	if olds, err = r.liveVersions(subject); err != nil {
		r.internalError(w, err)
		return nil, 0, nil, false
	}
	return ns, level, olds, true
}
