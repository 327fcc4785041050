// Package s3 is the S3Storage driver: blob storage in a bucket of Amazon S3 or of an
// S3-compatible store (MinIO, Ceph RGW, ...).
//
// Committed objects live at ROOT/PATH, where ROOT is the configured key prefix (Quay's
// storage_path). Staged content for PATH lives under ROOT/_staging/PATH/ as segments, one per
// writer session, each named by its zero-padded start offset:
//
//	ROOT/_staging/uploads/abc/00000000000000000000   bytes [0, 3 MiB) from the first request
//	ROOT/_staging/uploads/abc/00000000000003145728   bytes [3 MiB, ...) from the second
//
// A resumed writer drops the segments at or after its offset and adds a new one; Commit
// composes the segments into ROOT/PATH with server-side copies where S3 allows them, so a
// reader never sees a partial object and Walk never lists staged content.
package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/wharf-registry/wharf/registry/storage"
)

const (
	// stagingDir is the key prefix (under the root) that holds staged segments.
	stagingDir = "_staging"
	// minPartSize is S3's smallest size for a multipart part other than the last.
	minPartSize = 5 << 20
	// maxParts is S3's largest number of parts in one multipart upload.
	maxParts = 10000
	// DefaultChunkSize is the multipart part size used when Config.ChunkSize is zero.
	DefaultChunkSize = 16 << 20
	// DefaultRegion is the region used when Config.Region is empty.
	DefaultRegion = "us-east-1"
)

// maxCopySize is the largest object a single CopyObject may copy and the largest part an
// UploadPartCopy may copy (5 GiB in S3). Larger copies are split into multipart copies. It is a
// variable so that tests can exercise the multipart copy on small objects.
var maxCopySize int64 = 5 << 30

// Config configures a Driver. Field meanings follow Quay's S3Storage and
// RadosGWStorage/IBMCloudStorage parameters.
type Config struct {
	// Endpoint is the base URL of an S3-compatible store, such as "http://127.0.0.1:9000".
	// Empty means Amazon S3.
	Endpoint string
	// Region is the bucket's region; empty means "us-east-1".
	Region string
	// Bucket is the bucket holding the objects. It must exist (see Driver.EnsureBucket).
	Bucket string
	// RootPath is the key prefix under which every object is stored (Quay's storage_path).
	// Leading and trailing slashes do not matter.
	RootPath string
	// AccessKey and SecretKey are static credentials. When both are empty the SDK's default
	// credential chain is used (environment, shared files, instance roles).
	AccessKey, SecretKey string
	// PathStyle addresses the bucket in the URL path rather than in the host name, as most
	// S3-compatible stores need.
	PathStyle bool
	// Insecure skips verification of the endpoint's TLS certificate.
	Insecure bool
	// RootCAs verifies the endpoint's certificate (the system roots plus extra_ca_certs);
	// nil means the system roots.
	RootCAs *x509.CertPool
	// ChunkSize is the part size of multipart uploads: the most a writer buffers in memory.
	// Zero means 16 MiB; the smallest allowed is 5 MiB.
	ChunkSize int64
}

// Driver stores objects in an S3 bucket. It is safe for concurrent use.
type Driver struct {
	client    *s3.Client
	presign   *s3.PresignClient
	bucket    string
	region    string
	root      string // "" or a prefix ending in "/"
	chunkSize int64
}

var _ storage.Driver = (*Driver)(nil)

// New returns a driver for the bucket described by cfg. It does not contact the store.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	awsCfg, err := loadAWSConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Driver{
		client:    client,
		presign:   s3.NewPresignClient(client),
		bucket:    cfg.Bucket,
		region:    cfg.Region,
		root:      cfg.RootPath,
		chunkSize: cfg.ChunkSize,
	}, nil
}

