package scim

// Temporary glue until package scim/patch (written concurrently) provides Apply
// and Error; replaced by aliases to them.

import (
	"errors"

	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"
)

type patchError struct{ ScimType, Detail string }

func (e *patchError) Error() string { return e.Detail }

func applyPatch(doc map[string]any, ops []elimity.PatchOperation, s schema.Schema, exts ...schema.Schema) (map[string]any, error) {
	return nil, errors.New("patch: not yet")
}
