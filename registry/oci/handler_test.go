package oci

import "testing"

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		ep   endpoint
		name string
		arg  string
	}{
		{"a/b/tags/list", epTags, "a/b", ""},
		{"a/b/blobs/uploads/", epUploads, "a/b", ""},
		{"a/b/blobs/uploads", epUploads, "a/b", ""},
		{"a/b/blobs/uploads/123abc", epUpload, "a/b", "123abc"},
		{"a/b/manifests/latest", epManifest, "a/b", "latest"},
		{"a/b/manifests/sha256:00", epManifest, "a/b", "sha256:00"},
		{"a/b/blobs/sha256:00", epBlob, "a/b", "sha256:00"},
		{"a/b/referrers/sha256:00", epReferrers, "a/b", "sha256:00"},
		// Repository names may contain the endpoint words as components.
		{"org/blobs/app/manifests/v1", epManifest, "org/blobs/app", "v1"},
		{"org/manifests/blobs/sha256:00", epBlob, "org/manifests", "sha256:00"},
		{"org/blobs/uploads/x/blobs/uploads/id", epUpload, "org/blobs/uploads/x", "id"},
		{"org/tags/list/tags/list", epTags, "org/tags/list", ""},
		{"a/b/manifests/", epNone, "", ""},
		{"a/b/manifests/x/y", epNone, "", ""},
		{"a/b/unknown", epNone, "", ""},
		{"/manifests/x", epNone, "", ""},
	}
	for _, tc := range tests {
		ep, name, arg := parsePath(tc.path)
		if ep != tc.ep || name != tc.name || arg != tc.arg {
			t.Errorf("parsePath(%q) = %v %q %q, want %v %q %q", tc.path, ep, name, arg, tc.ep, tc.name, tc.arg)
		}
	}
}
