package indexer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/wharf-registry/wharf/scanner/report"
)

// HTTPLayers turns a Clair manifest's layers (URI and headers) into Layers fetched with
// client (nil: http.DefaultClient). An answer other than 2xx is an error naming the layer
// and the status.
func HTTPLayers(client *http.Client, m report.Manifest) []Layer {
	if client == nil {
		client = http.DefaultClient
	}
	layers := make([]Layer, 0, len(m.Layers))
	for _, l := range m.Layers {
		layers = append(layers, Layer{
			Digest:    l.Hash,
			MediaType: l.MediaType,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				return fetch(ctx, client, l)
			},
		})
	}
	return layers
}

func fetch(ctx context.Context, client *http.Client, l report.Layer) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URI, nil)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Hash, err)
	}
	for k, vs := range l.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = redact(req.URL)
		}
		return nil, fmt.Errorf("layer %s: %w", l.Hash, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("layer %s: GET %s: %s", l.Hash, redact(req.URL), resp.Status)
	}
	return resp.Body, nil
}

// redact drops a URL's query and user information, which may hold credentials (signed URLs).
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment = nil, "", false, ""
	return c.String()
}
