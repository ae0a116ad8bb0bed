package scim

import "github.com/elimity-com/scim/schema"

// Schema URIs served by the endpoint.
const (
	UserSchemaURI           = schema.UserSchema
	GroupSchemaURI          = schema.GroupSchema
	EnterpriseUserSchemaURI = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// UserSchema returns the core User schema (RFC 7643 section 4.1) as onramp serves
// it. elimity's CoreUserSchema already carries every attribute and sub-attribute of
// the RFC's User schema (section 8.7.1), including the writeOnly password and the
// readOnly groups, so it is used as is; keeping the accessor here gives the handlers
// and scim/patch one place to read it from if it ever needs extending.
func UserSchema() schema.Schema { return schema.CoreUserSchema() }

// EnterpriseUserSchema returns the enterprise User extension (RFC 7643 section 4.3):
// employeeNumber, costCenter, organization, division, department and the complex
// manager (value, $ref, readOnly displayName).
func EnterpriseUserSchema() schema.Schema { return schema.ExtensionEnterpriseUser() }

// GroupSchema returns the core Group schema (RFC 7643 section 4.2): displayName and
// the multi-valued members (value, $ref, type, display).
func GroupSchema() schema.Schema { return schema.CoreGroupSchema() }

// resourceSchemas are the schemas a Handler works with, built once when it is
// made: elimity's schema constructors compile a regular expression for every
// attribute name on every call, which costs more than the rest of a PATCH.
type resourceSchemas struct{ user, enterprise, group schema.Schema }

func newResourceSchemas() resourceSchemas {
	return resourceSchemas{user: UserSchema(), enterprise: EnterpriseUserSchema(), group: GroupSchema()}
}
