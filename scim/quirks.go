package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/elimity-com/scim/schema"
	"github.com/onramp-dev/onramp/scim/patch"
)

// quirks rewrites the request shapes that real identity providers send and that
// elimity would reject, into the RFC shape that means the same. It rewrites only
// shapes seen in recorded or documented vendor traffic; each rewrite names its
// evidence. Shapes elimity already accepts are left alone (and the tests prove
// that they are accepted): capitalised PATCH ops ("Replace", elimity lower-cases
// op), explicit nulls in create bodies (treated as absent), the extra Microsoft
// schema URI on group create (elimity only requires the core URI to be present),
// Okta's read-only "id" inside a no-path PATCH value (elimity drops it) and
// Okta's "groups": [] and "password" on create (read-only, and dropped by the
// handler, respectively).
type quirks struct {
	user, enterprise schema.Schema
	// entNames are the enterprise extension's attribute names, lower case:
	// the only names a fix applies to besides string booleans.
	entNames [][]byte
	// Filters.
	bareValue   *regexp.Regexp
	subAfterVal *regexp.Regexp
}

func newQuirks(s resourceSchemas) *quirks {
	const op = `(?i:eq|ne|co|sw|ew|gt|ge|lt|le)`
	var entNames [][]byte
	for _, a := range s.enterprise.Attributes {
		entNames = append(entNames, []byte(strings.ToLower(a.Name())))
	}
	return &quirks{
		entNames:   entNames,
		user:       s.user,
		enterprise: s.enterprise,
		// `externalId eq jyoung`: Entra's documented user query (learn.microsoft.com,
		// "Tutorial: Develop and plan provisioning for a SCIM endpoint", Example 1)
		// sends the value without quotes, which is not RFC 7644 grammar.
		bareValue: regexp.MustCompile(`^\s*([A-Za-z][\w:.$-]*)\s+(` + op + `)\s+([^\s"()\[\]]+)\s*$`),
		// `emails[type eq "work"].value eq "x"`: Entra queries by its matching
		// attribute this way (same page, "/Users" requirements); RFC 7644 only has
		// `emails[type eq "work" and value eq "x"]`, which means the same.
		subAfterVal: regexp.MustCompile(`^\s*([A-Za-z][\w:.$-]*)\[([^\[\]]+)\]\.([A-Za-z][\w$-]*)\s+(` + op + `|(?i:pr))(\s+.*)?$`),
	}
}

// filter rewrites a SCIM filter query parameter; ok reports a change.
func (q *quirks) filter(f string) (string, bool) {
	if m := q.bareValue.FindStringSubmatch(f); m != nil {
		switch strings.ToLower(m[3]) {
		case "true", "false", "null":
			return f, false
		}
		quoted, _ := json.Marshal(m[3])
		return fmt.Sprintf("%s %s %s", m[1], m[2], quoted), true
	}
	if m := q.subAfterVal.FindStringSubmatch(f); m != nil {
		return fmt.Sprintf("%s[%s and %s %s%s]", m[1], m[2], m[3], m[4], strings.TrimRight(m[5], " ")), true
	}
	return f, false
}

// mayNeedFix reports whether body can hold a shape the user rewrites apply to:
// a JSON string that reads true or false (string booleans) or the name of an
// enterprise extension attribute (manager's shapes, unprefixed extension
// paths). Most pushes hold neither and skip decoding here; elimity decodes
// them anyway. A body with \u escapes is always decoded, since an escape can
// spell anything.
func (q *quirks) mayNeedFix(body []byte) bool {
	lower := bytes.ToLower(body)
	if bytes.Contains(lower, []byte(`\u`)) || quotedWord(lower, "true") || quotedWord(lower, "false") {
		return true
	}
	for _, name := range q.entNames {
		if bytes.Contains(lower, name) {
			return true
		}
	}
	return false
}

// quotedWord reports whether word occurs in b as the whole content of a JSON
// string, give or take spaces: "true", " true ".
func quotedWord(b []byte, word string) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(word))
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		l := bytes.TrimRight(b[:start], " \t\r\n")
		r := bytes.TrimLeft(b[end:], " \t\r\n")
		if len(l) > 0 && l[len(l)-1] == '"' && len(r) > 0 && r[0] == '"' {
			return true
		}
		i = end
	}
}

