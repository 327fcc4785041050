package storage

import "strings"

// BlobPath is where the bytes of a blob live: blobs/ALGORITHM/XX/HEX, XX being the first two
// hex digits. The digest must be valid.
func BlobPath(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return "blobs/" + alg + "/" + hex[:2] + "/" + hex
}

// UploadPath is where the bytes of an upload session are staged until it completes.
func UploadPath(id string) string { return "uploads/" + id }
