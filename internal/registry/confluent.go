package registry

// Where srfake answers differently from Confluent's Schema Registry, the
// handlers here answer as Confluent does (status, error_code, message and
// body shape), checked against Confluent's REST API reference and its
// Errors.java. Third-party tools (the Confluent serializers, KafkaJS's
// registry client, kcat, lag monitors, health checks) branch on these codes:
// a 200 where Confluent says 404 makes them believe the wrong thing.
//
// Every rule is a pre-check or a rewrite around srfake, never a second copy
// of its state: srfake stays the store, and the journal keeps recording
// only the requests srfake accepted, so replay is unchanged.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

// Confluent's messages, from its Errors.java and Rest*Exception classes.
const (
	msgInvalidCompat = "Invalid compatibility level. Valid values are none, backward, forward, full, " +
		"backward_transitive, forward_transitive, and full_transitive"
	msgInvalidMode = "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE"
)

func errSubjectNotFound(w http.ResponseWriter, subject string) {
	writeError(w, http.StatusNotFound, sr.ErrSubjectNotFound.Code, fmt.Sprintf("Subject '%s' not found.", subject))
}

func errVersionNotFound(w http.ResponseWriter, version int) {
	writeError(w, http.StatusNotFound, sr.ErrVersionNotFound.Code, fmt.Sprintf("Version %d not found.", version))
}

func errInvalidVersion(w http.ResponseWriter, version string) {
	writeError(w, http.StatusUnprocessableEntity, sr.ErrInvalidVersion.Code, fmt.Sprintf(
		"The specified version '%s' is not a valid version id. "+
			"Allowed values are between [1, 2^31-1] and the string \"latest\"", version))
}

// parseVersion reads a version path segment as Confluent does: "latest"
// or -1 mean the latest, otherwise 1..2^31-1. latest reports the former.
func parseVersion(s string) (n int, latest, ok bool) {
	if s == "latest" {
		return 0, true, true
	}
	v, err := strconv.ParseInt(s, 10, 32)
	switch {
	case err != nil:
		return 0, false, false
	case v == -1:
		return 0, true, true
	case v < 1:
		return 0, false, false
	}
	return int(v), false, true
}

// versions is what a subject holds: its live versions and the soft-deleted
// ones, each sorted.
type versions struct {
	live, deleted []int
}

func (v versions) all() []int {
	out := append(append([]int(nil), v.live...), v.deleted...)
	slices.Sort(out)
	return out
}

// pick returns the versions a read with ?deleted / ?deletedOnly sees.
func (v versions) pick(q url.Values) []int {
	switch {
	case q.Get("deletedOnly") == "true":
		return v.deleted
	case q.Get("deleted") == "true":
		return v.all()
	}
	return v.live
}

// subjectVersions reads subject's versions from srfake. srfake marks a
// soft-deleted subject as a whole (its versions then read as live with
// ?deleted=true), which counts here as every version soft-deleted.
func (r *Registry) subjectVersions(subject string) (versions, error) {
	base := "/subjects/" + url.PathEscape(subject) + "/versions"
	list := func(uri string) ([]int, error) {
		rec := r.call(http.MethodGet, uri, nil)
		if rec.status == http.StatusNotFound {
			return nil, nil
		}
		if rec.status != http.StatusOK {
			return nil, fmt.Errorf("list versions of %q: HTTP %d: %s", subject, rec.status, rec.body.String())
		}
		var vs []int
		if err := json.Unmarshal(rec.body.Bytes(), &vs); err != nil {
			return nil, fmt.Errorf("decode versions of %q: %w", subject, err)
		}
		slices.Sort(vs)
		return vs, nil
	}
	live, err := list(base)
	if err != nil {
		return versions{}, err
	}
	all, err := list(base + "?deleted=true")
	if err != nil {
		return versions{}, err
	}
	var deleted []int
	for _, v := range all {
		if !slices.Contains(live, v) {
			deleted = append(deleted, v)
		}
	}
	return versions{live: live, deleted: deleted}, nil
}

// handleRoot answers GET / with {} as Confluent does; health checks probe it.
func (r *Registry) handleRoot(w http.ResponseWriter, _ *http.Request) {
	respondJSON(w, http.StatusOK, struct{}{})
}

// handleSchemaTypes answers GET /schemas/types: provbus's registry takes
// Avro only, and this is where a client learns it.
func (r *Registry) handleSchemaTypes(w http.ResponseWriter, _ *http.Request) {
	respondJSON(w, http.StatusOK, []string{sr.TypeAvro.String()})
}

