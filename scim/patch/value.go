package patch

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"
)

// Attribute types and mutabilities as elimity's schema package spells them.
const (
	typeBoolean   = "boolean"
	typeComplex   = "complex"
	typeDateTime  = "dateTime"
	typeDecimal   = "decimal"
	typeInteger   = "integer"
	mutReadOnly   = "readOnly"
	mutImmutable  = "immutable"
	subValue      = "value"
	subPrimary    = "primary"
	commonID      = "id"
	schemasKey    = "schemas"
	maxWholeFloat = 1 << 53
)

// errBadValue is returned by the normalisers; callers turn it into an *Error
// that names the operation.
type errBadValue struct{ reason string }

func (e errBadValue) Error() string { return e.reason }

// findSub returns the sub-attribute of attr named name (case-insensitively).
func findSub(attr schema.CoreAttribute, name string) (schema.CoreAttribute, bool) {
	for _, sub := range attr.SubAttributes() {
		if strings.EqualFold(sub.Name(), name) {
			return sub, true
		}
	}
	return schema.CoreAttribute{}, false
}

// lookup returns the value stored in m under key, compared case-insensitively
// (RFC 7643 section 2.1). An exact match wins over case variants; among case
// variants the first in byte order wins, so that the result is deterministic.
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	found := ""
	for k := range m {
		if strings.EqualFold(k, key) && (found == "" || k < found) {
			found = k
		}
	}
	if found == "" {
		return nil, false
	}
	return m[found], true
}

// store sets m[key] = v after deleting every case variant of key, so the
// output carries only the schema's canonical spelling.
func store(m map[string]any, key string, v any) {
	unset(m, key)
	m[key] = v
}

// unset deletes key and all its case variants from m.
func unset(m map[string]any, key string) {
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}

// deepCopy copies the JSON-shaped value v: maps and slices are copied, scalars
// are shared (they are immutable). Slices of any element type become []any.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	case nil, string, bool, json.Number, float64, int64, int:
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = deepCopy(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = deepCopy(iter.Value().Interface())
		}
		return out
	}
	return v
}

// asList returns v as a list: a slice as is, nil as nil, anything else as a
// one-element list.
func asList(v any) []any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		return t
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out
	}
	return []any{v}
}

// assigned reports whether v counts as a value: RFC 7643 section 2.5 treats
// null, "" (by onramp's rule), an empty list and an empty object as unassigned.
func assigned(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		for _, x := range t {
			if assigned(x) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, x := range t {
			if assigned(x) {
				return true
			}
		}
		return false
	}
	return true
}

// normLeaf checks and converts a value of a simple (non-complex) attribute.
// It returns nil for an unassigned value (null or ""). Booleans sent as the
// strings "true"/"false" in any case (Entra without aadOptscim062020) become
// booleans; numbers become int64 (integer) or float64 (decimal).
func normLeaf(attr schema.CoreAttribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, nil
	}
	switch attr.AttributeType() {
	case typeBoolean:
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, errBadValue{"expected a boolean"}
	case typeInteger:
		if i, ok := toInt(v); ok {
			return i, nil
		}
		return nil, errBadValue{"expected an integer"}
	case typeDecimal:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return nil, errBadValue{"expected a number"}
	case typeComplex:
		return nil, errBadValue{"expected a simple value"}
	}
	// string, reference, binary, dateTime: elimity checks the format.
	out, scimErr := attr.ValidateSingular(v)
	if scimErr != nil {
		return nil, errBadValue{"expected a " + attr.AttributeType()}
	}
	return out, nil
}

func toInt(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case int32:
		return int64(t), true
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true
		}
		if f, err := t.Float64(); err == nil {
			return wholeFloat(f)
		}
	case float64:
		return wholeFloat(t)
	}
	return 0, false
}

