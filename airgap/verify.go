package airgap

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Problem is one thing wrong with a bundle.
type Problem struct {
	// Member is the member's path in the bundle, or "" for the bundle as a whole.
	Member string
	// Msg says what is wrong.
	Msg string
}

func (p Problem) String() string {
	if p.Member == "" {
		return p.Msg
	}
	return p.Member + ": " + p.Msg
}

// VerifyError is a bundle that failed verification, with everything found wrong with it.
type VerifyError struct {
	// Path is the bundle's file name.
	Path string
	// Problems are what is wrong, in archive order.
	Problems []Problem
}

// VerifyHint says what to do about a bundle that failed verification.
const VerifyHint = "Copy the bundle again from the host that made it (its SHA-256 is in the .sha256 file written beside it), or make it again there with `wharf bundle create`."

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bundle %s is damaged and was not used: ", e.Path)
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more problems (run `wharf bundle verify %s` to list them)", len(e.Problems)-3, e.Path)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(". ")
	b.WriteString(VerifyHint)
	return b.String()
}

// maxProblems bounds the problems one verification reports (a random file has endless ones).
const maxProblems = 100

// maxSumsBytes bounds the SHA256SUMS trailer.
const maxSumsBytes = 1 << 20

// section is where a member's content sits in the bundle file.
type section struct{ off, size int64 }

// scanResult is what verification learned about a bundle.
type scanResult struct {
	man      Manifest
	sections map[string]section // members whose content matched the manifest
	sum      string             // SHA-256 of the whole file
	problems []Problem
}

func (s *scanResult) problem(member, format string, args ...any) {
	if len(s.problems) < maxProblems {
		s.problems = append(s.problems, Problem{Member: member, Msg: fmt.Sprintf(format, args...)})
	}
}

// hashingReader counts and hashes everything read through it, and reports progress.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	task Task
	ctx  context.Context
}

func (c *hashingReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	c.task.Add(int64(n))
	return n, err
}

// scan verifies a bundle: the manifest, every member's presence, size and SHA-256, no extra,
// duplicate, linked or unsafe members, the SHA256SUMS trailer and the end of the archive,
// then the content of each intact image archive and of the binary. An error is returned only
// when the context ends; everything wrong with the bundle is in the result's problems.
func scan(ctx context.Context, r io.ReaderAt, size int64, label string, prog Progress) (*scanResult, error) {
	res := &scanResult{sections: map[string]section{}}
	task := prog.Start("checking "+label, size)
	cr := &hashingReader{r: io.NewSectionReader(r, 0, size), h: sha256.New(), task: task, ctx: ctx}
	ok := scanArchive(cr, res)
	if err := ctx.Err(); err != nil {
		task.Done()
		return nil, err
	}
	// Read what is left, so the whole file is hashed; only zero padding may follow the end.
	var tail zeroCounter
	if _, err := io.Copy(&tail, cr); err != nil {
		task.Done()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.problem("", "reading the file failed: %v", err)
	}
	task.Done()
	if ok && tail.nonZero > 0 {
		res.problem("", "%d bytes of data follow the end of the archive: the file is not the bundle that was made", tail.n)
	}
	res.sum = hexSum(cr.h.Sum(nil))
	if !ok {
		return res, nil
	}
	if err := checkContents(ctx, r, res, prog); err != nil {
		return nil, err
	}
	return res, nil
}

// zeroCounter counts the bytes written to it and how many are not zero.
type zeroCounter struct{ n, nonZero int64 }

func (z *zeroCounter) Write(b []byte) (int, error) {
	z.n += int64(len(b))
	for _, c := range b {
		if c != 0 {
			z.nonZero++
		}
	}
	return len(b), nil
}