// userResource rewrites a User body for POST or PUT; ok reports a change.
func (q *quirks) userResource(body []byte) ([]byte, bool) {
	if !q.mayNeedFix(body) {
		return body, false
	}
	doc, ok := decodeObject(body)
	if !ok {
		return body, false
	}
	changed := false
	for k, v := range doc {
		if strings.EqualFold(k, q.enterprise.ID) {
			ext, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for ek, ev := range ext {
				if attr, ok := q.enterprise.Attributes.ContainsAttribute(ek); ok {
					if nv, c := fixValue(attr, ev, false); c {
						ext[ek], changed = nv, true
					}
				}
			}
			continue
		}
		if attr, ok := q.user.Attributes.ContainsAttribute(k); ok {
			if nv, c := fixValue(attr, v, false); c {
				doc[k], changed = nv, true
			}
		}
	}
	return encodeIfChanged(body, doc, changed)
}

// userPatch rewrites a PATCH request body for a User; ok reports a change.
func (q *quirks) userPatch(body []byte) ([]byte, bool) {
	if !q.mayNeedFix(body) {
		return body, false
	}
	doc, ok := decodeObject(body)
	if !ok {
		return body, false
	}
	opsKey := ""
	for k := range doc {
		if strings.EqualFold(k, "Operations") {
			opsKey = k
		}
	}
	ops, _ := doc[opsKey].([]any)
	changed := false
	for _, o := range ops {
		op, ok := o.(map[string]any)
		if !ok {
			continue
		}
		pathKey, valueKey := fieldKey(op, "path"), fieldKey(op, "value")
		path, _ := op[pathKey].(string)
		value, hasValue := op[valueKey]
		if path == "" {
			// No path: the value is a map of attribute paths (RFC 7644 section
			// 3.5.2.1/3.5.2.3); Okta and Entra both send this shape.
			m, ok := value.(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				if strings.EqualFold(k, q.enterprise.ID) {
					if ext, ok := v.(map[string]any); ok {
						for ek, ev := range ext {
							if attr, ok := q.enterprise.Attributes.ContainsAttribute(ek); ok {
								if nv, c := fixValue(attr, ev, false); c {
									ext[ek], changed = nv, true
								}
							}
						}
					}
					continue
				}
				nk, nv, c := q.fixPathValue(k, v)
				if c {
					delete(m, k)
					m[nk] = nv
					changed = true
				}
			}
			continue
		}
		np, nv, c := q.fixPathValue(path, value)
		if c {
			op[pathKey] = np
			if hasValue {
				op[valueKey] = nv
			}
			changed = true
		}
	}
	return encodeIfChanged(body, doc, changed)
}

// fixPathValue normalises one PATCH target: an unprefixed path to an attribute
// that only the enterprise extension has gets the extension's URN (Entra sends
// "path": "manager", documented in the tutorial's Example 5, which elimity
// resolves against the core schema only and refuses), and the value is fixed for
// the attribute's type.
func (q *quirks) fixPathValue(path string, value any) (string, any, bool) {
	pp, ok := splitPath(path)
	if !ok {
		return path, value, false
	}
	newPath, changed := path, false
	var s schema.Schema
	switch {
	case pp.uri == "":
		s = q.user
		if _, ok := q.user.Attributes.ContainsAttribute(pp.name); !ok {
			if _, ok := q.enterprise.Attributes.ContainsAttribute(pp.name); ok {
				s = q.enterprise
				newPath, changed = q.enterprise.ID+":"+path, true
			}
		}
	case strings.EqualFold(pp.uri, q.enterprise.ID):
		s = q.enterprise
	case strings.EqualFold(pp.uri, q.user.ID):
		s = q.user
	default:
		return path, value, false
	}
	attr, ok := s.Attributes.ContainsAttribute(pp.name)
	if !ok {
		return newPath, value, changed
	}
	element := false
	if pp.sub != "" {
		subAttr, ok := attr.SubAttributes().ContainsAttribute(pp.sub)
		if !ok {
			return newPath, value, changed
		}
		attr = subAttr
	} else if pp.filtered {
		element = true // emails[type eq "work"]: the value is one element
	}
	nv, c := fixValue(attr, value, element)
	return newPath, nv, changed || c
}

