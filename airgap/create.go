package airgap

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// CreateOptions say what goes into a bundle and where it is written.
type CreateOptions struct {
	// Output is the bundle file to write. It appears only when complete (written to a
	// temporary file beside it, then renamed), with Output.sha256 beside it.
	Output string
	// WorkDir holds downloads, pulled layers and staged image archives. A run that fails keeps
	// it, and running again continues from what it holds. Default: Output + ".parts", removed
	// after success; a WorkDir that is given is kept.
	WorkDir string
	// Platform is the target os/arch[/variant]. Default: the platform the binary is built for.
	Platform string
	// WharfVersion is the version of the wharf that makes the bundle.
	WharfVersion string
	// Binary is the wharf binary to carry (required); BinaryVersion is its version.
	Binary        string
	BinaryVersion string
	// Images are the component images. Every name in Components needs one.
	Images []ImageSource
	// Files are extra files (vulnerability data, ...).
	Files []FileSource
	// Components are the components that must have an image. Default: Components.
	Components []string
	// HTTPClient downloads Files (default: grab's client, which honours proxy variables).
	HTTPClient *http.Client
	// DownloadRetries is how often an interrupted download is resumed within this run before
	// the run fails (0: 3; negative: never).
	DownloadRetries int
	// Progress shows pulls, downloads and writing (default: nothing).
	Progress Progress
	// Log receives a line for each step (default: nothing).
	Log io.Writer
	// Now is the clock (default: time.Now).
	Now func() time.Time
}

// CreateResult is what Create made.
type CreateResult struct {
	// Path is the bundle file.
	Path string
	// Size and SHA256 are the whole file's.
	Size   int64
	SHA256 string
	// Manifest is the bundle's manifest.
	Manifest Manifest
	// WorkDir is the work directory, and WorkDirKept whether it is still there.
	WorkDir     string
	WorkDirKept bool
}

// DefaultWorkDir is the work directory Create uses for a bundle file when none is given:
// the file's path with ".parts" added.
func DefaultWorkDir(output string) string {
	if abs, err := filepath.Abs(output); err == nil {
		output = abs
	}
	return output + ".parts"
}

// staged is a member ready to be written: its entry and the file holding its content.
type staged struct {
	mem  Member
	file string
}

// Create gathers the images, the binary and the files into a work directory, checks each
// (image archives layer by layer), and writes the bundle: the manifest, the members, the
// SHA256SUMS trailer. Image pulls resume from cached layers and downloads from partial files
// when a failed run is run again with the same work directory.
func Create(ctx context.Context, opts CreateOptions) (*CreateResult, error) {
	c := &creator{opts: opts}
	if c.opts.Progress == nil {
		c.opts.Progress = NoProgress
	}
	if c.opts.Log == nil {
		c.opts.Log = io.Discard
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	if c.opts.Components == nil {
		c.opts.Components = Components
	}
	return c.run(ctx)
}

type creator struct {
	opts     CreateOptions
	platform string
	workDir  string
}

func (c *creator) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, format+"\n", args...)
}

func (c *creator) run(ctx context.Context) (*CreateResult, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(c.opts.Output)
	if err != nil {
		return nil, fmt.Errorf("bundle file: %w", err)
	}
	// Make the temporary file first: an unwritable destination fails before any download.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create bundle %s: %w", out, err)
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	c.workDir = c.opts.WorkDir
	if c.workDir == "" {
		c.workDir = DefaultWorkDir(out)
	}
	if err := os.MkdirAll(c.workDir, 0o700); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}

	members, err := c.stage(ctx)
	var bad inputError
	if errors.As(err, &bad) {
		return nil, err // running again cannot help
	}
	if err != nil {
		return nil, fmt.Errorf("%w (the work directory %s keeps what was fetched: run the same command again to continue)", err, c.workDir)
	}
	man := Manifest{
		Format:       FormatVersion,
		WharfVersion: c.opts.WharfVersion,
		Created:      c.opts.Now().UTC().Truncate(time.Second),
		Platform:     c.platform,
	}
	for _, s := range members {
		man.Members = append(man.Members, s.mem)
	}
	if err := man.Validate(); err != nil {
		return nil, fmt.Errorf("create bundle: %w", err)
	}

	sum, size, err := c.write(ctx, tmp, man, members)
	if err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, fmt.Errorf("write bundle %s: %w", out, err)
	}
	tmp = nil
	if err := atomicfile.WriteFile(SidecarPath(out), []byte(sum+"  "+filepath.Base(out)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", SidecarPath(out), err)
	}
	syncDir(filepath.Dir(out))

	res := &CreateResult{Path: out, Size: size, SHA256: sum, Manifest: man, WorkDir: c.workDir, WorkDirKept: true}
	if c.opts.WorkDir == "" {
		if err := os.RemoveAll(c.workDir); err == nil {
			res.WorkDirKept = false
		}
	}
	return res, nil
}

