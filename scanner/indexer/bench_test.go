package indexer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/wharf-registry/wharf/scanner/indexer"
)

// BenchmarkIndexLayerFile indexes the layer blob (e.g. a Debian 12 root filesystem, tar.gz)
// named by $WHARF_BENCH_LAYER, read from disk.
func BenchmarkIndexLayerFile(b *testing.B) {
	name := os.Getenv("WHARF_BENCH_LAYER")
	if name == "" {
		b.Skip("set WHARF_BENCH_LAYER to a layer blob")
	}
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	_ = f.Close()
	if err != nil {
		b.Fatal(err)
	}
	layer := indexer.Layer{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: size,
		Open: func(context.Context) (io.ReadCloser, error) { return os.Open(name) }}
	ix := indexer.New(indexer.Options{})
	b.SetBytes(size)
	for b.Loop() {
		ir, err := ix.Index(b.Context(), "sha256:bench", []indexer.Layer{layer})
		if err != nil {
			b.Fatal(err)
		}
		if len(ir.Packages) == 0 {
			b.Fatal("no packages")
		}
	}
}
