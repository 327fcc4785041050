package indexer

import (
	"errors"
	"io"
	"sync"
)

// A pipe is like io.Pipe, but buffered: up to pipeChunks chunks of pipeChunkSize bytes
// wait in it, so that the writer (decompressing a layer) and the reader (scalibr squashing
// it) run at the same time instead of taking turns.
const (
	pipeChunkSize = 256 << 10
	pipeChunks    = 16
)

type pipe struct {
	full chan []byte // written chunks, in order
	free chan []byte // emptied chunks, for reuse

	mu     sync.Mutex
	werr   error         // set by CloseWithError / Close: what the reader sees after the data
	rerr   error         // set when the reader closed: what the writer sees
	closed chan struct{} // closed when the reader closes

	cur []byte // the chunk being read
	off int    // how much of cur was read
	buf []byte // the chunk being filled
}

func newPipe() *pipe {
	return &pipe{
		full:   make(chan []byte, pipeChunks),
		free:   make(chan []byte, pipeChunks+2),
		closed: make(chan struct{}),
	}
}

// Write buffers p, blocking while the pipe is full. It fails once the reader closed.
func (p *pipe) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if p.buf == nil {
			select {
			case p.buf = <-p.free:
				p.buf = p.buf[:0]
			default:
				p.buf = make([]byte, 0, pipeChunkSize)
			}
		}
		c := copy(p.buf[len(p.buf):cap(p.buf)], b)
		p.buf = p.buf[:len(p.buf)+c]
		b, n = b[c:], n+c
		if len(p.buf) == cap(p.buf) {
			if err := p.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (p *pipe) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	select {
	case p.full <- p.buf:
		p.buf = nil
		return nil
	case <-p.closed:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.rerr
	}
}

// CloseWithError ends the stream: the reader gets err (io.EOF when nil) after the data
// written before.
func (p *pipe) CloseWithError(err error) error {
	if err == nil {
		err = io.EOF
	}
	ferr := error(nil)
	if !errors.Is(err, io.EOF) {
		p.buf = nil // the reader gets the error without waiting for the rest
	} else {
		ferr = p.flush()
	}
	p.mu.Lock()
	p.werr = err
	p.mu.Unlock()
	close(p.full)
	return ferr
}

// Close ends the stream with io.EOF after the data written before.
func (p *pipe) Close() error { return p.CloseWithError(nil) }

// Read reads from the buffered chunks, blocking while there are none.
func (p *pipe) Read(b []byte) (int, error) {
	for p.off == len(p.cur) {
		if p.cur != nil {
			select {
			case p.free <- p.cur:
			default:
			}
			p.cur, p.off = nil, 0
		}
		select {
		case c, ok := <-p.full:
			if !ok {
				p.mu.Lock()
				defer p.mu.Unlock()
				return 0, p.werr
			}
			p.cur = c
		case <-p.closed:
			return 0, io.ErrClosedPipe
		}
	}
	n := copy(b, p.cur[p.off:])
	p.off += n
	return n, nil
}

// CloseRead closes the reading end: writes fail from then on.
func (p *pipe) CloseRead() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerr == nil {
		p.rerr = io.ErrClosedPipe
		close(p.closed)
	}
}