func wholeFloat(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.Abs(f) > maxWholeFloat {
		return 0, false
	}
	return int64(f), true
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, !math.IsNaN(t) && !math.IsInf(t, 0)
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case int32:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

// normComplex checks and converts a value for a singular complex attribute (or
// one element of a multi-valued one). The result has canonical sub-attribute
// keys; a sub-attribute sent as null or "" maps to nil, which tells a merge to
// delete it. Unknown sub-attributes are dropped and so are readOnly ones, as
// elimity's validator does. A bare string for a complex attribute that has a
// "value" sub-attribute becomes {"value": s}: Entra sends the enterprise
// manager that way. ok is false when v is unassigned (null or "").
func normComplex(attr schema.CoreAttribute, v any) (map[string]any, bool, error) {
	switch t := v.(type) {
	case nil:
		return nil, false, nil
	case string:
		if t == "" {
			return nil, false, nil
		}
		sub, has := findSub(attr, subValue)
		if !has {
			return nil, false, errBadValue{"expected an object"}
		}
		x, err := normLeaf(sub, t)
		if err != nil {
			return nil, false, err
		}
		return map[string]any{sub.Name(): x}, true, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			sub, has := findSub(attr, k)
			if !has || sub.Mutability() == mutReadOnly {
				continue
			}
			if _, dup := out[sub.Name()]; dup {
				return nil, false, errBadValue{"sub-attribute " + sub.Name() + " given twice"}
			}
			nx, err := normSub(sub, x)
			if err != nil {
				return nil, false, errBadValue{sub.Name() + ": " + err.Error()}
			}
			out[sub.Name()] = nx
		}
		return out, true, nil
	}
	return nil, false, errBadValue{"expected an object"}
}

