package testservers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMain(m *testing.M) { Main(m) }

func TestMinIO(t *testing.T) {
	srv := MinIO(t)
	if again := MinIO(t); again != srv {
		t.Fatal("MinIO started a second server")
	}
	a, b := srv.NewBucket(t), srv.NewBucket(t)
	if a == b {
		t.Fatalf("NewBucket returned %s twice", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{a, b} {
		if _, err := srv.Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &name}); err != nil {
			t.Fatalf("HeadBucket(%s): %v", name, err)
		}
	}
}
