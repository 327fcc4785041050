package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/airgap"
	"github.com/wharf-registry/wharf/images"

	"github.com/dustin/go-humanize"
)

// bundleCommand is `wharf bundle`: offline bundles for air-gapped sites.
func bundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Make and check offline bundles: everything an install on a host without network access needs",
	}
	cmd.AddCommand(bundleCreateCommand(), bundleVerifyCommand())
	return cmd
}

// bundleCreateCommand is `wharf bundle create`.
func bundleCreateCommand() *cobra.Command {
	var (
		opts          airgap.CreateOptions
		imageRefs     []string
		imageArchives []string
		files         []string
		insecure      []string
	)
	cmd := &cobra.Command{
		Use:   "create -o FILE [--image NAME=REF...] [--image-archive NAME=FILE...] [--file KIND:URL_OR_PATH...]",
		Short: "Gather the images, the wharf binary and data files into one bundle file for an offline install",
		Long: "Run on a host with network access. Gathers the image of every component (" + strings.Join(airgap.Components, ", ") + "),\n" +
			"the wharf binary and extra files into one archive with a manifest of their versions and SHA-256 sums, and\n" +
			"writes FILE.sha256 beside it. By default the registry image is built from the wharf binary and PostgreSQL\n" +
			"and Redis are pulled from " + images.PostgresRef + " and " + images.RedisRef + ";\n" +
			"--image pulls another reference (log in first with `podman login` for a private registry) and\n" +
			"--image-archive takes a docker-archive saved with `podman save`. --file adds vulnerability data (vulndb)\n" +
			"or another file (other) from a URL or a path.\n\n" +
			"Downloads and pulled layers are kept in the work directory (default FILE.parts) until the bundle is\n" +
			"written: if the command fails or is interrupted, run it again and it continues where it stopped.",
		Example: "  wharf bundle create -o wharf-bundle.tar\n" +
			"  wharf bundle create -o wharf-bundle.tar --image postgres=registry.example.com/mirror/postgres:15 \\\n" +
			"      --file vulndb:https://example.com/vulndb.tar.gz",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// On Ctrl-C, stop cleanly: remove the partial bundle, keep the work directory.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if opts.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the running wharf binary: %w; give --wharf-binary", err)
				}
				opts.Binary = exe
				if opts.BinaryVersion == "" {
					opts.BinaryVersion = version
				}
			}
			if opts.BinaryVersion == "" {
				v, err := airgap.ProbeBinaryVersion(ctx, opts.Binary)
				if err != nil {
					return fmt.Errorf("%w; give its version with --wharf-version", err)
				}
				opts.BinaryVersion = v
			}
			opts.WharfVersion = version
			if opts.DownloadRetries == 0 {
				opts.DownloadRetries = -1 // the flag's 0 means none; the option's 0 means the default
			}
			opts.Progress = airgap.NewProgress(cmd.ErrOrStderr())
			opts.Log = cmd.ErrOrStderr()
			workDir := opts.WorkDir
			if workDir == "" {
				workDir = airgap.DefaultWorkDir(opts.Output)
			}
			platform := opts.Platform
			if platform == "" {
				// Pull images for the platform the binary is built for.
				if f, err := os.Open(opts.Binary); err == nil {
					platform, _ = airgap.BinaryPlatform(f)
					f.Close()
				}
			}
			remote := airgap.RemoteOptions{
				Platform:  platform,
				Insecure:  insecure,
				CacheDir:  filepath.Join(workDir, "layers"),
				UserAgent: "wharf/" + version,
			}
			for _, spec := range files {
				f, err := airgap.ParseFileSpec(spec)
				if err != nil {
					return err
				}
				opts.Files = append(opts.Files, f)
			}
			given := map[string]bool{}
			for _, spec := range imageRefs {
				comp, ref, err := splitSpec("--image", spec, "NAME=REF")
				if err != nil {
					return err
				}
				src, err := airgap.NewRemoteImage(comp, ref, remote)
				if err != nil {
					return err
				}
				opts.Images = append(opts.Images, src)
				given[comp] = true
			}
			for _, spec := range imageArchives {
				comp, path, err := splitSpec("--image-archive", spec, "NAME=FILE")
				if err != nil {
					return err
				}
				src, err := airgap.NewArchiveImage(comp, path)
				if err != nil {
					return err
				}
				opts.Images = append(opts.Images, src)
				given[comp] = true
			}
			defaults, err := defaultImages(opts, remote, given)
			if err != nil {
				return err
			}
			opts.Images = append(opts.Images, defaults...)
			res, err := airgap.Create(ctx, opts)
			if err != nil {
				return err
			}
			return reportCreated(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "the bundle file to write (required)")
	f.StringVar(&opts.Binary, "wharf-binary", "", "the wharf binary to carry and build the registry image from (default: this wharf)")
	f.StringVar(&opts.BinaryVersion, "wharf-version", "", "the version of --wharf-binary (default: what it prints for --version)")
	f.StringArrayVar(&imageRefs, "image", nil, "NAME=REF: pull the image of component NAME from a registry (repeatable)")
	f.StringArrayVar(&imageArchives, "image-archive", nil, "NAME=FILE: take the image of component NAME from a docker-archive file (repeatable)")
	f.StringArrayVar(&files, "file", nil, "KIND:URL_OR_PATH: add a file of KIND vulndb or other, downloaded (resumably) or read (repeatable)")
	f.StringVar(&opts.WorkDir, "work-dir", "", "directory for downloads and pulled layers, kept for a later run (default: FILE.parts, removed after success)")
	f.StringVar(&opts.Platform, "platform", "", "target platform os/arch (default: the wharf binary's)")
	f.StringArrayVar(&insecure, "insecure-registry", nil, "HOST[:PORT]: reach this registry over plain HTTP or unverified TLS (repeatable)")
	f.IntVar(&opts.DownloadRetries, "download-retries", 3, "how often an interrupted download is resumed before the command fails")
	cmd.MarkFlagRequired("output")
	return cmd
}

