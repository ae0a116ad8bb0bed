package patch

import (
	"maps"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// Operation names, lower-cased as elimity hands them over.
const (
	opAdd     = scim.PatchOperationAdd
	opReplace = scim.PatchOperationReplace
	opRemove  = scim.PatchOperationRemove
)

// Apply applies ops, in order, to a copy of doc, a SCIM resource of schema s
// with extensions exts as the client sent it (without id and meta), and
// returns the new document. On error it returns nil and an *Error; doc is
// never modified, and nothing of a failed request is applied. See the package
// documentation for the semantics.
func Apply(doc map[string]any, ops []scim.PatchOperation, s schema.Schema, exts ...schema.Schema) (map[string]any, error) {
	return New(s, exts...).Apply(doc, ops)
}

// Patcher applies PATCH operations to resources of one schema. Building it
// costs more than most patches (elimity's common attributes compile regular
// expressions), so a server builds one per resource type and reuses it; it is
// immutable and safe for concurrent use.
type Patcher struct{ r *resolver }

// New returns a Patcher for resources of schema s with extensions exts.
func New(s schema.Schema, exts ...schema.Schema) *Patcher {
	return &Patcher{r: newResolver(s, exts)}
}

// Apply is the package-level Apply with the Patcher's schemas.
func (pt *Patcher) Apply(doc map[string]any, ops []scim.PatchOperation) (map[string]any, error) {
	r := pt.r
	out, _ := deepCopy(doc).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	had := r.extPresence(out)
	for i, op := range ops {
		if err := r.apply(out, i, op); err != nil {
			return nil, err
		}
	}
	r.syncSchemas(out, had)
	return out, nil
}

// resolver knows the schemas of one resource type and applies operations to
// documents of that type.
type resolver struct {
	main  schema.Schema
	attrs []schema.CoreAttribute // main's attributes plus the common ones
	exts  []schema.Schema
}

func newResolver(s schema.Schema, exts []schema.Schema) *resolver {
	attrs := slices.Clone(s.Attributes)
	// id, externalId and meta (RFC 7643 section 3.1) belong to every resource;
	// elimity adds externalId to the schema it validates PATCH against.
	for _, common := range schema.CommonAttributes() {
		if _, ok := findAttr(attrs, common.Name()); !ok {
			attrs = append(attrs, common)
		}
	}
	return &resolver{main: s, attrs: attrs, exts: exts}
}

func findAttr(attrs []schema.CoreAttribute, name string) (schema.CoreAttribute, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name(), name) {
			return a, true
		}
	}
	return schema.CoreAttribute{}, false
}

func (r *resolver) extByURN(urn string) *schema.Schema {
	for i := range r.exts {
		if strings.EqualFold(r.exts[i].ID, urn) {
			return &r.exts[i]
		}
	}
	return nil
}

// target is what a path resolves to.
type target struct {
	ext    *schema.Schema // the extension holding attr; nil for the core schema
	attr   schema.CoreAttribute
	sub    *schema.CoreAttribute // the sub-attribute, if the path names one
	filter filter.Expression     // the value filter, if any
	where  opRef
}

func (t target) readOnly() bool {
	return t.attr.Mutability() == mutReadOnly || (t.sub != nil && t.sub.Mutability() == mutReadOnly)
}

