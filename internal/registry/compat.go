package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// ErrIncompatible is matched (errors.Is) by every compatibility failure
// returned by CheckCompatibility.
var ErrIncompatible = errors.New("schema is incompatible")

// ErrInvalidSchema is matched (errors.Is) when a schema is not valid Avro or
// a compatibility level is unknown.
var ErrInvalidSchema = errors.New("invalid schema")

// Direction says which way data could not flow between two schemas.
type Direction string

const (
	// Backward means the new schema (reader) cannot read data written with
	// an older one. Checked by BACKWARD, BACKWARD_TRANSITIVE, FULL and
	// FULL_TRANSITIVE.
	Backward Direction = "backward"
	// Forward means an older schema (reader) cannot read data written with
	// the new one. Checked by FORWARD, FORWARD_TRANSITIVE, FULL and
	// FULL_TRANSITIVE.
	Forward Direction = "forward"
)

// CompatibilityError is one failed check between the new schema and one
// existing schema version. It matches ErrIncompatible with errors.Is.
type CompatibilityError struct {
	// Level is the compatibility level that asked for the check.
	Level sr.CompatibilityLevel
	// Version is the existing version the new schema was checked against.
	// CheckCompatibility numbers its existing slice from 1, oldest first,
	// which matches a subject whose versions were never deleted.
	Version int
	// Direction says which side could not read the other.
	Direction Direction
	// Field is the dotted path of the offending field (for example
	// "msisdn" or "address.city"); empty when the mismatch is at the top
	// level (record renamed, type changed).
	Field string
	// Reason is the Avro resolution rule that failed, as hamba/avro words it.
	Reason string
	// Missing is true when the failure is a reader field that the writer
	// lacks and that has no default: the classic "added a required field"
	// (backward) or "removed a required field" (forward) break.
	Missing bool
}

// Error renders the failure the way an operator reads it: which version,
// which way, which field.
func (e *CompatibilityError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Level)
	switch {
	case e.Missing && e.Direction == Backward:
		fmt.Fprintf(&b, "the new schema adds field %q without a default, so it cannot read records written with version %d", e.Field, e.Version)
	case e.Missing:
		fmt.Fprintf(&b, "the new schema drops field %q, which version %d requires (no default there), so version %d readers cannot read new records", e.Field, e.Version, e.Version)
	case e.Direction == Backward:
		fmt.Fprintf(&b, "the new schema cannot read records written with version %d", e.Version)
	default:
		fmt.Fprintf(&b, "version %d readers cannot read records written with the new schema", e.Version)
	}
	if !e.Missing {
		if e.Field != "" {
			fmt.Fprintf(&b, ": field %q", e.Field)
		}
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *CompatibilityError) Is(target error) bool { return target == ErrIncompatible }

// CheckCompatibility checks the Avro schema newSchema against existing
// (oldest first) under level, the way the registry does on registration. It
// returns nil when compatible, an error matching ErrInvalidSchema when a
// schema does not parse, and otherwise one *CompatibilityError per failed
// check (joined with errors.Join; use errors.As to get the first). Schemas
// with references are not supported here: every schema must be standalone.
func CheckCompatibility(level sr.CompatibilityLevel, newSchema string, existing []string) error {
	ns, err := parseAvro(newSchema, nil)
	if err != nil {
		return fmt.Errorf("new schema: %w", err)
	}
	olds := make([]versioned, 0, len(existing))
	for i, s := range existing {
		p, err := parseAvro(s, nil)
		if err != nil {
			return fmt.Errorf("existing schema %d: %w", i+1, err)
		}
		olds = append(olds, versioned{version: i + 1, schema: p})
	}
	errs, err := check(level, ns, olds)
	if err != nil {
		return err
	}
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// versioned is a parsed schema with the subject version it was stored as.
type versioned struct {
	version int
	schema  avro.Schema
}

// check runs the checks that level asks for. olds must be sorted oldest
// first; non-transitive levels only look at the last one.
func check(level sr.CompatibilityLevel, ns avro.Schema, olds []versioned) ([]*CompatibilityError, error) {
	var backward, forward, transitive bool
	switch level {
	case sr.CompatNone:
		return nil, nil
	case sr.CompatBackward:
		backward = true
	case sr.CompatBackwardTransitive:
		backward, transitive = true, true
	case sr.CompatForward:
		forward = true
	case sr.CompatForwardTransitive:
		forward, transitive = true, true
	case sr.CompatFull:
		backward, forward = true, true
	case sr.CompatFullTransitive:
		backward, forward, transitive = true, true, true
	default:
		return nil, fmt.Errorf("%w: unknown compatibility level %d", ErrInvalidSchema, level)
	}
	targets := olds
	if !transitive && len(olds) > 0 {
		targets = olds[len(olds)-1:]
	}
	// A fresh checker per call: hamba caches verdicts by fingerprint
	// forever, and a long-running registry must not grow without bound.
	sc := avro.NewSchemaCompatibility()
	var errs []*CompatibilityError
	for _, old := range targets {
		if backward {
			if e := explain(sc, ns, old.schema, "", 0); e != nil {
				e.Level, e.Version, e.Direction = level, old.version, Backward
				errs = append(errs, e)
			}
		}
		if forward {
			if e := explain(sc, old.schema, ns, "", 0); e != nil {
				e.Level, e.Version, e.Direction = level, old.version, Forward
				errs = append(errs, e)
			}
		}
	}
	return errs, nil
}

// maxExplainDepth bounds the descent into nested records; hamba's own check
// already terminated, this only guards the extra walk that finds the field.
const maxExplainDepth = 32

// explain asks hamba whether reader can read writer and, when it cannot,
// walks matching record fields to name the deepest offending one: hamba's
// messages for nested type changes ("reader schema string not compatible
// with writer schema int") do not say where the change is.
func explain(sc *avro.SchemaCompatibility, reader, writer avro.Schema, path string, depth int) *CompatibilityError {
	err := sc.Compatible(reader, writer)
	if err == nil {
		return nil
	}
	rr, rok := deref(reader).(*avro.RecordSchema)
	wr, wok := deref(writer).(*avro.RecordSchema)
	if rok && wok && depth < maxExplainDepth {
		for _, rf := range rr.Fields() {
			wf := findField(wr, rf)
			if wf == nil {
				if rf.HasDefault() {
					continue
				}
				return &CompatibilityError{
					Field:   joinPath(path, rf.Name()),
					Reason:  fmt.Sprintf("reader field %s is missing in writer schema and has no default", rf.Name()),
					Missing: true,
				}
			}
			if e := explain(sc, rf.Type(), wf.Type(), joinPath(path, rf.Name()), depth+1); e != nil {
				return e
			}
		}
	}
	return &CompatibilityError{Field: path, Reason: err.Error()}
}

// findField finds the writer field a reader field reads from: same name, or
// a writer field named by one of the reader field's aliases.
func findField(w *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == rf.Name() || slices.Contains(rf.Aliases(), wf.Name()) {
			return wf
		}
	}
	return nil
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// parseAvro parses schema after its references (already in dependency
// order). Each call gets its own cache: the package-level cache of
// avro.Parse would keep the first definition of a record name and make
// every later version of the same record silently parse as the first.
func parseAvro(schema string, refs []string) (avro.Schema, error) {
	cache := &avro.SchemaCache{}
	for i, ref := range refs {
		if _, err := avro.ParseWithCache(ref, "", cache); err != nil {
			return nil, fmt.Errorf("%w: reference %d: %w", ErrInvalidSchema, i+1, err)
		}
	}
	s, err := avro.ParseWithCache(schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	return s, nil
}
