package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is an error code of the OCI Distribution Specification, declared once with its HTTP
// status and default message.
type Code struct {
	Value   string
	Status  int
	Message string
}

// The error codes of the distribution spec, plus RANGE_INVALID for out-of-order chunks and
// TOOMANYREQUESTS.
var (
	ErrBlobUnknown         = Code{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	ErrBlobUploadInvalid   = Code{"BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid"}
	ErrBlobUploadUnknown   = Code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"}
	ErrDigestInvalid       = Code{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	ErrManifestBlobUnknown = Code{"MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"}
	ErrManifestInvalid     = Code{"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"}
	ErrManifestUnknown     = Code{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	ErrNameInvalid         = Code{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	ErrNameUnknown         = Code{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	ErrSizeInvalid         = Code{"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"}
	ErrTooLarge            = Code{"SIZE_INVALID", http.StatusRequestEntityTooLarge, "uploaded blob is larger than this registry allows"}
	ErrUnauthorized        = Code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	ErrDenied              = Code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	ErrUnsupported         = Code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	ErrTooManyRequests     = Code{"TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests"}
	ErrRangeInvalid        = Code{"RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable, "invalid content range"}
	ErrUnavailable         = Code{"UNAVAILABLE", http.StatusServiceUnavailable, "service unavailable"}
	ErrInternal            = Code{"UNKNOWN", http.StatusInternalServerError, "internal server error"}
)

// AllCodes lists every code, for documentation and tests.
var AllCodes = []Code{ErrBlobUnknown, ErrBlobUploadInvalid, ErrBlobUploadUnknown, ErrDigestInvalid, ErrManifestBlobUnknown,
	ErrManifestInvalid, ErrManifestUnknown, ErrNameInvalid, ErrNameUnknown, ErrSizeInvalid, ErrTooLarge, ErrUnauthorized,
	ErrDenied, ErrUnsupported, ErrTooManyRequests, ErrRangeInvalid, ErrUnavailable, ErrInternal}

// Error is a registry error to send to a client.
type Error struct {
	Code    Code
	Message string
	Detail  any
	// Cause is logged, never sent.
	Cause error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Message
	}
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code.Value, msg, e.Cause)
	}
	return e.Code.Value + ": " + msg
}

func (e *Error) Unwrap() error { return e.Cause }

// WithMessage returns an error with code c and a specific message.
func (c Code) WithMessage(format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// WithDetail returns an error with code c carrying detail.
func (c Code) WithDetail(detail any) *Error { return &Error{Code: c, Detail: detail} }

// Err returns an error with code c and its default message.
func (c Code) Err() *Error { return &Error{Code: c} }

// Wrap returns an error with code c caused by err.
func (c Code) Wrap(err error) *Error { return &Error{Code: c, Cause: err} }

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// asError turns any error into a registry error; errors without a code are internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal.Wrap(err)
}

// writeError sends the OCI error JSON. HEAD responses carry no body.
func writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Message
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.Code.Value, Message: msg, Detail: e.Detail}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Del("Docker-Content-Digest")
	w.WriteHeader(e.Code.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
