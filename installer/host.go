package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// files changes ownership and moves trees of files on the host. A root installation does it
// directly; a rootless one does it inside the user's user namespace (`podman unshare`),
// where the containers' users (1001 for the registry, 999 for PostgreSQL and Redis) map to
// the user's subordinate IDs.
type files struct {
	rootless bool
}

// chown gives path (and, when recursive, everything below it) to uid:gid as the
// containers see them.
func (h files) chown(ctx context.Context, path string, uid, gid int, recursive bool) error {
	if h.rootless {
		args := []string{"unshare", "chown"}
		if recursive {
			args = append(args, "-R")
		}
		return h.podman(ctx, append(args, fmt.Sprintf("%d:%d", uid, gid), path)...)
	}
	if !recursive {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("giving %s to %d:%d: %w", path, uid, gid, err)
		}
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("giving %s to %d:%d: %w", p, uid, gid, err)
		}
		return nil
	})
}

// copyTree copies src to dst (which must not exist), keeping owners, modes and times.
func (h files) copyTree(ctx context.Context, src, dst string) error {
	if h.rootless {
		return h.podman(ctx, "unshare", "cp", "-a", src, dst)
	}
	out, err := exec.CommandContext(ctx, "cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying %s to %s: %v: %s", src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeTree removes path and everything below it; a missing path is fine.
func (h files) removeTree(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if h.rootless {
		return h.podman(ctx, "unshare", "rm", "-rf", path)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

func (h files) podman(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// move renames src to dst on the same file system.
func (h files) move(ctx context.Context, src, dst string) error {
	if h.rootless {
		return h.podman(ctx, "unshare", "mv", src, dst)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("moving %s to %s: %w", src, dst, err)
	}
	return nil
}
