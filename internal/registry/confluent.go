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
