package test

import (
	"flag"
	"os"
)

var longFlag = flag.Bool("long", false, "run the long versions of the crash and ordering tests (also PROVBUS_LONG=1)")

// long reports whether the long versions of the tests were asked for.
func long() bool { return *longFlag || os.Getenv("PROVBUS_LONG") == "1" }
