package scim

import (
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

// resourceKind says which resource a filter is about; the attributes that can be
// filtered on differ.
type resourceKind int

const (
	userResource resourceKind = iota
	groupResource
)

// fieldType is the value type a store field compares with.
type fieldType int

const (
	textField fieldType = iota
	boolField
	timeField
)

// filterFields maps, per resource kind, the SCIM attribute paths (lower case,
// without the core schema URN) that translate into store fields. Everything else
// is refused with invalidFilter: the store never scans for an attribute it does
// not index.
func filterFields(kind resourceKind) map[string]store.Field {
	if kind == groupResource {
		return map[string]store.Field{
			"id":                store.FieldID,
			"externalid":        store.FieldExternalID,
			"displayname":       store.FieldDisplayName,
			"meta.created":      store.FieldCreated,
			"meta.lastmodified": store.FieldLastModified,
			"members":           store.FieldMemberValue, // a complex attribute compares its value
			"members.value":     store.FieldMemberValue,
		}
	}
	return map[string]store.Field{
		"id":                store.FieldID,
		"externalid":        store.FieldExternalID,
		"username":          store.FieldUserName,
		"displayname":       store.FieldDisplayName,
		"active":            store.FieldActive,
		"meta.created":      store.FieldCreated,
		"meta.lastmodified": store.FieldLastModified,
		"emails":            store.FieldEmailValue,
		"emails.value":      store.FieldEmailValue,
		"emails.type":       store.FieldEmailType,
		"emails.primary":    store.FieldEmailPrimary,
	}
}

// valuePathAttr reports whether name (lower case) is the multi-valued attribute
// that value paths (attr[filter]) may select for the kind.
func valuePathAttr(kind resourceKind, name string) bool {
	if kind == groupResource {
		return name == "members"
	}
	return name == "emails"
}

// typeOf is the value type a store field compares with.
func typeOf(f store.Field) fieldType {
	switch f {
	case store.FieldActive, store.FieldEmailPrimary:
		return boolField
	case store.FieldCreated, store.FieldLastModified:
		return timeField
	}
	return textField
}

// coreSchemaURI is the URN a filter may prefix core attributes with.
func (k resourceKind) coreSchemaURI() string {
	if k == groupResource {
		return GroupSchemaURI
	}
	return UserSchemaURI
}

// toStoreFilter translates a parsed SCIM filter (RFC 7644 section 3.4.2.2) into
// the store's typed filter. Attribute names compare case-insensitively. It refuses,
// with an invalidFilter error naming the problem, attributes the store cannot
// query, operators that make no sense for a type (gt on a boolean) and values of
// the wrong type.
func toStoreFilter(e filter.Expression, kind resourceKind) (store.Filter, error) {
	return translate(e, kind, "")
}

// translate converts e; within a value path, parent is the multi-valued attribute
// ("emails") whose sub-attributes e names.
func translate(e filter.Expression, kind resourceKind, parent string) (store.Filter, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		return translateCompare(e, kind, parent)
	case *filter.LogicalExpression:
		left, err := translate(e.Left, kind, parent)
		if err != nil {
			return nil, err
		}
		right, err := translate(e.Right, kind, parent)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(string(e.Operator)) {
		case string(filter.AND):
			return store.And{Left: left, Right: right}, nil
		case string(filter.OR):
			return store.Or{Left: left, Right: right}, nil
		}
		return nil, invalidFilter("unknown logical operator %q", e.Operator)
	case *filter.NotExpression:
		inner, err := translate(e.Expression, kind, parent)
		if err != nil {
			return nil, err
		}
		return store.Not{F: inner}, nil
	case *filter.ValuePath:
		if parent != "" {
			return nil, invalidFilter("value paths cannot be nested")
		}
		name, err := attrName(e.AttributePath, kind)
		if err != nil {
			return nil, err
		}
		if e.AttributePath.SubAttribute != nil || !valuePathAttr(kind, name) {
			return nil, invalidFilter("%s is not a multi-valued attribute that can be filtered with [...]", e.AttributePath)
		}
		inner, err := translate(e.ValueFilter, kind, name)
		if err != nil {
			return nil, err
		}
		return store.Element{Attr: name, F: inner}, nil
	case nil:
		return nil, invalidFilter("empty filter")
	}
	return nil, invalidFilter("unsupported filter expression")
}

// attrName returns the lower-case attribute name of p, accepting the core schema
// URN as a prefix and refusing any other.
func attrName(p filter.AttributePath, kind resourceKind) (string, error) {
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, kind.coreSchemaURI()) {
		return "", invalidFilter("filtering on %s is not supported", p)
	}
	return strings.ToLower(p.AttributeName), nil
}

func translateCompare(e *filter.AttributeExpression, kind resourceKind, parent string) (store.Filter, error) {
	name, err := attrName(e.AttributePath, kind)
	if err != nil {
		return nil, err
	}
	key := name
	if sub := e.AttributePath.SubAttributeName(); sub != "" {
		key += "." + strings.ToLower(sub)
	}
	if parent != "" {
		// Inside emails[...], "value" means emails.value.
		if e.AttributePath.SubAttribute != nil {
			return nil, invalidFilter("%s: sub-attributes of sub-attributes are not supported", e.AttributePath)
		}
		key = parent + "." + name
	}
	field, ok := filterFields(kind)[key]
	if !ok {
		return nil, invalidFilter("filtering on %s is not supported; supported attributes: %s", e.AttributePath, supportedList(kind))
	}
	op := store.Op(strings.ToLower(string(e.Operator)))
	typ := typeOf(field)
	if err := checkOp(op, typ, e.AttributePath.String()); err != nil {
		return nil, err
	}
	if op == store.OpPresent {
		return store.Compare{Field: field, Op: op}, nil
	}
	value, err := compareValue(e.CompareValue, typ, e.AttributePath.String())
	if err != nil {
		return nil, err
	}
	return store.Compare{Field: field, Op: op, Value: value}, nil
}

func checkOp(op store.Op, typ fieldType, attr string) error {
	switch op {
	case store.OpEq, store.OpNe, store.OpPresent:
		return nil
	case store.OpCo, store.OpSw, store.OpEw:
		if typ == textField {
			return nil
		}
	case store.OpGt, store.OpGe, store.OpLt, store.OpLe:
		if typ != boolField {
			return nil
		}
	default:
		return invalidFilter("unknown operator %q", op)
	}
	return invalidFilter("operator %q cannot be used with %s", op, attr)
}

func compareValue(v any, typ fieldType, attr string) (any, error) {
	switch typ {
	case boolField:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, invalidFilter("%s compares with true or false", attr)
	case timeField:
		s, ok := v.(string)
		if !ok {
			return nil, invalidFilter("%s compares with a quoted date-time", attr)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, invalidFilter("%s: %q is not an RFC 3339 date-time", attr, s)
		}
		return t.UTC(), nil
	default:
		s, ok := v.(string)
		if !ok {
			return nil, invalidFilter("%s compares with a quoted string", attr)
		}
		return s, nil
	}
}

func supportedList(kind resourceKind) string {
	if kind == groupResource {
		return "id, externalId, displayName, meta.created, meta.lastModified, members.value, members[value …]"
	}
	return "id, externalId, userName, displayName, active, meta.created, meta.lastModified, emails.value, emails.type, emails.primary, emails[…]"
}
