// Package gc is the continuous garbage collector. Each pass removes, while pushes and pulls go
// on: tag history older than the time machine window; manifests and blob links nothing keeps;
// blobs no repository uses, from the database and then from storage; and upload sessions left
// idle too long. What a write in progress touches is never removed (see package store).
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/store"
)

// Options configure a Collector.
type Options struct {
	// Window is DEFAULT_TAG_EXPIRATION: how long history stays restorable.
	Window time.Duration
	// Grace is the least time anything untagged (a manifest pushed by digest, a blob pushed
	// before its manifest) is kept after it was last touched; the collector uses the larger
	// of Window and Grace for those.
	Grace time.Duration
	// UploadExpiry is BLOB_UPLOAD_EXPIRATION.
	UploadExpiry time.Duration
	// Interval is the time between passes.
	Interval time.Duration
}

// Collector removes what nothing references.
type Collector struct {
	store   *store.Store
	storage storage.Driver
	opts    Options
	log     *slog.Logger
}

// Stats counts what a pass removed.
type Stats struct {
	TagsExpired      int
	ManifestsDeleted int
	BlobLinksDeleted int
	BlobsDeleted     int
	BytesFreed       int64
	UploadsExpired   int
}

// New returns a collector.
func New(st *store.Store, sd storage.Driver, opts Options, log *slog.Logger) *Collector {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	return &Collector{store: st, storage: sd, opts: opts, log: log}
}

// Run collects every Interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := c.Collect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Error("garbage collection pass failed", "err", err)
			continue
		}
		if st != (Stats{}) {
			c.log.Info("garbage collection pass", "tags_expired", st.TagsExpired, "manifests_deleted", st.ManifestsDeleted,
				"blob_links_deleted", st.BlobLinksDeleted, "blobs_deleted", st.BlobsDeleted, "bytes_freed", st.BytesFreed,
				"uploads_expired", st.UploadsExpired)
		}
	}
}

// Collect runs one pass.
func (c *Collector) Collect(ctx context.Context) (Stats, error) {
	var st Stats
	now := c.store.Now()
	tagCutoff := now.Add(-c.opts.Window)
	touchCutoff := now.Add(-max(c.opts.Window, c.opts.Grace))

	// Finish removals a crashed pass left half done.
	leftover, err := c.store.BlobsBeingDeleted(ctx, 1000)
	if err != nil {
		return st, err
	}
	if err := c.deleteBlobs(ctx, leftover, &st); err != nil {
		return st, err
	}

	repos, err := c.store.RepositoryIDs(ctx)
	if err != nil {
		return st, err
	}
	for _, id := range repos {
		rs, err := c.store.CollectRepository(ctx, id, tagCutoff, touchCutoff)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return st, err
		}
		st.TagsExpired += rs.TagsExpired
		st.ManifestsDeleted += rs.ManifestsDeleted
		st.BlobLinksDeleted += rs.BlobLinksDeleted
	}

	for {
		marked, err := c.store.MarkUnreferencedBlobs(ctx, touchCutoff, 500)
		if err != nil {
			return st, err
		}
		if err := c.deleteBlobs(ctx, marked, &st); err != nil {
			return st, err
		}
		if len(marked) < 500 {
			break
		}
	}

	stale, err := c.store.StaleUploads(ctx, now.Add(-c.opts.UploadExpiry), 1000)
	if err != nil {
		return st, err
	}
	for _, u := range stale {
		if err := c.storage.Delete(ctx, storage.UploadPath(u.ID)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return st, fmt.Errorf("remove expired upload %s: %w", u.ID, err)
		}
		if err := c.store.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return st, err
		}
		st.UploadsExpired++
	}
	return st, nil
}

// deleteBlobs removes the bytes of marked blobs, then their rows.
func (c *Collector) deleteBlobs(ctx context.Context, blobs []store.Blob, st *Stats) error {
	for _, b := range blobs {
		err := c.storage.Delete(ctx, storage.BlobPath(b.Digest))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("remove blob %s: %w", b.Digest, err)
		}
		if err := c.store.FinishBlobDeletion(ctx, b.ID); err != nil {
			return err
		}
		st.BlobsDeleted++
		st.BytesFreed += b.Size
	}
	return nil
}
