package clair

import (
	"cmp"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxAcceptRanges bounds the work spent on one Accept header.
const maxAcceptRanges = 32

type acceptRange struct {
	typ, sub string
	q        float64
}

// negotiate picks the media type of a response among offers (the API's own type first,
// then application/json), as Clair does: the client's ranges by descending quality (ties in
// the client's order), the first offer a range matches. No Accept (or only unreadable
// ranges) means the first offer. ok is false when the client accepts none of them.
func negotiate(r *http.Request, offers ...string) (string, bool) {
	var ranges []acceptRange
	refused := false
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			if len(ranges) == maxAcceptRanges {
				break
			}
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			typ, sub, ok := strings.Cut(mt, "/")
			if !ok {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(s, 64); err != nil {
					continue
				}
			}
			if q <= 0 {
				refused = true // q=0: "not acceptable"
				continue
			}
			ranges = append(ranges, acceptRange{typ: typ, sub: sub, q: q})
		}
	}
	if len(ranges) == 0 {
		if refused {
			return "", false
		}
		return offers[0], true
	}
	slices.SortStableFunc(ranges, func(a, b acceptRange) int { return cmp.Compare(b.q, a.q) })
	for _, ar := range ranges {
		for _, o := range offers {
			typ, sub, _ := strings.Cut(o, "/")
			if (ar.typ == "*" && ar.sub == "*") || (ar.typ == typ && (ar.sub == "*" || ar.sub == sub)) {
				return o, true
			}
		}
	}
	return "", false
}

// requestTypeOK reports whether a request body's Content-Type is one the endpoint reads:
// its own media type or application/json (parameters such as charset are ignored). A
// request without a Content-Type is read as JSON, as Clair reads every body.
func requestTypeOK(r *http.Request, own string) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == own || mt == mediaJSON
}

// etagFor returns the entity tag of an opaque token (a state, an update operation's ref):
// the token quoted, as Clair writes it; bytes an entity tag cannot hold (controls, space,
// '"', DEL) and '%' are percent-encoded, so the tag stays one-to-one with the token.
func etagFor(token string) string {
	var b strings.Builder
	b.Grow(len(token) + 2)
	b.WriteByte('"')
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c <= 0x20 || c == '"' || c == '%' || c == 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// noneMatch reports whether the request's If-None-Match names etag (weak comparison, as
// RFC 9110 asks for this header), or is "*".
func noneMatch(r *http.Request, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, h := range r.Header.Values("If-None-Match") {
		if strings.TrimSpace(h) == etag { // Clair's own comparison, the whole value
			return true
		}
		s := h
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			s = strings.TrimPrefix(s, "W/")
			if s == "" || s[0] != '"' {
				break // not an entity tag: ignore the rest
			}
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				break
			}
			if s[:end+2] == want {
				return true
			}
			s = s[end+2:]
		}
	}
	return false
}
