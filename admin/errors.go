package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// Errors of the admin API besides the store's sentinels (store.ErrNotFound,
// store.ErrConflict, store.ErrVersionMismatch), which the service passes on
// wrapped.
var (
	// ErrUnauthenticated: no credentials, or ones that are not valid (an
	// unknown, malformed or revoked token; an expired session).
	ErrUnauthenticated = errors.New("admin: not authenticated")
	// ErrForbidden: valid credentials of someone who is not an Admin of the
	// organization (a Member's session, a SCIM token).
	ErrForbidden = errors.New("admin: forbidden")
	// ErrCSRF: a request authenticated by the session cookie that changes
	// something without the session's CSRF token.
	ErrCSRF = errors.New("admin: missing or wrong CSRF token")
)

// ValidationError is input the service refuses, field by field. Fields maps a
// field's path in the request ("accessControl.emailDomains[1]", "slug",
// "overrides.email") to what is wrong with it, in words for the Admin. Find it
// with errors.As. When the input is refused because it conflicts with what is
// stored (a slug already taken) it also wraps store.ErrConflict.
type ValidationError struct {
	Fields map[string]string
	err    error
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "admin: invalid input: " + strings.Join(parts, "; ")
}

// Unwrap returns the stored state the input conflicts with, if any.
func (e *ValidationError) Unwrap() error { return e.err }

// fieldErrors collects problems; err returns them as a *ValidationError, or nil.
type fieldErrors map[string]string

func (f fieldErrors) add(field, format string, args ...any) {
	if _, ok := f[field]; !ok { // the first problem of a field is the one to fix first
		f[field] = fmt.Sprintf(format, args...)
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// invalid returns a *ValidationError with one field.
func invalid(field, format string, args ...any) error {
	return &ValidationError{Fields: map[string]string{field: fmt.Sprintf(format, args...)}}
}

// conflict returns a *ValidationError with one field that wraps
// store.ErrConflict (HTTP 409) and cause.
func conflict(cause error, field, format string, args ...any) error {
	return &ValidationError{Fields: map[string]string{field: fmt.Sprintf(format, args...)}, err: errors.Join(store.ErrConflict, cause)}
}

// httpStatus is the one place that maps the service's errors to HTTP status
// codes. Anything it does not know is a 500.
func httpStatus(err error) int {
	var (
		ve  *ValidationError
		mbe *http.MaxBytesError
	)
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrCSRF):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrVersionMismatch):
		return http.StatusPreconditionFailed
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType
	case errors.As(err, &ve):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errorMessage is the "error" text of an answer with status code: fixed per
// status, so that no cause's text (SQL, file paths, driver messages) ever
// reaches a client. Field-level detail travels in "fields"; a 409 of a
// StateError says what state refused the request, in that error's fixed
// words.
func errorMessage(code int, err error) string {
	switch code {
	case http.StatusBadRequest:
		return "invalid input"
	case http.StatusUnauthorized:
		return "authentication required: send an admin API token as a bearer token, or sign in as an Admin"
	case http.StatusForbidden:
		if errors.Is(err, ErrCSRF) {
			return "missing or wrong CSRF token: send the session's token (GET /api/v1/csrf-token) in the X-CSRF-Token header"
		}
		return "forbidden: only the organization's Admins may use the admin API"
	case http.StatusNotFound:
		return "not found"
	case http.StatusConflict:
		var se *StateError
		if errors.As(err, &se) {
			return se.Message
		}
		return "conflict with the current state"
	case http.StatusPreconditionFailed:
		return "the resource has changed since it was read (If-Match does not match its version)"
	case http.StatusRequestEntityTooLarge:
		return "request body too large"
	case http.StatusUnsupportedMediaType:
		return "unsupported Content-Type: send application/json"
	}
	return http.StatusText(code)
}
