// Command vmimage builds the test VM's image, or finds it in the cache, and prints the path of
// its root disk: make vm-image runs it. It needs root (debootstrap) and takes minutes the
// first time; later runs print the cached image at once.
//
//	go run ./testvm/cmd/vmimage [-cache DIR] [-mirror URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wharf-registry/wharf/testvm"
)

func main() {
	var opts testvm.ImageOptions
	flag.StringVar(&opts.CacheDir, "cache", "", "image cache directory (default $WHARF_VM_CACHE, else ~/.cache/wharf/vm)")
	flag.StringVar(&opts.Mirror, "mirror", "", "Debian archive to bootstrap from (default $WHARF_VM_MIRROR, else the one this host's apt uses)")
	flag.Parse()
	opts.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	disk, err := testvm.BuildImage(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmimage:", err)
		os.Exit(1)
	}
	im, err := testvm.OpenImage(disk)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vmimage:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "vmimage: Debian %s, kernel %s, podman %s; log in to a VM booted from it with the key %s\n",
		im.Info.Suite, im.Info.Kernel, im.Info.Versions["podman"], im.KeyFile())
	fmt.Println(disk)
}
