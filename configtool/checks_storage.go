package configtool

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/aws/smithy-go"

	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/storage/drivers"
	"github.com/wharf-registry/wharf/schema"
)

// ProbePrefix begins the key of the object the storage check writes, reads and deletes.
const ProbePrefix = "wharf-config-check-"

// localStaging is the LocalStorage driver's staging directory inside its root; the check
// removes it again when it was not there before.
const localStaging = ".staging"

func init() {
	consistencyChecks = append(consistencyChecks, checkStorageFiles)
	checks = append(checks, Check{Group: GroupStorage, Run: checkStorage})
}

// checkStorageFiles requires the parent of every absolute LocalStorage path to be an existing
// directory: `wharf serve` creates the storage directory itself, but a missing parent is
// usually an unmounted volume or a typing mistake. (Relative paths live in the data
// directory, which `wharf serve` creates.)
func checkStorageFiles(cfg *schema.Config, _ Source) []schema.Problem {
	var out []schema.Problem
	for _, name := range locationNames(cfg) {
		loc := cfg.DistributedStorageConfig[name]
		p := loc.String("storage_path")
		if loc.Driver != "LocalStorage" || !filepath.IsAbs(p) {
			continue
		}
		parent := filepath.Dir(filepath.Clean(p))
		key := "DISTRIBUTED_STORAGE_CONFIG/" + name + "/1/storage_path"
		st, err := os.Stat(parent)
		switch {
		case err != nil:
			out = append(out, cfg.Problem(key, fmt.Sprintf("the parent directory %s does not exist: create it (or mount the volume) before `wharf serve` starts, or fix the path", parent)))
		case !st.IsDir():
			out = append(out, cfg.Problem(key, fmt.Sprintf("%s is a file, not a directory: choose another storage_path", parent)))
		}
	}
	return out
}

// locationNames lists the storage locations, sorted (schema.Parse keeps the file's locations
// alone, or the default ones when the file defines none).
func locationNames(cfg *schema.Config) []string {
	names := slices.Collect(maps.Keys(cfg.DistributedStorageConfig))
	sort.Strings(names)
	return names
}

// checkStorage writes, reads back, compares and deletes a small probe object in every
// storage location, through the driver `wharf serve` would use.
func checkStorage(ctx context.Context, env *Env) []Result {
	var out []Result
	for _, name := range locationNames(env.Config) {
		out = append(out, probeLocation(ctx, env, name, env.Config.DistributedStorageConfig[name]))
	}
	return out
}

func probeLocation(ctx context.Context, env *Env, name string, loc schema.StorageLocation) Result {
	start := time.Now()
	r := newResult(GroupStorage, "location "+name, "DISTRIBUTED_STORAGE_CONFIG/"+name)
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	where := describeLocation(env, loc)
	if loc.Driver == "LocalStorage" {
		root := dataPath(env, loc.String("storage_path"))
		st, err := os.Stat(root)
		switch {
		case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			dir, err := writableAncestor(root)
			if err != nil {
				return r.fail(start, "%s cannot be created: %v: choose a writable storage_path (relative paths are in the data directory)", where, err)
			}
			return r.ok(start, "%s does not exist yet; `wharf serve` creates it (%s is writable)", where, dir)
		case err != nil:
			return r.fail(start, "%s: %v", where, err)
		case !st.IsDir():
			return r.fail(start, "%s is a file, not a directory: choose another storage_path", where)
		}
		staging := filepath.Join(root, localStaging)
		if _, err := os.Stat(staging); errors.Is(err, os.ErrNotExist) {
			defer os.Remove(staging) // only if the probe left it empty
		}
	}
	d, err := drivers.Open(ctx, name, loc, env.DataDir)
	if err != nil {
		return r.fail(start, "%s: %s", where, storageError(loc, err, env))
	}
	if err := probe(ctx, d); err != nil {
		return r.fail(start, "%s: %s", where, storageError(loc, err, env))
	}
	return r.ok(start, "%s: wrote, read back and deleted a probe object", where)
}

