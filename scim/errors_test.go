package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

func TestToSCIMError(t *testing.T) {
	ctx := withRequestID(context.Background(), "req-42")
	sqlErr := errors.New(`sqlite3: constraint failed: UNIQUE constraint failed: users.org_id, users.user_name_lower`)
	tests := []struct {
		name     string
		err      error
		status   int
		scimType scimerrors.ScimType
	}{
		{"not found", store.ErrNotFound, http.StatusNotFound, ""},
		{"wrapped not found", fmt.Errorf("scim: get user u1: %w", store.ErrNotFound), http.StatusNotFound, ""},
		{"conflict with driver cause", fmt.Errorf("create user: %w: %w", store.ErrConflict, sqlErr), http.StatusConflict, scimerrors.ScimTypeUniqueness},
		{"version mismatch", fmt.Errorf("scim: %w", store.ErrVersionMismatch), http.StatusPreconditionFailed, ""},
		{"invalid reference", fmt.Errorf("update group: %w", store.ErrInvalidReference), http.StatusBadRequest, scimerrors.ScimTypeInvalidValue},
		{"filter", invalidFilter("filtering on title is not supported"), http.StatusBadRequest, scimerrors.ScimTypeInvalidFilter},
		{"patch noTarget", fmt.Errorf("patch: %w", &patchError{ScimType: "noTarget", Detail: "operation 0: nothing matched"}), http.StatusBadRequest, scimerrors.ScimTypeNoTarget},
		{"patch invalidPath", &patchError{ScimType: "invalidPath", Detail: "operation 1"}, http.StatusBadRequest, scimerrors.ScimTypeInvalidPath},
		{"scim error value passes", scimerrors.ScimErrorMutability, http.StatusBadRequest, scimerrors.ScimTypeMutability},
		{"scim error pointer passes", fmt.Errorf("x: %w", &scimerrors.ScimErrorNoTarget), http.StatusBadRequest, scimerrors.ScimTypeNoTarget},
		{"unknown is internal", sqlErr, http.StatusInternalServerError, ""},
		{"wrapped unknown is internal", fmt.Errorf("scim: list users: %w", sqlErr), http.StatusInternalServerError, ""},
		{"a 500 scim error is rewritten", scimerrors.ScimError{Status: 500, Detail: sqlErr.Error()}, http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toSCIMError(ctx, tt.err)
			if got.Status != tt.status || got.ScimType != tt.scimType {
				t.Errorf("toSCIMError(%v) = %d %q, want %d %q", tt.err, got.Status, got.ScimType, tt.status, tt.scimType)
			}
			body, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range []string{"sqlite", "UNIQUE", "constraint", "store:", "scim: get"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("body %s contains %q", body, leak)
				}
			}
			if tt.status == http.StatusInternalServerError && got.Detail != "internal error, reference req-42" {
				t.Errorf("500 detail = %q, want the fixed text with the request ID", got.Detail)
			}
		})
	}
}
