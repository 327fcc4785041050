package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// Path returns where a file of the plan is written.
func (p *Plan) Path(f File) string {
	return filepath.Join(p.Dir, f.Name)
}

// Write puts the plan's files in its directory (created if missing), each replaced
// atomically and only when its content differs, so writing the same plan twice
// changes nothing. It returns the names of the files it wrote; when there are any,
// systemd needs a daemon-reload (and running units a restart) to see them. It will
// not overwrite a file that Wharf did not generate.
func (p *Plan) Write() (written []string, err error) {
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the unit directory: %w", err)
	}
	for _, f := range p.Files {
		path := p.Path(f)
		old, err := os.ReadFile(path)
		switch {
		case err == nil && bytes.Equal(old, f.Content):
			continue
		case err == nil && !bytes.HasPrefix(old, []byte(Header)):
			return written, fmt.Errorf("%s exists and was not written by wharf: move it away (it may be another installation) and run the command again", path)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return written, fmt.Errorf("reading %s: %w", path, err)
		}
		if err := atomicfile.WriteFile(path, f.Content, 0o644); err != nil {
			return written, err
		}
		written = append(written, f.Name)
	}
	return written, nil
}

// Remove deletes the plan's files from its directory; files already gone are fine,
// and files Wharf did not write are left alone with an error. It returns the names
// it removed.
func (p *Plan) Remove() (removed []string, err error) {
	var errs []error
	for _, f := range p.Files {
		path := p.Path(f)
		old, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", path, err))
			continue
		}
		if !bytes.HasPrefix(old, []byte(Header)) {
			errs = append(errs, fmt.Errorf("%s was not written by wharf: left in place, remove it yourself if it is not needed", path))
			continue
		}
		if err := os.Remove(path); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", path, err))
			continue
		}
		removed = append(removed, f.Name)
	}
	return removed, errors.Join(errs...)
}

// Generated lists the files in dir that Wharf generated (they start with Header),
// whether or not a plan still names them: after an upgrade drops a component, the
// ones no plan names are stale.
func Generated(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		head := make([]byte, len(Header))
		n, _ := io.ReadFull(f, head)
		f.Close()
		if bytes.Equal(head[:n], []byte(Header)) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
