package attributes

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// coreUserURN is the schema URN of the SCIM core User resource. A path prefixed
// with it addresses the top level of the resource.
const coreUserURN = "urn:ietf:params:scim:schemas:core:2.0:User"

// maxPathLen bounds the length of a SCIM path expression. Real paths are short;
// the bound keeps the parser's work small for pasted garbage.
const maxPathLen = 512

// ErrPathSyntax reports a SCIM attribute path that does not parse or uses a
// construct the evaluator does not support. It is wrapped with the path.
var ErrPathSyntax = errors.New("attributes: invalid SCIM attribute path")

// scimPath is a compiled SCIM attribute path (RFC 7644 section 3.5.2 PATCH path
// grammar: attrPath or valuePath with an optional sub-attribute), for example
// userName, name.givenName, emails[primary eq true].value,
// emails[type eq "work"].value, groups.display or
// urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department.
type scimPath struct {
	raw    string
	uri    string // schema URN prefix, "" for the core schema
	attr   string
	sub    string // sub-attribute after the attribute (name.givenName) or after the filter (emails[…].value)
	filter filter.Expression
}

// compileSCIMPath parses and checks a path. Every construct it accepts is one the
// evaluator supports, so a compiled path never fails at evaluation time.
func compileSCIMPath(raw string) (p scimPath, err error) {
	if strings.TrimSpace(raw) != raw || raw == "" {
		return scimPath{}, fmt.Errorf("%w %q: empty or surrounded by spaces", ErrPathSyntax, raw)
	}
	if len(raw) > maxPathLen {
		return scimPath{}, fmt.Errorf("%w: longer than %d bytes", ErrPathSyntax, maxPathLen)
	}
	// The parser is a third-party library fed with admin input; a panic in it must
	// not take the server down, so it becomes a syntax error.
	defer func() {
		if r := recover(); r != nil {
			p, err = scimPath{}, fmt.Errorf("%w %q: parser failure", ErrPathSyntax, raw)
		}
	}()
	parsed, perr := filter.ParsePathNumber([]byte(raw))
	if perr != nil {
		// The parser's message ("parse conflict [00:006]: expected …") names the
		// offset; keep it as text, the chain is ours.
		return scimPath{}, fmt.Errorf("%w %q: %v", ErrPathSyntax, raw, perr)
	}
	p = scimPath{raw: raw, attr: parsed.AttributePath.AttributeName, filter: parsed.ValueExpression}
	if parsed.AttributePath.URIPrefix != nil {
		p.uri = *parsed.AttributePath.URIPrefix
		if strings.EqualFold(p.uri, coreUserURN) {
			p.uri = ""
		}
	}
	switch {
	case parsed.AttributePath.SubAttribute != nil && parsed.SubAttribute != nil:
		return scimPath{}, fmt.Errorf("%w %q: two sub-attributes", ErrPathSyntax, raw)
	case parsed.AttributePath.SubAttribute != nil:
		p.sub = *parsed.AttributePath.SubAttribute
	case parsed.SubAttribute != nil:
		p.sub = *parsed.SubAttribute
	}
	if p.filter != nil {
		if err := checkFilter(p.filter); err != nil {
			return scimPath{}, fmt.Errorf("%w %q: %w", ErrPathSyntax, raw, err)
		}
	}
	return p, nil
}

// checkFilter rejects filter constructs the evaluator does not support: nested
// value paths (not allowed inside a value filter by RFC 7644) and URN-prefixed
// attributes inside a filter.
func checkFilter(e filter.Expression) error {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if e.AttributePath.URIPrefix != nil {
			return errors.New("schema URNs are not supported inside a filter")
		}
		switch e.Operator {
		case filter.PR, filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW,
			filter.GT, filter.GE, filter.LT, filter.LE:
		default:
			return fmt.Errorf("unknown operator %q", e.Operator)
		}
		return nil
	case *filter.LogicalExpression:
		if e.Operator != filter.AND && e.Operator != filter.OR {
			return fmt.Errorf("unknown logical operator %q", e.Operator)
		}
		if err := checkFilter(e.Left); err != nil {
			return err
		}
		return checkFilter(e.Right)
	case *filter.NotExpression:
		return checkFilter(e.Expression)
	default:
		return fmt.Errorf("unsupported filter expression %T", e)
	}
}

// String returns the path as written.
func (p scimPath) String() string { return p.raw }