// resolve finds the attribute a path names. within, when set, is the
// extension whose container a path-less value's key sits in.
func (r *resolver) resolve(p filter.Path, within *schema.Schema, ref opRef) (target, error) {
	ap := p.AttributePath
	t := target{filter: p.ValueExpression, where: ref}
	attrs := r.attrs
	switch uri := ap.URI(); {
	case uri != "":
		if !strings.EqualFold(uri, r.main.ID) {
			if t.ext = r.extByURN(uri); t.ext == nil {
				return target{}, ref.errorf(ScimTypeInvalidPath, "unknown schema URI")
			}
			attrs = t.ext.Attributes
		}
	case within != nil:
		t.ext = within
		attrs = within.Attributes
	}
	attr, ok := findAttr(attrs, ap.AttributeName)
	if !ok && ap.URI() == "" && within == nil {
		// An extension attribute named without its URN: accepted when exactly
		// one extension defines it.
		for i := range r.exts {
			a, found := findAttr(r.exts[i].Attributes, ap.AttributeName)
			if !found {
				continue
			}
			if ok {
				return target{}, ref.errorf(ScimTypeInvalidPath, "attribute is defined by several extensions; prefix it with the schema URI")
			}
			attr, ok, t.ext = a, true, &r.exts[i]
		}
	}
	if !ok {
		return target{}, ref.errorf(ScimTypeInvalidPath, "no such attribute")
	}
	t.attr = attr

	var subName string
	switch {
	case ap.SubAttribute != nil && (p.ValueExpression != nil || p.SubAttribute != nil):
		return target{}, ref.errorf(ScimTypeInvalidPath, "a value filter must follow the attribute, not a sub-attribute")
	case ap.SubAttribute != nil:
		subName = *ap.SubAttribute
	case p.SubAttribute != nil:
		subName = *p.SubAttribute
	}
	if subName != "" {
		sub, found := findSub(attr, subName)
		if !found {
			return target{}, ref.errorf(ScimTypeInvalidPath, "no such sub-attribute")
		}
		t.sub = &sub
	}
	if t.filter != nil {
		if !attr.MultiValued() {
			return target{}, ref.errorf(ScimTypeInvalidPath, "a value filter applies only to a multi-valued attribute")
		}
		// Check the filter's shape once, before any element is looked at.
		if _, err := matchFilter(attr, nil, t.filter); err != nil {
			return target{}, ref.errorf(ScimTypeInvalidPath, "%s", err.Error())
		}
	}
	return t, nil
}

func (r *resolver) apply(doc map[string]any, index int, op scim.PatchOperation) error {
	kind := strings.ToLower(strings.TrimSpace(op.Op))
	ref := opRef{index: index}
	if op.Path != nil {
		ref.path = op.Path.String()
	}
	switch kind {
	case opAdd, opReplace, opRemove:
	default:
		return ref.errorf(ScimTypeInvalidValue, "op must be add, replace or remove")
	}
	if op.Path == nil {
		if kind == opRemove {
			return ref.errorf(ScimTypeNoTarget, "remove requires a path")
		}
		return r.applyAttributes(doc, kind, index, op.Value)
	}
	t, err := r.resolve(*op.Path, nil, ref)
	if err != nil {
		return err
	}
	if kind == opRemove {
		return r.remove(doc, t, op.Value)
	}
	return r.update(doc, t, kind, op.Value)
}

