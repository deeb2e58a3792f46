// Command avscgen writes the .avsc file of every provbus topic into the
// directory named by its argument: `go generate ./schemas`.
package main

import (
	"fmt"
	"os"

	"github.com/provbus/provbus/internal/provision"
	"github.com/provbus/provbus/topology"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: avscgen DIR")
		os.Exit(2)
	}
	cat, err := topology.Default()
	if err == nil {
		err = provision.WriteAVSC(os.Args[1], provision.SchemaLayout(cat))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "avscgen:", err)
		os.Exit(1)
	}
}
