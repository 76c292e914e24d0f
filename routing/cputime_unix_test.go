//go:build unix

package routing

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time used by the process so
// far, so a benchmark on a shared machine can report throughput per CPU
// second alongside wall-clock throughput.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