// check validates the options before anything is fetched.
func (c *creator) check() error {
	o := c.opts
	if o.Output == "" {
		return errors.New("create bundle: no output file: give -o FILE")
	}
	if o.Binary == "" {
		return errors.New("create bundle: no wharf binary: give --wharf-binary PATH")
	}
	f, err := os.Open(o.Binary)
	if err != nil {
		return fmt.Errorf("wharf binary: %w", err)
	}
	binPlatform, err := BinaryPlatform(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("wharf binary %s: %w", o.Binary, err)
	}
	c.platform = binPlatform
	if o.Platform != "" {
		p, err := ParsePlatform(o.Platform)
		if err != nil {
			return err
		}
		if p.OS+"/"+p.Architecture != binPlatform {
			return fmt.Errorf("the wharf binary %s is built for %s but the bundle is for %s: give --wharf-binary built for %s (GOOS=%s GOARCH=%s go build ./cmd/wharf)", o.Binary, binPlatform, o.Platform, p.OS+"/"+p.Architecture, p.OS, p.Architecture)
		}
		c.platform = o.Platform
	}
	if o.BinaryVersion == "" {
		return errors.New("create bundle: the wharf binary's version is unknown: give --wharf-version")
	}
	seen := map[string]bool{}
	for _, img := range o.Images {
		if err := CheckComponentName(img.Name()); err != nil {
			return err
		}
		if seen[img.Name()] {
			return fmt.Errorf("two images for the %s component: give one", img.Name())
		}
		seen[img.Name()] = true
	}
	for _, comp := range o.Components {
		if !seen[comp] {
			return fmt.Errorf("no image for the %s component: give --image %s=REF (pulled from a registry) or --image-archive %s=FILE (a docker-archive from `podman save`)", comp, comp, comp)
		}
	}
	files := map[string]bool{}
	for _, f := range o.Files {
		p := FilePath(f.Kind, f.Name)
		if f.Kind != KindVulnDB && f.Kind != KindOther || !fileRE.MatchString(f.Name) {
			return fmt.Errorf("file %s: kind must be vulndb or other and the name a plain file name", p)
		}
		if (f.URL == "") == (f.Path == "") {
			return fmt.Errorf("file %s: give a URL or a path", p)
		}
		if files[p] {
			return fmt.Errorf("two files would be %s in the bundle: give files different names", p)
		}
		files[p] = true
	}
	return nil
}

