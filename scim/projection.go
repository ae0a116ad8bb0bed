package scim

import (
	"net/url"
	"strings"
)

// projection is the "attributes" / "excludedAttributes" request (RFC 7644
// section 3.4.2.5, also on POST, PUT and PATCH responses per section 3.9).
// elimity ignores both parameters, so the handlers apply them to the attribute
// map they return; elimity then adds id, schemas and meta, which are "returned:
// always" and cannot be excluded.
type projection struct {
	include bool // attributes= given: return only these; else exclude these
	paths   []attrRef
}

// attrRef is one requested attribute: ext is the extension URN ("" for the
// core schema), name and sub are lower case; name "" selects the whole extension.
type attrRef struct {
	ext, name, sub string
}

func parseProjection(q url.Values, coreURI string, extURIs ...string) projection {
	var p projection
	raw := q["attributes"]
	if len(raw) > 0 && strings.TrimSpace(strings.Join(raw, "")) != "" {
		p.include = true
	} else {
		raw = q["excludedAttributes"]
	}
	for _, list := range raw {
		for _, item := range strings.Split(list, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			p.paths = append(p.paths, parseAttrRef(item, coreURI, extURIs))
		}
	}
	return p
}

func parseAttrRef(item, coreURI string, extURIs []string) attrRef {
	lower := strings.ToLower(item)
	var ref attrRef
	if strings.HasPrefix(lower, strings.ToLower(coreURI)+":") {
		lower = lower[len(coreURI)+1:]
	} else {
		for _, ext := range extURIs {
			le := strings.ToLower(ext)
			if lower == le {
				return attrRef{ext: ext}
			}
			if strings.HasPrefix(lower, le+":") {
				ref.ext = ext
				lower = lower[len(ext)+1:]
				break
			}
		}
	}
	ref.name, ref.sub, _ = strings.Cut(lower, ".")
	return ref
}

// empty reports whether the request asked for nothing special.
func (p projection) empty() bool { return len(p.paths) == 0 }

// wants reports whether the core attribute name (any case) will be returned, so
// that a handler can skip loading it (a group's members).
func (p projection) wants(name string) bool {
	name = strings.ToLower(name)
	for _, r := range p.paths {
		if r.ext == "" && r.name == name {
			return p.include || r.sub != ""
		}
	}
	return !p.include
}

// apply returns the projected copy of attrs (top-level keys as the handlers
// build them: core attribute names, and extension URNs holding maps).
func (p projection) apply(attrs map[string]any) map[string]any {
	if p.empty() {
		return attrs
	}
	if p.include {
		out := map[string]any{}
		for _, r := range p.paths {
			p.copyRef(out, attrs, r)
		}
		return out
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	for _, r := range p.paths {
		removeRef(out, r)
	}
	return out
}

func (p projection) copyRef(out, attrs map[string]any, r attrRef) {
	src, dst := attrs, out
	if r.ext != "" {
		extKey, ok := findKey(attrs, r.ext)
		if !ok {
			return
		}
		if r.name == "" {
			out[extKey] = attrs[extKey]
			return
		}
		m, ok := attrs[extKey].(map[string]any)
		if !ok {
			return
		}
		src = m
		d, ok := out[extKey].(map[string]any)
		if !ok {
			d = map[string]any{}
			out[extKey] = d
		}
		dst = d
	}
	key, ok := findKey(src, r.name)
	if !ok {
		return
	}
	if r.sub == "" {
		dst[key] = src[key]
		return
	}
	switch v := src[key].(type) {
	case map[string]any:
		sk, ok := findKey(v, r.sub)
		if !ok {
			return
		}
		d, ok := dst[key].(map[string]any)
		if !ok {
			d = map[string]any{}
			dst[key] = d
		}
		d[sk] = v[sk]
	case []any:
		prev, _ := dst[key].([]any)
		list := make([]any, len(v))
		for i, e := range v {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			d := map[string]any{}
			if i < len(prev) {
				if pm, ok := prev[i].(map[string]any); ok {
					d = pm
				}
			}
			if sk, ok := findKey(em, r.sub); ok {
				d[sk] = em[sk]
			}
			list[i] = d
		}
		dst[key] = list
	}
}

func removeRef(out map[string]any, r attrRef) {
	target := out
	if r.ext != "" {
		extKey, ok := findKey(out, r.ext)
		if !ok {
			return
		}
		if r.name == "" {
			delete(out, extKey)
			return
		}
		m, ok := out[extKey].(map[string]any)
		if !ok {
			return
		}
		cp := make(map[string]any, len(m))
		for k, v := range m {
			cp[k] = v
		}
		out[extKey] = cp
		target = cp
	}
	key, ok := findKey(target, r.name)
	if !ok {
		return
	}
	if r.sub == "" {
		delete(target, key)
		return
	}
	switch v := target[key].(type) {
	case map[string]any:
		cp := make(map[string]any, len(v))
		for k, e := range v {
			if !strings.EqualFold(k, r.sub) {
				cp[k] = e
			}
		}
		target[key] = cp
	case []any:
		list := make([]any, len(v))
		for i, e := range v {
			em, ok := e.(map[string]any)
			if !ok {
				list[i] = e
				continue
			}
			cp := make(map[string]any, len(em))
			for k, x := range em {
				if !strings.EqualFold(k, r.sub) {
					cp[k] = x
				}
			}
			list[i] = cp
		}
		target[key] = list
	}
}

// findKey returns the key of m equal to name case-insensitively.
func findKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}
