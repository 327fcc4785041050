// Package drivers opens the storage driver a config.yaml location names (LocalStorage,
// S3Storage, RadosGWStorage) with Quay's parameter names.
package drivers

import (
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/storage/local"
	"github.com/wharf-registry/wharf/registry/storage/s3"
	"github.com/wharf-registry/wharf/schema"
)

// Open returns the driver for a storage location. Relative local paths are taken relative to
// dataDir.
func Open(ctx context.Context, name string, loc schema.StorageLocation, dataDir string) (storage.Driver, error) {
	return OpenWithRoots(ctx, name, loc, dataDir, nil)
}

// OpenWithRoots is Open with the certificate authorities that verify object storage
// endpoints (the system roots plus extra_ca_certs; nil for the system roots alone).
func OpenWithRoots(ctx context.Context, name string, loc schema.StorageLocation, dataDir string, roots *x509.CertPool) (storage.Driver, error) {
	var cfg s3.Config
	var err error
	switch loc.Driver {
	case "LocalStorage":
		p := loc.String("storage_path")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dataDir, p)
		}
		return local.New(p)
	case "S3Storage":
		cfg, err = S3Config(loc)
	case "RadosGWStorage", "RHOCSStorage", "IBMCloudStorage":
		cfg, err = RadosGWConfig(loc)
	default:
		return nil, fmt.Errorf("storage location %s: unknown driver %q", name, loc.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("storage location %s: %w", name, err)
	}
	cfg.RootCAs = roots
	return s3.New(ctx, cfg)
}

// S3Config maps S3Storage parameters to the S3 driver's config.
func S3Config(loc schema.StorageLocation) (s3.Config, error) {
	cfg := s3.Config{
		Bucket:    loc.String("s3_bucket"),
		RootPath:  loc.String("storage_path"),
		AccessKey: loc.String("s3_access_key"),
		SecretKey: loc.String("s3_secret_key"),
		Region:    loc.String("s3_region"),
		Endpoint:  loc.String("endpoint_url"),
	}
	if cfg.Endpoint == "" && loc.String("host") != "" {
		cfg.Endpoint = endpoint(loc.String("host"), loc.String("port"), loc.Bool("is_secure", true))
	}
	cfg.PathStyle = cfg.Endpoint != ""
	return cfg, chunkSize(loc, &cfg)
}

// RadosGWConfig maps RadosGWStorage parameters to the S3 driver's config.
func RadosGWConfig(loc schema.StorageLocation) (s3.Config, error) {
	cfg := s3.Config{
		Bucket:    loc.String("bucket_name"),
		RootPath:  loc.String("storage_path"),
		AccessKey: loc.String("access_key"),
		SecretKey: loc.String("secret_key"),
		Region:    cmp.Or(loc.String("region"), loc.String("region_name")),
		Endpoint:  endpoint(loc.String("hostname"), loc.String("port"), loc.Bool("is_secure", true)),
		PathStyle: true,
	}
	return cfg, chunkSize(loc, &cfg)
}

// chunkSize applies maximum_chunk_size_mb, the multipart part size in MiB.
func chunkSize(loc schema.StorageLocation, cfg *s3.Config) error {
	mb := loc.String("maximum_chunk_size_mb")
	if mb == "" {
		return nil
	}
	n, err := strconv.ParseInt(mb, 10, 64)
	if err != nil {
		return fmt.Errorf("maximum_chunk_size_mb: %w", err)
	}
	cfg.ChunkSize = n << 20
	return nil
}

func endpoint(host, port string, secure bool) string {
	scheme := "https"
	if !secure {
		scheme = "http"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
