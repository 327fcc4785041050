package airgap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Bundle is an offline bundle that has passed verification; its members can be read.
type Bundle struct {
	r        io.ReaderAt
	closer   io.Closer
	size     int64
	sum      string
	man      Manifest
	sections map[string]section
}

// Open verifies the bundle file at path completely (see OpenContext) and returns it, or a
// *VerifyError listing everything wrong with it. Nothing is read from a bundle that fails.
func Open(path string) (*Bundle, error) {
	return OpenContext(context.Background(), path, NoProgress)
}

// OpenContext is Open with a context and progress. Besides the checks of OpenReader, it
// compares the file's SHA-256 with PATH.sha256 when that file exists beside the bundle.
func OpenContext(ctx context.Context, path string, prog Progress) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open bundle: %s is not a regular file", path)
	}
	res, err := scan(ctx, f, fi.Size(), filepath.Base(path), prog)
	if err != nil {
		f.Close()
		return nil, err
	}
	checkSidecar(path, res)
	if len(res.problems) > 0 {
		f.Close()
		return nil, &VerifyError{Path: path, Problems: res.problems}
	}
	return &Bundle{r: f, closer: f, size: fi.Size(), sum: res.sum, man: res.man, sections: res.sections}, nil
}

// OpenReader verifies a bundle read from r (size bytes) and returns it, or a *VerifyError
// listing everything wrong with it. Verification reads the whole bundle: the manifest must
// come first and be valid; every member it lists must be present once, as a regular file with
// a safe path, with the listed size and SHA-256; no other member may be present; the
// SHA256SUMS trailer and the end-of-archive marker must close the archive; every image
// archive's layers must match its config, and its ID, tag and platform the manifest; the
// binary must be built for the bundle's platform. Close does not close r.
func OpenReader(ctx context.Context, r io.ReaderAt, size int64, prog Progress) (*Bundle, error) {
	res, err := scan(ctx, r, size, "bundle", prog)
	if err != nil {
		return nil, err
	}
	if len(res.problems) > 0 {
		return nil, &VerifyError{Path: "bundle", Problems: res.problems}
	}
	return &Bundle{r: r, size: size, sum: res.sum, man: res.man, sections: res.sections}, nil
}

// SidecarPath is where Create writes the SHA-256 of a bundle file: PATH.sha256.
func SidecarPath(path string) string { return path + ".sha256" }

// checkSidecar compares the file's SHA-256 with PATH.sha256, when there is one.
func checkSidecar(path string, res *scanResult) {
	data, err := os.ReadFile(SidecarPath(path))
	if err != nil || len(data) > 4096 {
		return // no sidecar: the manifest and trailer still cover every member
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return
	}
	if fields[0] != res.sum {
		res.problem("", "the file's SHA-256 is %s but %s says %s: this copy differs from the bundle that was made (or the .sha256 file belongs to another bundle)", res.sum, filepath.Base(SidecarPath(path)), fields[0])
	}
}

// Manifest returns the bundle's manifest.
func (b *Bundle) Manifest() Manifest {
	m := b.man
	m.Members = append([]Member(nil), b.man.Members...)
	return m
}

// SHA256 returns the hex SHA-256 of the whole bundle file.
func (b *Bundle) SHA256() string { return b.sum }

// Size returns the size of the bundle file in bytes.
func (b *Bundle) Size() int64 { return b.size }

// Open returns a member's content by its path in the bundle (see Manifest). The reader checks
// the SHA-256 again as it reaches the end and fails there if the file changed since it was
// verified, so a consumer that reads to the end (podman load does) never accepts a changed
// member.
func (b *Bundle) Open(path string) (io.ReadCloser, error) {
	mem, ok := b.man.Member(path)
	sec, ok2 := b.sections[path]
	if !ok || !ok2 {
		return nil, fmt.Errorf("bundle has no member %s", path)
	}
	return &memberReader{r: io.NewSectionReader(b.r, sec.off, sec.size), h: sha256.New(), mem: mem}, nil
}

// OpenImage returns the image archive of a component (a docker-archive for `podman load`)
// and its member entry.
func (b *Bundle) OpenImage(component string) (io.ReadCloser, Member, error) {
	mem, ok := b.man.Image(component)
	if !ok {
		return nil, Member{}, fmt.Errorf("bundle has no image for the %s component; make a bundle that has one with `wharf bundle create --image %s=REF`", component, component)
	}
	rc, err := b.Open(mem.Path)
	return rc, mem, err
}

// Extract writes a member to the file dest with mode, atomically: into a temporary file in
// dest's directory, checked, flushed and renamed into place. A failure leaves dest as it was.
func (b *Bundle) Extract(path, dest string, mode fs.FileMode) error {
	rc, err := b.Open(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("extract %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("extract %s to %s: %w", path, dest, err)
	}
	if _, err := io.Copy(tmp, rc); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("extract %s to %s: %w", path, dest, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("extract %s to %s: %w", path, dest, err)
	}
	return nil
}

// Close releases the bundle file.
func (b *Bundle) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// memberReader reads one member and checks its SHA-256 at the end.
type memberReader struct {
	r   *io.SectionReader
	h   hash.Hash
	n   int64
	mem Member
}

// ErrChanged is returned at the end of a member that no longer matches its SHA-256.
var ErrChanged = errors.New("the bundle file changed after it was verified")

func (m *memberReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	if errors.Is(err, io.EOF) {
		if m.n != m.mem.Size || hexSum(m.h.Sum(nil)) != m.mem.SHA256 {
			return n, fmt.Errorf("bundle member %s: %w (its SHA-256 no longer matches); %s", m.mem.Path, ErrChanged, VerifyHint)
		}
	}
	return n, err
}

func (m *memberReader) Close() error { return nil }
