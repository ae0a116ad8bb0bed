package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

// badRequest is a client error found by this package (an unsupported filter, a
// member list that is not a list of IDs, …). Its detail is written for the client
// and must never contain internal text.
type badRequest struct {
	scimType scimerrors.ScimType
	detail   string
}

func (e *badRequest) Error() string { return fmt.Sprintf("scim: %s: %s", e.scimType, e.detail) }

func invalidFilter(format string, args ...any) error {
	return &badRequest{scimType: scimerrors.ScimTypeInvalidFilter, detail: fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) error {
	return &badRequest{scimType: scimerrors.ScimTypeInvalidValue, detail: fmt.Sprintf(format, args...)}
}

func invalidPath(format string, args ...any) error {
	return &badRequest{scimType: scimerrors.ScimTypeInvalidPath, detail: fmt.Sprintf(format, args...)}
}

// toSCIMError is the one place where errors become SCIM error bodies. Every
// ResourceHandler method passes its error through it, because elimity would
// otherwise copy err.Error() (SQL, Go internals) into a 500 body. Anything not
// recognised becomes a 500 whose detail is fixed text plus the request ID; the
// cause is for the log only (see Handler.fail).
func toSCIMError(ctx context.Context, err error) scimerrors.ScimError {
	var (
		scimErr    scimerrors.ScimError
		scimErrPtr *scimerrors.ScimError
		bad        *badRequest
		patchErr   *patchError
	)
	var held *store.HeldError
	switch {
	case errors.As(err, &held):
		return heldError(held.Hold)
	case errors.As(err, &bad):
		return scimerrors.ScimError{ScimType: bad.scimType, Detail: bad.detail, Status: http.StatusBadRequest}
	case errors.As(err, &patchErr):
		return scimerrors.ScimError{ScimType: scimerrors.ScimType(patchErr.ScimType), Detail: patchErr.Detail, Status: http.StatusBadRequest}
	case errors.Is(err, store.ErrNotFound):
		return scimerrors.ScimError{Detail: "Resource not found.", Status: http.StatusNotFound}
	case errors.Is(err, store.ErrConflict):
		e := scimerrors.ScimErrorUniqueness
		e.Detail = "userName, externalId or displayName is already taken by another resource."
		return e
	case errors.Is(err, store.ErrVersionMismatch):
		return scimerrors.ScimError{Detail: "The resource has changed: If-Match does not match its current version.", Status: http.StatusPreconditionFailed}
	case errors.Is(err, store.ErrInvalidReference):
		e := scimerrors.ScimErrorInvalidValue
		e.Detail = "A referenced resource (for example a group member) is not a user of this organization."
		return e
	case errors.As(err, &scimErr):
		if scimErr.Status < http.StatusInternalServerError {
			return scimErr
		}
	case errors.As(err, &scimErrPtr) && scimErrPtr != nil:
		if scimErrPtr.Status < http.StatusInternalServerError {
			return *scimErrPtr
		}
	}
	return internalError(ctx)
}

// internalError is the body of every 500: fixed text and a reference to find the
// logged cause by.
func internalError(ctx context.Context) scimerrors.ScimError {
	return scimerrors.ScimError{
		Detail: "internal error, reference " + requestIDFrom(ctx),
		Status: http.StatusInternalServerError,
	}
}
