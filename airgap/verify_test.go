package airgap_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wharf-registry/wharf/airgap"
)

var (
	goodOnce   sync.Once
	goodBundle []byte
)

// good returns the bytes of a valid bundle, made once for all verification tests.
func good(t *testing.T) []byte {
	t.Helper()
	goodOnce.Do(func() {
		f := makeBundle(t, nil)
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		goodBundle = data
	})
	if goodBundle == nil {
		t.Fatal("no good bundle")
	}
	return bytes.Clone(goodBundle)
}

// openBytes writes data as a bundle file (with sidecar content when given) and opens it.
func openBytes(t *testing.T, data []byte, sidecar string) (*airgap.Bundle, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wharf-bundle.tar")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if sidecar != "" {
		os.WriteFile(airgap.SidecarPath(path), []byte(sidecar), 0o644)
	}
	return airgap.Open(path)
}

// wantProblem checks that opening failed with a VerifyError holding a problem of member whose
// message contains want.
func wantProblem(t *testing.T, err error, member, want string) {
	t.Helper()
	var verr *airgap.VerifyError
	if !errors.As(err, &verr) {
		t.Fatalf("open: %v, want a VerifyError", err)
	}
	for _, p := range verr.Problems {
		if p.Member == member && strings.Contains(p.Msg, want) {
			if !strings.Contains(err.Error(), "Copy the bundle again") {
				t.Errorf("the error does not say what to do: %v", err)
			}
			return
		}
	}
	t.Fatalf("no problem %q on member %q; problems: %q", want, member, verr.Problems)
}

// rewrite takes the good bundle apart, lets change alter its members, and puts it together.
func rewrite(t *testing.T, change func([]entry) []entry) []byte {
	t.Helper()
	return writeEntries(t, change(readEntries(t, good(t))))
}

func index(entries []entry, name string) int {
	for i, e := range entries {
		if e.hdr.Name == name {
			return i
		}
	}
	panic("no member " + name)
}

func regular(name string, data []byte) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}, data: data}
}

// insertBeforeSums puts e just before the SHA256SUMS trailer.
func insertBeforeSums(entries []entry, e entry) []entry {
	n := len(entries)
	return append(entries[:n-1:n-1], e, entries[n-1])
}

// TestVerifyRefuses: every kind of damage is found and named, with what to do about it.
func TestVerifyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    func(t *testing.T) []byte
		sidecar string
		member  string
		want    string
	}{
		{"flipped byte in an image layer", func(t *testing.T) []byte {
			data := good(t)
			l := layerSection(t, data, "images/postgres.tar")
			data[l.off+l.size/2] ^= 0x01
			return data
		}, "", "images/postgres.tar", "corrupt: its SHA-256 is"},
		{"flipped layer byte with the checksums made to match", func(t *testing.T) []byte {
			data := good(t)
			l := layerSection(t, data, "images/postgres.tar")
			data[l.off+l.size/2] ^= 0x01
			entries := readEntries(t, data)
			m := manifestOf(t, entries)
			i := index(entries, "images/postgres.tar")
			for j := range m.Members {
				if m.Members[j].Path == "images/postgres.tar" {
					m.Members[j].SHA256 = sha256Hex(entries[i].data)
				}
			}
			setManifest(t, entries, m, true)
			return writeEntries(t, entries)
		}, "", "images/postgres.tar", " of 2 (sha256:"}, // whichever layer the flipped byte fell in
		{"damaged member header", func(t *testing.T) []byte {
			data := good(t)
			data[sections(t, data)["images/redis.tar"].off-512+3] ^= 0x20 // in the name field
			return data
		}, "", "", "the archive is damaged at byte"},
		{"manifest with a wrong checksum", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				m := manifestOf(t, e)
				m.Members[0].SHA256 = strings.Repeat("0", 64)
				setManifest(t, e, m, true)
				return e
			})
		}, "", "bin/wharf", "corrupt: its SHA-256 is"},
		{"manifest changed after it was summed", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				m := manifestOf(t, e)
				m.WharfVersion = "9.9.9"
				setManifest(t, e, m, false)
				return e
			})
		}, "", airgap.ManifestName, "does not match the one in SHA256SUMS"},
		{"missing member", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				i := index(e, "images/redis.tar")
				return append(e[:i], e[i+1:]...)
			})
		}, "", "images/redis.tar", "missing: the manifest lists it but the archive does not hold it"},
		{"extra member", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, regular("files/other/extra.txt", []byte("surprise")))
			})
		}, "", "files/other/extra.txt", "an extra member the manifest does not list"},
		{"duplicate member", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, e[index(e, "files/other/NOTES.txt")])
			})
		}, "", "files/other/NOTES.txt", "appears twice"},
		{"path climbing out", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, regular("../../etc/cron.d/evil", []byte("* * * * * root sh")))
			})
		}, "", "../../etc/cron.d/evil", "unsafe member name: path climbs out of the bundle"},
		{"path climbing out inside", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, regular("files/../../evil", []byte("x")))
			})
		}, "", "files/../../evil", "unsafe member name"},
		{"absolute path", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, regular("/etc/passwd", []byte("root::0:0::/:/bin/sh")))
			})
		}, "", "/etc/passwd", "absolute path"},
		{"symbolic link", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "files/other/link", Linkname: "/etc/shadow"}})
			})
		}, "", "files/other/link", "is a link"},
		{"hard link", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return insertBeforeSums(e, entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "files/other/hard", Linkname: "bin/wharf"}})
			})
		}, "", "files/other/hard", "is a link"},
		{"manifest not first", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				e[0], e[1] = e[1], e[0]
				return e
			})
		}, "", "", "not a Wharf bundle"},
		{"member after the trailer", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				return append(e, regular("files/other/late.txt", []byte("late")))
			})
		}, "", "files/other/late.txt", "an extra member after SHA256SUMS"},
		{"data after the end", func(t *testing.T) []byte {
			return append(good(t), []byte("trailing garbage")...)
		}, "", "", "bytes of data follow the end of the archive"},
		{"not a tar archive", func(t *testing.T) []byte {
			return bytes.Repeat([]byte("not a bundle "), 100)
		}, "", "", "not a Wharf bundle"},
		{"empty file", func(t *testing.T) []byte { return nil }, "", "", "the file is empty"},
		{"newer format", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				m := manifestOf(t, e)
				m.Format = airgap.FormatVersion + 1
				setManifest(t, e, m, true)
				return e
			})
		}, "", airgap.ManifestName, "newer than this wharf reads"},
		{"manifest lists a path outside", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				m := manifestOf(t, e)
				m.Members[4].Path = "../NOTES.txt"
				setManifest(t, e, m, true)
				return e
			})
		}, "", airgap.ManifestName, "path climbs out of the bundle"},
		{"image tagged differently from the manifest", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				m := manifestOf(t, e)
				m.Members[3].Ref = "docker.io/library/redis:8"
				setManifest(t, e, m, true)
				return e
			})
		}, "", "images/redis.tar", "is tagged redis:7, not docker.io/library/redis:8"},
		{"binary that is not a Go executable", func(t *testing.T) []byte {
			return rewrite(t, func(e []entry) []entry {
				i := index(e, airgap.BinaryPath)
				e[i].data = []byte("#!/bin/sh\necho wharf\n")
				m := manifestOf(t, e)
				m.Members[0].Size, m.Members[0].SHA256 = int64(len(e[i].data)), sha256Hex(e[i].data)
				setManifest(t, e, m, true)
				return e
			})
		}, "", airgap.BinaryPath, "not a Go executable"},
		{"sidecar differs", func(t *testing.T) []byte { return good(t) },
			strings.Repeat("ab", 32) + "  wharf-bundle.tar\n", "", "differs from the bundle that was made"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := openBytes(t, tc.data(t), tc.sidecar)
			if err == nil {
				b.Close()
				t.Fatal("a damaged bundle was accepted")
			}
			wantProblem(t, err, tc.member, tc.want)
		})
	}
}