func (cfg *Config) normalize() error {
	if cfg.Bucket == "" {
		return errors.New("s3 storage: bucket is empty")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.ChunkSize < minPartSize || cfg.ChunkSize > maxCopySize {
		return fmt.Errorf("s3 storage: chunk size %d is outside [%d, %d]", cfg.ChunkSize, minPartSize, maxCopySize)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return errors.New("s3 storage: give both access key and secret key, or neither")
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	cfg.RootPath = strings.Trim(cfg.RootPath, "/")
	if cfg.RootPath != "" {
		cfg.RootPath = path.Clean(cfg.RootPath) + "/"
	}
	return nil
}

// loadAWSConfig builds the SDK configuration: region, credentials and HTTP client.
//
// Checksums are computed only where S3 requires them: the newer default (a CRC on every upload)
// is not understood by many S3-compatible stores, and the registry verifies each blob's digest
// itself.
func loadAWSConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.Insecure || cfg.RootCAs != nil {
		client := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, InsecureSkipVerify: cfg.Insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // Insecure is asked for by Config.Insecure
		})
		opts = append(opts, config.WithHTTPClient(client))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("s3 storage: load AWS configuration: %w", err)
	}
	return awsCfg, nil
}

// EnsureBucket creates the driver's bucket if it does not exist yet.
func (d *Driver) EnsureBucket(ctx context.Context) error {
	_, err := d.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &d.bucket})
	if err == nil {
		return nil
	}
	if !isNotFound(err) && !hasCode(err, "NoSuchBucket") {
		return fmt.Errorf("s3 storage: check bucket %s: %w", d.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &d.bucket}
	if d.region != DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(d.region),
		}
	}
	_, err = d.client.CreateBucket(ctx, in)
	if err != nil && !hasCode(err, "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("s3 storage: create bucket %s: %w", d.bucket, err)
	}
	return nil
}

// key is the object key of the committed object at p, after checking p.
func (d *Driver) key(p string) (string, error) {
	clean := path.Clean("/" + p)
	if p == "" || clean != "/"+p || p == stagingDir || strings.HasPrefix(p, stagingDir+"/") {
		return "", fmt.Errorf("s3 storage: invalid path %q", p)
	}
	return d.root + p, nil
}

// stagingPrefix is the key prefix of the staged segments of p (and of paths under p + "/").
func (d *Driver) stagingPrefix(p string) string {
	return d.root + stagingDir + "/" + p + "/"
}

// Stat implements storage.Driver.
func (d *Driver) Stat(ctx context.Context, p string) (storage.Info, error) {
	key, err := d.key(p)
	if err != nil {
		return storage.Info{}, err
	}
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return storage.Info{}, wrap("stat", p, err)
	}
	return storage.Info{Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Reader implements storage.Driver. An offset at or beyond the end reads nothing.
func (d *Driver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3 storage: read %s: negative offset %d", p, offset)
	}
	in := &s3.GetObjectInput{Bucket: &d.bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := d.client.GetObject(ctx, in)
	if err == nil {
		return out.Body, nil
	}
	if hasCode(err, "InvalidRange") {
		// The offset is at or past the end: check the object exists, then read nothing.
		if _, serr := d.Stat(ctx, p); serr != nil {
			return nil, serr
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	return nil, wrap("read", p, err)
}

// Writer implements storage.Driver.
func (d *Driver) Writer(ctx context.Context, p string, offset int64) (storage.FileWriter, error) {
	if _, err := d.key(p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %d for %s", storage.ErrInvalidOffset, offset, p)
	}
	segs, err := d.listSegments(ctx, p)
	if err != nil {
		return nil, err
	}
	drop, err := splitAt(segs, offset)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: resume %s: %w", p, err)
	}
	if err := d.deleteKeys(ctx, segmentKeys(drop)); err != nil {
		return nil, fmt.Errorf("s3 storage: discard staged content of %s after %d: %w", p, offset, err)
	}
	return newWriter(ctx, d, p, offset), nil
}

// Move implements storage.Driver. S3 replaces the destination atomically; the source is deleted
// after the copy.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	srcKey, err := d.key(src)
	if err != nil {
		return err
	}
	dstKey, err := d.key(dst)
	if err != nil {
		return err
	}
	head, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &srcKey})
	if err != nil {
		return wrap("move", src, err)
	}
	if srcKey == dstKey {
		return nil
	}
	if err := d.copyObject(ctx, srcKey, dstKey, aws.ToInt64(head.ContentLength)); err != nil {
		return wrap("move", src+" to "+dst, err)
	}
	if err := d.deleteKeys(ctx, []string{srcKey}); err != nil {
		return fmt.Errorf("s3 storage: move %s to %s: delete source: %w", src, dst, err)
	}
	return nil
}

