package systemd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWriteIdempotent writes a plan, writes it again (nothing changes, not even
// modification times), then writes a changed plan (only the changed file is written).
func TestWriteIdempotent(t *testing.T) {
	for _, flavour := range []Flavour{Quadlet, Classic} {
		t.Run(string(flavour), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "units") // created by Write
			plan, err := Generate(Options{Flavour: flavour, UnitDir: dir}, wharfComponents())
			if err != nil {
				t.Fatal(err)
			}
			written, err := plan.Write()
			if err != nil {
				t.Fatal(err)
			}
			if len(written) != len(plan.Files) {
				t.Fatalf("first write wrote %v, want all %d files", written, len(plan.Files))
			}
			for _, f := range plan.Files {
				got, err := os.ReadFile(plan.Path(f))
				if err != nil || string(got) != string(f.Content) {
					t.Fatalf("%s: %v, content differs", f.Name, err)
				}
				info, _ := os.Stat(plan.Path(f))
				if info.Mode().Perm() != 0o644 {
					t.Errorf("%s: mode %v, want 0644", f.Name, info.Mode().Perm())
				}
			}
			old := time.Now().Add(-time.Hour)
			for _, f := range plan.Files {
				if err := os.Chtimes(plan.Path(f), old, old); err != nil {
					t.Fatal(err)
				}
			}
			written, err = plan.Write()
			if err != nil || len(written) != 0 {
				t.Fatalf("second write: wrote %v, %v; want nothing", written, err)
			}
			for _, f := range plan.Files {
				info, _ := os.Stat(plan.Path(f))
				if !info.ModTime().Equal(old) {
					t.Errorf("%s was touched by a write that changed nothing", f.Name)
				}
			}

			cs := wharfComponents()
			cs[0].Image = "localhost/wharf:1.1.0"
			upgraded, err := Generate(Options{Flavour: flavour, UnitDir: dir}, cs)
			if err != nil {
				t.Fatal(err)
			}
			written, err = upgraded.Write()
			if err != nil {
				t.Fatal(err)
			}
			if want := upgraded.Files[slices.IndexFunc(upgraded.Files, func(f File) bool { return strings.Contains(f.Name, "registry") })].Name; !slices.Equal(written, []string{want}) {
				t.Errorf("upgrade wrote %v, want only %s", written, want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(plan.Files) {
				t.Errorf("%d entries in the unit directory, want %d (temporary files left behind?)", len(entries), len(plan.Files))
			}
		})
	}
}

// TestWriteKeepsForeignFiles: a same-named file that Wharf did not write is neither
// overwritten nor removed.
func TestWriteKeepsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	plan, err := Generate(Options{Flavour: Classic, UnitDir: dir}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "wharf-redis.service")
	mine := "[Service]\nExecStart=/usr/bin/redis-server\n"
	if err := os.WriteFile(foreign, []byte(mine), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Write(); err == nil || !strings.Contains(err.Error(), "was not written by wharf: move it away") {
		t.Fatalf("Write = %v, want a refusal to overwrite %s", err, foreign)
	}
	if got, _ := os.ReadFile(foreign); string(got) != mine {
		t.Fatal("the foreign file was changed")
	}
	removed, err := plan.Remove()
	if err == nil || !strings.Contains(err.Error(), "left in place") {
		t.Fatalf("Remove = %v, want it to leave the foreign file with an error", err)
	}
	if _, statErr := os.Stat(foreign); statErr != nil {
		t.Fatal("the foreign file was removed")
	}
	if slices.Contains(removed, "wharf-redis.service") {
		t.Fatalf("removed %v", removed)
	}
}

// TestRemoveAndGenerated: Generated finds what Wharf wrote (and only that), Remove
// deletes it, and removing again is fine.
func TestRemoveAndGenerated(t *testing.T) {
	dir := t.TempDir()
	plan, err := Generate(Options{Flavour: Quadlet, UnitDir: dir}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Write(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.container"), []byte("[Container]\nImage=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := Generated(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range plan.Files {
		want = append(want, f.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("Generated = %v, want %v", names, want)
	}
	removed, err := plan.Remove()
	if err != nil || !slices.Equal(removed, want) {
		t.Fatalf("Remove = %v, %v; want %v", removed, err, want)
	}
	if removed, err := plan.Remove(); err != nil || len(removed) != 0 {
		t.Fatalf("second Remove = %v, %v; want nothing to do", removed, err)
	}
	if names, _ := Generated(dir); len(names) != 0 {
		t.Errorf("after Remove, Generated = %v", names)
	}
	if names, err := Generated(filepath.Join(dir, "missing")); err != nil || names != nil {
		t.Errorf("Generated on a missing directory = %v, %v", names, err)
	}
}

// TestWriteUnwritableDir reports the directory problem.
func TestWriteUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := Generate(Options{Flavour: Quadlet, UnitDir: filepath.Join(file, "units")}, wharfComponents())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Write(); err == nil || !strings.Contains(err.Error(), "creating the unit directory") {
		t.Fatalf("Write = %v", err)
	}
}
