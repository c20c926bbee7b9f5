package main

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// spinner returns a run.Config.Phase that shows a spinner with the step's
// name on w while the step lasts, or nil when w is not a terminal (logs and
// CI stay free of control characters).
func spinner(w io.Writer) func(what string) func() {
	if !isTerminal(w) {
		return nil
	}
	return func(what string) func() {
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish(), progressbar.OptionShowElapsedTimeOnFinish())
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					bar.Add(1)
				}
			}
		})
		var once sync.Once
		return func() {
			once.Do(func() {
				close(done)
				wg.Wait()
				bar.Finish()
			})
		}
	}
}
