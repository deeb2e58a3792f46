// Command catalogdoc writes the markdown rendering of the embedded catalog to
// the file named by its argument. It is run by "go generate ./topology" to
// keep docs/catalog.md in step with topology/catalog.yaml; TestDocsUpToDate
// fails when someone forgets.
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/provbus/provbus/topology"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: catalogdoc OUTPUT.md")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "catalogdoc:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	c, err := topology.Default()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.WriteMarkdown(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
