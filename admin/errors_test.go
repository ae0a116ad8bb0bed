package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"validation", invalid("slug", "bad"), http.StatusBadRequest},
		{"wrapped validation", fmt.Errorf("sqlstore: update: %w", invalid("overrides", "bad")), http.StatusBadRequest},
		{"unauthenticated", ErrUnauthenticated, http.StatusUnauthorized},
		{"forbidden, wrapped", fmt.Errorf("admin: x: %w", ErrForbidden), http.StatusForbidden},
		{"csrf", ErrCSRF, http.StatusForbidden},
		{"not found, wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w: %w", store.ErrNotFound, errors.New("sql: no rows"))), http.StatusNotFound},
		{"conflict, wrapped", fmt.Errorf("create: %w: %w", store.ErrConflict, errors.New("UNIQUE constraint failed")), http.StatusConflict},
		{"conflict on a field", conflict(store.ErrConflict, "slug", "taken"), http.StatusConflict},
		{"version mismatch", fmt.Errorf("x: %w", store.ErrVersionMismatch), http.StatusPreconditionFailed},
		{"body too large", fmt.Errorf("x: %w", &http.MaxBytesError{Limit: 1}), http.StatusRequestEntityTooLarge},
		{"media type", ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
		{"invalid reference in a validation", &ValidationError{Fields: map[string]string{"a": "b"}, err: store.ErrInvalidReference}, http.StatusBadRequest},
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError},
		{"a bare invalid reference is not the client's fault", store.ErrInvalidReference, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := httpStatus(tt.err); got != tt.want {
			t.Errorf("%s: httpStatus(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
		// The message never carries the cause's text.
		if msg := errorMessage(tt.want, tt.err); strings.Contains(msg, "constraint") || strings.Contains(msg, "fire") || strings.Contains(msg, "sql") {
			t.Errorf("%s: message %q leaks the cause", tt.name, msg)
		}
	}
}

func TestValidationErrorText(t *testing.T) {
	err := fieldErrors{"b": "second", "a": "first"}.err()
	if got := err.Error(); got != "admin: invalid input: a: first; b: second" {
		t.Errorf("Error() = %q", got)
	}
	if (fieldErrors{}).err() != nil {
		t.Error("no problems, yet an error")
	}
}
