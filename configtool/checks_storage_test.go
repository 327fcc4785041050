package configtool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// unwritableDir returns an existing directory the tests cannot create files in: a directory
// without write permission, or, for root (whom permissions do not stop), /proc.
func unwritableDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return "/proc"
	}
	dir := filepath.Join(t.TempDir(), "readonly")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLocalStorageCheck(t *testing.T) {
	data := t.TempDir()
	existing := filepath.Join(data, "blobs")
	if err := os.MkdirAll(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(data, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	unwritable := unwritableDir(t)
	location := func(path string) string {
		return "DISTRIBUTED_STORAGE_CONFIG:\n  local: [LocalStorage, {storage_path: " + path + "}]\nDISTRIBUTED_STORAGE_PREFERENCE: [local]\n"
	}
	cases := []struct {
		name   string
		config string
		want   want
	}{
		{"existing directory", location(existing),
			want{StatusOK, "location local", "DISTRIBUTED_STORAGE_CONFIG/local", []string{"LocalStorage " + existing, "wrote, read back and deleted"}}},
		{"relative path in the data directory", location("blobs"),
			want{StatusOK, "location local", "", []string{"LocalStorage " + existing, "wrote, read back and deleted"}}},
		{"directory not created yet", location("new/blobs"),
			want{StatusOK, "location local", "", []string{"does not exist yet", data + " is writable"}}},
		{"embedded default", "SERVER_HOSTNAME: localhost\n",
			want{StatusOK, "location default", "DISTRIBUTED_STORAGE_CONFIG/default", []string{filepath.Join(data, "storage"), "does not exist yet"}}},
		{"unwritable directory", location(unwritable),
			want{StatusFailed, "location local", "DISTRIBUTED_STORAGE_CONFIG/local", []string{"LocalStorage " + unwritable, "must be able to create files there"}}},
		{"a file in the way", location("file/blobs"),
			want{StatusFailed, "location local", "", []string{"cannot be created", blocker + " is a file"}}},
		{"a file instead of a directory", location(blocker),
			want{StatusFailed, "location local", "", []string{"is a file, not a directory"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := listDir(t, data)
			rep := validateDir(t, configDir(t, c.config, nil), Options{Groups: []string{GroupStorage}, DataDir: data})
			if !rep.Valid() {
				t.Fatalf("invalid: %v", rep.Problems)
			}
			expect(t, rep.Checks, c.want)
			if after := listDir(t, data); after != before {
				t.Errorf("the check left changes in the data directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestS3StorageCheck(t *testing.T) {
	minio := testservers.MinIO(t)
	bucket := minio.NewBucket(t)
	closed := testservers.FreePort(t)
	s3loc := func(name, endpoint, bucket, access, secret string) string {
		return fmt.Sprintf("  %s: [S3Storage, {endpoint_url: %q, s3_bucket: %s, storage_path: /registry, s3_access_key: %s, s3_secret_key: %s, s3_region: us-east-1}]\n",
			name, endpoint, bucket, access, secret)
	}
	config := func(locations ...string) string {
		return "DISTRIBUTED_STORAGE_CONFIG:\n" + strings.Join(locations, "") + "DISTRIBUTED_STORAGE_PREFERENCE: [s3]\n"
	}
	host, port, _ := strings.Cut(strings.TrimPrefix(minio.Endpoint, "http://"), ":")
	cases := []struct {
		name   string
		config string
		wants  []want
	}{
		{"right credentials", config(s3loc("s3", minio.Endpoint, bucket, minio.AccessKey, minio.SecretKey)),
			[]want{{StatusOK, "location s3", "DISTRIBUTED_STORAGE_CONFIG/s3", []string{"S3Storage bucket " + bucket + " at " + minio.Endpoint, "wrote, read back and deleted"}}}},
		{"RadosGW parameters", "DISTRIBUTED_STORAGE_CONFIG:\n  s3: [RadosGWStorage, {hostname: " + host + ", port: " + port + ", is_secure: false, bucket_name: " + bucket +
			", access_key: " + minio.AccessKey + ", secret_key: " + minio.SecretKey + ", storage_path: /rgw}]\nDISTRIBUTED_STORAGE_PREFERENCE: [s3]\n",
			[]want{{StatusOK, "location s3", "", []string{"RadosGWStorage bucket " + bucket, "wrote, read back and deleted"}}}},
		{"wrong secret key", config(s3loc("s3", minio.Endpoint, bucket, minio.AccessKey, "not-the-secret")),
			[]want{{StatusFailed, "location s3", "DISTRIBUTED_STORAGE_CONFIG/s3", []string{"the secret key is wrong: check s3_secret_key"}}}},
		{"unknown access key", config(s3loc("s3", minio.Endpoint, bucket, "nobody", minio.SecretKey)),
			[]want{{StatusFailed, "location s3", "", []string{"does not know this access key: check s3_access_key"}}}},
		{"missing bucket", config(s3loc("s3", minio.Endpoint, "no-such-bucket", minio.AccessKey, minio.SecretKey)),
			[]want{{StatusFailed, "location s3", "", []string{"bucket does not exist", "fix s3_bucket"}}}},
		{"nothing listens at the endpoint", config(s3loc("s3", "http://127.0.0.1:"+strconv.Itoa(closed), bucket, minio.AccessKey, minio.SecretKey)),
			[]want{{StatusFailed, "location s3", "", []string{"connection refused", "check host, port or endpoint_url"}}}},
		{"every location, each reported", config(
			s3loc("archive", minio.Endpoint, "no-such-bucket", minio.AccessKey, minio.SecretKey),
			s3loc("s3", minio.Endpoint, bucket, minio.AccessKey, minio.SecretKey)),
			[]want{
				{StatusFailed, "location archive", "DISTRIBUTED_STORAGE_CONFIG/archive", []string{"bucket does not exist"}},
				{StatusOK, "location s3", "DISTRIBUTED_STORAGE_CONFIG/s3", nil},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupStorage, c.config, nil), c.wants...)
		})
	}
	// The probes are gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := minio.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		t.Errorf("the storage check left %s in the bucket", *o.Key)
	}
}

func TestStorageFileProblems(t *testing.T) {
	data := t.TempDir()
	blocker := filepath.Join(data, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		path  string
		words []string // nil: no problem
	}{
		{"parent missing", filepath.Join(data, "no", "such", "blobs"), []string{"parent directory " + filepath.Join(data, "no", "such") + " does not exist", "mount the volume"}},
		{"parent is a file", filepath.Join(blocker, "blobs"), []string{blocker + " is a file"}},
		{"parent exists", filepath.Join(data, "blobs"), nil},
		{"relative path", "blobs", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := "SERVER_HOSTNAME: localhost\nDISTRIBUTED_STORAGE_CONFIG:\n  local:\n    - LocalStorage\n    - storage_path: " + tc.path + "\nDISTRIBUTED_STORAGE_PREFERENCE: [local]\n"
			problems := problemsOf(t, config, nil)
			if tc.words == nil {
				if len(problems) > 0 {
					t.Errorf("problems in a good config: %v", problems)
				}
				return
			}
			expectProblem(t, problems, "DISTRIBUTED_STORAGE_CONFIG/local/1/storage_path", 5, tc.words...)
		})
	}
}
