package patch

import (
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// errBadFilter is returned when a value filter cannot be evaluated against
// the attribute; callers turn it into an invalidPath *Error.
type errBadFilter struct{ reason string }

func (e errBadFilter) Error() string { return e.reason }

// matchFilter evaluates the value filter e (the part of a path between
// brackets) against one element of the multi-valued attribute attr. For a
// multi-valued attribute of simple values, the filter names the element
// itself as "value" (RFC 7644 section 3.5.2).
func matchFilter(attr schema.CoreAttribute, elem any, e filter.Expression) (bool, error) {
	switch t := e.(type) {
	case *filter.AttributeExpression:
		return matchAttrExp(attr, elem, t)
	case *filter.LogicalExpression:
		left, err := matchFilter(attr, elem, t.Left)
		if err != nil {
			return false, err
		}
		right, err := matchFilter(attr, elem, t.Right)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(string(t.Operator)) {
		case string(filter.AND):
			return left && right, nil
		case string(filter.OR):
			return left || right, nil
		}
		return false, errBadFilter{"unknown logical operator " + string(t.Operator)}
	case *filter.NotExpression:
		inner, err := matchFilter(attr, elem, t.Expression)
		return !inner, err
	}
	return false, errBadFilter{"unsupported expression in value filter"}
}

// filterOperand resolves the attribute an expression compares, within one
// element: the sub-attribute definition and the element's value for it.
func filterOperand(attr schema.CoreAttribute, elem any, p filter.AttributePath) (schema.CoreAttribute, any, error) {
	if p.URIPrefix != nil || p.SubAttribute != nil {
		return schema.CoreAttribute{}, nil, errBadFilter{"value filter must name a sub-attribute of " + attr.Name()}
	}
	if attr.AttributeType() != typeComplex {
		if !strings.EqualFold(p.AttributeName, subValue) {
			return schema.CoreAttribute{}, nil, errBadFilter{"a filter on " + attr.Name() + " may only compare \"value\""}
		}
		return attr, elem, nil
	}
	sub, ok := findSub(attr, p.AttributeName)
	if !ok {
		return schema.CoreAttribute{}, nil, errBadFilter{attr.Name() + " has no sub-attribute " + p.AttributeName}
	}
	m, _ := elem.(map[string]any)
	v, _ := lookup(m, sub.Name())
	return sub, v, nil
}

func matchAttrExp(attr schema.CoreAttribute, elem any, e *filter.AttributeExpression) (bool, error) {
	sub, v, err := filterOperand(attr, elem, e.AttributePath)
	if err != nil {
		return false, err
	}
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	switch op {
	case filter.PR, filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return false, errBadFilter{"unknown comparison operator " + string(e.Operator)}
	}
	if op == filter.PR {
		return assigned(v), nil
	}
	// A multi-valued sub-attribute matches when any of its values does.
	if sub.MultiValued() {
		if op == filter.NE {
			for _, x := range asList(v) {
				if !compare(sub, filter.NE, x, e.CompareValue) {
					return false, nil
				}
			}
			return true, nil
		}
		for _, x := range asList(v) {
			if compare(sub, op, x, e.CompareValue) {
				return true, nil
			}
		}
		return false, nil
	}
	return compare(sub, op, v, e.CompareValue), nil
}

// compare applies a comparison operator of RFC 7644 section 3.4.2.2 to a
// stored value v and the filter's literal cv.
func compare(attr schema.CoreAttribute, op filter.CompareOperator, v, cv any) bool {
	if cv == nil { // "eq null" / "ne null"
		switch op {
		case filter.EQ:
			return !assigned(v)
		case filter.NE:
			return assigned(v)
		}
		return false
	}
	if !assigned(v) {
		return op == filter.NE
	}
	switch op {
	case filter.EQ:
		return equalLeaf(attr, v, cv)
	case filter.NE:
		return !equalLeaf(attr, v, cv)
	}
	switch attr.AttributeType() {
	case typeBoolean:
		return false // only eq and ne apply to booleans
	case typeInteger, typeDecimal:
		x, okA := toFloat(v)
		y, okB := toFloat(cv)
		if !okA || !okB {
			return false
		}
		return order(op, cmpFloat(x, y))
	}
	sv, okA := v.(string)
	sc, okB := cv.(string)
	if !okA || !okB {
		return false
	}
	if attr.AttributeType() == typeDateTime && op != filter.CO && op != filter.SW && op != filter.EW {
		tv, errA := time.Parse(time.RFC3339Nano, sv)
		tc, errB := time.Parse(time.RFC3339Nano, sc)
		if errA == nil && errB == nil {
			return order(op, tv.Compare(tc))
		}
	}
	if !attr.CaseExact() {
		sv, sc = strings.ToLower(sv), strings.ToLower(sc)
	}
	switch op {
	case filter.CO:
		return strings.Contains(sv, sc)
	case filter.SW:
		return strings.HasPrefix(sv, sc)
	case filter.EW:
		return strings.HasSuffix(sv, sc)
	}
	return order(op, strings.Compare(sv, sc))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func order(op filter.CompareOperator, c int) bool {
	switch op {
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

// equalities returns the sub-attribute values an element must have to satisfy
// the filter e when e is an "eq" comparison or an "and" of them, for example
// {"type": "work"} for `type eq "work"`. ok is false for any other filter: an
// element that satisfies it cannot be built from it. A nil filter yields an
// empty map. The values are normalised to the sub-attributes' types.
func equalities(attr schema.CoreAttribute, e filter.Expression) (map[string]any, bool) {
	out := map[string]any{}
	if e == nil {
		return out, true
	}
	return out, collectEqualities(attr, e, out)
}

func collectEqualities(attr schema.CoreAttribute, e filter.Expression, into map[string]any) bool {
	switch t := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(t.Operator), string(filter.EQ)) || t.CompareValue == nil {
			return false
		}
		sub, _, err := filterOperand(attr, nil, t.AttributePath)
		if err != nil || attr.AttributeType() != typeComplex || sub.MultiValued() {
			return false
		}
		v, err := normLeaf(sub, t.CompareValue)
		if err != nil || v == nil {
			return false
		}
		if prev, seen := into[sub.Name()]; seen && !equalLeaf(sub, prev, v) {
			return false
		}
		into[sub.Name()] = v
		return true
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(t.Operator), string(filter.AND)) {
			return false
		}
		return collectEqualities(attr, t.Left, into) && collectEqualities(attr, t.Right, into)
	}
	return false
}
