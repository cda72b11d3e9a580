//go:build unix

package main

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestInterruptContext: a SIGTERM cancels the run's context and reports once; the run's end
// (stop) cancels it without reporting. (A second signal, which restores the default action
// and so would end the test binary, is left to the manual check recorded in the commit.)
func TestInterruptContext(t *testing.T) {
	var calls atomic.Int32
	ctx, stop := interruptContext(context.Background(), func() { calls.Add(1) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	stop()
	time.Sleep(10 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("onSignal ran %d times, want 1", n)
	}

	calls.Store(0)
	ctx, stop = interruptContext(context.Background(), func() { calls.Add(1) })
	stop()
	<-ctx.Done()
	time.Sleep(10 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Errorf("onSignal ran %d times at the run's end, want 0", n)
	}
}