// scanArchive reads the tar stream once. It returns false when the manifest could not be
// read, so nothing else can be checked.
func scanArchive(cr *hashingReader, res *scanResult) bool {
	tr := tar.NewReader(cr)
	manData, ok := readManifest(tr, cr, res)
	if !ok {
		return false
	}
	manSum := sha256.Sum256(manData)

	expected := map[string]Member{}
	for _, m := range res.man.Members {
		expected[m.Path] = m
	}
	seen := map[string]bool{}
	var sums []byte
	sumsSeen, truncated, damaged := false, false, false
	end := cr.n // where the last member's content ends
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cr.ctx.Err() != nil {
				return false
			}
			truncated = true
			if errors.Is(err, io.ErrUnexpectedEOF) {
				res.problem("", "the file ends in the middle of a member header (at byte %d): it was cut short", cr.n)
			} else {
				damaged = true
				res.problem("", "the archive is damaged at byte %d (%v): nothing after it can be read", cr.n, err)
			}
			break
		}
		name := hdr.Name
		if sumsSeen {
			res.problem(name, "an extra member after %s, which ends a bundle", SumsName)
			continue
		}
		if err := CheckMemberPath(name); err != nil {
			res.problem(name, "unsafe member name: %v", err)
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			res.problem(name, "is a link (to %q); a bundle holds only regular files", hdr.Linkname)
			continue
		case tar.TypeDir:
			res.problem(name, "is a directory; a bundle holds only regular files")
			continue
		default:
			res.problem(name, "is a special file (tar type %q); a bundle holds only regular files", hdr.Typeflag)
			continue
		}
		if name == ManifestName {
			res.problem(name, "appears a second time")
			continue
		}
		off := cr.n
		if name == SumsName {
			sumsSeen = true
			if hdr.Size > maxSumsBytes {
				res.problem(name, "is %d bytes, too large for a checksum list", hdr.Size)
				continue
			}
			sums, err = io.ReadAll(tr)
			if err != nil {
				truncated = true
				res.problem(name, "cut short: the file ends inside it")
				break
			}
			end = off + hdr.Size
			continue
		}
		mem, listed := expected[name]
		if !listed {
			res.problem(name, "an extra member the manifest does not list")
			continue
		}
		if seen[name] {
			res.problem(name, "appears twice")
			continue
		}
		seen[name] = true
		if hdr.Size != mem.Size {
			res.problem(name, "is %d bytes in the archive but the manifest says %d", hdr.Size, mem.Size)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, tr)
		if err != nil {
			if cr.ctx.Err() != nil {
				return false
			}
			truncated = true
			res.problem(name, "cut short: only %d of its %d bytes are in the file", n, mem.Size)
			break
		}
		end = off + hdr.Size
		if got := hexSum(h.Sum(nil)); got != mem.SHA256 {
			res.problem(name, "corrupt: its SHA-256 is %s but the manifest says %s", got, mem.SHA256)
			continue
		}
		res.sections[name] = section{off: off, size: hdr.Size}
	}
	if !truncated && cr.n < (end+511)/512*512+2*512 {
		// The archive ended without its end-of-archive marker: the file was cut short at a
		// member boundary or inside the marker.
		truncated = true
		res.problem("", "the file ends at byte %d without the end-of-archive marker: it was cut short", cr.n)
	}
	notReached := "missing: the file ends before it"
	if damaged {
		notReached = "missing: the damage before it hides it"
	}
	for _, m := range res.man.Members {
		if !seen[m.Path] {
			if truncated {
				res.problem(m.Path, "%s", notReached)
			} else {
				res.problem(m.Path, "missing: the manifest lists it but the archive does not hold it")
			}
		}
	}
	if !sumsSeen {
		if truncated {
			res.problem(SumsName, "%s", notReached)
		} else {
			res.problem(SumsName, "missing: the archive ends without the trailer that closes a bundle (it is not a whole bundle)")
		}
	} else if sums != nil && !truncated {
		checkSums(sums, hexSum(manSum[:]), res)
	}
	return true
}

// readManifest reads the first member, which must be the manifest, and validates it.
func readManifest(tr *tar.Reader, cr *hashingReader, res *scanResult) ([]byte, bool) {
	notBundle := "not a Wharf bundle (make one with `wharf bundle create`)"
	hdr, err := tr.Next()
	switch {
	case errors.Is(err, io.EOF) && cr.n == 0:
		res.problem("", "the file is empty: %s", notBundle)
		return nil, false
	case errors.Is(err, io.EOF):
		res.problem("", "the archive holds no members: %s", notBundle)
		return nil, false
	case errors.Is(err, io.ErrUnexpectedEOF):
		res.problem("", "the file ends inside the first member header: it was cut short, or is %s", notBundle)
		return nil, false
	case err != nil:
		res.problem("", "not a tar archive (%v): %s", err, notBundle)
		return nil, false
	}
	if hdr.Name != ManifestName {
		res.problem("", "the first member is %q, not %s: %s", hdr.Name, ManifestName, notBundle)
		return nil, false
	}
	if hdr.Typeflag != tar.TypeReg {
		res.problem(ManifestName, "is not a regular file (tar type %q)", hdr.Typeflag)
		return nil, false
	}
	if hdr.Size > maxManifestBytes {
		res.problem(ManifestName, "is %d bytes, more than a manifest may be (%d)", hdr.Size, maxManifestBytes)
		return nil, false
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		res.problem(ManifestName, "cut short: the file ends inside the manifest")
		return nil, false
	}
	man, err := ParseManifest(data)
	if err != nil {
		res.problem(ManifestName, "%v", err)
		return nil, false
	}
	res.man = *man
	return data, true
}

