// Package local is the LocalStorage driver: blob storage in a directory on local disk.
//
// Committed objects live at ROOT/PATH; staged content lives under ROOT/.staging/PATH until it is
// committed by a rename, so a reader never sees a partial object and a crash leaves at most an
// abandoned staged file behind. Content is flushed to disk (fsync) before a writer's Close or
// Commit returns, and directories after every rename, so what the database records as stored
// survives a power failure. Writeback starts while bytes arrive, so the final flush only waits
// for the tail.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wharf-registry/wharf/registry/storage"
)

const stagingDir = ".staging"

// Driver stores objects in a directory tree.
type Driver struct {
	root string
}

var _ storage.Driver = (*Driver)(nil)

// New returns a driver rooted at dir, creating it if needed.
func New(dir string) (*Driver, error) {
	if dir == "" {
		return nil, errors.New("local storage: storage_path is empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local storage: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(abs, stagingDir), 0o750); err != nil {
		return nil, fmt.Errorf("local storage: create %s: %w", abs, err)
	}
	return &Driver{root: abs}, nil
}

// Root is the directory the driver stores objects in.
func (d *Driver) Root() string { return d.root }

func (d *Driver) full(p string) (string, error) {
	clean := path.Clean("/" + p)
	if clean == "/" || p == "" || strings.HasPrefix(clean, "/"+stagingDir+"/") || clean != "/"+p {
		return "", fmt.Errorf("local storage: invalid path %q", p)
	}
	return filepath.Join(d.root, filepath.FromSlash(p)), nil
}

func (d *Driver) staged(p string) (string, error) {
	if _, err := d.full(p); err != nil {
		return "", err
	}
	return filepath.Join(d.root, stagingDir, filepath.FromSlash(p)), nil
}

func notFound(err error, p string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return fmt.Errorf("local storage: %w", err)
}

// Stat implements storage.Driver.
func (d *Driver) Stat(_ context.Context, p string) (storage.Info, error) {
	full, err := d.full(p)
	if err != nil {
		return storage.Info{}, err
	}
	fi, err := os.Stat(full)
	if err != nil {
		return storage.Info{}, notFound(err, p)
	}
	if fi.IsDir() {
		return storage.Info{}, fmt.Errorf("%w: %s is a directory", storage.ErrNotFound, p)
	}
	return storage.Info{Path: p, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Reader implements storage.Driver. The reader is an *os.File so that HTTP responses can use
// sendfile.
func (d *Driver) Reader(_ context.Context, p string, offset int64) (io.ReadCloser, error) {
	full, err := d.full(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, notFound(err, p)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("local storage: seek %s: %w", p, err)
		}
	}
	return f, nil
}

// Writer implements storage.Driver.
func (d *Driver) Writer(_ context.Context, p string, offset int64) (storage.FileWriter, error) {
	staged, err := d.staged(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, storage.ErrInvalidOffset
	}
	if err := os.MkdirAll(filepath.Dir(staged), 0o750); err != nil {
		return nil, fmt.Errorf("local storage: %w", err)
	}
	flags := os.O_WRONLY
	if offset == 0 {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(staged, flags, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: nothing staged for %s", storage.ErrInvalidOffset, p)
	}
	if err != nil {
		return nil, fmt.Errorf("local storage: open staged %s: %w", p, err)
	}
	if offset > 0 {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("local storage: %w", err)
		}
		if fi.Size() < offset {
			f.Close()
			return nil, fmt.Errorf("%w: %d beyond staged size %d of %s", storage.ErrInvalidOffset, offset, fi.Size(), p)
		}
		if err := f.Truncate(offset); err != nil {
			f.Close()
			return nil, fmt.Errorf("local storage: truncate %s: %w", p, err)
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("local storage: seek %s: %w", p, err)
		}
	}
	return &writer{d: d, path: p, staged: staged, f: f, size: offset, flushed: offset, waited: offset}, nil
}

// Move implements storage.Driver with a rename, which is atomic on one filesystem.
func (d *Driver) Move(_ context.Context, src, dst string) error {
	from, err := d.full(src)
	if err != nil {
		return err
	}
	to, err := d.full(dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
		return fmt.Errorf("local storage: %w", err)
	}
	if err := os.Rename(from, to); err != nil {
		return notFound(err, src)
	}
	return syncDir(filepath.Dir(to))
}

// syncDir flushes a directory, making the renames and creations in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("local storage: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("local storage: sync %s: %w", dir, err)
	}
	return nil
}

// Delete implements storage.Driver.
func (d *Driver) Delete(_ context.Context, p string) error {
	full, err := d.full(p)
	if err != nil {
		return err
	}
	staged, _ := d.staged(p)
	found := false
	for _, target := range []string{full, staged} {
		fi, err := os.Lstat(target)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("local storage: %w", err)
		}
		found = true
		if fi.IsDir() {
			err = os.RemoveAll(target)
		} else {
			err = os.Remove(target)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("local storage: delete %s: %w", p, err)
		}
	}
	// A committed object may also have children (p + "/...") when p is a directory prefix.
	if !found {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, p)
	}
	return nil
}

// Walk implements storage.Driver.
func (d *Driver) Walk(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	dir := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(dir, func(full string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, full)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if de.IsDir() {
			if rel == stagingDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		return fn(storage.Info{Path: rel, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("local storage: walk %s: %w", prefix, err)
	}
	return nil
}

// RedirectURL implements storage.Driver: local disk has no URLs of its own.
func (d *Driver) RedirectURL(context.Context, string, time.Duration) (string, error) {
	return "", storage.ErrRedirectUnsupported
}

// writebackChunk is how much a writer lets accumulate before it asks the kernel to start
// writing it out.
const writebackChunk = 32 << 20

type writer struct {
	d      *Driver
	path   string
	staged string
	f      *os.File
	size   int64
	// flushed is the offset up to which writeback has been started, waited the offset up to
	// which it has finished.
	flushed, waited int64
	done            bool
}

func (w *writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, errors.New("local storage: write after close")
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if w.size-w.flushed >= writebackChunk {
		// Start writeback of what has arrived and wait for the chunk before it, so the disk
		// works while bytes arrive and the final fsync only waits for the tail. A failure
		// here only means the final fsync does the work.
		fd := int(w.f.Fd())
		unix.SyncFileRange(fd, w.flushed, w.size-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		if w.flushed > w.waited {
			unix.SyncFileRange(fd, w.waited, w.flushed-w.waited,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			w.waited = w.flushed
		}
		w.flushed = w.size
	}
	return n, err
}

func (w *writer) Size() int64 { return w.size }

// finish flushes the staged file to disk and closes it.
func (w *writer) finish() error {
	w.done = true
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("local storage: flush %s: %w", w.path, err)
	}
	return nil
}

func (w *writer) Close() error {
	if w.done {
		return nil
	}
	return w.finish()
}

func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return errors.New("local storage: commit after close")
	}
	if err := w.finish(); err != nil {
		return err
	}
	full, _ := w.d.full(w.path)
	if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
		return fmt.Errorf("local storage: %w", err)
	}
	if err := os.Rename(w.staged, full); err != nil {
		return fmt.Errorf("local storage: commit %s: %w", w.path, err)
	}
	return syncDir(filepath.Dir(full))
}

func (w *writer) Cancel(context.Context) error {
	if !w.done {
		w.done = true
		w.f.Close()
	}
	if err := os.Remove(w.staged); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local storage: cancel %s: %w", w.path, err)
	}
	return nil
}
