// Command mkimages builds Wharf's component images without a container engine, as `make
// images` runs it: the wharf image from a static wharf binary, written as an archive that
// `podman load` reads, and PostgreSQL and Redis images from Debian's packages (package
// images/debian), cached under ~/.cache/wharf/images.
//
//	go run ./images/cmd/mkimages -wharf bin/wharf -version 1.0 -o bin/wharf-image.tar
//	go run ./images/cmd/mkimages -debian postgres,redis
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wharf-registry/wharf/images"
	"github.com/wharf-registry/wharf/images/debian"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkimages:", err)
		os.Exit(1)
	}
}

func run() error {
	binary := flag.String("wharf", "", "static wharf binary to build the wharf image from (none: no wharf image)")
	version := flag.String("version", "", "the binary's version: the image is named "+images.WharfRepository+":VERSION")
	out := flag.String("o", "bin/wharf-image.tar", "where to write the wharf image archive")
	deb := flag.String("debian", strings.Join(debian.Names, ","), "comma-separated Debian-built images to make (none: \"\")")
	suite := flag.String("suite", debian.DefaultSuite, "Debian release of the Debian-built images")
	mirror := flag.String("mirror", "", "Debian mirror (default: the one the host's apt sources name)")
	cache := flag.String("cache", debian.CacheDir(), "cache directory of the Debian-built images")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v: see -help", flag.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *binary != "" {
		if *version == "" {
			return errors.New("-version is required with -wharf: give the version the binary was built as")
		}
		img, err := images.Wharf(*binary, *version)
		if err != nil {
			return err
		}
		ref := images.WharfRepository + ":" + *version
		if err := images.WriteArchiveFile(*out, map[string]v1.Image{ref: img}); err != nil {
			return err
		}
		id, err := img.ConfigName()
		if err != nil {
			return err
		}
		fmt.Printf("wharf: wrote %s (%s, image ID %s); load it with: podman load -i %s\n", *out, ref, id.Hex[:12], *out)
	}
	if *deb == "" {
		return nil
	}
	for _, name := range strings.Split(*deb, ",") {
		path, err := debian.Build(ctx, strings.TrimSpace(name), debian.Options{Suite: *suite, Mirror: *mirror, CacheDir: *cache, Log: os.Stdout})
		if err != nil {
			return err
		}
		fmt.Printf("%s: load %s with: podman load -i %s\n", name, debian.Ref(name, *suite), path)
	}
	return nil
}
