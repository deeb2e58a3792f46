//go:build unix

package eventlog

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used so far:
// on a shared machine, records per CPU-second compare formats fairly where
// records per wall second measure the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
