package testservers

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser starts a fresh headless chromium (Debian's package) for this test and returns a
// chromedp context driving its first tab over the DevTools protocol. Tests run chromedp
// actions on it (Navigate, SendKeys, Click, WaitVisible, Text, Location, ...), each Run under a
// deadline of their own. The browser has a private, empty profile (no cookies), runs without
// its sandbox when the tests run as root, and is closed when the test ends.
func Browser(t testing.TB) context.Context {
	t.Helper()
	bin := LookTool(t, "chromium")
	out := &Output{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		// Without a UserDataDir option, chromedp gives chromium a fresh temporary profile
		// and removes it once chromium has exited.
		chromedp.CombinedOutput(out),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	logs := &testLog{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logs.logf))
	t.Cleanup(func() {
		closeCtx, closeCancel := context.WithTimeout(ctx, 10*time.Second)
		defer closeCancel()
		chromedp.Cancel(closeCtx) // closes the browser and waits for it to exit
		cancel()
		cancelAlloc()
		logs.stop()
	})
	// Start the browser now, so that a browser that cannot start fails here, saying why. The
	// first Run ties the browser's life to its context, so this one has no deadline (the
	// allocator gives up by itself if chromium does not answer).
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start %s: %v; its output ends:\n%s", bin, err, out.Tail(4096))
	}
	return ctx
}

// testLog passes chromedp's error reports to the test log while the test runs, and drops
// those that arrive after it ended (testing panics on a log call after the test completed).
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("chromium: %s", fmt.Sprintf(format, args...))
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

// Click clicks the first element matching the CSS selector sel, as chromedp.Click does, and
// tries again when the page replaced the element between finding it and clicking it (DevTools
// answers "Could not find node with given id"), which happens now and then when a click closely
// follows a page load.
func Click(sel string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		for try := 0; try < 5; try++ {
			err = chromedp.Click(sel, chromedp.ByQuery).Do(ctx)
			if err == nil || !strings.Contains(err.Error(), "Could not find node") {
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
		return err
	})
}

// Console collects what a browser tab reports as faults of its pages: uncaught exceptions,
// console errors (and, when asked, warnings), and log entries at error level that are not
// HTTP statuses (a script or style refused by the Content-Security-Policy, say).
type Console struct {
	mu       sync.Mutex
	problems []string
}

// WatchConsole starts collecting the faults the tab of ctx reports.
func WatchConsole(ctx context.Context, warnings bool) *Console {
	c := &Console{}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			c.Add("exception: " + ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert || (warnings && ev.Type == runtime.APITypeWarning) {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				c.Add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError && ev.Entry.Source != cdplog.SourceNetwork {
				c.Add(fmt.Sprintf("log (%s): %s", ev.Entry.Source, ev.Entry.Text))
			}
		}
	})
	return c
}

// Add records a fault.
func (c *Console) Add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, s)
}

// Problems returns the faults recorded so far.
func (c *Console) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.problems)
}