// ParseManifest decodes and validates a bundle manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	var probe struct {
		Format       int    `json:"format"`
		WharfVersion string `json:"wharfVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if probe.Format != FormatVersion {
		m := Manifest{Format: probe.Format, WharfVersion: probe.WharfVersion}
		return nil, m.Validate()
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a valid manifest: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not a valid manifest: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// formatSums writes sha256sum lines for the manifest and every member, in archive order.
func formatSums(manifestSum string, members []Member) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %s\n", manifestSum, ManifestName)
	for _, m := range members {
		fmt.Fprintf(&b, "%s  %s\n", m.SHA256, m.Path)
	}
	return b.Bytes()
}

// checkSums compares the SHA256SUMS trailer with the manifest.
func checkSums(sums []byte, manifestSum string, res *scanResult) {
	want := formatSums(manifestSum, res.man.Members)
	if bytes.Equal(sums, want) {
		return
	}
	// Say which line differs.
	got := bufio.NewScanner(bytes.NewReader(sums))
	exp := bufio.NewScanner(bytes.NewReader(want))
	for line := 1; ; line++ {
		g, e := got.Scan(), exp.Scan()
		if !g && !e {
			break
		}
		if g != e || got.Text() != exp.Text() {
			if e && strings.HasSuffix(exp.Text(), "  "+ManifestName) {
				res.problem(ManifestName, "corrupt: its SHA-256 does not match the one in %s", SumsName)
				return
			}
			res.problem(SumsName, "line %d does not match the manifest (want %q): the trailer or the manifest is corrupt", line, exp.Text())
			return
		}
	}
	res.problem(SumsName, "does not match the manifest (line endings or trailing bytes differ)")
}

// checkContents checks inside the members whose bytes matched the manifest: each image
// archive's layers against its config, its ID, tag and platform; the binary's platform.
func checkContents(ctx context.Context, r io.ReaderAt, res *scanResult, prog Progress) error {
	target, err := ParsePlatform(res.man.Platform)
	if err != nil {
		return err // Validate has checked it
	}
	for _, m := range res.man.Members {
		sec, ok := res.sections[m.Path]
		if !ok {
			continue
		}
		switch m.Kind {
		case KindImage:
			open := func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(r, sec.off, sec.size)), nil
			}
			task := prog.Start("checking the layers of "+m.Name, -1)
			info, err := checkImageArchive(ctx, open, task)
			task.Done()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch {
			case err != nil:
				res.problem(m.Path, "%v", err)
			case info.ID != m.ImageID:
				res.problem(m.Path, "holds image %s but the manifest says %s", info.ID, m.ImageID)
			case !taggedAs(info.Tags, m.Ref):
				res.problem(m.Path, "is tagged %s, not %s as the manifest says", strings.Join(info.Tags, ", "), m.Ref)
			case !platformMatches(info.Platform, target):
				res.problem(m.Path, "is an image for %s/%s, not for the bundle's platform %s", info.Platform.OS, info.Platform.Architecture, res.man.Platform)
			default:
				continue
			}
			delete(res.sections, m.Path)
		case KindBinary:
			p, err := BinaryPlatform(io.NewSectionReader(r, sec.off, sec.size))
			switch {
			case err != nil:
				res.problem(m.Path, "%v", err)
			case p != target.OS+"/"+target.Architecture:
				res.problem(m.Path, "is built for %s, not for the bundle's platform %s", p, res.man.Platform)
			default:
				continue
			}
			delete(res.sections, m.Path)
		}
	}
	return nil
}

// taggedAs reports whether one of an archive's tags names ref, as podman names images.
func taggedAs(tags []string, ref string) bool {
	for _, t := range tags {
		if n, err := NormalizeRef(t); err == nil && n == ref {
			return true
		}
	}
	return false
}