// probe writes a small object under a unique key, reads it back, compares, deletes it and
// checks that it is gone.
func probe(ctx context.Context, d storage.Driver) (err error) {
	data := make([]byte, 64)
	rand.Read(data)
	key := ProbePrefix + hex.EncodeToString(data[:8])
	written := false
	defer func() {
		if err != nil && written {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			d.Delete(cctx, key) // best effort: the error that matters is err
			cancel()
		}
	}()
	w, err := d.Writer(ctx, key, 0)
	if err != nil {
		return &probeError{"write a probe object", err}
	}
	if _, err := w.Write(data); err != nil {
		w.Cancel(ctx)
		return &probeError{"write a probe object", err}
	}
	written = true
	if err := w.Commit(ctx); err != nil {
		return &probeError{"write a probe object", err}
	}
	rc, err := d.Reader(ctx, key, 0)
	if err != nil {
		return &probeError{"read the probe object back", err}
	}
	got, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return &probeError{"read the probe object back", err}
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("the probe object read back (%d bytes) differs from what was written (%d bytes)", len(got), len(data))
	}
	if err := d.Delete(ctx, key); err != nil {
		return &probeError{"delete the probe object", err}
	}
	written = false
	if _, err := d.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("the probe object %s is still there after its deletion (%v)", key, err)
	}
	return nil
}

// describeLocation names a location's driver and where it stores.
func describeLocation(env *Env, loc schema.StorageLocation) string {
	switch loc.Driver {
	case "LocalStorage":
		return "LocalStorage " + dataPath(env, loc.String("storage_path"))
	case "S3Storage":
		cfg, err := drivers.S3Config(loc)
		if err == nil {
			return fmt.Sprintf("S3Storage bucket %s at %s", cfg.Bucket, orAWS(cfg.Endpoint))
		}
	case "RadosGWStorage":
		cfg, err := drivers.RadosGWConfig(loc)
		if err == nil {
			return fmt.Sprintf("RadosGWStorage bucket %s at %s", cfg.Bucket, cfg.Endpoint)
		}
	}
	return loc.Driver
}

// endpointOf is the S3 endpoint a location talks to.
func endpointOf(loc schema.StorageLocation) string {
	var endpoint string
	switch loc.Driver {
	case "S3Storage":
		c, _ := drivers.S3Config(loc)
		endpoint = c.Endpoint
	case "RadosGWStorage":
		c, _ := drivers.RadosGWConfig(loc)
		endpoint = c.Endpoint
	}
	return orAWS(endpoint)
}

func orAWS(endpoint string) string {
	if endpoint == "" {
		return "Amazon S3"
	}
	return endpoint
}

// probeError is a failed step of the probe.
type probeError struct {
	step string
	err  error
}

func (e *probeError) Error() string { return e.step + ": " + e.err.Error() }
func (e *probeError) Unwrap() error { return e.err }

// storageError says what a storage failure means and which parameter to look at.
func storageError(loc schema.StorageLocation, err error, env *Env) string {
	bucket, access, secret, host := "s3_bucket", "s3_access_key", "s3_secret_key", "host, port or endpoint_url"
	if loc.Driver == "RadosGWStorage" {
		bucket, access, secret, host = "bucket_name", "access_key", "secret_key", "hostname and port"
	}
	step := "open the driver"
	var pe *probeError
	if errors.As(err, &pe) {
		step = pe.step
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		said := fmt.Sprintf("%s: the server answered %s (%s)", step, apiErr.ErrorCode(), apiErr.ErrorMessage())
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Sprintf("%s: the bucket does not exist: create it (Wharf does not create buckets) or fix %s", said, bucket)
		case "InvalidAccessKeyId":
			return fmt.Sprintf("%s: the server does not know this access key: check %s", said, access)
		case "SignatureDoesNotMatch":
			return fmt.Sprintf("%s: the secret key is wrong: check %s", said, secret)
		case "AccessDenied", "Forbidden":
			return fmt.Sprintf("%s: these credentials may not use the bucket: allow them to list, put, get and delete objects in it", said)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return fmt.Sprintf("%s: the bucket is in another region: set s3_region to the bucket's region", said)
		}
		return fmt.Sprintf("%s: check %s, %s and %s", said, bucket, access, secret)
	}
	if loc.Driver == "LocalStorage" {
		return fmt.Sprintf("%v: the user that runs `wharf serve` must be able to create files there: fix the permissions, or choose another storage_path", err)
	}
	if reason := netReason(err, endpointOf(loc), env.Timeout); reason != "" {
		return fmt.Sprintf("%s: %s: check %s and is_secure", step, reason, host)
	}
	return fmt.Sprintf("%v: check %s and the credentials", err, host)
}