// TestVerifyAcceptsRewrite: taking the good bundle apart and putting it together again changes
// nothing a reader checks (so the damage tests above test only their damage), and a correct
// sidecar passes.
func TestVerifyAcceptsRewrite(t *testing.T) {
	data := rewrite(t, func(e []entry) []entry { return e })
	b, err := openBytes(t, data, sha256Hex(data)+"  wharf-bundle.tar\n")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	// Zero padding after the end (as some copy tools add) is allowed.
	b, err = openBytes(t, append(data, make([]byte, 10240)...), "")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestVerifyTruncated cuts the bundle at points across its layout; each cut is found and said
// to be one.
func TestVerifyTruncated(t *testing.T) {
	data := good(t)
	secs := sections(t, data)
	man := secs[airgap.ManifestName]
	img := secs["images/postgres.tar"]
	redis := secs["images/redis.tar"]
	sums := secs[airgap.SumsName]
	for _, tc := range []struct {
		name   string
		at     int64
		member string // the member named as cut short or missing, "" for the whole file
	}{
		{"inside the first header", 100, ""},
		{"inside the manifest", man.off + 10, airgap.ManifestName},
		{"right after the manifest", man.off + man.size, ""},
		{"inside an image", img.off + img.size/2, "images/postgres.tar"},
		{"between members", redis.off - 512, "images/redis.tar"},
		{"inside a member header", redis.off - 300, "images/redis.tar"},
		{"inside the trailer", sums.off + 5, airgap.SumsName},
		{"before the trailer", sums.off - 512, airgap.SumsName},
		{"before the end-of-archive marker", int64(len(data)) - 1024, ""},
		{"inside the end-of-archive marker", int64(len(data)) - 512, ""},
		{"last byte", int64(len(data)) - 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := openBytes(t, data[:tc.at], "")
			if err == nil {
				b.Close()
				t.Fatalf("a bundle cut at byte %d of %d was accepted", tc.at, len(data))
			}
			var verr *airgap.VerifyError
			if !errors.As(err, &verr) {
				t.Fatalf("open: %v", err)
			}
			found := false
			for _, p := range verr.Problems {
				if p.Member == tc.member && (strings.Contains(p.Msg, "cut short") || strings.Contains(p.Msg, "missing")) {
					found = true
				}
			}
			if !found || !strings.Contains(err.Error(), "cut short") && !strings.Contains(err.Error(), "ends before") {
				t.Fatalf("cut at %d: problems %q do not say the file (member %q) was cut short", tc.at, verr.Problems, tc.member)
			}
		})
	}
}

// TestVerifyErrorMessage: the error lists the first problems and says how to see the rest.
func TestVerifyErrorMessage(t *testing.T) {
	data := rewrite(t, func(e []entry) []entry {
		for i := 0; i < 5; i++ {
			e = insertBeforeSums(e, regular(fmt.Sprintf("files/other/x%d", i), []byte("x")))
		}
		return e
	})
	_, err := openBytes(t, data, "")
	if err == nil || !strings.Contains(err.Error(), "and 2 more problems (run `wharf bundle verify") {
		t.Fatalf("error: %v", err)
	}
}