// pathParts is what fixPathValue needs of a PATCH path.
type pathParts struct {
	uri, name, sub string
	filtered       bool // it has a value filter: emails[type eq "work"]
}

// splitPath splits a PATCH path (patch.ParsePath: the common shapes without the
// RFC 7644 path parser, which costs tens of microseconds a path).
func splitPath(path string) (pathParts, bool) {
	p, err := patch.ParsePath(path)
	if err != nil {
		return pathParts{}, false
	}
	pp := pathParts{uri: p.AttributePath.URI(), name: p.AttributePath.AttributeName,
		sub: p.AttributePath.SubAttributeName(), filtered: p.ValueExpression != nil}
	if pp.sub == "" {
		pp.sub = p.SubAttributeName()
	}
	if pp.sub != "" {
		pp.filtered = false
	}
	return pp, true
}

// fixValue converts what vendors send for attr into the RFC type: Entra's string
// booleans ("True", "False") for boolean attributes (documented in "Known issues
// and resolutions with SCIM 2.0 protocol compliance", requests made to disable
// users), and Entra's manager sent as a bare ID string or as a one-element array
// (tutorial Example 5, and the issues listed in testdata/scim/entra/README.md)
// where RFC 7643 section 4.3 has a single complex value. element means v is one
// element of a multi-valued attribute.
func fixValue(attr schema.CoreAttribute, v any, element bool) (any, bool) {
	switch attr.AttributeType() {
	case "boolean":
		if s, ok := v.(string); ok {
			// Only spaces are trimmed: mayNeedFix lets a body through for a
			// quoted "true" or "false" with spaces around it, and a value
			// it does not let through must not be rewritten either (found
			// by FuzzQuirks: "\ttrue" was rewritten only when something
			// else in the body made it decode).
			switch strings.ToLower(strings.Trim(s, " ")) {
			case "true":
				return true, true
			case "false":
				return false, true
			}
		}
		return v, false
	case "complex":
	default:
		return v, false
	}
	if strings.EqualFold(attr.Name(), "manager") && !attr.MultiValued() {
		switch mv := v.(type) {
		case string:
			return map[string]any{"value": mv}, true
		case []any:
			if len(mv) == 1 {
				if m, ok := mv[0].(map[string]any); ok {
					fixed, _ := fixComplex(attr, m)
					return fixed, true
				}
			}
		}
	}
	if attr.MultiValued() && !element {
		list, ok := v.([]any)
		if !ok {
			if m, ok := v.(map[string]any); ok {
				return fixComplex(attr, m)
			}
			return v, false
		}
		changed := false
		for i, e := range list {
			if m, ok := e.(map[string]any); ok {
				if nm, c := fixComplex(attr, m); c {
					list[i], changed = nm, true
				}
			}
		}
		return list, changed
	}
	if m, ok := v.(map[string]any); ok {
		return fixComplex(attr, m)
	}
	return v, false
}

func fixComplex(attr schema.CoreAttribute, m map[string]any) (map[string]any, bool) {
	changed := false
	for k, v := range m {
		sub, ok := attr.SubAttributes().ContainsAttribute(k)
		if !ok {
			continue
		}
		if nv, c := fixValue(sub, v, false); c {
			m[k], changed = nv, true
		}
	}
	return m, changed
}

// fieldKey returns the key of m that equals name case-insensitively (elimity
// decodes PATCH operations case-insensitively too), or name.
func fieldKey(m map[string]any, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func decodeObject(body []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, false // elimity reports the syntax error
	}
	return doc, true
}

func encodeIfChanged(body []byte, doc map[string]any, changed bool) ([]byte, bool) {
	if !changed {
		return body, false
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body, false
	}
	return out, true
}
