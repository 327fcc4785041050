package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestUploadURL(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:5000")
	dg := digest.FromString("x")
	for _, tc := range []struct{ loc, want string }{
		// distribution: absolute, with its own state parameter.
		{"http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=abc", "http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=abc&digest=" + url.QueryEscape(dg.String())},
		// Wharf: a path.
		{"/v2/a/b/blobs/uploads/u2", "http://127.0.0.1:5000/v2/a/b/blobs/uploads/u2?digest=" + url.QueryEscape(dg.String())},
	} {
		u, err := uploadURL(base, tc.loc, dg)
		if err != nil {
			t.Fatal(err)
		}
		if u.String() != tc.want {
			t.Errorf("uploadURL(%q) = %s, want %s", tc.loc, u, tc.want)
		}
	}
	if _, err := uploadURL(base, "", dg); err == nil {
		t.Error("no error for an empty Location")
	}
}

func TestParseChallenge(t *testing.T) {
	got := parseChallenge(`Bearer realm="http://localhost:8080/v2/auth",service="localhost:8080",scope="repository:a/b:pull,push"`)
	want := map[string]string{"realm": "http://localhost:8080/v2/auth", "service": "localhost:8080", "scope": "repository:a/b:pull,push"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRawPut(t *testing.T) {
	body := make([]byte, 3<<20+7)
	fillRandom(body, 7)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case r.Method != http.MethodPut || r.URL.Path != "/up" || r.URL.Query().Get("digest") != "d":
			http.Error(w, "wrong request line "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
		case r.Header.Get("Authorization") != "Bearer tok" || r.ContentLength != int64(len(body)):
			http.Error(w, "wrong headers", http.StatusBadRequest)
		case !bytes.Equal(got, body):
			http.Error(w, "wrong body", http.StatusBadRequest)
		default:
			w.Header().Set("Docker-Content-Digest", "sha256:x")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("done"))
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/up?digest=d")
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer tok")
	status, rh, rb, err := rawPut(context.Background(), u, hdr, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusCreated || rh.Get("Docker-Content-Digest") != "sha256:x" || string(rb) != "done" {
		t.Errorf("status %d, header %v, body %q", status, rh, rb)
	}
}
