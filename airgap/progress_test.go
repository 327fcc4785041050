package airgap_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/airgap"
)

// TestLineProgress: off a terminal, progress is plain lines: one when a task starts, one when
// it ends, with sizes people read.
func TestLineProgress(t *testing.T) {
	var out bytes.Buffer
	p := airgap.NewProgress(&out)
	task := p.Start("downloading db.tar.gz", 3<<20)
	task.Add(1 << 20)
	task.Set(3 << 20)
	task.Done()
	task.Done()
	spin := p.Start("checking the layers of redis", -1)
	spin.Add(1536)
	spin.Done()
	want := "downloading db.tar.gz: 3.0 MiB\ndownloading db.tar.gz: done, 3.0 MiB in 0s\n" +
		"checking the layers of redis\nchecking the layers of redis: done, 1.5 KiB in 0s\n"
	if out.String() != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "\r") || strings.Contains(out.String(), "\x1b") {
		t.Error("terminal control characters in plain progress")
	}
}