// applyAttributes applies a path-less add or replace: each key of the value is
// an attribute path (Entra sends "name.givenName" and URN-prefixed keys), or an
// extension's URN whose object holds that extension's attributes.
func (r *resolver) applyAttributes(doc map[string]any, kind string, index int, value any) error {
	m, ok := value.(map[string]any)
	if !ok {
		return opRef{index: index}.errorf(ScimTypeInvalidValue, "without a path, the value must be an object of attributes")
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ref := opRef{index: index, path: k}
		if strings.EqualFold(k, commonID) {
			// Okta sends the group's id along with a rename; elimity drops it too.
			continue
		}
		if ext := r.extByURN(k); ext != nil {
			inner, isMap := m[k].(map[string]any)
			if !isMap {
				return ref.errorf(ScimTypeInvalidValue, "the value of a schema URI must be an object of attributes")
			}
			for _, ik := range slices.Sorted(maps.Keys(inner)) {
				if err := r.updateKey(doc, kind, opRef{index: index, path: k + ":" + ik}, ik, ext, inner[ik]); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.updateKey(doc, kind, ref, k, nil, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) updateKey(doc map[string]any, kind string, ref opRef, key string, within *schema.Schema, value any) error {
	p, err := ParsePath(key)
	if err != nil {
		return ref.errorf(ScimTypeInvalidPath, "not an attribute path")
	}
	t, err := r.resolve(p, within, ref)
	if err != nil {
		return err
	}
	return r.update(doc, t, kind, value)
}

// container returns the object holding t's attribute: the document itself or
// the extension's object, created when create is set. It returns nil when the
// extension object is absent and create is not set.
func (r *resolver) container(doc map[string]any, t target, create bool) map[string]any {
	if t.ext == nil {
		return doc
	}
	v, ok := lookup(doc, t.ext.ID)
	if m, isMap := v.(map[string]any); ok && isMap {
		if create {
			store(doc, t.ext.ID, m)
		}
		return m
	}
	if !create {
		return nil
	}
	m := map[string]any{}
	store(doc, t.ext.ID, m)
	return m
}

// update applies an add or replace to the target.
func (r *resolver) update(doc map[string]any, t target, kind string, raw any) error {
	if t.readOnly() {
		return t.where.errorf(ScimTypeMutability, "attribute is readOnly")
	}
	c := r.container(doc, t, true)
	before, _ := lookup(c, t.attr.Name())
	var (
		after any
		err   error
	)
	switch {
	case !t.attr.MultiValued() && t.sub == nil:
		after, err = t.setSingular(before, raw)
	case !t.attr.MultiValued():
		after, err = t.setSingularSub(before, raw)
	case t.filter == nil && t.sub == nil:
		after, err = t.setMulti(kind, before, raw)
	default:
		after, err = t.setSelected(kind, before, raw)
	}
	if err != nil {
		return err
	}
	return r.commit(doc, c, t, before, after)
}

// commit checks the attribute-level rules of RFC 7644 section 3.5.2 on the
// attribute's old and new value, then stores the new value under the
// canonical name, or deletes the attribute when the new value is unassigned.
func (r *resolver) commit(doc, c map[string]any, t target, before, after any) error {
	if t.attr.Required() && assigned(before) && !assigned(after) {
		return t.where.errorf(ScimTypeMutability, "required attribute cannot be removed")
	}
	if t.attr.Mutability() == mutImmutable && assigned(before) && !equalValue(t.attr, before, after) {
		return t.where.errorf(ScimTypeMutability, "attribute is immutable")
	}
	if assigned(after) {
		store(c, t.attr.Name(), after)
	} else {
		unset(c, t.attr.Name())
	}
	if t.ext != nil && len(c) == 0 {
		unset(doc, t.ext.ID)
	}
	return nil
}

func (t target) badValue(err error) error {
	return t.where.errorf(ScimTypeInvalidValue, "%s", err.Error())
}

// checkSubs enforces immutable and required sub-attributes between an old and
// a new complex value.
func (t target) checkSubs(before any, after map[string]any) error {
	old, _ := before.(map[string]any)
	for _, sub := range t.attr.SubAttributes() {
		ov, _ := lookup(old, sub.Name())
		if !assigned(ov) {
			continue
		}
		nv := after[sub.Name()]
		if sub.Mutability() == mutImmutable && !equalSub(sub, ov, nv) {
			return t.where.errorf(ScimTypeMutability, "sub-attribute %s is immutable", sub.Name())
		}
		if sub.Required() && !assigned(nv) {
			return t.where.errorf(ScimTypeMutability, "required sub-attribute %s cannot be removed", sub.Name())
		}
	}
	return nil
}

// dropStale deletes the readOnly sub-attributes of next when its "value"
// differs from old's: they describe what "value" refers to (the enterprise
// manager's displayName) and are stale once it changes.
func (t target) dropStale(old any, next map[string]any) {
	vsub, ok := findSub(t.attr, subValue)
	if !ok {
		return
	}
	om, _ := old.(map[string]any)
	ov, _ := lookup(om, vsub.Name())
	if equalSub(vsub, ov, next[vsub.Name()]) {
		return
	}
	for _, sub := range t.attr.SubAttributes() {
		if sub.Mutability() == mutReadOnly {
			unset(next, sub.Name())
		}
	}
}

// setSingular: add or replace on a single-valued attribute. For a complex
// attribute the given sub-attributes are merged into the current value (RFC
// 7644 sections 3.5.2.1 and 3.5.2.3: "sub-attributes that are not specified
// in the value parameter are left unchanged").
func (t target) setSingular(before, raw any) (any, error) {
	if t.attr.AttributeType() != typeComplex {
		v, err := normLeaf(t.attr, raw)
		if err != nil {
			return nil, t.badValue(err)
		}
		return v, nil
	}
	nv, ok, err := normComplex(t.attr, raw)
	if err != nil {
		return nil, t.badValue(err)
	}
	if !ok {
		return nil, nil
	}
	merged := readComplex(t.attr, before)
	for k, x := range nv {
		if x == nil {
			delete(merged, k)
		} else {
			merged[k] = x
		}
	}
	t.dropStale(before, merged)
	if err := t.checkSubs(before, merged); err != nil {
		return nil, err
	}
	return merged, nil
}

// setSingularSub: add or replace on a sub-attribute of a single-valued complex
// attribute, such as name.givenName.
func (t target) setSingularSub(before, raw any) (any, error) {
	v, err := normSub(*t.sub, raw)
	if err != nil {
		return nil, t.badValue(err)
	}
	parent := readComplex(t.attr, before)
	if v == nil {
		delete(parent, t.sub.Name())
	} else {
		parent[t.sub.Name()] = v
	}
	t.dropStale(before, parent)
	if err := t.checkSubs(before, parent); err != nil {
		return nil, err
	}
	return parent, nil
}

// setMulti: add or replace on a whole multi-valued attribute. Add appends the
// elements not already present; replace replaces the list.
func (t target) setMulti(kind string, before, raw any) (any, error) {
	vals, err := normMulti(t.attr, raw)
	if err != nil {
		return nil, t.badValue(err)
	}
	if kind == opReplace {
		touched := make([]int, len(vals))
		for i := range touched {
			touched[i] = i
		}
		if err := t.demotePrimaries(vals, touched); err != nil {
			return nil, err
		}
		return vals, nil
	}
	list := readMulti(t.attr, before)
	var touched []int
	for _, v := range vals {
		if i := indexEqual(t.attr, list, v); i >= 0 {
			touched = append(touched, i)
			continue
		}
		list = append(list, v)
		touched = append(touched, len(list)-1)
	}
	if err := t.demotePrimaries(list, touched); err != nil {
		return nil, err
	}
	return list, nil
}

// selectElems returns the indexes of the elements the target's value filter
// matches; all of them when there is no filter (a path such as emails.value).
func (t target) selectElems(list []any) ([]int, error) {
	var out []int
	for i, x := range list {
		ok := true
		if t.filter != nil {
			var err error
			if ok, err = matchFilter(t.attr, x, t.filter); err != nil {
				return nil, t.where.errorf(ScimTypeInvalidPath, "%s", err.Error())
			}
		}
		if ok {
			out = append(out, i)
		}
	}
	return out, nil
}

// unwrapOne returns the single element a filtered path without sub-attribute
// takes; elimity passes it bare, a list of one is accepted too.
func (t target) unwrapOne(raw any) (any, error) {
	l, isList := raw.([]any)
	if !isList {
		return raw, nil
	}
	switch len(l) {
	case 0:
		return nil, nil
	case 1:
		return l[0], nil
	}
	return nil, t.where.errorf(ScimTypeInvalidValue, "a value filter selects elements; give one element as the value")
}

// dropsElement reports whether unassigning sub-attribute name removes the
// whole element: an element of an attribute with a "value" sub-attribute
// means nothing without its value (emails[type eq "work"].value set to "").
func (t target) dropsElement(name string) bool {
	_, hasValue := findSub(t.attr, subValue)
	return hasValue && strings.EqualFold(name, subValue)
}

// setSelected: add or replace on the elements a value filter selects (or all
// elements, for a sub-attribute path without filter).
func (t target) setSelected(kind string, before, raw any) (any, error) {
	list := readMulti(t.attr, before)
	matched, err := t.selectElems(list)
	if err != nil {
		return nil, err
	}
	var touched []int
	switch {
	case t.sub != nil:
		touched, list, err = t.setSelectedSub(list, matched, raw)
	case t.attr.AttributeType() == typeComplex:
		touched, list, err = t.setSelectedComplex(kind, list, matched, raw)
	default:
		touched, list, err = t.setSelectedSimple(kind, list, matched, raw)
	}
	if err != nil {
		return nil, err
	}
	if err := t.demotePrimaries(list, touched); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(x any) bool { return !assigned(x) }), nil
}

// setSelectedSub sets a sub-attribute on the selected elements. When none is
// selected and the filter is made of "eq" comparisons, it adds an element that
// carries them and the value: Entra sends `emails[type eq "work"].value` for a
// user that has no work email yet, with add and with replace.
func (t target) setSelectedSub(list []any, matched []int, raw any) ([]int, []any, error) {
	v, err := normSub(*t.sub, raw)
	if err != nil {
		return nil, nil, t.badValue(err)
	}
	name := t.sub.Name()
	if len(matched) == 0 {
		if v == nil {
			return nil, list, nil
		}
		elem, ok := equalities(t.attr, t.filter)
		if !ok {
			return nil, nil, t.where.errorf(ScimTypeNoTarget, "no element matches the value filter")
		}
		elem[name] = v
		return []int{len(list)}, append(list, elem), nil
	}
	for _, i := range matched {
		m, isMap := list[i].(map[string]any)
		if !isMap {
			m = map[string]any{}
		}
		old := readComplex(t.attr, m)
		if v == nil {
			if t.dropsElement(name) {
				list[i] = nil
				continue
			}
			delete(m, name)
		} else {
			m[name] = v
		}
		t.dropStale(old, m)
		if err := t.checkSubs(old, m); err != nil {
			return nil, nil, err
		}
		list[i] = m
	}
	return matched, list, nil
}

// setSelectedComplex merges (add) the value into, or replaces (replace) with
// it, the selected elements. When none is selected, add builds a new element
// from the filter's "eq" comparisons and the value; replace fails with
// noTarget (RFC 7644 section 3.5.2.3).
func (t target) setSelectedComplex(kind string, list []any, matched []int, raw any) ([]int, []any, error) {
	one, err := t.unwrapOne(raw)
	if err != nil {
		return nil, nil, err
	}
	nv, ok, err := normComplex(t.attr, one)
	if err != nil {
		return nil, nil, t.badValue(err)
	}
	if !ok { // null or "": remove the selected elements
		for _, i := range matched {
			list[i] = nil
		}
		return nil, list, nil
	}
	if len(matched) == 0 {
		elem, derivable := equalities(t.attr, t.filter)
		if kind == opReplace || !derivable {
			return nil, nil, t.where.errorf(ScimTypeNoTarget, "no element matches the value filter")
		}
		for k, x := range nv {
			if x == nil {
				delete(elem, k)
			} else {
				elem[k] = x
			}
		}
		if !assigned(elem) {
			return nil, list, nil
		}
		return []int{len(list)}, append(list, elem), nil
	}
	for _, i := range matched {
		var next map[string]any
		if kind == opAdd {
			next = readComplex(t.attr, list[i])
			for k, x := range nv {
				if x == nil {
					delete(next, k)
				} else {
					next[k] = x
				}
			}
			t.dropStale(list[i], next)
		} else {
			next = compact(nv)
		}
		if err := t.checkSubs(list[i], next); err != nil {
			return nil, nil, err
		}
		if assigned(next) {
			list[i] = next
		} else {
			list[i] = nil
		}
	}
	return matched, list, nil
}

// setSelectedSimple is setSelectedComplex for a multi-valued attribute of
// simple values, whose filter compares "value".
func (t target) setSelectedSimple(kind string, list []any, matched []int, raw any) ([]int, []any, error) {
	one, err := t.unwrapOne(raw)
	if err != nil {
		return nil, nil, err
	}
	v, err := normLeaf(t.attr, one)
	if err != nil {
		return nil, nil, t.badValue(err)
	}
	if len(matched) == 0 {
		if v == nil {
			return nil, list, nil
		}
		if kind == opReplace {
			return nil, nil, t.where.errorf(ScimTypeNoTarget, "no element matches the value filter")
		}
		if indexEqual(t.attr, list, v) >= 0 {
			return nil, list, nil
		}
		return nil, append(list, v), nil
	}
	for _, i := range matched {
		list[i] = v
	}
	return nil, list, nil
}

// demotePrimaries enforces RFC 7644 section 3.5.2: an operation that sets
// "primary" to true on an element sets it to false on the others. An
// operation that marks two elements primary is refused (RFC 7643 section 2.4).
func (t target) demotePrimaries(list []any, touched []int) error {
	psub, ok := findSub(t.attr, subPrimary)
	if !ok || psub.AttributeType() != typeBoolean {
		return nil
	}
	isPrimary := func(x any) bool {
		m, isMap := x.(map[string]any)
		if !isMap {
			return false
		}
		v, _ := lookup(m, psub.Name())
		b, err := normLeaf(psub, v)
		return err == nil && b == true
	}
	chosen := map[int]bool{}
	for _, i := range touched {
		if i < len(list) && isPrimary(list[i]) {
			chosen[i] = true
		}
	}
	switch {
	case len(chosen) > 1:
		return t.where.errorf(ScimTypeInvalidValue, "more than one element is marked primary")
	case len(chosen) == 0:
		return nil
	}
	for i, x := range list {
		if !chosen[i] && isPrimary(x) {
			m := x.(map[string]any)
			unset(m, psub.Name())
			m[psub.Name()] = false
		}
	}
	return nil
}

// remove applies a remove operation (RFC 7644 section 3.5.2.2). Removing
// something absent is not an error.
func (r *resolver) remove(doc map[string]any, t target, raw any) error {
	if t.readOnly() {
		return t.where.errorf(ScimTypeMutability, "attribute is readOnly")
	}
	c := r.container(doc, t, false)
	if c == nil {
		return nil
	}
	before, present := lookup(c, t.attr.Name())
	if !present {
		return nil
	}
	var (
		after any
		err   error
	)
	switch {
	case !t.attr.MultiValued() && t.sub == nil:
		after = nil
	case !t.attr.MultiValued():
		after, err = t.removeSingularSub(before, raw)
	case t.filter == nil && t.sub == nil:
		after, err = t.removeValues(before, raw)
	default:
		after, err = t.removeSelected(before, raw)
	}
	if err != nil {
		return err
	}
	return r.commit(doc, c, t, before, after)
}

func (t target) removeSingularSub(before, raw any) (any, error) {
	parent := readComplex(t.attr, before)
	if raw != nil {
		v, err := normSub(*t.sub, raw)
		if err != nil {
			return nil, t.badValue(err)
		}
		if !equalSub(*t.sub, parent[t.sub.Name()], v) {
			return before, nil // only that value was to be removed
		}
	}
	delete(parent, t.sub.Name())
	t.dropStale(before, parent)
	if err := t.checkSubs(before, parent); err != nil {
		return nil, err
	}
	return parent, nil
}

// removeValues removes a whole multi-valued attribute or, when a value is
// given, the elements that match it: Entra (without aadOptscim062020) removes
// group members with {"op":"Remove","path":"members","value":[{"value":"id"}]}.
func (t target) removeValues(before, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	vals, err := normMulti(t.attr, raw)
	if err != nil {
		return nil, t.badValue(err)
	}
	list := readMulti(t.attr, before)
	return slices.DeleteFunc(list, func(x any) bool { return t.matchesAny(x, vals) }), nil
}

// matchesAny reports whether elem matches one of vals: for complex elements,
// every sub-attribute a value gives is equal in elem.
func (t target) matchesAny(elem any, vals []any) bool {
	for _, v := range vals {
		if t.attr.AttributeType() != typeComplex {
			if equalLeaf(t.attr, elem, v) {
				return true
			}
			continue
		}
		em, okE := elem.(map[string]any)
		vm, okV := v.(map[string]any)
		if okE && okV && containsAll(t.attr, em, vm) {
			return true
		}
	}
	return false
}

// removeSelected removes the selected elements, or a sub-attribute of them.
func (t target) removeSelected(before, raw any) (any, error) {
	list := readMulti(t.attr, before)
	matched, err := t.selectElems(list)
	if err != nil {
		return nil, err
	}
	if t.sub == nil {
		var vals []any
		if raw != nil {
			if vals, err = normMulti(t.attr, raw); err != nil {
				return nil, t.badValue(err)
			}
		}
		for _, i := range matched {
			if raw == nil || t.matchesAny(list[i], vals) {
				list[i] = nil
			}
		}
		return slices.DeleteFunc(list, func(x any) bool { return x == nil }), nil
	}
	var only any
	if raw != nil {
		if only, err = normSub(*t.sub, raw); err != nil {
			return nil, t.badValue(err)
		}
	}
	name := t.sub.Name()
	for _, i := range matched {
		m, isMap := list[i].(map[string]any)
		if !isMap {
			continue
		}
		cur, has := m[name]
		if !has || (raw != nil && !equalSub(*t.sub, cur, only)) {
			continue
		}
		if t.dropsElement(name) {
			list[i] = nil
			continue
		}
		old := readComplex(t.attr, m)
		delete(m, name)
		if err := t.checkSubs(old, m); err != nil {
			return nil, err
		}
		if !assigned(m) {
			list[i] = nil
		}
	}
	return slices.DeleteFunc(list, func(x any) bool { return x == nil }), nil
}

// extPresence records which extensions have an object in doc.
func (r *resolver) extPresence(doc map[string]any) map[string]bool {
	out := make(map[string]bool, len(r.exts))
	for _, e := range r.exts {
		v, _ := lookup(doc, e.ID)
		m, _ := v.(map[string]any)
		out[e.ID] = len(m) > 0
	}
	return out
}

// syncSchemas keeps a stored "schemas" list in step with the extension objects
// the operations created or emptied (RFC 7643 section 3).
func (r *resolver) syncSchemas(doc map[string]any, had map[string]bool) {
	raw, ok := lookup(doc, schemasKey)
	if !ok {
		return
	}
	list, isList := deepCopy(raw).([]any)
	if !isList {
		return
	}
	now := r.extPresence(doc)
	changed := false
	for _, e := range r.exts {
		i := slices.IndexFunc(list, func(x any) bool {
			s, isStr := x.(string)
			return isStr && strings.EqualFold(s, e.ID)
		})
		switch {
		case now[e.ID] && !had[e.ID] && i < 0:
			list = append(list, e.ID)
			changed = true
		case !now[e.ID] && had[e.ID] && i >= 0:
			list = slices.Delete(list, i, i+1)
			changed = true
		}
	}
	if changed {
		store(doc, schemasKey, list)
	}
}

// ParsePath parses an attribute path as filter.ParsePath does. The shapes
// clients send most ("active", "name.givenName") are split by hand, since the
// parser costs tens of microseconds a path; everything else goes to the parser.
func ParsePath(path string) (filter.Path, error) {
	name, sub, dotted := strings.Cut(path, ".")
	if isAttrName(name) && (!dotted || isAttrName(sub)) {
		p := filter.Path{AttributePath: filter.AttributePath{AttributeName: name}}
		if dotted {
			p.AttributePath.SubAttribute = &sub
		}
		return p, nil
	}
	return filter.ParsePath([]byte(path))
}

// isAttrName reports whether s is an attribute name as the path parser reads
// it: an optional "$" (for $ref), then ALPHA *("-" / "_" / DIGIT / ALPHA), as
// in RFC 7644's ATTRNAME.
func isAttrName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
