package patch

import (
	"fmt"
	"net/http"

	scimerrors "github.com/elimity-com/scim/errors"
)

// The scimType keywords of RFC 7644 section 3.12 that Apply returns.
const (
	// ScimTypeInvalidPath: the path is malformed or names no attribute of the schemas.
	ScimTypeInvalidPath = "invalidPath"
	// ScimTypeNoTarget: the path is valid but selects nothing to operate on.
	ScimTypeNoTarget = "noTarget"
	// ScimTypeInvalidValue: the value is missing or does not fit the attribute.
	ScimTypeInvalidValue = "invalidValue"
	// ScimTypeMutability: the operation would change a readOnly or immutable
	// attribute, or unassign a required one.
	ScimTypeMutability = "mutability"
)

// Error is the only error Apply returns. ScimType is one of the ScimType*
// constants. Detail is meant for the client: it names the operation by its
// index and its path (which the client sent, filter values included) and never
// carries an attribute value from the request or the stored resource.
type Error struct {
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	return "scim patch: " + e.ScimType + ": " + e.Detail
}

// ScimError returns e as elimity's error value (HTTP 400), ready to be returned
// from a ResourceHandler.
func (e *Error) ScimError() scimerrors.ScimError {
	return scimerrors.ScimError{
		ScimType: scimerrors.ScimType(e.ScimType),
		Detail:   e.Detail,
		Status:   http.StatusBadRequest,
	}
}

// opRef identifies an operation in error details: its index in the request and
// the path it targets (or the key of a path-less value).
type opRef struct {
	index int
	path  string
}

func (o opRef) errorf(scimType, format string, args ...any) *Error {
	where := fmt.Sprintf("operation %d", o.index)
	if o.path != "" {
		where += fmt.Sprintf(" (path %q)", o.path)
	}
	return &Error{ScimType: scimType, Detail: where + ": " + fmt.Sprintf(format, args...)}
}
