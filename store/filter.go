package store

import "fmt"

// Filter is a typed query over users or groups. Protocol packages translate their
// own filter languages (SCIM's RFC 7644 grammar) into it; implementations translate
// it into parameterised queries that use indexes (userName eq and externalId eq,
// emails.value eq, members.value eq never scan an organization's rows).
//
// The node types are Compare, And, Or, Not and Element.
type Filter interface{ isFilter() }

// Field is an attribute that can be filtered on.
type Field string

// Fields of users (U), groups (G) or both.
const (
	FieldID           Field = "id"             // U G: exact
	FieldExternalID   Field = "externalId"     // U G: exact
	FieldUserName     Field = "userName"       // U: case-insensitive
	FieldDisplayName  Field = "displayName"    // U G: case-insensitive
	FieldActive       Field = "active"         // U: bool
	FieldCreated      Field = "created"        // U G: time.Time
	FieldLastModified Field = "lastModified"   // U G: time.Time
	FieldEmailValue   Field = "emails.value"   // U: case-insensitive, multi-valued
	FieldEmailType    Field = "emails.type"    // U: case-insensitive, multi-valued
	FieldEmailPrimary Field = "emails.primary" // U: bool, multi-valued
	FieldMemberValue  Field = "members.value"  // G: exact (user ID), multi-valued
)

// Op is a comparison operator, named as in RFC 7644 section 3.4.2.2.
type Op string

const (
	OpEq      Op = "eq"
	OpNe      Op = "ne"
	OpCo      Op = "co"
	OpSw      Op = "sw"
	OpEw      Op = "ew"
	OpPresent Op = "pr"
	OpGt      Op = "gt"
	OpGe      Op = "ge"
	OpLt      Op = "lt"
	OpLe      Op = "le"
)

// Compare compares a field with a value: a string for text fields, a bool for
// active and emails.primary, a time.Time for created and lastModified, nil for
// OpPresent. A Compare on a multi-valued field (emails.*, members.value) holds when
// some element satisfies it; ne on a multi-valued field holds when no element
// equals the value.
type Compare struct {
	Field Field
	Op    Op
	Value any
}

// And holds when both hold.
type And struct{ Left, Right Filter }

// Or holds when either holds.
type Or struct{ Left, Right Filter }

// Not holds when F does not.
type Not struct{ F Filter }

// Element holds when one element of a multi-valued attribute satisfies F as a whole
// (SCIM value paths such as emails[type eq "work" and value co "@acme.com"]). F may
// only use that attribute's fields: Attr "emails" with emails.* fields, "members"
// with members.value.
type Element struct {
	Attr string
	F    Filter
}

func (Compare) isFilter() {}
func (And) isFilter()     {}
func (Or) isFilter()      {}
func (Not) isFilter()     {}
func (Element) isFilter() {}

func (c Compare) String() string { return fmt.Sprintf("%s %s %v", c.Field, c.Op, c.Value) }
