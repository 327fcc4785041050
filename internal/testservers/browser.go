package testservers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

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
