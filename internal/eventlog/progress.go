package eventlog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// IsTerminal reports whether f is a character device (a terminal), the only
// place a progress bar that redraws itself with "\r" belongs: in a pipe or a
// CI log it would be noise.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ShowProgress redraws one line on w five times a second — records,
// records/s and the share of the window's offsets passed — until the
// returned stop is called, which clears the line.
func ShowProgress(w io.Writer, label string, p *Progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(w, "\r\033[K"+progressLine(label, p, time.Since(start)))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func progressLine(label string, p *Progress, el time.Duration) string {
	n, off, total := p.Records.Load(), p.Offsets.Load(), p.Total.Load()
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(off) / float64(total)
	}
	const width = 30
	filled := int(pct / 100 * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '#'
		}
	}
	return fmt.Sprintf("%s [%s] %5.1f%%  %d records  %.0f rec/s", label, bar, pct, n, rate)
}

// Summary is the one line a command prints on stderr when it ends.
func Summary(label string, s Stats) string {
	line := fmt.Sprintf("%s: read %d, matched %d, written %d records in %s (%.0f records/s)",
		label, s.Read, s.Matched, s.Written, s.Elapsed.Round(time.Millisecond), s.Rate())
	if s.Undecodable > 0 {
		line += fmt.Sprintf("; %d undecodable records skipped", s.Undecodable)
	}
	return line
}