// defaultImages returns the images of the components no flag named: the wharf image built
// from the binary for the registry, the upstream PostgreSQL and Redis images.
func defaultImages(opts airgap.CreateOptions, remote airgap.RemoteOptions, given map[string]bool) ([]airgap.ImageSource, error) {
	var out []airgap.ImageSource
	defs := images.Defaults(opts.BinaryVersion)
	if !given["registry"] {
		img, err := images.Wharf(opts.Binary, opts.BinaryVersion)
		if err != nil {
			return nil, fmt.Errorf("build the registry image: %w; or give one with --image registry=REF or --image-archive registry=FILE", err)
		}
		src, err := airgap.NewImage("registry", defs.Registry.Ref, "built from the wharf binary "+opts.BinaryVersion, img)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	for _, c := range []images.Component{defs.Postgres, defs.Redis} {
		if given[c.Name] {
			continue
		}
		src, err := airgap.NewRemoteImage(c.Name, c.Ref, remote)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// splitSpec splits NAME=VALUE.
func splitSpec(flag, spec, form string) (string, string, error) {
	k, v, ok := strings.Cut(spec, "=")
	if !ok || k == "" || v == "" {
		return "", "", fmt.Errorf("%s %q: write %s", flag, spec, form)
	}
	return k, v, nil
}

// reportCreated prints what a bundle holds and its SHA-256.
func reportCreated(w io.Writer, res *airgap.CreateResult) error {
	m := res.Manifest
	fmt.Fprintf(w, "Wrote %s (%s) for %s, made by wharf %s:\n", res.Path, humanize.IBytes(uint64(res.Size)), m.Platform, m.WharfVersion)
	printMembers(w, m, nil)
	fmt.Fprintf(w, "SHA-256 %s (also in %s)\n", res.SHA256, airgap.SidecarPath(res.Path))
	if res.WorkDirKept {
		fmt.Fprintf(w, "The work directory %s is kept; remove it when no later bundle needs its downloads.\n", res.WorkDir)
	}
	fmt.Fprintf(w, "Carry both files to the offline host and check them there with `wharf bundle verify %s`.\n", filepath.Base(res.Path))
	return nil
}

// printMembers lists a bundle's members as a table; status, when set, gives a first column.
func printMembers(w io.Writer, m airgap.Manifest, status func(airgap.Member) string) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	head := "  KIND\tNAME\tVERSION\tSIZE\tSOURCE\tSHA-256\n"
	if status != nil {
		head = "  \t" + strings.TrimPrefix(head, "  ")
	}
	fmt.Fprint(tw, head)
	for _, mem := range m.Members {
		src := mem.Source
		if mem.Kind == airgap.KindImage {
			src = mem.Ref
			if mem.Source != "" {
				src += " (" + mem.Source + ")"
			}
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", mem.Kind, mem.Name, orDash(mem.Version), humanize.IBytes(uint64(mem.Size)), src, mem.SHA256[:16]+"…")
		if status != nil {
			line = status(mem) + "\t" + line
		}
		fmt.Fprint(tw, "  "+line)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bundleVerifyCommand is `wharf bundle verify`.
func bundleVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an offline bundle completely: every member present, intact and safe to install",
		Long: "Reads the whole bundle and checks its manifest, that every member it lists is present once with the\n" +
			"listed size and SHA-256, that nothing else is in it (no extra or duplicate members, links, or paths\n" +
			"outside the bundle), that the file is not cut short, that every image archive's layers match the\n" +
			"image's config, and that FILE.sha256 (when present) matches. Exits non-zero on any problem.",
		Example: "  wharf bundle verify wharf-bundle.tar",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			w := cmd.OutOrStdout()
			b, err := airgap.OpenContext(cmd.Context(), path, airgap.NewProgress(cmd.ErrOrStderr()))
			var verr *airgap.VerifyError
			if errors.As(err, &verr) {
				fmt.Fprintf(w, "Bundle %s FAILED verification:\n", path)
				for _, p := range verr.Problems {
					fmt.Fprintf(w, "  %s\n", p)
				}
				fmt.Fprintln(w, airgap.VerifyHint)
				return fmt.Errorf("bundle %s failed verification: %d problem(s), listed above", path, len(verr.Problems))
			}
			if err != nil {
				return err
			}
			defer b.Close()
			m := b.Manifest()
			fmt.Fprintf(w, "Bundle %s: %s, SHA-256 %s\n", path, humanize.IBytes(uint64(b.Size())), b.SHA256())
			fmt.Fprintf(w, "Made by wharf %s on %s for %s.\n", m.WharfVersion, m.Created.Format("2006-01-02 15:04:05 MST"), m.Platform)
			printMembers(w, m, func(airgap.Member) string { return "ok" })
			if missing := m.Missing(airgap.Components); len(missing) > 0 {
				fmt.Fprintf(w, "The bundle is intact but cannot install Wharf: %s.\n", strings.Join(missing, "; "))
				return fmt.Errorf("bundle %s is incomplete: %s; make it again with `wharf bundle create`", path, strings.Join(missing, "; "))
			}
			fmt.Fprintf(w, "OK: all %d members are present and intact, and every image's layers match its config.\n", len(m.Members))
			return nil
		},
	}
}
