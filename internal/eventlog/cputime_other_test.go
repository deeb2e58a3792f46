//go:build !unix

package eventlog

import "time"

// cpuTime is not measured here; the records/cpu-s metric is then left out.
func cpuTime() time.Duration { return 0 }