// stage gathers every member into the work directory (or finds it in place) and checks it.
func (c *creator) stage(ctx context.Context) ([]staged, error) {
	var out []staged
	// The wharf binary.
	sum, size, err := c.hashFile(ctx, c.opts.Binary, "reading the wharf binary")
	if err != nil {
		return nil, fmt.Errorf("wharf binary: %w", err)
	}
	out = append(out, staged{file: c.opts.Binary, mem: Member{
		Path: BinaryPath, Kind: KindBinary, Name: "wharf", Version: c.opts.BinaryVersion,
		Source: "file " + c.opts.Binary, Size: size, SHA256: sum,
	}})

	// The images: the required components in their order, then the others by name.
	images := slices.Clone(c.opts.Images)
	rank := func(n string) int {
		if i := slices.Index(c.opts.Components, n); i >= 0 {
			return i
		}
		return len(c.opts.Components)
	}
	sort.SliceStable(images, func(i, j int) bool {
		ri, rj := rank(images[i].Name()), rank(images[j].Name())
		if ri != rj {
			return ri < rj
		}
		return images[i].Name() < images[j].Name()
	})
	for _, src := range images {
		s, err := c.stageImage(ctx, src)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}

	// The extra files.
	dl := &downloader{
		client:  newGrabClient(c.opts.HTTPClient, c.opts.WharfVersion),
		prog:    c.opts.Progress,
		retries: c.opts.DownloadRetries,
		log:     c.logf,
	}
	if dl.retries == 0 {
		dl.retries = 3
	} else if dl.retries < 0 {
		dl.retries = 0
	}
	for _, f := range c.opts.Files {
		file := f.Path
		source := "file " + f.Path
		if f.URL != "" {
			file = filepath.Join(c.workDir, "downloads", string(f.Kind), f.Name)
			source = f.URL
			n, err := dl.fetch(ctx, f.URL, file, "downloading "+f.Name)
			if err != nil {
				return nil, fmt.Errorf("%s file %s: %w", f.Kind, f.Name, err)
			}
			if fi, err := os.Stat(file); err == nil && n < fi.Size() {
				c.logf("%s: %s of %s were already in the work directory; fetched %s", f.Name, humanize.IBytes(uint64(fi.Size()-n)), humanize.IBytes(uint64(fi.Size())), humanize.IBytes(uint64(n)))
			}
		}
		sum, size, err := c.hashFile(ctx, file, "reading "+f.Name)
		if err != nil {
			return nil, fmt.Errorf("%s file %s: %w", f.Kind, f.Name, err)
		}
		out = append(out, staged{file: file, mem: Member{
			Path: FilePath(f.Kind, f.Name), Kind: f.Kind, Name: f.Name, Source: source, Size: size, SHA256: sum,
		}})
	}
	return out, nil
}

// stageImage writes an image's archive into the work directory (or takes an archive file in
// place), checks its layers, tag and platform, and hashes it.
func (c *creator) stageImage(ctx context.Context, src ImageSource) (staged, error) {
	name := src.Name()
	where := fmt.Sprintf("image for %s (%s)", name, src.Ref())
	var file string
	var sum string
	var size int64
	if af, ok := src.(archiveFile); ok {
		file = af.ArchivePath()
	} else {
		file = filepath.Join(c.workDir, "images", name+".tar")
		var err error
		sum, size, err = c.writeArchive(ctx, src, file)
		if err != nil {
			return staged{}, fmt.Errorf("%s: %w", where, err)
		}
	}
	open := func() (io.ReadCloser, error) { return os.Open(file) }
	task := c.opts.Progress.Start("checking the layers of "+name, -1)
	info, err := checkImageArchive(ctx, open, task)
	task.Done()
	if err != nil {
		if ctx.Err() == nil && file != "" {
			if _, local := src.(archiveFile); local {
				err = inputError{err}
			}
		}
		return staged{}, fmt.Errorf("%s: %w", where, err)
	}
	if !taggedAs(info.Tags, src.Ref()) {
		return staged{}, fmt.Errorf("%s: %w", where, inputError{fmt.Errorf("the archive is tagged %s, not %s", strings.Join(info.Tags, ", "), src.Ref())})
	}
	target, err := ParsePlatform(c.platform)
	if err != nil {
		return staged{}, err
	}
	if !platformMatches(info.Platform, target) {
		return staged{}, fmt.Errorf("%s: %w", where, inputError{fmt.Errorf("the image is for %s/%s but the bundle is for %s: give an image for %s", info.Platform.OS, info.Platform.Architecture, c.platform, c.platform)})
	}
	if sum == "" {
		sum, size, err = c.hashFile(ctx, file, "reading the image of "+name)
		if err != nil {
			return staged{}, fmt.Errorf("%s: %w", where, err)
		}
	}
	origin := ""
	if o, ok := src.(originer); ok {
		origin = o.Origin()
	}
	version := src.Ref()[strings.LastIndex(src.Ref(), ":")+1:]
	return staged{file: file, mem: Member{
		Path: ImagePath(name), Kind: KindImage, Name: name, Ref: src.Ref(), ImageID: info.ID,
		Version: version, Source: origin, Size: size, SHA256: sum,
	}}, nil
}

