package registry

// In-process access to the wrapped srfake registry: its exported methods
// cover seeding and reading one version, the rest of its state (version
// lists, effective config, lookups) is only reachable through its handler.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// lookup finds schema among subject's live versions (srfake normalises the
// JSON before comparing).
func (r *Registry) lookup(subject string, schema sr.Schema) (sr.SubjectSchema, bool) {
	b, err := json.Marshal(schema)
	if err != nil {
		return sr.SubjectSchema{}, false
	}
	rec := r.call(http.MethodPost, "/subjects/"+url.PathEscape(subject), b)
	if rec.status != http.StatusOK {
		return sr.SubjectSchema{}, false
	}
	var ss sr.SubjectSchema
	if err := json.Unmarshal(rec.body.Bytes(), &ss); err != nil {
		return sr.SubjectSchema{}, false
	}
	return ss, true
}

// level is the subject's effective compatibility level (its own, else the
// global one).
func (r *Registry) level(subject string) (sr.CompatibilityLevel, error) {
	rec := r.call(http.MethodGet, "/config/"+url.PathEscape(subject), nil)
	if rec.status != http.StatusOK {
		return 0, fmt.Errorf("get config of %q: HTTP %d: %s", subject, rec.status, rec.body.String())
	}
	var c struct {
		Level sr.CompatibilityLevel `json:"compatibilityLevel"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &c); err != nil {
		return 0, fmt.Errorf("decode config of %q: %w", subject, err)
	}
	return c.Level, nil
}

// liveVersions returns subject's non-deleted versions, parsed, oldest
// first; none when the subject does not exist.
func (r *Registry) liveVersions(subject string) ([]versioned, error) {
	rec := r.call(http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions", nil)
	if rec.status == http.StatusNotFound {
		return nil, nil
	}
	if rec.status != http.StatusOK {
		return nil, fmt.Errorf("list versions of %q: HTTP %d: %s", subject, rec.status, rec.body.String())
	}
	var versions []int
	if err := json.Unmarshal(rec.body.Bytes(), &versions); err != nil {
		return nil, fmt.Errorf("decode versions of %q: %w", subject, err)
	}
	sort.Ints(versions)
	out := make([]versioned, 0, len(versions))
	for _, v := range versions {
		ss, ok := r.fake.GetSchema(subject, v)
		if !ok {
			continue // deleted between the two calls
		}
		p, err := r.parse(ss.Schema)
		if err != nil {
			return nil, fmt.Errorf("stored schema %q v%d: %w", subject, v, err)
		}
		out = append(out, versioned{version: v, schema: p})
	}
	return out, nil
}

// parse parses s after the schemas it references, depth first, so that
// named types from references resolve.
func (r *Registry) parse(s sr.Schema) (avro.Schema, error) {
	var refs []string
	seen := make(map[string]bool)
	var walk func(refs0 []sr.SchemaReference, depth int) error
	walk = func(refs0 []sr.SchemaReference, depth int) error {
		if depth > maxExplainDepth {
			return fmt.Errorf("%w: references nested too deeply", ErrInvalidSchema)
		}
		for _, ref := range refs0 {
			key := ref.Subject + "\x00" + strconv.Itoa(ref.Version)
			if seen[key] {
				continue
			}
			seen[key] = true
			ss, ok := r.fake.GetSchema(ref.Subject, ref.Version)
			if !ok {
				return fmt.Errorf("%w: reference %q: subject %q version %d not found", ErrInvalidSchema, ref.Name, ref.Subject, ref.Version)
			}
			if err := walk(ss.References, depth+1); err != nil {
				return err
			}
			refs = append(refs, ss.Schema.Schema)
		}
		return nil
	}
	if err := walk(s.References, 0); err != nil {
		return nil, err
	}
	return parseAvro(s.Schema, refs)
}

// call runs a request through srfake's handler in-process and captures the
// answer.
func (r *Registry) call(method, uri string, body []byte) *recorder {
	req, err := http.NewRequest(method, "http://registry"+uri, bytes.NewReader(body))
	rec := &recorder{header: make(http.Header)}
	if err != nil {
		rec.status = http.StatusBadRequest
		rec.body.WriteString(err.Error())
		return rec
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	r.fake.Handler().ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

// recorder is a minimal in-memory http.ResponseWriter for call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(b []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	return rc.body.Write(b)
}

func (rc *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range rc.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rc.status)
	_, _ = w.Write(rc.body.Bytes())
}

func respondJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeError answers in Confluent's error shape, which every Schema
// Registry client decodes.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	respondJSON(w, status, map[string]any{"error_code": code, "message": msg})
}