// eval evaluates the path against a SCIM resource and returns the selected leaf
// values as strings, in document order. Rules:
//
//   - Attribute names and schema URNs match case-insensitively (RFC 7643 section
//     2.1); an exact match wins over a case-folded one.
//   - A URN-prefixed path looks inside the extension object named by the URN
//     (resource["urn:…:enterprise:2.0:User"]["department"]); if there is none, a
//     top-level key spelling the whole path is used (some clients store
//     extension attributes flat).
//   - A filter keeps the elements of a multi-valued attribute that match it; a
//     single complex value is treated as a list of one.
//   - A multi-valued attribute without a filter yields every element in order;
//     callers that need one value take the first ("first element fallback").
//   - A complex leaf (an object) yields its "value" sub-attribute, as RFC 7643
//     makes "value" the primary sub-attribute of multi-valued attributes.
//   - Booleans become "true"/"false", numbers their JSON text; null and empty
//     strings are skipped.
func (p scimPath) eval(resource map[string]any) []string {
	var base any
	if p.uri == "" {
		base, _ = lookupFold(resource, p.attr)
	} else {
		if ext, ok := lookupFold(resource, p.uri); ok {
			if m, ok := ext.(map[string]any); ok {
				base, _ = lookupFold(m, p.attr)
			}
		}
		if base == nil {
			base, _ = lookupFold(resource, p.uri+":"+p.attr)
		}
	}
	if base == nil {
		return nil
	}
	nodes := []any{base}
	if list, ok := base.([]any); ok {
		nodes = list
	}
	if p.filter != nil {
		kept := nodes[:0:0]
		for _, n := range nodes {
			if m, ok := n.(map[string]any); ok && matches(p.filter, m) {
				kept = append(kept, n)
			}
		}
		nodes = kept
	}
	var out []string
	for _, n := range nodes {
		if p.sub != "" {
			m, ok := n.(map[string]any)
			if !ok {
				continue
			}
			v, ok := lookupFold(m, p.sub)
			if !ok {
				continue
			}
			out = appendLeaf(out, v)
			continue
		}
		out = appendLeaf(out, n)
	}
	return out
}

// appendLeaf appends the string form of a leaf value. Lists are flattened one
// level (a sub-attribute may itself be multi-valued); objects yield "value".
func appendLeaf(out []string, v any) []string {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if _, nested := e.([]any); nested {
				continue
			}
			out = appendLeaf(out, e)
		}
		return out
	case map[string]any:
		if inner, ok := lookupFold(v, "value"); ok {
			if _, complex := inner.(map[string]any); !complex {
				return appendLeaf(out, inner)
			}
		}
		return out
	}
	if s, ok := scalarString(v); ok && s != "" {
		out = append(out, s)
	}
	return out
}

// scalarString renders a JSON scalar.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

// lookupFold finds key in m: exactly, else case-insensitively. When several keys
// fold to the same name the smallest one (byte order) wins, so the result does not
// depend on map iteration order.
func lookupFold(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	var found []string
	for k := range m {
		if strings.EqualFold(k, key) {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return nil, false
	}
	sort.Strings(found)
	return m[found[0]], true
}

// matches reports whether element e of a multi-valued attribute satisfies f.
// String comparisons are case-insensitive (the sub-attributes filters use in
// practice, type/value/display, are caseExact false in RFC 7643). A boolean
// compares equal to the strings "true"/"false" in any case, because some IdPs
// (Entra) send booleans as strings.
func matches(f filter.Expression, e map[string]any) bool {
	switch f := f.(type) {
	case *filter.AttributeExpression:
		return compare(f, e)
	case *filter.LogicalExpression:
		if f.Operator == filter.AND {
			return matches(f.Left, e) && matches(f.Right, e)
		}
		return matches(f.Left, e) || matches(f.Right, e)
	case *filter.NotExpression:
		return !matches(f.Expression, e)
	}
	return false
}

func compare(f *filter.AttributeExpression, e map[string]any) bool {
	v, ok := lookupFold(e, f.AttributePath.AttributeName)
	if ok && f.AttributePath.SubAttribute != nil {
		m, isMap := v.(map[string]any)
		if !isMap {
			return false
		}
		v, ok = lookupFold(m, *f.AttributePath.SubAttribute)
	}
	present := ok && v != nil
	if s, isStr := v.(string); isStr && s == "" {
		present = false
	}
	if f.Operator == filter.PR {
		return present
	}
	if !present {
		// RFC 7644: ne holds for an absent attribute; every other operator fails.
		return f.Operator == filter.NE
	}
	c, comparable := order(v, f.CompareValue)
	switch f.Operator {
	case filter.EQ:
		return comparable && c == 0
	case filter.NE:
		return !comparable || c != 0
	case filter.GT:
		return comparable && c > 0
	case filter.GE:
		return comparable && c >= 0
	case filter.LT:
		return comparable && c < 0
	case filter.LE:
		return comparable && c <= 0
	}
	// co, sw, ew: strings only.
	sv, ok1 := v.(string)
	cv, ok2 := f.CompareValue.(string)
	if !ok1 || !ok2 {
		return false
	}
	sv, cv = strings.ToLower(sv), strings.ToLower(cv)
	switch f.Operator {
	case filter.CO:
		return strings.Contains(sv, cv)
	case filter.SW:
		return strings.HasPrefix(sv, cv)
	case filter.EW:
		return strings.HasSuffix(sv, cv)
	}
	return false
}

// order compares an attribute value with a filter's compare value: -1, 0 or +1,
// and whether the two are comparable at all.
func order(v, want any) (int, bool) {
	switch w := want.(type) {
	case bool:
		switch v := v.(type) {
		case bool:
			return boolOrder(v, w), true
		case string:
			if b, err := strconv.ParseBool(strings.ToLower(v)); err == nil {
				return boolOrder(b, w), true
			}
		}
		return 0, false
	case string:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(strings.ToLower(s), strings.ToLower(w)), true
	case nil:
		return 0, false
	}
	wf, ok := number(want)
	if !ok {
		return 0, false
	}
	vf, ok := number(v)
	if !ok {
		return 0, false
	}
	switch {
	case vf < wf:
		return -1, true
	case vf > wf:
		return 1, true
	}
	return 0, true
}

func boolOrder(a, b bool) int {
	if a == b {
		return 0
	}
	if !a {
		return -1
	}
	return 1
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}
