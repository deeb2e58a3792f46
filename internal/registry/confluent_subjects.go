package registry

// Subjects, versions and schemas by id, answered as Confluent does (see
// confluent.go): reads that resolve versions its way, and the two-step
// soft/permanent deletes.

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
