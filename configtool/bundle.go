package configtool

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Limits of a config bundle: a bundle is a handful of small text files, so anything larger is
// refused before it is read.
const (
	maxBundleFiles = 1000
	maxBundleBytes = 64 << 20 // uncompressed tar stream, headers included
)

// CheckFileName reports whether name is a file a config directory or bundle may hold:
// config.yaml, ssl.cert, ssl.key or extra_ca_certs/NAME (one level).
func CheckFileName(name string) error {
	switch name {
	case ConfigFile, CertFile, KeyFile:
		return nil
	}
	dir, base, ok := strings.Cut(name, "/")
	if ok && dir == ExtraCADir && base != "" && base != "." && base != ".." && !strings.ContainsAny(base, "/\\\x00") {
		return nil
	}
	return fmt.Errorf("%q is not a config file: a config bundle holds only %s, %s, %s and %s/NAME", name, ConfigFile, CertFile, KeyFile, ExtraCADir)
}

// fileMode is the mode a config file is written with: the config and the private key are
// readable by their owner only (config.yaml holds passwords).
func fileMode(name string) fs.FileMode {
	if name == ConfigFile || name == KeyFile {
		return 0o600
	}
	return 0o644
}

// sortedNames lists a source's files in bundle order: config.yaml, ssl.cert, ssl.key, then the
// extra CA certificates by name.
func sortedNames(src Source) []string {
	names := make([]string, 0, len(src.Files))
	for n := range src.Files {
		names = append(names, n)
	}
	rank := func(n string) int {
		switch n {
		case ConfigFile:
			return 0
		case CertFile:
			return 1
		case KeyFile:
			return 2
		}
		return 3
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// ReadBundle reads a config bundle (quay-config.tar.gz, or the same tar uncompressed):
// config.yaml and the files beside it. It refuses absolute paths, paths leaving the bundle,
// links and other special files, files a config directory does not hold, duplicates, and
// members larger than a config file may be.
func ReadBundle(r io.Reader) (Source, error) {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Source{}, fmt.Errorf("read config bundle: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	limited := &io.LimitedReader{R: in, N: maxBundleBytes + 1}
	tr := tar.NewReader(limited)
	src := Source{Files: map[string][]byte{}}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if limited.N <= 0 {
			return Source{}, errTooLarge
		}
		if err != nil {
			return Source{}, fmt.Errorf("read config bundle: not a tar.gz archive (make one with `tar czf %s config.yaml ssl.cert ssl.key %s/`): %w", BundleName, ExtraCADir, err)
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return Source{}, err
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue // pax global headers (git archive writes one) carry no file
		case tar.TypeDir:
			if name == "" || name == ExtraCADir {
				continue
			}
			return Source{}, fmt.Errorf("config bundle member %s: unexpected directory; a config bundle holds only %s, %s, %s and %s/", hdr.Name, ConfigFile, CertFile, KeyFile, ExtraCADir)
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return Source{}, fmt.Errorf("config bundle member %s: links are not allowed; put the file itself in the bundle", hdr.Name)
		default:
			return Source{}, fmt.Errorf("config bundle member %s: only regular files are allowed (type %q)", hdr.Name, hdr.Typeflag)
		}
		if err := CheckFileName(name); err != nil {
			return Source{}, fmt.Errorf("config bundle member %s: %w", hdr.Name, err)
		}
		if _, dup := src.Files[name]; dup {
			return Source{}, fmt.Errorf("config bundle member %s: appears twice", hdr.Name)
		}
		if hdr.Size < 0 || hdr.Size > maxFileBytes {
			return Source{}, fmt.Errorf("config bundle member %s: %d bytes is too large for a config file (at most %d MiB)", hdr.Name, hdr.Size, maxFileBytes>>20)
		}
		if len(src.Files) >= maxBundleFiles {
			return Source{}, fmt.Errorf("config bundle: more than %d files", maxBundleFiles)
		}
		data, err := io.ReadAll(tr)
		if limited.N <= 0 {
			return Source{}, errTooLarge
		}
		if err != nil {
			return Source{}, fmt.Errorf("config bundle member %s: %w", hdr.Name, err)
		}
		src.Files[name] = data
	}
	if _, ok := src.Files[ConfigFile]; !ok {
		return Source{}, fmt.Errorf("config bundle holds no %s: a bundle must have config.yaml at its top level", ConfigFile)
	}
	return src, nil
}

var errTooLarge = fmt.Errorf("read config bundle: larger than %d MiB unpacked; a config bundle holds only small files", maxBundleBytes>>20)

// memberName cleans a tar member's name ("./config.yaml" and "config.yaml" are the same; "."
// and "./" are the top directory, returned as "") and refuses absolute paths and paths that
// climb out of the bundle.
func memberName(raw string) (string, error) {
	if strings.HasPrefix(raw, "/") || strings.Contains(raw, "\\") {
		return "", fmt.Errorf("config bundle member %s: absolute or Windows paths are not allowed", raw)
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", fmt.Errorf("config bundle member %s: paths must stay inside the bundle (no ..)", raw)
		}
	}
	name := path.Clean(raw)
	if name == "." {
		return "", nil
	}
	return name, nil
}

// WriteBundle writes a source as a config bundle (quay-config.tar.gz): config.yaml and the
// key with mode 0600, the certificates with 0644, extra CA certificates under extra_ca_certs/.
func WriteBundle(w io.Writer, src Source) error {
	if _, ok := src.Files[ConfigFile]; !ok {
		return fmt.Errorf("write config bundle: the config has no %s", ConfigFile)
	}
	for name := range src.Files {
		if err := CheckFileName(name); err != nil {
			return fmt.Errorf("write config bundle: %w", err)
		}
	}
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	now := time.Now().Truncate(time.Second)
	dirWritten := false
	for _, name := range sortedNames(src) {
		if strings.HasPrefix(name, ExtraCADir+"/") && !dirWritten {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: ExtraCADir + "/", Mode: 0o755, ModTime: now, Format: tar.FormatPAX}); err != nil {
				return fmt.Errorf("write config bundle: %w", err)
			}
			dirWritten = true
		}
		data := src.Files[name]
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fileMode(name)), Size: int64(len(data)), ModTime: now, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write config bundle: %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write config bundle: %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write config bundle: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write config bundle: %w", err)
	}
	return nil
}

