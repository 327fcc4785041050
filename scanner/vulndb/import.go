package vulndb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

// FileResult is what importing one file did.
type FileResult struct {
	File string
	// Updater names the import in the store's update operations: "FORMAT/BASENAME", as
	// "osv/debian-osv.zip". Fingerprint is the SHA-256 of the file (of a directory: of its
	// documents' names and contents).
	Updater     string
	Fingerprint string
	Documents   int // documents read
	Withdrawn   int // withdrawn records, removed
	// Invalid counts the records skipped because they break their format's rules;
	// InvalidExamples says what is wrong with the first few.
	Invalid         int
	InvalidExamples []string
	Store           store.VulnImportResult
	Duration        time.Duration
}

// Result is what Import did, file by file and in total.
type Result struct {
	Files []FileResult
	// Totals over Files.
	Advisories, Affected, Added, Updated, Removed, Unchanged, Invalid int
}

// String sums the import up in one line.
func (r Result) String() string {
	s := fmt.Sprintf("%d files imported: %d advisories (%d added, %d updated, %d unchanged, %d removed), %d affected packages written",
		len(r.Files), r.Advisories, r.Added, r.Updated, r.Unchanged, r.Removed, r.Affected)
	if r.Invalid > 0 {
		s += fmt.Sprintf("; %d invalid records skipped", r.Invalid)
	}
	return s
}

// maxInvalidExamples bounds FileResult.InvalidExamples.
const maxInvalidExamples = 5

// progressEvery is how many documents pass between progress lines.
const progressEvery = 10000

// Import reads each data file (see Read) and stores its advisories, one transaction per
// file: a file is imported whole or, when it cannot be read (a damaged zip, a document of
// an unknown format, only invalid records) or the store fails, not at all, leaving the data
// as it was. Advisories replace the stored ones of the same source and id (unless those are
// newer); withdrawn records are removed; a secdb file replaces all of its source's
// advisories. Records that break their format's rules are skipped and counted. An import
// that changes the data records an update operation, which tells the registry to match its
// images again. Progress lines go to progress (nil: none). On an error, the Result holds the
// files imported before it.
func Import(ctx context.Context, st *store.Store, files []string, progress io.Writer) (Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	var res Result
	for _, file := range files {
		fr, err := importFile(ctx, st, file, progress)
		if err != nil {
			return res, fmt.Errorf("import %s: %w", file, err)
		}
		res.Files = append(res.Files, fr)
		res.Advisories += fr.Store.Put
		res.Affected += fr.Store.Affected
		res.Added += fr.Store.Added
		res.Updated += fr.Store.Updated
		res.Removed += fr.Store.Removed
		res.Unchanged += fr.Store.Unchanged
		res.Invalid += fr.Invalid
	}
	return res, nil
}

func importFile(ctx context.Context, st *store.Store, file string, progress io.Writer) (FileResult, error) {
	start := time.Now()
	fr := FileResult{File: file}
	format, err := detect(ctx, file)
	if err != nil {
		return fr, err
	}
	if fr.Fingerprint, err = fingerprint(file); err != nil {
		return fr, err
	}
	fr.Updater = string(format) + "/" + filepath.Base(filepath.Clean(file))
	fmt.Fprintf(progress, "%s: importing (%s)\n", file, format)
	// The file is read while the rows are written, in the transaction: memory holds a few
	// hundred documents, not the file (Debian's versions lists alone are 7 million strings).
	sr, err := st.ImportVulnerabilities(ctx, fr.Updater, fr.Fingerprint, func(w *store.VulnWriter) error {
		fr.Documents, fr.Withdrawn, fr.Invalid, fr.InvalidExamples = 0, 0, 0, nil
		err := Read(ctx, file, func(d Document) error {
			fr.Documents++
			if fr.Documents%progressEvery == 0 {
				fmt.Fprintf(progress, "%s: %d documents read (%s)\n", file, fr.Documents, time.Since(start).Round(100*time.Millisecond))
			}
			if d.Invalid != nil {
				fr.Invalid++
				if len(fr.InvalidExamples) < maxInvalidExamples {
					fr.InvalidExamples = append(fr.InvalidExamples, strings.TrimPrefix(d.Name, file+":")+": "+d.Invalid.Error())
				}
				return nil
			}
			for _, a := range d.Advisories {
				var err error
				if !a.Withdrawn.IsZero() {
					fr.Withdrawn++
					err = w.Remove(a.Source, a.ID)
				} else {
					err = w.Put(storeAdvisory(a))
				}
				if err != nil {
					return fmt.Errorf("%s: %w", d.Name, err)
				}
			}
			if d.Complete {
				return w.Prune(d.Source)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if fr.Invalid == fr.Documents {
			return fmt.Errorf("every one of its %d records is invalid, as %s", fr.Invalid, strings.Join(fr.InvalidExamples, "; "))
		}
		return nil
	})
	if err != nil {
		return fr, err
	}
	fr.Store, fr.Duration = sr, time.Since(start)
	fmt.Fprintf(progress, "%s: %d documents, %d advisories, %d affected packages written; %d added, %d updated, %d unchanged, %d removed",
		file, fr.Documents, sr.Put, sr.Affected, sr.Added, sr.Updated, sr.Unchanged, sr.Removed)
	if sr.Stale > 0 {
		fmt.Fprintf(progress, ", %d older than stored", sr.Stale)
	}
	fmt.Fprintf(progress, " in %s\n", fr.Duration.Round(100*time.Millisecond))
	if fr.Invalid > 0 {
		fmt.Fprintf(progress, "%s: skipped %d invalid records: %s\n", file, fr.Invalid, strings.Join(fr.InvalidExamples, "; "))
	}
	return fr, nil
}

// errFound stops Read once detect has what it needs.
var errFound = errors.New("found")

// detect returns the format of a file's first document.
func detect(ctx context.Context, file string) (Format, error) {
	var format Format
	err := Read(ctx, file, func(d Document) error {
		format = d.Format
		return errFound
	})
	if errors.Is(err, errFound) {
		return format, nil
	}
	if err == nil {
		err = errors.New("no documents")
	}
	return "", err
}

// fingerprint hashes a file, or a directory's .json documents with their names.
func fingerprint(file string) (string, error) {
	h := sha256.New()
	fi, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("read %s: %w", file, err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err = filepath.WalkDir(file, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || skipName(p) {
			return err
		}
		rel, _ := filepath.Rel(file, p)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// storeAdvisory converts an advisory to the store's rows.
func storeAdvisory(a Advisory) store.VulnAdvisory {
	out := store.VulnAdvisory{Source: a.Source, ID: a.ID, Aliases: a.Aliases, Summary: a.Summary, Details: a.Details,
		Links: a.Links, Published: a.Published, Modified: a.Modified, Affected: make([]store.VulnPackage, 0, len(a.Affected))}
	for _, af := range a.Affected {
		ranges := []byte("[]")
		if len(af.Ranges) > 0 {
			ranges, _ = json.Marshal(af.Ranges) // plain strings: cannot fail
		}
		out.Affected = append(out.Affected, store.VulnPackage{Ecosystem: af.Ecosystem, Name: af.Package, Severity: af.Severity,
			NormalizedSeverity: af.NormalizedSeverity, Ranges: ranges, Versions: af.Versions})
	}
	return out
}

// DecodeRanges reads the ranges of a stored affected package.
func DecodeRanges(raw []byte) ([]Range, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var rs []Range
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, fmt.Errorf("stored ranges: %w", err)
	}
	return rs, nil
}