// Delete implements storage.Driver.
func (d *Driver) Delete(ctx context.Context, p string) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	found := true
	if _, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: &key}); err != nil {
		if !isNotFound(err) {
			return wrap("delete", p, err)
		}
		found = false
	} else if err := d.deleteKeys(ctx, []string{key}); err != nil {
		return fmt.Errorf("s3 storage: delete %s: %w", p, err)
	}
	for _, prefix := range []string{key + "/", d.stagingPrefix(p)} {
		n, err := d.deletePrefix(ctx, prefix)
		if err != nil {
			return fmt.Errorf("s3 storage: delete %s: %w", p, err)
		}
		found = found || n > 0
	}
	if !found {
		return fmt.Errorf("s3 storage: delete %s: %w", p, storage.ErrNotFound)
	}
	return nil
}

// Walk implements storage.Driver.
func (d *Driver) Walk(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	staging := d.root + stagingDir + "/"
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{
		Bucket: &d.bucket,
		Prefix: aws.String(d.root + prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3 storage: walk %s: %w", prefix, err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if strings.HasPrefix(key, staging) || strings.HasSuffix(key, "/") {
				continue
			}
			info := storage.Info{
				Path:    strings.TrimPrefix(key, d.root),
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
			}
			if err := fn(info); err != nil {
				return fmt.Errorf("s3 storage: walk %s: %w", prefix, err)
			}
		}
	}
	return nil
}

// RedirectURL implements storage.Driver with a presigned GET URL valid for expiry.
func (d *Driver) RedirectURL(ctx context.Context, p string, expiry time.Duration) (string, error) {
	key, err := d.key(p)
	if err != nil {
		return "", err
	}
	req, err := d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: &key},
		s3.WithPresignExpires(expiry))
	if err != nil {
		return "", fmt.Errorf("s3 storage: presign %s: %w", p, err)
	}
	return req.URL, nil
}

// deletePrefix deletes every key under prefix and returns how many there were.
func (d *Driver) deletePrefix(ctx context.Context, prefix string) (int, error) {
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &prefix})
	n := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list %s: %w", prefix, err)
		}
		keys := make([]string, 0, len(page.Contents))
		for _, obj := range page.Contents {
			keys = append(keys, aws.ToString(obj.Key))
		}
		if err := d.deleteKeys(ctx, keys); err != nil {
			return n, err
		}
		n += len(keys)
	}
	return n, nil
}

// deleteKeys deletes keys with DeleteObjects, 1000 at a time. Missing keys are not an error.
func (d *Driver) deleteKeys(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 1000)]
		keys = keys[len(batch):]
		objs := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			objs[i] = types.ObjectIdentifier{Key: aws.String(batch[i])}
		}
		out, err := d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &d.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete %d objects: %w", len(batch), err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete %s: %s: %s (and %d more errors)", aws.ToString(e.Key),
				aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
	}
	return nil
}

// wrap adds context to an SDK error, turning "no such key" into storage.ErrNotFound.
func wrap(op, p string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3 storage: %s %s: %w", op, p, storage.ErrNotFound)
	}
	return fmt.Errorf("s3 storage: %s %s: %w", op, p, err)
}

// isNotFound reports whether err says that an object (not the bucket) does not exist.
func isNotFound(err error) bool {
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	return errors.As(err, &noKey) || errors.As(err, &notFound) || hasCode(err, "NoSuchKey") || hasCode(err, "NotFound")
}

// hasCode reports whether err is an S3 API error with the given code.
func hasCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}
