package s3

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/registry/storage"
)

// segment is one staged object: the bytes [start, start+size) of a path's staged content.
type segment struct {
	key   string
	start int64
	size  int64
}

func (s segment) end() int64 { return s.start + s.size }

// segmentKey is the key of the segment of p that starts at start. The zero padding makes keys
// sort by offset.
func (d *Driver) segmentKey(p string, start int64) string {
	return fmt.Sprintf("%s%020d", d.stagingPrefix(p), start)
}

// listSegments returns the staged segments of p ordered by start offset. Keys under the staging
// prefix that are not segment names (the staged content of paths under p + "/") are skipped.
func (d *Driver) listSegments(ctx context.Context, p string) ([]segment, error) {
	prefix := d.stagingPrefix(p)
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{
		Bucket:    &d.bucket,
		Prefix:    &prefix,
		Delimiter: aws.String("/"),
	})
	var segs []segment
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 storage: list staged content of %s: %w", p, err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			start, err := strconv.ParseInt(strings.TrimPrefix(key, prefix), 10, 64)
			if err != nil || start < 0 {
				continue
			}
			segs = append(segs, segment{key: key, start: start, size: aws.ToInt64(obj.Size)})
		}
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.start, b.start) })
	return segs, nil
}

// splitAt checks that offset is where the staged content can be resumed (0, or the end of a run
// of contiguous segments from 0) and returns the segments at or after offset, to be discarded.
func splitAt(segs []segment, offset int64) ([]segment, error) {
	var end int64
	i := 0
	for ; i < len(segs) && segs[i].start < offset; i++ {
		if segs[i].start != end {
			break
		}
		end = segs[i].end()
	}
	if end != offset {
		return nil, fmt.Errorf("%w: %d is not where earlier staged content ends (it ends at %d)",
			storage.ErrInvalidOffset, offset, end)
	}
	return segs[i:], nil
}

// contiguous returns the total size of segs, or an error if they do not follow each other from 0.
func contiguous(segs []segment) (int64, error) {
	var end int64
	for _, s := range segs {
		if s.start != end {
			return 0, fmt.Errorf("staged content has a gap or overlap at offset %d", end)
		}
		end = s.end()
	}
	return end, nil
}

func segmentKeys(segs []segment) []string {
	keys := make([]string, len(segs))
	for i, s := range segs {
		keys[i] = s.key
	}
	return keys
}

// compose makes the staged segments of p, which must total size bytes, the committed object at
// p and deletes them.
func (d *Driver) compose(ctx context.Context, p string, size int64) error {
	key, err := d.key(p)
	if err != nil {
		return err
	}
	segs, err := d.listSegments(ctx, p)
	if err != nil {
		return err
	}
	total, err := contiguous(segs)
	if err == nil && total != size {
		err = fmt.Errorf("staged content is %d bytes, the writer wrote %d", total, size)
	}
	if err != nil {
		return fmt.Errorf("s3 storage: commit %s: %w", p, err)
	}
	switch len(segs) {
	case 0:
		err = d.putObject(ctx, key, nil)
	case 1:
		err = d.copyObject(ctx, segs[0].key, key, segs[0].size)
	default:
		err = d.composeMultipart(ctx, key, segs)
	}
	if err != nil {
		return fmt.Errorf("s3 storage: commit %s: %w", p, err)
	}
	if err := d.deleteKeys(ctx, segmentKeys(segs)); err != nil {
		return fmt.Errorf("s3 storage: commit %s: delete staged content: %w", p, err)
	}
	return nil
}

// composeMultipart concatenates segs into key with one multipart upload. Segments of at least
// the minimum part size are copied on the server; runs of smaller ones are downloaded and
// uploaded as merged parts, so that memory use stays below twice the minimum part size.
func (d *Driver) composeMultipart(ctx context.Context, key string, segs []segment) error {
	return d.multipart(ctx, key, func(u *multipartUpload) error {
		var pending []byte
		for _, s := range segs {
			var err error
			if pending, err = u.addSegment(ctx, pending, s); err != nil {
				return err
			}
		}
		if len(pending) > 0 {
			return u.uploadPart(ctx, pending)
		}
		return nil
	})
}

// addSegment adds segment s to the upload after the pending downloaded bytes (fewer than the
// minimum part size) and returns the bytes still pending.
func (u *multipartUpload) addSegment(ctx context.Context, pending []byte, s segment) ([]byte, error) {
	var pos int64
	var err error
	if len(pending) > 0 {
		// Fill the pending part from the head of s; take all of s when the rest would be too
		// small to copy as a part of its own.
		take := s.size
		if need := minPartSize - int64(len(pending)); s.size-need >= minPartSize {
			take = need
		}
		if pending, err = u.d.appendRange(ctx, pending, s.key, 0, take); err != nil {
			return nil, err
		}
		pos = take
		if pending, err = u.flushIfFull(ctx, pending); err != nil {
			return nil, err
		}
	}
	switch rest := s.size - pos; {
	case rest == 0:
		return pending, nil
	case rest >= minPartSize:
		return pending, u.copyRange(ctx, s.key, pos, s.size)
	default:
		return u.d.appendRange(ctx, pending, s.key, pos, rest)
	}
}

// flushIfFull uploads pending as a part once it reaches the minimum part size.
func (u *multipartUpload) flushIfFull(ctx context.Context, pending []byte) ([]byte, error) {
	if len(pending) < minPartSize {
		return pending, nil
	}
	if err := u.uploadPart(ctx, pending); err != nil {
		return nil, err
	}
	return pending[:0], nil
}

// appendRange downloads n bytes of key starting at off and appends them to buf.
func (d *Driver) appendRange(ctx context.Context, buf []byte, key string, off, n int64) ([]byte, error) {
	if n == 0 {
		return buf, nil
	}
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &d.bucket,
		Key:    &key,
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1)),
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer out.Body.Close()
	buf = slices.Grow(buf, int(n))
	got, err := io.ReadFull(out.Body, buf[len(buf):len(buf)+int(n)])
	if err != nil {
		return nil, fmt.Errorf("read %s: %d of %d bytes: %w", key, got, n, err)
	}
	return buf[:len(buf)+int(n)], nil
}

// putObject stores data at key in one request.
func (d *Driver) putObject(ctx context.Context, key string, data []byte) error {
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &d.bucket,
		Key:           &key,
		Body:          bytesReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// copyObject copies srcKey (size bytes) to dstKey on the server, with a multipart copy when
// the object is too large for one CopyObject.
func (d *Driver) copyObject(ctx context.Context, srcKey, dstKey string, size int64) error {
	if size > maxCopySize {
		return d.multipart(ctx, dstKey, func(u *multipartUpload) error {
			return u.copyRange(ctx, srcKey, 0, size)
		})
	}
	_, err := d.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     &d.bucket,
		Key:        &dstKey,
		CopySource: aws.String(d.copySource(srcKey)),
	})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	return nil
}
