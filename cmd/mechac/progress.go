package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mechac/mechac/vm"
)

// progress shows a run's progress: a redrawn bar on a terminal, plain lines (at most one
// every few seconds) when stderr is a file or a pipe, nothing with --quiet.
type progress struct {
	e     *env
	quiet bool
	tty   bool
	mu    sync.Mutex
	last  time.Time
	shown bool
	lastP vm.Progress
}

func newProgress(e *env, quiet bool) *progress {
	return &progress{e: e, quiet: quiet, tty: e.stderrIsTTY}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(pr vm.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastP = pr
	now := time.Now()
	final := pr.KeysDone == pr.KeysTotal
	if p.tty {
		if !final && now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last = now
		fmt.Fprintf(p.e.stderr, "\r%s", barLine(pr, 30))
		p.shown = true
		return
	}
	if !final && now.Sub(p.last) < 5*time.Second {
		return
	}
	if p.last.IsZero() && !final {
		p.last = now
		return
	}
	p.last = now
	fmt.Fprintf(p.e.stderr, "progress: %s\n", plainLine(pr))
}

// message prints a line without garbling the bar.
func (p *progress) message(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.e.stderr, "\r\033[K")
	}
	fmt.Fprintln(p.e.stderr, msg)
	if p.tty && p.shown {
		fmt.Fprintf(p.e.stderr, "%s", barLine(p.lastP, 30))
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprintln(p.e.stderr)
	}
}

func eta(pr vm.Progress) string {
	if pr.BytesDone == 0 || pr.BytesDone >= pr.BytesTotal {
		return "--:--"
	}
	rem := time.Duration(float64(pr.Elapsed) * float64(pr.BytesTotal-pr.BytesDone) / float64(pr.BytesDone))
	s := int(rem.Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

func barLine(pr vm.Progress, width int) string {
	frac := 0.0
	if pr.BytesTotal > 0 {
		frac = float64(pr.BytesDone) / float64(pr.BytesTotal)
	}
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %d/%d keys  %s/%s  ETA %s",
		strings.Repeat("#", n), strings.Repeat(".", width-n), pr.KeysDone, pr.KeysTotal,
		humanBytes(pr.BytesDone), humanBytes(pr.BytesTotal), eta(pr))
}

func plainLine(pr vm.Progress) string {
	return fmt.Sprintf("%d/%d keys, %s/%s written, %.1fs elapsed, ETA %s",
		pr.KeysDone, pr.KeysTotal, humanBytes(pr.BytesDone), humanBytes(pr.BytesTotal), pr.Elapsed.Seconds(), eta(pr))
}