// normSub normalises the value of a sub-attribute, which may itself be
// multi-valued (not in the core schemas, but allowed by RFC 7643).
func normSub(sub schema.CoreAttribute, v any) (any, error) {
	if !sub.MultiValued() {
		return normLeaf(sub, v)
	}
	var out []any
	for _, x := range asList(v) {
		nx, err := normLeaf(sub, x)
		if err != nil {
			return nil, err
		}
		if nx != nil {
			out = append(out, nx)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// normElement normalises one element of a multi-valued attribute; nil means
// the element is empty and must be dropped.
func normElement(attr schema.CoreAttribute, v any) (any, error) {
	if attr.AttributeType() != typeComplex {
		return normLeaf(attr, v)
	}
	m, ok, err := normComplex(attr, v)
	if err != nil || !ok {
		return nil, err
	}
	m = compact(m)
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// normMulti normalises a value for a whole multi-valued attribute: a list, or
// a single element. Empty elements and duplicates are dropped.
func normMulti(attr schema.CoreAttribute, v any) ([]any, error) {
	var out []any
	for _, x := range asList(v) {
		nx, err := normElement(attr, x)
		if err != nil {
			return nil, err
		}
		if nx != nil && indexEqual(attr, out, nx) < 0 {
			out = append(out, nx)
		}
	}
	return out, nil
}

// compact returns m without its nil (delete-marker) entries.
func compact(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// readComplex returns a fresh copy of a stored singular complex value with the
// known sub-attribute keys in canonical case; unknown keys are kept as stored.
// A stored bare string becomes {"value": s} like normComplex does.
func readComplex(attr schema.CoreAttribute, v any) map[string]any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		// Canonical keys first so that they win over case variants.
		for k, x := range t {
			if sub, ok := findSub(attr, k); ok && sub.Name() == k {
				out[k] = deepCopy(x)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(t)) {
			sub, ok := findSub(attr, k)
			switch {
			case !ok:
				out[k] = deepCopy(t[k])
			case sub.Name() != k:
				if _, seen := out[sub.Name()]; !seen {
					out[sub.Name()] = deepCopy(t[k])
				}
			}
		}
		return out
	case string:
		if t != "" {
			if sub, ok := findSub(attr, subValue); ok {
				return map[string]any{sub.Name(): t}
			}
		}
	}
	return map[string]any{}
}

// readMulti returns a fresh copy of a stored multi-valued value as a list, its
// complex elements with canonical keys. A stored single object becomes a
// one-element list.
func readMulti(attr schema.CoreAttribute, v any) []any {
	var out []any
	for _, x := range asList(v) {
		if x == nil {
			continue
		}
		if attr.AttributeType() == typeComplex {
			if m, ok := x.(map[string]any); ok {
				out = append(out, readComplex(attr, m))
				continue
			}
		}
		out = append(out, deepCopy(x))
	}
	return out
}

// equalLeaf compares two simple values of attr: strings case-insensitively
// unless the attribute is caseExact, numbers by value, booleans accepting the
// string spellings.
func equalLeaf(attr schema.CoreAttribute, a, b any) bool {
	if !assigned(a) || !assigned(b) {
		return !assigned(a) && !assigned(b)
	}
	switch attr.AttributeType() {
	case typeBoolean:
		x, errA := normLeaf(attr, a)
		y, errB := normLeaf(attr, b)
		return errA == nil && errB == nil && x == y
	case typeInteger, typeDecimal:
		x, okA := toFloat(a)
		y, okB := toFloat(b)
		return okA && okB && x == y
	case typeDateTime:
		sa, okA := a.(string)
		sb, okB := b.(string)
		if !okA || !okB {
			return false
		}
		ta, errA := time.Parse(time.RFC3339Nano, sa)
		tb, errB := time.Parse(time.RFC3339Nano, sb)
		if errA == nil && errB == nil {
			return ta.Equal(tb)
		}
		return sa == sb
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if !okA || !okB {
		return reflect.DeepEqual(a, b)
	}
	if attr.CaseExact() {
		return sa == sb
	}
	return strings.EqualFold(sa, sb)
}

// equalSub compares values of a sub-attribute, which may be multi-valued.
func equalSub(sub schema.CoreAttribute, a, b any) bool {
	if !sub.MultiValued() {
		return equalLeaf(sub, a, b)
	}
	la, lb := asList(a), asList(b)
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if !equalLeaf(sub, la[i], lb[i]) {
			return false
		}
	}
	return true
}

// equalElement compares two elements (or two singular values) of attr. Complex
// values are equal when they assign the same sub-attributes to equal values;
// unknown keys are compared exactly.
func equalElement(attr schema.CoreAttribute, a, b any) bool {
	if attr.AttributeType() != typeComplex {
		return equalLeaf(attr, a, b)
	}
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if !okA || !okB {
		return reflect.DeepEqual(a, b)
	}
	return containsAll(attr, ma, mb) && containsAll(attr, mb, ma)
}

// containsAll reports whether every assigned entry of part is in whole with an
// equal value.
func containsAll(attr schema.CoreAttribute, whole, part map[string]any) bool {
	for k, v := range part {
		if !assigned(v) {
			continue
		}
		w, ok := lookup(whole, k)
		if !ok {
			return false
		}
		if sub, known := findSub(attr, k); known {
			if !equalSub(sub, w, v) {
				return false
			}
		} else if !reflect.DeepEqual(w, v) {
			return false
		}
	}
	return true
}

// equalValue compares two whole values of attr (lists in order).
func equalValue(attr schema.CoreAttribute, a, b any) bool {
	if !assigned(a) || !assigned(b) {
		return !assigned(a) && !assigned(b)
	}
	if !attr.MultiValued() {
		return equalElement(attr, a, b)
	}
	la, lb := asList(a), asList(b)
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if !equalElement(attr, la[i], lb[i]) {
			return false
		}
	}
	return true
}

// indexEqual returns the index of the first element of list equal to v, or -1.
func indexEqual(attr schema.CoreAttribute, list []any, v any) int {
	for i, x := range list {
		if equalElement(attr, x, v) {
			return i
		}
	}
	return -1
}
