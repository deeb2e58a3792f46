package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// journalFile is the registry's on-disk state inside its directory.
const journalFile = "registry.jsonl"

// Entry kinds of the journal.
const (
	// opRegister records a schema version exactly as it was stored, so a
	// restart seeds the same (subject, version, id).
	opRegister = "register"
	// opRequest records any other accepted mutation (config, mode,
	// deletions) as the HTTP request srfake accepted; a restart replays it
	// through the same handler, which keeps srfake's semantics (soft vs
	// permanent deletes, version numbering after deletes) without copying
	// them.
	opRequest = "request"
)

// entry is one line of the journal.
type entry struct {
	Op string    `json:"op"`
	At time.Time `json:"at"`

	// opRegister
	Subject string     `json:"subject,omitempty"`
	Version int        `json:"version,omitempty"`
	ID      int        `json:"id,omitempty"`
	Schema  *sr.Schema `json:"schema,omitempty"`

	// opRequest
	Method string `json:"method,omitempty"`
	URI    string `json:"uri,omitempty"`
	Body   string `json:"body,omitempty"`
}

// journal is an append-only JSON-lines log of every accepted mutation.
// Appending (rather than rewriting a snapshot) keeps each write small and
// makes the history of schema changes readable with any text tool; schema
// changes are rare, so the log never needs compaction.
type journal struct {
	path string
	f    *os.File
}

// openJournal reads every complete entry of dir's journal and opens it for
// appending, creating dir and the file when missing.
//
// A last line without its newline is a write torn by a crash: it was never
// acknowledged (we fsync before answering), so it is cut off. A complete
// line that does not parse is corruption, and we refuse to start rather than
// hand out schema ids that may already be in use.
func openJournal(dir string) (*journal, []entry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create registry dir: %w", err)
	}
	path := filepath.Join(dir, journalFile)
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	created := errors.Is(err, os.ErrNotExist)

	var entries []entry
	valid := 0
	for lineNo := 1; valid < len(raw); lineNo++ {
		nl := bytes.IndexByte(raw[valid:], '\n')
		if nl < 0 {
			break // torn tail
		}
		line := raw[valid : valid+nl]
		valid += nl + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %w", path, lineNo, err)
		}
		entries = append(entries, e)
	}

	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	if valid < len(raw) {
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("cut torn tail of %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(valid), 0); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seek %s: %w", path, err)
	}
	if created {
		// The new file's directory entry must be durable too, or a crash
		// could lose the whole journal along with its first schema.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return &journal{path: path, f: f}, entries, nil
}

// append writes e as one line in a single write and fsyncs it, so that an
// acknowledged mutation survives a crash.
func (j *journal) append(e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode journal entry: %w", err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("append to %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", j.path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
