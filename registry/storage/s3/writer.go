package s3

import (
	"context"
	"errors"
	"fmt"
)

// writer stages one segment of a path's content, starting at offset. Up to one chunk is buffered
// in memory; a segment that outgrows it streams to S3 as a multipart upload, one chunk per part.
type writer struct {
	d      *Driver
	ctx    context.Context // the Writer call's context, used for part uploads during Write
	path   string
	offset int64 // where this segment starts
	size   int64 // offset + bytes accepted
	buf    []byte
	upload *multipartUpload // nil until the first chunk is full
	err    error            // sticky: set when an upload failed and the segment was abandoned
	done   bool
}

func newWriter(ctx context.Context, d *Driver, p string, offset int64) *writer {
	return &writer{d: d, ctx: ctx, path: p, offset: offset, size: offset}
}

func (w *writer) segmentKey() string { return w.d.segmentKey(w.path, w.offset) }

// Write implements io.Writer.
func (w *writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("s3 storage: write %s after close", w.path)
	}
	written := 0
	for len(b) > 0 {
		if w.err != nil {
			return written, w.err
		}
		if int64(len(w.buf)) == w.d.chunkSize {
			w.flushChunk(w.ctx)
			continue
		}
		n := min(len(b), int(w.d.chunkSize)-len(w.buf))
		w.buf = append(w.buf, b[:n]...)
		w.size += int64(n)
		written += n
		b = b[n:]
	}
	return written, nil
}

// flushChunk uploads the full buffer as the next part of the segment's multipart upload.
func (w *writer) flushChunk(ctx context.Context) {
	if w.upload == nil {
		u, err := w.d.startMultipart(ctx, w.segmentKey())
		if err != nil {
			w.fail(ctx, err)
			return
		}
		w.upload = u
	}
	if err := w.upload.uploadPart(ctx, w.buf); err != nil {
		w.fail(ctx, err)
		return
	}
	w.buf = w.buf[:0]
}

// fail abandons the segment after err: nothing of it will be stored, so the staged size falls
// back to the offset.
func (w *writer) fail(ctx context.Context, err error) {
	if w.upload != nil {
		err = w.upload.abort(ctx, err)
		w.upload = nil
	}
	w.err = fmt.Errorf("s3 storage: write %s: %w", w.path, err)
	w.buf = nil
	w.size = w.offset
}

// Size implements storage.FileWriter.
func (w *writer) Size() int64 { return w.size }

// Close implements storage.FileWriter: it stores the segment so that a later writer can resume
// at Size(). It completes even if the Writer's context was cancelled (a dropped client request).
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.finish(context.WithoutCancel(w.ctx))
}

// finish stores the segment: the buffer in one PutObject, or as the last part of the multipart
// upload. An empty segment is not stored.
func (w *writer) finish(ctx context.Context) error {
	defer func() { w.buf = nil }()
	if w.err != nil {
		return w.err
	}
	if w.upload == nil {
		if len(w.buf) == 0 {
			return nil
		}
		if err := w.d.putObject(ctx, w.segmentKey(), w.buf); err != nil {
			w.fail(ctx, err)
			return w.err
		}
		return nil
	}
	if len(w.buf) > 0 {
		w.flushChunk(ctx)
		if w.err != nil {
			return w.err
		}
	}
	if err := w.upload.complete(ctx); err != nil {
		w.fail(ctx, err)
		return w.err
	}
	w.upload = nil
	return nil
}

// Commit implements storage.FileWriter. A write from offset 0 that fits in one chunk goes
// straight to the committed object; anything else is staged and then composed.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return fmt.Errorf("s3 storage: commit %s after close", w.path)
	}
	w.done = true
	if w.offset == 0 && w.upload == nil && w.err == nil {
		key, err := w.d.key(w.path)
		if err == nil {
			err = w.d.putObject(ctx, key, w.buf)
		}
		w.buf = nil
		if err != nil {
			return fmt.Errorf("s3 storage: commit %s: %w", w.path, err)
		}
		return nil
	}
	if err := w.finish(ctx); err != nil {
		return err
	}
	return w.d.compose(ctx, w.path, w.size)
}

// Cancel implements storage.FileWriter: it abandons this segment and deletes every staged
// segment of the path.
func (w *writer) Cancel(ctx context.Context) error {
	var errs []error
	if !w.done {
		w.done = true
		if w.upload != nil {
			if err := w.upload.abort(ctx, nil); err != nil {
				errs = append(errs, err)
			}
			w.upload = nil
		}
		w.buf = nil
	}
	segs, err := w.d.listSegments(ctx, w.path)
	if err == nil {
		err = w.d.deleteKeys(ctx, segmentKeys(segs))
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("s3 storage: cancel %s: %w", w.path, err))
	}
	return errors.Join(errs...)
}
