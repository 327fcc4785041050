package airgap

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/dustin/go-humanize"
)

// Progress shows how far long operations (pulls, downloads, writing and checking a bundle)
// have come.
type Progress interface {
	// Start begins a task: label names it, total is its size in bytes (negative when unknown).
	Start(label string, total int64) Task
}

// Task is one operation being tracked.
type Task interface {
	// Add records n more bytes done.
	Add(n int64)
	// Set records n bytes done in all.
	Set(n int64)
	// Done ends the task.
	Done()
}

// NewProgress returns progress bars on w when w is a terminal, and otherwise plain lines
// (one when a task starts, one every ten seconds while it runs, one when it ends) that read
// well in a log.
func NewProgress(w io.Writer) Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return barProgress{w: w}
	}
	return &lineProgress{w: w, every: 10 * time.Second}
}

// NoProgress shows nothing.
var NoProgress Progress = silent{}

type silent struct{}

func (silent) Start(string, int64) Task { return silentTask{} }

type silentTask struct{}

func (silentTask) Add(int64) {}
func (silentTask) Set(int64) {}
func (silentTask) Done()     {}

// barProgress draws one progress bar per task on a terminal.
type barProgress struct{ w io.Writer }

func (p barProgress) Start(label string, total int64) Task {
	if total < 0 {
		total = -1
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
	return &barTask{bar: bar}
}

type barTask struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
	n   int64
}

func (t *barTask) Add(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += n
	t.bar.Set64(t.n)
}

func (t *barTask) Set(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n = n
	t.bar.Set64(n)
}

func (t *barTask) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bar.GetMax64() < 0 {
		t.bar.ChangeMax64(t.n)
	}
	t.bar.Finish()
}

// lineProgress prints plain progress lines, for logs and pipes.
type lineProgress struct {
	w     io.Writer
	every time.Duration
	mu    sync.Mutex // one line at a time
}

func (p *lineProgress) Start(label string, total int64) Task {
	t := &lineTask{p: p, label: label, total: total, start: time.Now()}
	t.last = t.start
	if total >= 0 {
		p.printf("%s: %s\n", label, humanize.IBytes(uint64(total)))
	} else {
		p.printf("%s\n", label)
	}
	return t
}

func (p *lineProgress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

type lineTask struct {
	p     *lineProgress
	label string
	total int64
	start time.Time
	mu    sync.Mutex
	n     int64
	last  time.Time
	done  bool
}

func (t *lineTask) Add(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.update(t.n + n)
}

func (t *lineTask) Set(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.update(n)
}

func (t *lineTask) update(n int64) {
	t.n = n
	now := time.Now()
	if now.Sub(t.last) >= t.p.every {
		t.last = now
		if t.total > 0 {
			t.p.printf("%s: %s of %s (%d%%)\n", t.label, humanize.IBytes(uint64(n)), humanize.IBytes(uint64(t.total)), 100*n/t.total)
		} else {
			t.p.printf("%s: %s\n", t.label, humanize.IBytes(uint64(n)))
		}
	}
}

func (t *lineTask) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	t.p.printf("%s: done, %s in %s\n", t.label, humanize.IBytes(uint64(t.n)), time.Since(t.start).Round(100*time.Millisecond))
}

// progressWriter passes writes on and counts them into a task.
type progressWriter struct {
	w io.Writer
	t Task
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.t.Add(int64(n))
	return n, err
}

// progressReader counts reads into a task.
type progressReader struct {
	r io.Reader
	t Task
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.t.Add(int64(n))
	return n, err
}
