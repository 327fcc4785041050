package ingest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
)

type failingWriter struct{ after int }

func (f *failingWriter) Write(b []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(b), nil
}

type failingReader struct {
	r    io.Reader
	left int
}

func (f *failingReader) Read(b []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(b) > f.left {
		b = b[:f.left]
	}
	n, err := f.r.Read(b)
	f.left -= n
	return n, err
}

func TestCopy(t *testing.T) {
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 7*chunkSize + 12345, 20 * chunkSize} {
		data := make([]byte, size)
		rand.Read(data)
		var out bytes.Buffer
		h := sha256.New()
		n, err := Copy(&out, h, bytes.NewReader(data), int64(size))
		if err != nil || n != int64(size) {
			t.Fatalf("size %d: Copy = %d, %v", size, n, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("size %d: output differs", size)
		}
		if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("size %d: hash differs", size)
		}
	}
}

func TestCopyLimit(t *testing.T) {
	for _, size := range []int{10, 3*chunkSize + 1} {
		data := make([]byte, size)
		if _, err := Copy(io.Discard, nil, bytes.NewReader(data), int64(size-1)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("size %d over limit: %v", size, err)
		}
		if _, err := Copy(io.Discard, nil, bytes.NewReader(data), int64(size)); err != nil {
			t.Fatalf("size %d at limit: %v", size, err)
		}
	}
}

func TestCopyErrors(t *testing.T) {
	data := make([]byte, 5*chunkSize)
	if _, err := Copy(&failingWriter{after: 2}, sha256.New(), bytes.NewReader(data), 1<<40); err == nil {
		t.Fatal("write failure not reported")
	}
	if _, err := Copy(io.Discard, sha256.New(), &failingReader{r: bytes.NewReader(data), left: 3*chunkSize + 5}, 1<<40); err == nil {
		t.Fatal("read failure not reported")
	}
	if _, err := Copy(io.Discard, sha256.New(), &failingReader{r: bytes.NewReader(data), left: 100}, 1<<40); err == nil {
		t.Fatal("read failure of small content not reported")
	}
}

func TestCopyTruncated(t *testing.T) {
	for _, size := range []int{100, 5 * chunkSize} {
		src := io.MultiReader(bytes.NewReader(make([]byte, size)), truncated{})
		if _, err := Copy(io.Discard, sha256.New(), src, 1<<40); !errors.Is(err, ErrTruncated) {
			t.Fatalf("size %d: a body cut short gave %v, want ErrTruncated", size, err)
		}
	}
}

type truncated struct{}

func (truncated) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func BenchmarkCopy(b *testing.B) {
	data := make([]byte, 256<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Copy(io.Discard, sha256.New(), bytes.NewReader(data), 1<<40)
	}
}

func BenchmarkSHA256(b *testing.B) {
	data := make([]byte, 256<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h := sha256.New()
		h.Write(data)
	}
}
