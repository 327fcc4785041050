package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// multipartUpload is an S3 multipart upload in progress.
type multipartUpload struct {
	d     *Driver
	key   string
	id    string
	parts []types.CompletedPart
}

// startMultipart begins a multipart upload to key.
func (d *Driver) startMultipart(ctx context.Context, key string) (*multipartUpload, error) {
	out, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("start multipart upload to %s: %w", key, err)
	}
	return &multipartUpload{d: d, key: key, id: aws.ToString(out.UploadId)}, nil
}

// multipart runs fill on a new multipart upload to key, then completes the upload, or aborts it
// if anything failed.
func (d *Driver) multipart(ctx context.Context, key string, fill func(*multipartUpload) error) error {
	u, err := d.startMultipart(ctx, key)
	if err != nil {
		return err
	}
	if err := fill(u); err != nil {
		return u.abort(ctx, err)
	}
	if err := u.complete(ctx); err != nil {
		return u.abort(ctx, err)
	}
	return nil
}

// nextPart returns the number of the next part, or an error if S3's limit is reached.
func (u *multipartUpload) nextPart() (int32, error) {
	if len(u.parts) >= maxParts {
		return 0, fmt.Errorf("multipart upload to %s: more than %d parts", u.key, maxParts)
	}
	return int32(len(u.parts) + 1), nil
}

// uploadPart uploads data as the next part.
func (u *multipartUpload) uploadPart(ctx context.Context, data []byte) error {
	n, err := u.nextPart()
	if err != nil {
		return err
	}
	out, err := u.d.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        &u.d.bucket,
		Key:           &u.key,
		UploadId:      &u.id,
		PartNumber:    aws.Int32(n),
		Body:          bytesReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("upload part %d of %s: %w", n, u.key, err)
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	return nil
}

// copyRange adds the bytes [first, end) of srcKey as parts copied on the server, in as few
// parts as the largest copy allows, all of about the same size.
func (u *multipartUpload) copyRange(ctx context.Context, srcKey string, first, end int64) error {
	count := (end - first + maxCopySize - 1) / maxCopySize
	piece := (end - first + count - 1) / count
	for off := first; off < end; off += piece {
		if err := u.copyPart(ctx, srcKey, off, min(off+piece, end)); err != nil {
			return err
		}
	}
	return nil
}

// copyPart adds the bytes [first, end) of srcKey as the next part, copied on the server.
func (u *multipartUpload) copyPart(ctx context.Context, srcKey string, first, end int64) error {
	n, err := u.nextPart()
	if err != nil {
		return err
	}
	out, err := u.d.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket:          &u.d.bucket,
		Key:             &u.key,
		UploadId:        &u.id,
		PartNumber:      aws.Int32(n),
		CopySource:      aws.String(u.d.copySource(srcKey)),
		CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, end-1)),
	})
	if err != nil {
		return fmt.Errorf("copy %s bytes %d-%d as part %d of %s: %w", srcKey, first, end-1, n, u.key, err)
	}
	if out.CopyPartResult == nil {
		return fmt.Errorf("copy part %d of %s: no result", n, u.key)
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	return nil
}

// complete finishes the upload, making the object visible at its key.
func (u *multipartUpload) complete(ctx context.Context) error {
	_, err := u.d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.d.bucket,
		Key:             &u.key,
		UploadId:        &u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload to %s: %w", u.key, err)
	}
	return nil
}

// abort abandons the upload after cause and returns cause, joined with any error aborting.
// It runs even when ctx is cancelled, so that no parts are left behind.
func (u *multipartUpload) abort(ctx context.Context, cause error) error {
	_, err := u.d.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
		Bucket:   &u.d.bucket,
		Key:      &u.key,
		UploadId: &u.id,
	})
	if err != nil {
		return errors.Join(cause, fmt.Errorf("abort multipart upload to %s: %w", u.key, err))
	}
	return cause
}

// copySource is the URL-encoded "bucket/key" that names key as the source of a copy.
func (d *Driver) copySource(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	}
	return d.bucket + "/" + strings.Join(segs, "/")
}

// bytesReader returns a seekable reader over data, which the SDK needs to sign and retry.
func bytesReader(data []byte) *bytes.Reader {
	return bytes.NewReader(data)
}
