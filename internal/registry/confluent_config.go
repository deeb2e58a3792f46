package registry

// Compatibility level and mode, global and per subject, answered as
// Confluent does (see confluent.go).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

// handleGetConfig answers GET /config/{s}: the subject's own level, else
// 404/40408, unless ?defaultToGlobal=true asks for the global fallback.
// srfake falls back by default, so tools could not tell an override from
// the default.
func (r *Registry) handleGetConfig(w http.ResponseWriter, req *http.Request) {
	r.getSubjectSetting(w, req, "/config/", sr.ErrSubjectLevelCompatibilityNotConfigured.Code,
		"Subject '%s' does not have subject-level compatibility configured")
}

// handleGetMode answers GET /mode/{s} the same way (40409).
func (r *Registry) handleGetMode(w http.ResponseWriter, req *http.Request) {
	r.getSubjectSetting(w, req, "/mode/", sr.ErrSubjectLevelModeNotConfigured.Code,
		"Subject '%s' does not have subject-level mode configured")
}

func (r *Registry) getSubjectSetting(w http.ResponseWriter, req *http.Request, base string, code int, format string) {
	subject := req.PathValue("subject")
	own := r.call(http.MethodGet, base+url.PathEscape(subject)+"?defaultToGlobal=false", nil)
	switch {
	case own.status == http.StatusOK:
		own.copyTo(w)
	case own.status != http.StatusNotFound:
		own.copyTo(w)
	case req.URL.Query().Get("defaultToGlobal") == "true":
		r.call(http.MethodGet, strings.TrimSuffix(base, "/"), nil).copyTo(w)
	default:
		writeError(w, http.StatusNotFound, code, fmt.Sprintf(format, subject))
	}
}

// handleDeleteConfig answers DELETE /config/{s} with the level it removed,
// or 404/40401 when the subject had none (srfake: 200 and the global level).
func (r *Registry) handleDeleteConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) {
		return
	}
	own := r.call(http.MethodGet, "/config/"+url.PathEscape(subject)+"?defaultToGlobal=false", nil)
	if own.status != http.StatusOK {
		errSubjectNotFound(w, subject)
		return
	}
	if rec, ok := r.mutate(w, http.MethodDelete, "/config/"+url.PathEscape(subject), nil); ok && rec.status/100 != 2 {
		rec.copyTo(w)
	} else if ok {
		own.copyTo(w)
	}
}

// handlePutConfig validates the level as Confluent does (422/42203;
// srfake: 400) and hands srfake a normalised body, so the journal holds
// exactly what was applied. Confluent ignores fields it does not use here
// (normalize, metadata …); srfake refuses them.
func (r *Registry) handlePutConfig(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxRequestBytes)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidCompatibilityLevel.Code, msgInvalidCompat)
		return
	}
	var level sr.CompatibilityLevel
	if err := level.UnmarshalText([]byte(strings.ToUpper(body.Compatibility))); err != nil || body.Compatibility == "" {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidCompatibilityLevel.Code, msgInvalidCompat)
		return
	}
	r.putSetting(w, req, "/config", map[string]string{"compatibility": level.String()})
}

// handlePutMode validates the mode (422/42204). IMPORT is refused the
// Confluent way (422/42205): provbus assigns every id itself so that the
// journal can replay them.
func (r *Registry) handlePutMode(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Mode string `json:"mode"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxRequestBytes)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidMode.Code, msgInvalidMode)
		return
	}
	mode := strings.ToUpper(body.Mode)
	switch mode {
	case "READWRITE", "READONLY", "READONLY_OVERRIDE":
	case "IMPORT":
		writeError(w, http.StatusUnprocessableEntity, sr.ErrOperationNotPermitted.Code,
			"IMPORT mode is not supported by the provbus registry: it assigns every schema id itself")
		return
	default:
		writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidMode.Code, msgInvalidMode)
		return
	}
	r.putSetting(w, req, "/mode", map[string]string{"mode": mode})
}

func (r *Registry) putSetting(w http.ResponseWriter, req *http.Request, base string, body map[string]string) {
	uri := base
	if s := req.PathValue("subject"); s != "" {
		uri += "/" + url.PathEscape(s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		r.internalError(w, err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) {
		return
	}
	if rec, ok := r.mutate(w, http.MethodPut, uri, b); ok {
		rec.copyTo(w)
	}
}

// readOnly answers 422/42205 when subject's effective mode forbids writes
// to it (registering, deleting), as Confluent does; srfake stores the mode
// but ignores it.
func (r *Registry) readOnly(w http.ResponseWriter, subject string) bool {
	rec := r.call(http.MethodGet, "/mode/"+url.PathEscape(subject), nil)
	var m struct {
		Mode string `json:"mode"`
	}
	if rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &m) != nil {
		return false
	}
	if m.Mode == "READONLY" || m.Mode == "READONLY_OVERRIDE" {
		writeError(w, http.StatusUnprocessableEntity, sr.ErrOperationNotPermitted.Code,
			fmt.Sprintf("Subject %s is in read-only mode", subject))
		return true
	}
	return false
}

// handleDeleteGlobalConfig answers DELETE /config: the global level goes
// back to the registry's default (WithCompatibility, else
// DefaultCompatibility) and the answer is the level it replaced, as
// Confluent does. srfake has no such route.
func (r *Registry) handleDeleteGlobalConfig(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) {
		return
	}
	old := r.call(http.MethodGet, "/config", nil)
	if old.status != http.StatusOK {
		old.copyTo(w)
		return
	}
	b, err := json.Marshal(map[string]string{"compatibility": r.defaultCompat.String()})
	if err != nil {
		r.internalError(w, err)
		return
	}
	if rec, ok := r.mutate(w, http.MethodPut, "/config", b); ok && rec.status/100 != 2 {
		rec.copyTo(w)
	} else if ok {
		old.copyTo(w)
	}
}