// handleSubjects lists subjects that have a live version (any version with
// ?deleted=true, only soft-deleted ones with ?deletedOnly=true). srfake
// also lists a subject whose versions are all soft-deleted, and subjects
// that only ever had a config.
func (r *Registry) handleSubjects(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	rec := r.call(http.MethodGet, "/subjects?deleted=true", nil)
	var names []string
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	if err := json.Unmarshal(rec.body.Bytes(), &names); err != nil {
		r.internalError(w, err)
		return
	}
	prefix := q.Get("subjectPrefix")
	out := []string{}
	for _, s := range names {
		if !strings.HasPrefix(s, prefix) {
			continue
		}
		vs, err := r.subjectVersions(s)
		if err != nil {
			r.internalError(w, err)
			return
		}
		if q.Get("deletedOnly") == "true" {
			if len(vs.live) == 0 && len(vs.deleted) > 0 {
				out = append(out, s)
			}
			continue
		}
		if len(vs.pick(q)) > 0 {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	respondJSON(w, http.StatusOK, out)
}

// handleVersions answers GET /subjects/{s}/versions: 404/40401 for a
// subject with nothing to list (srfake: 200 null), and always an array.
func (r *Registry) handleVersions(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	vs, err := r.subjectVersions(subject)
	if err != nil {
		r.internalError(w, err)
		return
	}
	q := req.URL.Query()
	withDeleted := q.Get("deleted") == "true" || q.Get("deletedOnly") == "true"
	if len(vs.live) == 0 && (!withDeleted || len(vs.deleted) == 0) {
		errSubjectNotFound(w, subject)
		return
	}
	respondJSON(w, http.StatusOK, append([]int{}, vs.pick(q)...))
}

// resolveRead resolves the {version} of a GET under a subject, answering
// 422/42202, 404/40401 or 404/40402 as Confluent does. ok is false when it
// has answered.
func (r *Registry) resolveRead(w http.ResponseWriter, req *http.Request) (subject string, version int, ok bool) {
	subject = req.PathValue("subject")
	raw := req.PathValue("version")
	n, latest, valid := parseVersion(raw)
	if !valid {
		errInvalidVersion(w, raw)
		return "", 0, false
	}
	vs, err := r.subjectVersions(subject)
	if err != nil {
		r.internalError(w, err)
		return "", 0, false
	}
	seen := vs.live
	if req.URL.Query().Get("deleted") == "true" {
		seen = vs.all()
	}
	if len(seen) == 0 {
		errSubjectNotFound(w, subject)
		return "", 0, false
	}
	if latest {
		n = seen[len(seen)-1]
	}
	if !slices.Contains(seen, n) {
		errVersionNotFound(w, n)
		return "", 0, false
	}
	return subject, n, true
}

// handleVersion answers GET /subjects/{s}/versions/{v}[/referencedby]
// after resolving the version Confluent's way; srfake serves the body.
func (r *Registry) handleVersion(w http.ResponseWriter, req *http.Request) {
	subject, n, ok := r.resolveRead(w, req)
	if !ok {
		return
	}
	uri := "/subjects/" + url.PathEscape(subject) + "/versions/" + strconv.Itoa(n)
	if strings.HasSuffix(req.URL.Path, "/referencedby") {
		uri += "/referencedby"
	}
	r.call(http.MethodGet, uri+"?deleted=true", nil).copyTo(w)
}

// handleVersionSchema answers GET /subjects/{s}/versions/{v}/schema with
// the schema text itself, as Confluent does; srfake sends it as a quoted
// JSON string.
func (r *Registry) handleVersionSchema(w http.ResponseWriter, req *http.Request) {
	subject, n, ok := r.resolveRead(w, req)
	if !ok {
		return
	}
	rec := r.call(http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions/"+strconv.Itoa(n)+"?deleted=true", nil)
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	var ss sr.SubjectSchema
	if err := json.Unmarshal(rec.body.Bytes(), &ss); err != nil {
		r.internalError(w, err)
		return
	}
	writeRawSchema(w, ss.Schema.Schema)
}

// handleIDSchema answers GET /schemas/ids/{id}/schema with the schema text
// itself (srfake: a quoted JSON string).
func (r *Registry) handleIDSchema(w http.ResponseWriter, req *http.Request) {
	rec := r.call(http.MethodGet, "/schemas/ids/"+url.PathEscape(req.PathValue("id")), nil)
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	var s sr.Schema
	if err := json.Unmarshal(rec.body.Bytes(), &s); err != nil {
		r.internalError(w, err)
		return
	}
	writeRawSchema(w, s.Schema)
}

func writeRawSchema(w http.ResponseWriter, schema string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, schema)
}

// handleDeleteVersion applies Confluent's two-step delete: a live version is
// soft-deleted first (permanent on a live one: 40407), and a soft-deleted
// one can only be deleted permanently (again without permanent: 40406).
func (r *Registry) handleDeleteVersion(w http.ResponseWriter, req *http.Request) {
	subject, raw := req.PathValue("subject"), req.PathValue("version")
	permanent := req.URL.Query().Get("permanent") == "true"
	n, latest, valid := parseVersion(raw)
	if !valid {
		errInvalidVersion(w, raw)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) || r.readOnly(w, subject) {
		return
	}
	vs, err := r.subjectVersions(subject)
	if err != nil {
		r.internalError(w, err)
		return
	}
	all := vs.all()
	if len(all) == 0 {
		errSubjectNotFound(w, subject)
		return
	}
	if latest {
		if len(vs.live) == 0 {
			errSubjectNotFound(w, subject)
			return
		}
		n = vs.live[len(vs.live)-1]
	}
	switch {
	case !slices.Contains(all, n):
		errVersionNotFound(w, n)
		return
	case !permanent && slices.Contains(vs.deleted, n):
		writeError(w, http.StatusNotFound, sr.ErrSchemaVersionSoftDeleted.Code, fmt.Sprintf(
			"Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, n))
		return
	case permanent && slices.Contains(vs.live, n):
		writeError(w, http.StatusNotFound, sr.ErrSchemaVersionNotSoftDeleted.Code, fmt.Sprintf(
			"Subject '%s' Version %d was not deleted first before being permanently deleted", subject, n))
		return
	}
	uri := "/subjects/" + url.PathEscape(subject) + "/versions/" + strconv.Itoa(n)
	if permanent {
		uri += "?permanent=true"
	}
	if rec, ok := r.mutate(w, http.MethodDelete, uri, nil); ok && rec.status/100 != 2 {
		rec.copyTo(w)
	} else if ok {
		respondJSON(w, http.StatusOK, n)
	}
}

// handleDeleteSubject applies the same two steps to a subject: a soft
// delete soft-deletes its live versions (none left: 40404) and answers
// them; a permanent one needs every version soft-deleted first (40405) and
// answers them all.
//
// The soft delete is done version by version rather than with srfake's
// subject-wide flag, which would make srfake refuse a later registration
// under the subject; Confluent accepts one and numbers it after the
// deleted versions.
func (r *Registry) handleDeleteSubject(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	permanent := req.URL.Query().Get("permanent") == "true"
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.writable(w) || r.readOnly(w, subject) {
		return
	}
	vs, err := r.subjectVersions(subject)
	if err != nil {
		r.internalError(w, err)
		return
	}
	switch all := vs.all(); {
	case len(all) == 0:
		errSubjectNotFound(w, subject)
	case !permanent && len(vs.live) == 0:
		writeError(w, http.StatusNotFound, sr.ErrSubjectSoftDeleted.Code, fmt.Sprintf(
			"Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject))
	case permanent && len(vs.live) > 0:
		writeError(w, http.StatusNotFound, sr.ErrSubjectNotSoftDeleted.Code, fmt.Sprintf(
			"Subject '%s' was not deleted first before being permanently deleted", subject))
	case permanent:
		rec, ok := r.mutate(w, http.MethodDelete, "/subjects/"+url.PathEscape(subject)+"?permanent=true", nil)
		if ok && rec.status/100 != 2 {
			rec.copyTo(w)
		} else if ok {
			respondJSON(w, http.StatusOK, all)
		}
	default:
		for _, v := range vs.live {
			rec, ok := r.mutate(w, http.MethodDelete, "/subjects/"+url.PathEscape(subject)+"/versions/"+strconv.Itoa(v), nil)
			if !ok {
				return
			}
			if rec.status/100 != 2 {
				rec.copyTo(w)
				return
			}
		}
		respondJSON(w, http.StatusOK, vs.live)
	}
}

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

// jsonErrors turns the plain-text 404 and 405 of net/http's ServeMux
// (unknown path, wrong method) into Confluent's JSON error, which carries
// the HTTP status as error_code.
func jsonErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(&plainErrorWriter{ResponseWriter: w}, req)
	})
}

type plainErrorWriter struct {
	http.ResponseWriter
	swallow bool
}

func (p *plainErrorWriter) WriteHeader(status int) {
	ct := p.Header().Get("Content-Type")
	if status >= 400 && strings.HasPrefix(ct, "text/plain") {
		p.swallow = true
		p.Header().Del("X-Content-Type-Options")
		respondJSON(p.ResponseWriter, status, map[string]any{
			"error_code": status,
			"message":    fmt.Sprintf("HTTP %d %s", status, http.StatusText(status)),
		})
		return
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *plainErrorWriter) Write(b []byte) (int, error) {
	if p.swallow {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// handleLookup answers POST /subjects/{s} (is this schema registered?):
// 404/40401 for a subject without live versions, where srfake says 40403.
func (r *Registry) handleLookup(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	vs, err := r.subjectVersions(subject)
	if err != nil {
		r.internalError(w, err)
		return
	}
	if len(vs.pick(req.URL.Query())) == 0 {
		errSubjectNotFound(w, subject)
		return
	}
	r.fake.Handler().ServeHTTP(w, req)
}

// handleIDVersions answers GET /schemas/ids/{id}/versions with the
// (subject, version) pairs sorted and [] when none is left (srfake: map
// order, and null when every use was soft-deleted).
func (r *Registry) handleIDVersions(w http.ResponseWriter, req *http.Request) {
	rec := r.call(http.MethodGet, req.URL.RequestURI(), nil)
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	type use struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
	}
	uses := []use{}
	if err := json.Unmarshal(rec.body.Bytes(), &uses); err != nil {
		r.internalError(w, err)
		return
	}
	if uses == nil {
		uses = []use{}
	}
	slices.SortFunc(uses, func(a, b use) int {
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	respondJSON(w, http.StatusOK, uses)
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
