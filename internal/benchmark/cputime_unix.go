//go:build unix

package benchmark

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used so far:
// every line runs the pipeline, its broker and its load generator in this
// process, so a difference of two readings is what a window cost them all.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
