package scim

import (
	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"

	"github.com/onramp-dev/onramp/scim/patch"
)

// patchError is the typed error of scim/patch; toSCIMError turns it into a 400
// with its scimType.
type patchError = patch.Error

// applyPatch applies RFC 7644 PATCH operations to a resource document.
func applyPatch(doc map[string]any, ops []elimity.PatchOperation, s schema.Schema, exts ...schema.Schema) (map[string]any, error) {
	return patch.Apply(doc, ops, s, exts...)
}
