//go:build unix

package stdlib

import (
	"syscall"
	"time"
)

// processCPU is the process's CPU time, user and system: the benchmarks report it next to
// wall time because on a shared machine wall time swings with the load and CPU time much less.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
