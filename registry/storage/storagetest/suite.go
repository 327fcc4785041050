// Package storagetest is the one test suite every storage driver passes. A driver's own test is a
// constructor and a call to Run.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/storage"
)

// Run runs the shared suite against drivers made by newDriver. Each subtest gets a fresh driver
// over empty storage.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Driver)
	}{
		{"StatMissing", testStatMissing},
		{"WriteCommitRead", testWriteCommitRead},
		{"EmptyObject", testEmptyObject},
		{"StagedInvisible", testStagedInvisible},
		{"ResumeAndTruncate", testResumeAndTruncate},
		{"ResumeBeyondStaged", testResumeBeyondStaged},
		{"Cancel", testCancel},
		{"Overwrite", testOverwrite},
		{"Move", testMove},
		{"MoveMissing", testMoveMissing},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"LargeChunked", testLargeChunked},
		{"ConcurrentSameDestination", testConcurrentSameDestination},
		{"RedirectURL", testRedirectURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newDriver(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, d storage.Driver, p string, data []byte) {
	t.Helper()
	w, err := d.Writer(ctx(t), p, 0)
	if err != nil {
		t.Fatalf("Writer(%s): %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%s): %v", p, err)
	}
	if err := w.Commit(ctx(t)); err != nil {
		t.Fatalf("Commit(%s): %v", p, err)
	}
}

func get(t *testing.T, d storage.Driver, p string, offset int64) []byte {
	t.Helper()
	r, err := d.Reader(ctx(t), p, offset)
	if err != nil {
		t.Fatalf("Reader(%s, %d): %v", p, offset, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return b
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("%s: got %v, want ErrNotFound", what, err)
	}
}

func testStatMissing(t *testing.T, d storage.Driver) {
	_, err := d.Stat(ctx(t), "missing/object")
	wantNotFound(t, "Stat", err)
	_, err = d.Reader(ctx(t), "missing/object", 0)
	wantNotFound(t, "Reader", err)
}

func testWriteCommitRead(t *testing.T, d storage.Driver) {
	data := random(t, 100_000)
	put(t, d, "a/b/c/data", data)
	info, err := d.Stat(ctx(t), "a/b/c/data")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != int64(len(data)) || info.Path != "a/b/c/data" {
		t.Fatalf("Stat = %+v, want size %d", info, len(data))
	}
	if got := get(t, d, "a/b/c/data", 0); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes differing from the %d written", len(got), len(data))
	}
	if got := get(t, d, "a/b/c/data", 4096); !bytes.Equal(got, data[4096:]) {
		t.Fatalf("read at offset 4096 differs")
	}
}

func testEmptyObject(t *testing.T, d storage.Driver) {
	put(t, d, "empty", nil)
	info, err := d.Stat(ctx(t), "empty")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v", info, err)
	}
	if got := get(t, d, "empty", 0); len(got) != 0 {
		t.Fatalf("empty object read %d bytes", len(got))
	}
}

