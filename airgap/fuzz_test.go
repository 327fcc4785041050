package airgap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/airgap"
)

// tinyBundle is a small valid bundle written by hand: one small image and one file, no
// binary (verification checks what the manifest lists; an installer asks Missing).
func tinyBundle(t testing.TB) []byte {
	t.Helper()
	img := sizedImage(t, 64, 1)
	tag, _ := name.NewTag("localhost/tiny:1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	note := []byte("hello\n")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	m := airgap.Manifest{
		Format: airgap.FormatVersion, WharfVersion: "1", Created: time.Unix(0, 0).UTC(), Platform: "linux/amd64",
		Members: []airgap.Member{
			{Path: "images/tiny.tar", Kind: airgap.KindImage, Name: "tiny", Ref: "localhost/tiny:1", ImageID: id.String(), Size: int64(archive.Len()), SHA256: sum(archive.Bytes())},
			{Path: "files/other/note.txt", Kind: airgap.KindOther, Name: "note.txt", Size: int64(len(note)), SHA256: sum(note)},
		},
	}
	man, _ := json.Marshal(m)
	entries := []entry{
		regular(airgap.ManifestName, man),
		regular("images/tiny.tar", archive.Bytes()),
		regular("files/other/note.txt", note),
	}
	sums := sum(man) + "  " + airgap.ManifestName + "\n" + m.Members[0].SHA256 + "  images/tiny.tar\n" + m.Members[1].SHA256 + "  files/other/note.txt\n"
	entries = append(entries, regular(airgap.SumsName, []byte(sums)))
	return writeEntries(t, entries)
}

// FuzzOpenReader feeds arbitrary bytes to the bundle reader: it must never panic, and whatever
// it accepts must read back member by member with the sizes and digests its manifest lists.
func FuzzOpenReader(f *testing.F) {
	good := tinyBundle(f)
	if _, err := airgap.OpenReader(context.Background(), bytes.NewReader(good), int64(len(good)), airgap.NoProgress); err != nil {
		f.Fatalf("the seed bundle does not verify: %v", err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:1024])
	f.Add(append(bytes.Clone(good), 1, 2, 3))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/3] ^= 0xff
	f.Add(flipped)
	f.Add([]byte{})
	f.Add([]byte("not a bundle"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := airgap.OpenReader(context.Background(), bytes.NewReader(data), int64(len(data)), airgap.NoProgress)
		if err != nil {
			return
		}
		defer b.Close()
		for _, mem := range b.Manifest().Members {
			rc, err := b.Open(mem.Path)
			if err != nil {
				t.Fatalf("accepted bundle: open %s: %v", mem.Path, err)
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			if err != nil || n != mem.Size || hex.EncodeToString(h.Sum(nil)) != mem.SHA256 {
				t.Fatalf("accepted bundle: %s read %d bytes (%v), manifest says %d", mem.Path, n, err, mem.Size)
			}
		}
	})
}

// FuzzParseManifest: the manifest parser never panics, and what it accepts is valid and
// survives a round trip.
func FuzzParseManifest(f *testing.F) {
	entries := readEntries(f, tinyBundle(f))
	f.Add(entries[0].data)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":2,"wharfVersion":"9"}`))
	f.Add([]byte(`{"format":1,"platform":"linux/amd64","members":[{"path":"../x","kind":"other","name":"x","size":1,"sha256":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := airgap.ParseManifest(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseManifest accepted a manifest Validate refuses: %v", err)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := airgap.ParseManifest(again); err != nil {
			t.Fatalf("a parsed manifest does not parse again: %v", err)
		}
	})
}
