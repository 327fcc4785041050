package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/storage/storagetest"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// newDriver returns a driver over bucket on the test MinIO, with the smallest chunk size so that
// the suite's large writes stream as multipart uploads.
func newDriver(t *testing.T, srv *testservers.S3Server, bucket, root string) *Driver {
	t.Helper()
	d, err := New(context.Background(), Config{
		Endpoint:  srv.Endpoint,
		Region:    srv.Region,
		Bucket:    bucket,
		RootPath:  root,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		PathStyle: true,
		ChunkSize: minPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestSuite(t *testing.T) {
	srv := testservers.MinIO(t)
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		return newDriver(t, srv, srv.NewBucket(t), "")
	})
}

// TestSuiteSharedBucket runs the suite with every driver in one bucket under its own root, so
// drivers with different roots must not see each other's objects.
func TestSuiteSharedBucket(t *testing.T) {
	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		n++
		return newDriver(t, srv, bucket, fmt.Sprintf("/quay/root-%d/", n))
	})
}

func TestRootPathKeepsKeysUnderIt(t *testing.T) {
	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	ctx := testCtx(t)
	outside := "elsewhere/object"
	mustPut(t, srv.Client(), bucket, outside, "not ours")

	d := newDriver(t, srv, bucket, "//registry/storage/")
	writeObject(t, d, "blobs/a", []byte("committed"))
	w, err := d.Writer(ctx, "uploads/u1", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("staged"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	keys := listKeys(t, srv.Client(), bucket)
	want := []string{outside, "registry/storage/_staging/uploads/u1/00000000000000000000", "registry/storage/blobs/a"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("bucket keys = %q, want %q", keys, want)
	}
	var walked []string
	if err := d.Walk(ctx, "", func(i storage.Info) error { walked = append(walked, i.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 1 || walked[0] != "blobs/a" {
		t.Fatalf("Walk(\"\") = %q, want only blobs/a", walked)
	}
	if err := d.Delete(ctx, "uploads"); err != nil {
		t.Fatalf("Delete(uploads): %v", err)
	}
	if keys := listKeys(t, srv.Client(), bucket); len(keys) != 2 {
		t.Fatalf("after deleting uploads the bucket holds %q", keys)
	}
}

func TestInvalidPaths(t *testing.T) {
	srv := testservers.MinIO(t)
	d := newDriver(t, srv, srv.NewBucket(t), "")
	for _, p := range []string{"", "/abs", "a//b", "a/../b", "a/", "_staging", "_staging/x"} {
		if _, err := d.Stat(testCtx(t), p); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want an invalid path error", p, err)
		}
		if _, err := d.Writer(testCtx(t), p, 0); err == nil {
			t.Errorf("Writer(%q) succeeded", p)
		}
	}
}

func TestReadAtEnd(t *testing.T) {
	srv := testservers.MinIO(t)
	d := newDriver(t, srv, srv.NewBucket(t), "")
	writeObject(t, d, "obj", []byte("12345"))
	for _, off := range []int64{5, 9} {
		r, err := d.Reader(testCtx(t), "obj", off)
		if err != nil {
			t.Fatalf("Reader at %d: %v", off, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || len(b) != 0 {
			t.Fatalf("Reader at %d read %q, %v", off, b, err)
		}
	}
	if _, err := d.Reader(testCtx(t), "missing", 5); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Reader(missing, 5) = %v, want ErrNotFound", err)
	}
}

// TestMultipartCopy lowers the single-copy limit so that Move of a 12 MiB object takes the
// multipart UploadPartCopy path that S3 needs above 5 GiB.
func TestMultipartCopy(t *testing.T) {
	defer func(old int64) { maxCopySize = old }(maxCopySize)
	maxCopySize = 8 << 20

	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	d := newDriver(t, srv, bucket, "")
	data := randomBytes(t, 12<<20+777)
	writeObject(t, d, "uploads/big", data)
	if err := d.Move(testCtx(t), "uploads/big", "blobs/big"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if got := readObject(t, d, "blobs/big"); !bytes.Equal(got, data) {
		t.Fatalf("moved object differs (%d bytes, want %d)", len(got), len(data))
	}
	if _, err := d.Stat(testCtx(t), "uploads/big"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of move source = %v, want ErrNotFound", err)
	}
	if parts := partCount(t, srv.Client(), bucket, "blobs/big"); parts != 2 {
		t.Fatalf("moved object has %d parts, want 2 copied parts", parts)
	}
}

// TestComposeMixesCopiesAndUploads commits segments of 6 MiB, 100 bytes and 11 MiB: the first
// is copied on the server, the second is merged with the head of the third into an uploaded
// 5 MiB part, and the rest of the third is copied.
func TestComposeMixesCopiesAndUploads(t *testing.T) {
	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	d := newDriver(t, srv, bucket, "")
	data := randomBytes(t, 6<<20+100+11<<20)
	cuts := []int{0, 6 << 20, 6<<20 + 100, len(data)}
	for i := 0; i+1 < len(cuts); i++ {
		w, err := d.Writer(testCtx(t), "uploads/mix", int64(cuts[i]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data[cuts[i]:cuts[i+1]]); err != nil {
			t.Fatal(err)
		}
		if i+2 == len(cuts) {
			err = w.Commit(testCtx(t))
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := readObject(t, d, "uploads/mix"); !bytes.Equal(got, data) {
		t.Fatalf("composed object differs (%d bytes, want %d)", len(got), len(data))
	}
	if parts := partCount(t, srv.Client(), bucket, "uploads/mix"); parts != 3 {
		t.Fatalf("composed object has %d parts, want 3", parts)
	}
	if keys := listKeys(t, srv.Client(), bucket); len(keys) != 1 {
		t.Fatalf("bucket holds %q after commit, want only the object", keys)
	}
}

func TestEnsureBucket(t *testing.T) {
	srv := testservers.MinIO(t)
	d, err := New(context.Background(), Config{
		Endpoint: srv.Endpoint, Bucket: fmt.Sprintf("ensure-%d", time.Now().UnixNano()),
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call finds the bucket
		if err := d.EnsureBucket(testCtx(t)); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
	}
	writeObject(t, d, "x", []byte("x"))
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Bucket: "b", ChunkSize: 1 << 20},
		{Bucket: "b", AccessKey: "only-the-access-key"},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func writeObject(t *testing.T, d *Driver, p string, data []byte) {
	t.Helper()
	w, err := d.Writer(testCtx(t), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(testCtx(t)); err != nil {
		t.Fatalf("Commit(%s): %v", p, err)
	}
}

func readObject(t *testing.T, d *Driver, p string) []byte {
	t.Helper()
	r, err := d.Reader(testCtx(t), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPut(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	_, err := c.PutObject(testCtx(t), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
}

// listKeys lists every key in bucket, sorted.
func listKeys(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// partCount is the number of multipart parts the object at key was made of (0 for a single
// upload), read from its ETag ("md5-N").
func partCount(t *testing.T, c *s3.Client, bucket, key string) int {
	t.Helper()
	head, err := c.HeadObject(testCtx(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	var n int
	if i := strings.LastIndex(etag, "-"); i >= 0 {
		fmt.Sscan(etag[i+1:], &n)
	}
	return n
}

// TestWriterStreamsLargeSegments checks that a segment larger than the chunk size is streamed as
// a multipart upload of chunk-sized parts rather than buffered whole.
func TestWriterStreamsLargeSegments(t *testing.T) {
	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	d := newDriver(t, srv, bucket, "")
	w, err := d.Writer(testCtx(t), "uploads/stream", 0)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 2*minPartSize+1000)
	for chunk := data; len(chunk) > 0; chunk = chunk[min(len(chunk), 64<<10):] {
		if _, err := w.Write(chunk[:min(len(chunk), 64<<10)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seg := "_staging/uploads/stream/00000000000000000000"
	if parts := partCount(t, srv.Client(), bucket, seg); parts != 3 {
		t.Fatalf("staged segment has %d parts, want 3", parts)
	}
	w, err = d.Writer(testCtx(t), "uploads/stream", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := readObject(t, d, "uploads/stream"); !bytes.Equal(got, data) {
		t.Fatalf("committed object differs (%d bytes, want %d)", len(got), len(data))
	}
}

// TestWriteFailureAbandonsSegment cancels the writer's context mid-stream: the part upload fails,
// the segment's multipart upload is aborted, and the staged size falls back to the offset.
func TestWriteFailureAbandonsSegment(t *testing.T) {
	srv := testservers.MinIO(t)
	bucket := srv.NewBucket(t)
	d := newDriver(t, srv, bucket, "")
	writeCtx, cancel := context.WithCancel(context.Background())
	w, err := d.Writer(writeCtx, "uploads/fail", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, minPartSize+10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write(randomBytes(t, minPartSize)); err == nil {
		t.Fatal("Write after the context was cancelled succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close of a failed writer succeeded")
	}
	if w.Size() != 0 {
		t.Fatalf("Size() = %d after a failed write, want 0", w.Size())
	}
	out, err := srv.Client().ListMultipartUploads(testCtx(t), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left behind", len(out.Uploads))
	}
	if keys := listKeys(t, srv.Client(), bucket); len(keys) != 0 {
		t.Fatalf("bucket holds %q after a failed write", keys)
	}
}