func testStagedInvisible(t *testing.T, d storage.Driver) {
	w, err := d.Writer(ctx(t), "uploads/x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	_, err = d.Stat(ctx(t), "uploads/x")
	wantNotFound(t, "Stat of staged object before Close", err)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = d.Stat(ctx(t), "uploads/x")
	wantNotFound(t, "Stat of staged object after Close", err)
	var seen []string
	if err := d.Walk(ctx(t), "uploads/", func(i storage.Info) error { seen = append(seen, i.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Fatalf("Walk listed staged content: %v", seen)
	}
}

func testResumeAndTruncate(t *testing.T, d storage.Driver) {
	p := "uploads/resume"
	parts := [][]byte{random(t, 1000), random(t, 70_000), random(t, 5)}
	var offset int64
	for _, part := range parts {
		w, err := d.Writer(ctx(t), p, offset)
		if err != nil {
			t.Fatalf("Writer at %d: %v", offset, err)
		}
		if w.Size() != offset {
			t.Fatalf("Size() = %d on open, want %d", w.Size(), offset)
		}
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		offset = w.Size()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A failed request wrote garbage after the last good offset; resuming there discards it.
	w, err := d.Writer(ctx(t), p, offset)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("garbage that a broken request left"))
	w.Close()
	w, err = d.Writer(ctx(t), p, offset)
	if err != nil {
		t.Fatalf("Writer at %d after a dropped chunk: %v", offset, err)
	}
	tail := []byte("tail")
	w.Write(tail)
	if err := w.Commit(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want := bytes.Join(append(parts, tail), nil)
	if got := get(t, d, p, 0); !bytes.Equal(got, want) {
		t.Fatalf("resumed object: %d bytes, want %d", len(got), len(want))
	}
}

func testResumeBeyondStaged(t *testing.T, d storage.Driver) {
	w, err := d.Writer(ctx(t), "uploads/short", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	w.Close()
	if w, err := d.Writer(ctx(t), "uploads/short", 100); !errors.Is(err, storage.ErrInvalidOffset) {
		if err == nil {
			w.Cancel(ctx(t))
		}
		t.Fatalf("Writer at an offset beyond the staged content: %v, want ErrInvalidOffset", err)
	}
	if w, err := d.Writer(ctx(t), "uploads/never", 10); !errors.Is(err, storage.ErrInvalidOffset) {
		if err == nil {
			w.Cancel(ctx(t))
		}
		t.Fatalf("Writer resuming content never staged: %v, want ErrInvalidOffset", err)
	}
	// The failed resume left nothing behind: a fresh write starts empty.
	w, err = d.Writer(ctx(t), "uploads/never", 0)
	if err != nil || w.Size() != 0 {
		t.Fatalf("fresh Writer after a failed resume: size %v, %v", w, err)
	}
	w.Cancel(ctx(t))
}

func testCancel(t *testing.T, d storage.Driver) {
	w, err := d.Writer(ctx(t), "uploads/cancel", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("will be discarded"))
	w.Close()
	w, err = d.Writer(ctx(t), "uploads/cancel", int64(len("will be discarded")))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx(t)); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	_, err = d.Stat(ctx(t), "uploads/cancel")
	wantNotFound(t, "Stat after Cancel", err)
	if w, err := d.Writer(ctx(t), "uploads/cancel", 5); err == nil {
		w.Cancel(ctx(t))
		t.Fatal("resuming a cancelled write succeeded")
	}
}

func testOverwrite(t *testing.T, d storage.Driver) {
	put(t, d, "obj", []byte("first version"))
	put(t, d, "obj", []byte("second"))
	if got := get(t, d, "obj", 0); string(got) != "second" {
		t.Fatalf("after overwrite read %q", got)
	}
}

func testMove(t *testing.T, d storage.Driver) {
	put(t, d, "src/object", []byte("moving"))
	put(t, d, "dst/deep/object", []byte("old"))
	if err := d.Move(ctx(t), "src/object", "dst/deep/object"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if got := get(t, d, "dst/deep/object", 0); string(got) != "moving" {
		t.Fatalf("moved object reads %q", got)
	}
	_, err := d.Stat(ctx(t), "src/object")
	wantNotFound(t, "Stat of move source", err)
	if err := d.Move(ctx(t), "dst/deep/object", "fresh/place"); err != nil {
		t.Fatalf("Move to new place: %v", err)
	}
	if got := get(t, d, "fresh/place", 0); string(got) != "moving" {
		t.Fatalf("moved object reads %q", got)
	}
}

func testMoveMissing(t *testing.T, d storage.Driver) {
	wantNotFound(t, "Move of a missing object", d.Move(ctx(t), "nothing/here", "dst"))
}

func testDelete(t *testing.T, d storage.Driver) {
	put(t, d, "tree/a", []byte("a"))
	put(t, d, "tree/sub/b", []byte("b"))
	put(t, d, "treehouse", []byte("not under tree/"))
	if err := d.Delete(ctx(t), "tree/a"); err != nil {
		t.Fatalf("Delete object: %v", err)
	}
	_, err := d.Stat(ctx(t), "tree/a")
	wantNotFound(t, "Stat after Delete", err)
	if err := d.Delete(ctx(t), "tree"); err != nil {
		t.Fatalf("Delete tree: %v", err)
	}
	_, err = d.Stat(ctx(t), "tree/sub/b")
	wantNotFound(t, "Stat of object in deleted tree", err)
	if _, err := d.Stat(ctx(t), "treehouse"); err != nil {
		t.Fatalf("Delete of tree removed a sibling with the same prefix: %v", err)
	}
	wantNotFound(t, "Delete of a missing object", d.Delete(ctx(t), "tree/a"))
	// Delete also drops staged content.
	w, err := d.Writer(ctx(t), "uploads/del", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("staged"))
	w.Close()
	if err := d.Delete(ctx(t), "uploads/del"); err != nil {
		t.Fatalf("Delete of staged content: %v", err)
	}
	if w, err := d.Writer(ctx(t), "uploads/del", 6); err == nil {
		w.Cancel(ctx(t))
		t.Fatal("resuming deleted staged content succeeded")
	}
}

func testWalk(t *testing.T, d storage.Driver) {
	want := []string{"blobs/sha256/aa/one", "blobs/sha256/ab/two", "blobs/sha512/cc/three"}
	for _, p := range want {
		put(t, d, p, []byte(p))
	}
	put(t, d, "other/x", []byte("x"))
	var got []string
	err := d.Walk(ctx(t), "blobs/", func(i storage.Info) error {
		if i.Size != int64(len(i.Path)) {
			t.Errorf("Walk info %+v has wrong size", i)
		}
		got = append(got, i.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("Walk(blobs/) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Walk(blobs/) = %v, want %v", got, want)
		}
	}
	got = nil
	d.Walk(ctx(t), "blobs/sha256/a", func(i storage.Info) error { got = append(got, i.Path); return nil })
	if len(got) != 2 {
		t.Fatalf("Walk(blobs/sha256/a) = %v, want the two sha256 objects", got)
	}
	stop := errors.New("stop")
	if err := d.Walk(ctx(t), "blobs/", func(storage.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Walk did not return the callback's error: %v", err)
	}
}

func testLargeChunked(t *testing.T, d storage.Driver) {
	// Larger than S3's 5 MiB minimum part size, written in uneven chunks over three requests.
	data := random(t, 13<<20+12345)
	cuts := []int{0, 3<<20 + 7, 9<<20 + 1, len(data)}
	for i := 0; i+1 < len(cuts); i++ {
		w, err := d.Writer(ctx(t), "uploads/large", int64(cuts[i]))
		if err != nil {
			t.Fatal(err)
		}
		chunk := data[cuts[i]:cuts[i+1]]
		for len(chunk) > 0 {
			n := min(len(chunk), 1<<20-3)
			if _, err := w.Write(chunk[:n]); err != nil {
				t.Fatal(err)
			}
			chunk = chunk[n:]
		}
		if i+2 == len(cuts) {
			err = w.Commit(ctx(t))
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Move(ctx(t), "uploads/large", "blobs/large"); err != nil {
		t.Fatal(err)
	}
	got := get(t, d, "blobs/large", 0)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("large object differs after chunked write and move (%d bytes, want %d)", len(got), len(data))
	}
}

func testConcurrentSameDestination(t *testing.T, d storage.Driver) {
	data := random(t, 256<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := "uploads/concurrent-" + string(rune('a'+i))
			w, err := d.Writer(context.Background(), src, 0)
			if err != nil {
				errs <- err
				return
			}
			w.Write(data)
			if err := w.Commit(context.Background()); err != nil {
				errs <- err
				return
			}
			errs <- d.Move(context.Background(), src, "blobs/same")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent push: %v", err)
		}
	}
	if got := get(t, d, "blobs/same", 0); !bytes.Equal(got, data) {
		t.Fatal("object written by concurrent movers is corrupt")
	}
	var n int
	d.Walk(ctx(t), "", func(i storage.Info) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d objects stored after concurrent moves to one destination, want 1", n)
	}
}

func testRedirectURL(t *testing.T, d storage.Driver) {
	put(t, d, "redirect/me", []byte("direct download"))
	u, err := d.RedirectURL(ctx(t), "redirect/me", time.Minute)
	if errors.Is(err, storage.ErrRedirectUnsupported) {
		return
	}
	if err != nil {
		t.Fatalf("RedirectURL: %v", err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET redirect URL: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "direct download" {
		t.Fatalf("GET redirect URL: %s %q", resp.Status, body)
	}
}
