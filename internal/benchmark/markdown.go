package benchmark

import (
	"fmt"
	"os"
	"strings"
)

// Markers delimit the generated run in BENCHMARKS.md; the prose around
// them (what was changed, what bounds each figure) is written by hand and
// kept.
const (
	BeginMarker = "<!-- provbus bench: begin generated run -->"
	EndMarker   = "<!-- provbus bench: end generated run -->"
)

// ReplaceSection writes section between the markers of path, creating the
// file (or appending the markers) when they are missing.
func ReplaceSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := string(old)
	block := BeginMarker + "\n" + section + EndMarker + "\n"
	i, j := strings.Index(text, BeginMarker), strings.Index(text, EndMarker)
	switch {
	case i >= 0 && j > i:
		text = text[:i] + block + text[j+len(EndMarker):]
		text = strings.Replace(text, EndMarker+"\n\n", EndMarker+"\n", 1)
	case text == "":
		text = "# provbus benchmarks\n\n" + block
	default:
		text = strings.TrimRight(text, "\n") + "\n\n" + block
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
