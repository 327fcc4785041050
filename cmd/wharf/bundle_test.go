package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/cobra"

	"github.com/wharf-registry/wharf/airgap"
)

// runBundle runs `wharf bundle ARGS...` in process and returns its output and error.
func runBundle(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "wharf", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(bundleCommand())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"bundle"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestBundleCommand creates a bundle from image archives with the command, verifies it, and
// has verify refuse a damaged copy, naming the member and what to do.
func TestBundleCommand(t *testing.T) {
	dir := t.TempDir()
	args := []string{"create", "-o", filepath.Join(dir, "b.tar"), "--wharf-version", "7.0.0"}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "--wharf-binary", exe)
	for _, comp := range airgap.Components {
		img, err := random.Image(2048, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		img, _ = mutate.ConfigFile(img, cf)
		tag, _ := name.NewTag("example.com/" + comp + ":7")
		path := filepath.Join(dir, comp+".tar")
		if err := tarball.WriteToFile(path, tag, img); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--image-archive", comp+"="+path)
	}
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("notes"), 0o644)
	args = append(args, "--file", "other:"+notes)

	out, err := runBundle(t, args...)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	for _, want := range []string{"Wrote " + filepath.Join(dir, "b.tar"), "image   postgres", "example.com/postgres:7", "binary  wharf", "7.0.0", "SHA-256 ", "wharf bundle verify b.tar"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}

	out, err = runBundle(t, "verify", filepath.Join(dir, "b.tar"))
	if err != nil || !strings.Contains(out, "OK: all 5 members are present and intact") {
		t.Fatalf("verify: %v\n%s", err, out)
	}

	data, _ := os.ReadFile(filepath.Join(dir, "b.tar"))
	damaged := filepath.Join(dir, "damaged.tar")
	data[len(data)/2] ^= 0x40
	os.WriteFile(damaged, data, 0o644)
	out, err = runBundle(t, "verify", damaged)
	if err == nil || !strings.Contains(err.Error(), "failed verification") {
		t.Fatalf("verify of a damaged bundle: %v\n%s", err, out)
	}
	if !strings.Contains(out, "corrupt: its SHA-256 is") || !strings.Contains(out, "Copy the bundle again") {
		t.Errorf("verify output does not name the damage and what to do:\n%s", out)
	}

	// An intact bundle that lacks a component cannot install Wharf: verify says so.
	src, err := airgap.NewArchiveImage("registry", filepath.Join(dir, "registry.tar"))
	if err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "partial.tar")
	if _, err := airgap.Create(context.Background(), airgap.CreateOptions{
		Output: partial, Binary: exe, BinaryVersion: "7", WharfVersion: "7",
		Images: []airgap.ImageSource{src}, Components: []string{"registry"},
	}); err != nil {
		t.Fatal(err)
	}
	out, err = runBundle(t, "verify", partial)
	if err == nil || !strings.Contains(err.Error(), "no image for the postgres component; no image for the redis component") {
		t.Fatalf("verify of an incomplete bundle: %v\n%s", err, out)
	}

	// Bad flags say how to write them.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "-o", filepath.Join(dir, "x.tar"), "--image", "postgres"}, "write NAME=REF"},
		{[]string{"create", "-o", filepath.Join(dir, "x.tar"), "--image-archive", "=x"}, "write NAME=FILE"},
		{[]string{"create", "-o", filepath.Join(dir, "x.tar"), "--wharf-version", "1", "--file", "db.tar.gz"}, "write KIND:URL or KIND:PATH"},
		{[]string{"create"}, `required flag(s) "output" not set`},
		{[]string{"verify", filepath.Join(dir, "missing.tar")}, "no such file"},
	} {
		if _, err := runBundle(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
