//go:build !unix

package benchmark

import "time"

// cpuTime is not measured here; the CPU rows then read 0.
func cpuTime() time.Duration { return 0 }
