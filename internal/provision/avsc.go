package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// AVSC returns the .avsc file of every Avro topic in specs, by file name
// ("<topic>-value.avsc"): what the registry holds, as files any language
// can use.
func AVSC(specs []topology.TopicSpec) (map[string]string, error) {
	files := map[string]string{}
	for _, s := range specs {
		if !s.Avro {
			continue
		}
		text, err := schemas.ValueSchema(s.Logical)
		if err != nil {
			return nil, err
		}
		files[schemas.Subject(s.Logical)+".avsc"] = text
	}
	return files, nil
}

// WriteAVSC writes AVSC(specs) into dir and removes .avsc files there that
// no topic has any more.
func WriteAVSC(dir string, specs []topology.TopicSpec) error {
	files, err := AVSC(specs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.avsc"))
	for _, p := range old {
		if _, keep := files[filepath.Base(p)]; !keep {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(files[n]), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", n, err)
		}
	}
	return nil
}

// StaleAVSC lists the differences between dir and AVSC(specs): missing,
// changed and extra files. Empty means dir is current.
func StaleAVSC(dir string, specs []topology.TopicSpec) ([]string, error) {
	files, err := AVSC(specs)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for n, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, n))
		switch {
		case err != nil:
			diffs = append(diffs, "missing "+n)
		case string(got) != want:
			diffs = append(diffs, "changed "+n)
		}
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.avsc"))
	for _, p := range have {
		if _, ok := files[filepath.Base(p)]; !ok {
			diffs = append(diffs, "extra "+filepath.Base(p))
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

// SchemaLayout is the layout the committed .avsc files are generated from:
// subjects do not depend on partitions or retention.
func SchemaLayout(c *topology.Catalog) []topology.TopicSpec {
	return c.Layout(topology.LayoutOptions{Partitions: 1, ReplicationFactor: 1, MinInsyncReplicas: 1, HandlerRetention: 1})
}

// DescribeDiff is a one-line verdict for `provbus schemas check`.
func DescribeDiff(d SubjectDiff) string {
	switch {
	case d.Registered:
		return "registered"
	case d.Incompatible != nil:
		return "INCOMPATIBLE: " + strings.ReplaceAll(d.Incompatible.Error(), "\n", "; ")
	case d.Versions == 0:
		return "new subject"
	default:
		return fmt.Sprintf("new version after v%d (BACKWARD_TRANSITIVE compatible)", d.Versions)
	}
}
