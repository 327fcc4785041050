// Package storage defines blob storage: a flat space of byte objects addressed by slash-separated
// paths, written through resumable staged writers and made visible atomically.
//
// Every driver (local disk, S3-compatible stores) implements Driver and passes the shared suite in
// package storagetest. The registry keeps facts in the metadata database and only bytes here.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (possibly wrapped) when no object exists at a path.
var ErrNotFound = errors.New("storage: object not found")

// ErrRedirectUnsupported is returned by RedirectURL when the driver cannot hand out direct URLs.
var ErrRedirectUnsupported = errors.New("storage: driver does not support redirect URLs")

// ErrInvalidOffset is returned by Driver.Writer when the offset is not one the driver can resume at.
var ErrInvalidOffset = errors.New("storage: invalid resume offset")

// Info describes a stored object.
type Info struct {
	Path    string
	Size    int64
	ModTime time.Time
}

// Driver is the blob storage interface. Paths are relative, slash-separated and never start with
// a slash. Implementations must be safe for concurrent use.
type Driver interface {
	// Stat describes the committed object at path, or returns ErrNotFound.
	Stat(ctx context.Context, path string) (Info, error)
	// Reader streams the committed object at path starting at offset.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Writer opens a staged write for path, keeping the first offset bytes of earlier staged
	// content and discarding the rest. Offset is 0 (start afresh) or a size reported by the
	// Size of an earlier writer for path that was closed; drivers may return ErrInvalidOffset
	// for other offsets. Staged content is not visible at path until Commit.
	Writer(ctx context.Context, path string, offset int64) (FileWriter, error)
	// Move atomically replaces the object at dst with the committed object at src and removes
	// src. Readers of dst see the old or the new object, never a mix.
	Move(ctx context.Context, src, dst string) error
	// Delete removes the committed object at path, its staged content, and every object under
	// path + "/". Deleting what does not exist returns ErrNotFound.
	Delete(ctx context.Context, path string) error
	// Walk calls fn for every committed object whose path starts with prefix, in no set order.
	Walk(ctx context.Context, prefix string, fn func(Info) error) error
	// RedirectURL returns a URL from which a client can GET the object directly for at least
	// expiry, or ErrRedirectUnsupported.
	RedirectURL(ctx context.Context, path string, expiry time.Duration) (string, error)
}

// FileWriter receives staged content for one path.
type FileWriter interface {
	io.Writer
	// Size is the staged size so far: the resume offset plus the bytes written.
	Size() int64
	// Close keeps the staged content so that a later Writer at offset Size() can continue it.
	Close() error
	// Commit makes the staged content the committed object at the path and releases the writer.
	Commit(ctx context.Context) error
	// Cancel discards all staged content for the path and releases the writer.
	Cancel(ctx context.Context) error
}
