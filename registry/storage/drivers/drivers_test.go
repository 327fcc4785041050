package drivers

import (
	"context"
	"crypto/x509"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/storage/local"
	"github.com/wharf-registry/wharf/registry/storage/s3"
	"github.com/wharf-registry/wharf/schema"
)

func TestS3Configs(t *testing.T) {
	tests := []struct {
		name string
		loc  schema.StorageLocation
		want s3.Config
	}{
		{"aws", schema.StorageLocation{Driver: "S3Storage", Params: map[string]any{
			"s3_bucket": "b", "storage_path": "/reg", "s3_access_key": "a", "s3_secret_key": "s", "s3_region": "eu-west-1"}},
			s3.Config{Bucket: "b", RootPath: "/reg", AccessKey: "a", SecretKey: "s", Region: "eu-west-1"}},
		{"host and port", schema.StorageLocation{Driver: "S3Storage", Params: map[string]any{
			"s3_bucket": "b", "storage_path": "/reg", "host": "minio.local", "port": "9000", "is_secure": false, "maximum_chunk_size_mb": "32"}},
			s3.Config{Bucket: "b", RootPath: "/reg", Endpoint: "http://minio.local:9000", PathStyle: true, ChunkSize: 32 << 20}},
		{"endpoint url", schema.StorageLocation{Driver: "S3Storage", Params: map[string]any{
			"s3_bucket": "b", "storage_path": "", "endpoint_url": "https://s3.example.com", "host": "ignored"}},
			s3.Config{Bucket: "b", Endpoint: "https://s3.example.com", PathStyle: true}},
		{"radosgw", schema.StorageLocation{Driver: "RadosGWStorage", Params: map[string]any{
			"hostname": "ceph", "port": "7480", "is_secure": false, "access_key": "a", "secret_key": "s", "bucket_name": "q", "storage_path": "/x"}},
			s3.Config{Bucket: "q", RootPath: "/x", AccessKey: "a", SecretKey: "s", Endpoint: "http://ceph:7480", PathStyle: true}},
		{"OpenShift Data Foundation (Quay's RHOCSStorage) with region_name", schema.StorageLocation{Driver: "RHOCSStorage", Params: map[string]any{
			"hostname": "s3.odf", "port": 443, "is_secure": true, "access_key": "a", "secret_key": "s", "bucket_name": "q", "storage_path": "/x", "region_name": "odf-1"}},
			s3.Config{Bucket: "q", RootPath: "/x", AccessKey: "a", SecretKey: "s", Region: "odf-1", Endpoint: "https://s3.odf:443", PathStyle: true}},
		{"radosgw secure default", schema.StorageLocation{Driver: "RadosGWStorage", Params: map[string]any{
			"hostname": "ceph", "bucket_name": "q", "storage_path": "/x"}},
			s3.Config{Bucket: "q", RootPath: "/x", Endpoint: "https://ceph", PathStyle: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got s3.Config
			var err error
			if tc.loc.Driver == "RadosGWStorage" || tc.loc.Driver == "RHOCSStorage" {
				got, err = RadosGWConfig(tc.loc)
			} else {
				got, err = S3Config(tc.loc)
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestOpenLocalRelativeToDataDir(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(context.Background(), "default", schema.StorageLocation{Driver: "LocalStorage", Params: map[string]any{"storage_path": "blobs"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.(*local.Driver).Root(); got != filepath.Join(dir, "blobs") {
		t.Fatalf("root = %s", got)
	}
	if _, err := Open(context.Background(), "x", schema.StorageLocation{Driver: "FloppyStorage"}, dir); err == nil {
		t.Fatal("unknown driver accepted")
	}
}

// TestS3OverTLSTrustsGivenRoots opens an S3 location over HTTPS whose certificate is signed by
// a private CA: refused with the system roots alone, working once the CA is among the roots
// (as extra_ca_certs/ puts it).
func TestS3OverTLSTrustsGivenRoots(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MinIO")
	}
	srv := testservers.MinIOTLS(t)
	bucket := srv.NewBucket(t)
	loc := schema.StorageLocation{Driver: "S3Storage", Params: map[string]any{"s3_bucket": bucket, "storage_path": "/wharf",
		"s3_access_key": srv.AccessKey, "s3_secret_key": srv.SecretKey, "s3_region": srv.Region, "endpoint_url": srv.Endpoint}}
	ctx := context.Background()
	probe := func(roots *x509.CertPool) error {
		d, err := OpenWithRoots(ctx, "tls", loc, t.TempDir(), roots)
		if err != nil {
			return err
		}
		w, err := d.Writer(ctx, "probe", 0)
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte("over TLS")); err != nil {
			return err
		}
		if err := w.Commit(ctx); err != nil {
			return err
		}
		r, err := d.Reader(ctx, "probe", 0)
		if err != nil {
			return err
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if string(got) != "over TLS" {
			t.Fatalf("read back %q", got)
		}
		return nil
	}
	if err := probe(nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a private CA's certificate accepted with the system roots: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CACertPEM)
	if err := probe(roots); err != nil {
		t.Fatalf("with the CA among the roots: %v", err)
	}
}

func TestMain(m *testing.M) { testservers.Main(m) }
