package scim

import (
	"github.com/onramp-dev/onramp/scim/patch"
)

// patchError is the typed error of scim/patch; toSCIMError turns it into a 400
// with its scimType.
type patchError = patch.Error

// patchers apply RFC 7644 PATCH operations to stored resource documents, one
// per resource type, built once per Handler.
type patchers struct{ user, group *patch.Patcher }

func newPatchers(s resourceSchemas) patchers {
	return patchers{user: patch.New(s.user, s.enterprise), group: patch.New(s.group)}
}