// writeArchive writes an image source's archive to file (through file.part, renamed when
// complete), hashing it on the way.
func (c *creator) writeArchive(ctx context.Context, src ImageSource, file string) (string, int64, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", 0, err
	}
	total := int64(-1)
	if s, ok := src.(archiveSizer); ok {
		n, err := s.ArchiveSize(ctx)
		if err != nil {
			return "", 0, err
		}
		total = n
	}
	part := file + ".part"
	f, err := os.Create(part)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if f != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	h := sha256.New()
	label := "writing the image " + src.Ref()
	if _, ok := src.(*remoteImage); ok {
		label = "pulling " + src.Ref()
	}
	task := c.opts.Progress.Start(label, total)
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = src.WriteArchive(ctx, progressWriter{w: cw, t: task})
	task.Done()
	if err != nil {
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	f = nil
	if err := os.Rename(part, file); err != nil {
		return "", 0, err
	}
	return hexSum(h.Sum(nil)), cw.n, nil
}

// hashFile returns a file's SHA-256 and size.
func (c *creator) hashFile(ctx context.Context, file, label string) (string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s is not a regular file", file)
	}
	task := c.opts.Progress.Start(label, fi.Size())
	defer task.Done()
	h := sha256.New()
	n, err := io.Copy(h, progressReader{r: ctxReader{ctx: ctx, r: f}, t: task})
	if err != nil {
		return "", 0, err
	}
	return hexSum(h.Sum(nil)), n, nil
}

// write writes the bundle archive to w: the manifest, each member (checked again against its
// staged SHA-256 as it is copied), the SHA256SUMS trailer. It returns the whole file's
// SHA-256 and size.
func (c *creator) write(ctx context.Context, w io.Writer, man Manifest, members []staged) (string, int64, error) {
	manData, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return "", 0, err
	}
	manData = append(manData, '\n')
	manSum := sha256.Sum256(manData)

	fileHash := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, fileHash)}
	task := c.opts.Progress.Start("writing "+filepath.Base(c.opts.Output), man.TotalSize())
	defer task.Done()
	tw := tar.NewWriter(cw)
	put := func(name string, mode int64, size int64, r io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: man.Created}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			return errShrunk
		}
		return err
	}
	if err := put(ManifestName, 0o644, int64(len(manData)), strings.NewReader(string(manData))); err != nil {
		return "", 0, err
	}
	for _, s := range members {
		mode := int64(0o644)
		if s.mem.Kind == KindBinary {
			mode = 0o755
		}
		f, err := os.Open(s.file)
		if err != nil {
			return "", 0, err
		}
		h := sha256.New()
		r := io.TeeReader(io.LimitReader(ctxReader{ctx: ctx, r: f}, s.mem.Size), h)
		err = put(s.mem.Path, mode, s.mem.Size, progressReader{r: r, t: task})
		f.Close()
		if err != nil {
			if errors.Is(err, errShrunk) {
				return "", 0, fmt.Errorf("%s changed while the bundle was made (it is shorter now): run the command again", s.file)
			}
			return "", 0, fmt.Errorf("%s: %w", s.mem.Path, err)
		}
		if hexSum(h.Sum(nil)) != s.mem.SHA256 {
			return "", 0, fmt.Errorf("%s changed while the bundle was made (its SHA-256 differs from when it was checked): run the command again", s.file)
		}
	}
	sums := formatSums(hexSum(manSum[:]), man.Members)
	if err := put(SumsName, 0o644, int64(len(sums)), strings.NewReader(string(sums))); err != nil {
		return "", 0, err
	}
	if err := tw.Close(); err != nil {
		return "", 0, err
	}
	return hexSum(fileHash.Sum(nil)), cw.n, nil
}

// inputError is a failure that running again cannot cure: the input must change.
type inputError struct{ error }

func (e inputError) Unwrap() error { return e.error }

// errShrunk says a staged file is shorter than when it was checked.
var errShrunk = errors.New("the file is shorter than when it was checked")

// countWriter counts what passes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// syncDir flushes a directory's entries (renames) to disk; failure only weakens durability.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