// WriteDir writes a source into a config directory (created when missing) so that the
// directory then holds exactly the source: config.yaml, ssl.cert, ssl.key and
// extra_ca_certs/*. Each file is written to a temporary file and renamed into place, config.yaml
// last, so config.yaml is never half-written. A config.yaml, ssl.cert or ssl.key that is
// replaced or removed is kept as NAME.bak; extra CA certificates the source does not hold are
// removed.
func WriteDir(dir string, src Source) error {
	_, err := WriteDirReport(dir, src)
	return err
}

// DirChanges is what WriteDirReport did to a config directory.
type DirChanges struct {
	Written  []string // files written (relative names)
	Removed  []string // files removed because the source does not hold them
	BackedUp []string // NAME.bak files made of replaced or removed files
}

// WriteDirReport is WriteDir, returning what it changed.
func WriteDirReport(dir string, src Source) (DirChanges, error) {
	var ch DirChanges
	if _, ok := src.Files[ConfigFile]; !ok {
		return ch, fmt.Errorf("write %s: the config has no %s", dir, ConfigFile)
	}
	for name := range src.Files {
		if err := CheckFileName(name); err != nil {
			return ch, fmt.Errorf("write %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ch, fmt.Errorf("create config directory: %w", err)
	}
	names := sortedNames(src)
	hasCAs := false
	for _, n := range names {
		if strings.HasPrefix(n, ExtraCADir+"/") {
			hasCAs = true
		}
	}
	if hasCAs {
		if err := os.MkdirAll(filepath.Join(dir, ExtraCADir), 0o755); err != nil {
			return ch, fmt.Errorf("create %s: %w", ExtraCADir, err)
		}
	}

	// Stage every file first; nothing in the directory changes until all are on disk.
	staged := map[string]string{}
	defer func() {
		for _, tmp := range staged {
			os.Remove(tmp)
		}
	}()
	for _, name := range names {
		tmp, err := stage(dir, name, src.Files[name], fileMode(name))
		if err != nil {
			return ch, err
		}
		staged[name] = tmp
	}

	// Back up the top-level files that change or go away.
	for _, name := range []string{ConfigFile, CertFile, KeyFile} {
		target := filepath.Join(dir, name)
		old, err := os.ReadFile(target)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return ch, fmt.Errorf("read %s: %w", target, err)
		}
		if data, keep := src.Files[name]; keep && bytes.Equal(data, old) {
			continue
		}
		bak, err := stage(dir, name+".bak", old, fileMode(name))
		if err != nil {
			return ch, err
		}
		if err := os.Rename(bak, target+".bak"); err != nil {
			os.Remove(bak)
			return ch, fmt.Errorf("back up %s: %w", target, err)
		}
		ch.BackedUp = append(ch.BackedUp, name+".bak")
	}

	// Put the new files in place, config.yaml last: it is what makes the directory a config.
	for i := len(names) - 1; i >= 0; i-- {
		name := names[i]
		if name == ConfigFile {
			continue
		}
		if err := os.Rename(staged[name], filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return ch, fmt.Errorf("write %s: %w", name, err)
		}
		delete(staged, name)
		ch.Written = append(ch.Written, name)
	}
	// Remove what the source no longer holds.
	for _, name := range []string{CertFile, KeyFile} {
		if _, keep := src.Files[name]; keep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err == nil {
			ch.Removed = append(ch.Removed, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ch, fmt.Errorf("remove %s: %w", name, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, ExtraCADir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ch, fmt.Errorf("read %s: %w", ExtraCADir, err)
	}
	for _, e := range entries {
		name := ExtraCADir + "/" + e.Name()
		if _, keep := src.Files[name]; keep || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, ExtraCADir, e.Name())); err != nil {
			return ch, fmt.Errorf("remove %s: %w", name, err)
		}
		ch.Removed = append(ch.Removed, name)
	}
	if err := os.Rename(staged[ConfigFile], filepath.Join(dir, ConfigFile)); err != nil {
		return ch, fmt.Errorf("write %s: %w", ConfigFile, err)
	}
	delete(staged, ConfigFile)
	ch.Written = append(ch.Written, ConfigFile)
	syncDir(dir)
	sort.Strings(ch.Written)
	return ch, nil
}

// stage writes data for the file name to a new temporary file in dir (not in a subdirectory,
// where ReadDir would take a leftover for a certificate), flushed to disk, and returns its path.
func stage(dir, name string, data []byte, mode fs.FileMode) (string, error) {
	target := filepath.Join(dir, filepath.FromSlash(name))
	f, err := os.CreateTemp(dir, ".wharf-"+path.Base(name)+"-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", target, err)
	}
	return tmp, nil
}

// syncDir flushes a directory's entries (the renames) to disk; failure only weakens
// durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
