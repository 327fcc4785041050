package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Format is the format of a document.
type Format string

// The formats Read understands.
const (
	FormatOSV   Format = "osv"
	FormatSecDB Format = "alpine-secdb"
)

// Document is one JSON document of a data file: one OSV record, or one secdb file.
type Document struct {
	// Name says where the document was read: the file, or "file:member" in a zip.
	Name   string
	Format Format
	// Advisories are the document's advisories: one for an OSV record.
	Advisories []Advisory
	// Source and Complete: a secdb file holds every advisory of its Source, so the source's
	// advisories missing from it are gone.
	Source   string
	Complete bool
	// Invalid is set (an *InvalidError) when the document is a record of a known format
	// that breaks the format's rules; it has no advisories then.
	Invalid error
}

// maxDocument bounds the size of one document (a secdb file is about 100 kB, an OSV record
// a few kB).
const maxDocument = 64 << 20

// ParseDocument detects the format of one JSON document and reads it. A document that is
// neither an OSV record nor a secdb file is an error; a record that breaks its format's
// rules comes back with Invalid set.
func ParseDocument(data []byte) (Document, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Document{}, errors.New("neither an OSV record nor an Alpine secdb file: not a JSON object")
	}
	var doc struct {
		osvRecord
		DistroVersion json.RawMessage `json:"distroversion"`
		Packages      json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		err = decodeError(trimmed, err)
		var invalid *InvalidError
		if errors.As(err, &invalid) {
			return Document{Format: FormatOSV, Invalid: err}, nil
		}
		return Document{}, fmt.Errorf("neither an OSV record nor an Alpine secdb file: %w", errors.Unwrap(err))
	}
	switch {
	case doc.looksOSV():
		a, err := doc.advisory()
		if err != nil {
			return Document{Format: FormatOSV, Invalid: err}, nil
		}
		return Document{Format: FormatOSV, Advisories: []Advisory{a}, Source: a.Source}, nil
	case doc.DistroVersion != nil || doc.Packages != nil:
		db, err := ParseSecDB(trimmed)
		if err != nil {
			return Document{}, err
		}
		return Document{Format: FormatSecDB, Advisories: db.Advisories, Source: db.Source, Complete: true}, nil
	}
	return Document{}, errors.New("neither an OSV record nor an Alpine secdb file: it has none of their fields (id, modified, affected; distroversion, packages)")
}

// item is one document to read: where it is and how to get its bytes.
type item struct {
	name string
	read func() ([]byte, error)
}

// Read reads a data file: a zip of JSON documents (OSV's all.zip, a zip of secdb files), a
// directory of them (read recursively), or one JSON document. It calls fn with each
// document, in the order of the zip or of the names, while parsing the next ones in
// parallel. Members of a zip or files of a directory whose names do not end in ".json" are
// skipped. A document of an unknown format, a damaged zip and a file without documents are
// errors naming the file and the member; fn's error stops the reading and is returned.
func Read(ctx context.Context, file string, fn func(Document) error) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	var items []item
	if fi.IsDir() {
		if items, err = dirItems(file); err != nil {
			return err
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		var magic [4]byte
		n, _ := io.ReadFull(f, magic[:])
		if n == 4 && (string(magic[:]) == "PK\x03\x04" || string(magic[:]) == "PK\x05\x06") {
			zr, err := zip.NewReader(f, fi.Size())
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			items = zipItems(file, zr)
		} else {
			items = []item{{name: file, read: func() ([]byte, error) {
				return readLimited(io.NewSectionReader(f, 0, fi.Size()), int(min(fi.Size(), maxDocument)))
			}}}
		}
	}
	if len(items) == 0 {
		return fmt.Errorf("%s: no .json documents", file)
	}
	return parseItems(ctx, items, fn)
}

func zipItems(file string, zr *zip.Reader) []item {
	var items []item
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || skipName(zf.Name) {
			continue
		}
		items = append(items, item{name: file + ":" + zf.Name, read: func() ([]byte, error) {
			if zf.UncompressedSize64 > maxDocument {
				return nil, fmt.Errorf("larger than %d MiB", maxDocument>>20)
			}
			rc, err := zf.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return readLimited(rc, int(zf.UncompressedSize64))
		}})
	}
	return items
}

func dirItems(dir string) ([]item, error) {
	var items []item
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if skipName(p) {
			return nil
		}
		items = append(items, item{name: p, read: func() ([]byte, error) {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return readLimited(f, 0)
		}})
		return nil
	})
	return items, err
}

// skipName reports members and files that are not documents: not .json, hidden, or macOS
// resource forks.
func skipName(name string) bool {
	base := path.Base(filepath.ToSlash(name))
	return !strings.HasSuffix(strings.ToLower(base), ".json") || strings.HasPrefix(base, ".") ||
		strings.Contains(filepath.ToSlash(name), "__MACOSX/")
}

func readLimited(r io.Reader, sizeHint int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(max(sizeHint, 512)+1, maxDocument+1)))
	if _, err := buf.ReadFrom(io.LimitReader(r, maxDocument+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxDocument {
		return nil, fmt.Errorf("larger than %d MiB", maxDocument>>20)
	}
	return buf.Bytes(), nil
}

// parseItems parses the items in chunks, each chunk in parallel, the next chunk while fn
// consumes the current one, and calls fn in order.
func parseItems(ctx context.Context, items []item, fn func(Document) error) error {
	const chunk = 256
	workers := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		docs []Document
		err  error
	}
	chunks := make(chan result, 1)
	go func() {
		defer close(chunks)
		for start := 0; start < len(items); start += chunk {
			part := items[start:min(start+chunk, len(items))]
			docs := make([]Document, len(part))
			errs := make([]error, len(part))
			var wg sync.WaitGroup
			next := make(chan int)
			for range min(workers, len(part)) {
				wg.Go(func() {
					for i := range next {
						docs[i], errs[i] = parseItem(part[i])
					}
				})
			}
		feed:
			for i := range part {
				select {
				case next <- i:
				case <-ctx.Done():
					break feed
				}
			}
			close(next)
			wg.Wait()
			r := result{docs: docs, err: ctx.Err()}
			for _, err := range errs {
				if err != nil && r.err == nil {
					r.err = err
				}
			}
			select {
			case chunks <- r:
			case <-ctx.Done():
				return
			}
			if r.err != nil {
				return
			}
		}
	}()
	for r := range chunks {
		if r.err != nil {
			return r.err
		}
		for _, d := range r.docs {
			if err := fn(d); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

func parseItem(it item) (Document, error) {
	data, err := it.read()
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", it.name, err)
	}
	doc, err := ParseDocument(data)
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", it.name, err)
	}
	doc.Name = it.name
	return doc, nil
}
