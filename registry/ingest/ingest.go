// Package ingest copies pushed bytes into storage while hashing them. Hashing and writing run
// in parallel with reading, so a push costs little more than the hash itself.
package ingest

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// ErrTooLarge is returned when the source has more bytes than the limit allows.
var ErrTooLarge = errors.New("content is larger than allowed")

// ErrTruncated is returned when the source ends before its announced length (an HTTP body
// whose client went away reports io.ErrUnexpectedEOF).
var ErrTruncated = errors.New("content ended before its announced length")

// strict keeps a source's own io.ErrUnexpectedEOF apart from the one io.ReadFull returns for
// a short last chunk, which is a normal end.
type strict struct{ r io.Reader }

func (s strict) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.ErrUnexpectedEOF {
		err = ErrTruncated
	}
	return n, err
}

const (
	chunkSize = 1 << 20
	chunks    = 6
)

var pool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// Copy reads src until EOF and writes every byte to dst and to h (h may be nil). It refuses
// to read more than limit bytes (ErrTooLarge). It returns the number of bytes written to dst;
// on error, dst and h may have received a prefix of the data.
func Copy(dst io.Writer, h hash.Hash, src io.Reader, limit int64) (int64, error) {
	if h == nil {
		h = discard{}
	}
	src = &io.LimitedReader{R: strict{src}, N: limit + 1}
	buf := pool.Get().(*[]byte)
	n, err := io.ReadFull(src, *buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// Small content: no goroutines.
		defer pool.Put(buf)
		if int64(n) > limit {
			return 0, ErrTooLarge
		}
		h.Write((*buf)[:n])
		w, err := dst.Write((*buf)[:n])
		return int64(w), err
	}
	if err != nil {
		pool.Put(buf)
		return 0, fmt.Errorf("read: %w", err)
	}
	return pipeline(dst, h, src, limit, buf, n)
}

type chunk struct {
	buf  *[]byte
	n    int
	refs sync.WaitGroup
}

// pipeline runs three stages: this goroutine reads chunks, one goroutine hashes them and
// another writes them, each in order. A chunk goes back to the pool when both are done.
func pipeline(dst io.Writer, h hash.Hash, src io.Reader, limit int64, first *[]byte, firstN int) (int64, error) {
	toHash := make(chan *chunk, chunks)
	toWrite := make(chan *chunk, chunks)
	free := make(chan struct{}, chunks)
	for range chunks {
		free <- struct{}{}
	}
	var written int64
	var writeErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range toHash {
			h.Write((*c.buf)[:c.n])
			c.refs.Done()
		}
	}()
	go func() {
		defer wg.Done()
		for c := range toWrite {
			if writeErr == nil {
				w, err := dst.Write((*c.buf)[:c.n])
				written += int64(w)
				writeErr = err
			}
			c.refs.Done()
		}
	}()
	release := func(c *chunk) {
		go func() {
			c.refs.Wait()
			pool.Put(c.buf)
			free <- struct{}{}
		}()
	}
	send := func(buf *[]byte, n int) {
		<-free
		c := &chunk{buf: buf, n: n}
		c.refs.Add(2)
		toHash <- c
		toWrite <- c
		release(c)
	}
	var total int64
	var readErr error
	buf, n, eof := first, firstN, false
loop:
	for {
		total += int64(n)
		if total > limit {
			pool.Put(buf)
			readErr = ErrTooLarge
			break
		}
		if n > 0 {
			send(buf, n)
		} else {
			pool.Put(buf)
		}
		if eof {
			break
		}
		buf = pool.Get().(*[]byte)
		var err error
		n, err = io.ReadFull(src, *buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
		case err != nil:
			pool.Put(buf)
			readErr = fmt.Errorf("read: %w", err)
			break loop
		}
	}
	close(toHash)
	close(toWrite)
	wg.Wait()
	if readErr != nil {
		return written, readErr
	}
	if writeErr != nil {
		return written, fmt.Errorf("write: %w", writeErr)
	}
	return written, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) Sum(b []byte) []byte         { return b }
func (discard) Reset()                      {}
func (discard) Size() int                   { return 0 }
func (discard) BlockSize() int              { return 1 }
