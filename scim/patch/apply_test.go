package patch_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/scim/patch"
)

// These tests build operations by hand, in shapes elimity's validator would
// not let through (string booleans, a bare manager id, null values, unknown
// ops), because Apply must handle them when a normalising middleware passes
// them on or another caller builds operations.

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func op(t *testing.T, kind, path string, value any) scim.PatchOperation {
	t.Helper()
	o := scim.PatchOperation{Op: kind, Value: value}
	if path != "" {
		p, err := filter.ParsePath([]byte(path))
		if err != nil {
			t.Fatalf("parse %q: %v", path, err)
		}
		o.Path = &p
	}
	return o
}

// get follows a slash-separated path of object keys and list indexes
// ("emails/0/primary") through a document.
func get(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := 0
			for _, r := range part {
				i = i*10 + int(r-'0')
			}
			if i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// applyChecked runs Apply and checks the invariants every call must keep: the
// input is untouched, and an error is a *patch.Error with no document.
func applyChecked(t *testing.T, doc map[string]any, ops []scim.PatchOperation, s schema.Schema, exts ...schema.Schema) (map[string]any, *patch.Error) {
	t.Helper()
	before := marshal(t, doc)
	out, err := patch.Apply(doc, ops, s, exts...)
	if string(marshal(t, doc)) != string(before) {
		t.Fatal("Apply modified its input document")
	}
	if err == nil {
		return out, nil
	}
	var perr *patch.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %T %v is not a *patch.Error", err, err)
	}
	if out != nil {
		t.Fatal("Apply returned a document with its error")
	}
	return nil, perr
}

func TestApplyDefensiveShapes(t *testing.T) {
	userSchema, userExts := schemasFor(users)
	full := func() map[string]any { return readJSON(t, filepath.Join("testdata", "resources", "full-user.json")) }

	tests := []struct {
		name  string
		ops   func(t *testing.T) []scim.PatchOperation
		check func(t *testing.T, out map[string]any)
		err   string // expected ScimType, "" for success
	}{
		{
			name: "string boolean from Entra without the compliance flag",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "Replace", "active", "False")}
			},
			check: func(t *testing.T, out map[string]any) {
				if out["active"] != false {
					t.Errorf("active = %#v; want false", out["active"])
				}
			},
		},
		{
			name: "string boolean inside an element, and the primary rule",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "add", "emails", []any{map[string]any{"value": "n@example.com", "primary": "TRUE"}})}
			},
			check: func(t *testing.T, out map[string]any) {
				if v, _ := get(out, "emails/2/primary"); v != true {
					t.Errorf("new email primary = %#v; want true", v)
				}
				if v, _ := get(out, "emails/0/primary"); v != false {
					t.Errorf("old primary email = %#v; want false", v)
				}
			},
		},
		{
			name: "manager as a bare id",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "add", enterpriseURN+":manager", "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2")}
			},
			check: func(t *testing.T, out map[string]any) {
				got, _ := get(out, enterpriseURN+"/manager")
				want := map[string]any{"value": "2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("manager = %#v; want %#v (the old displayName goes with the old id)", got, want)
				}
			},
		},
		{
			name: "manager set to the empty string is removed",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", enterpriseURN+":manager", "")}
			},
			check: func(t *testing.T, out map[string]any) {
				if v, ok := get(out, enterpriseURN+"/manager"); ok {
					t.Errorf("manager = %#v; want removed", v)
				}
				if _, ok := get(out, enterpriseURN+"/department"); !ok {
					t.Error("the rest of the extension went with the manager")
				}
			},
		},
		{
			name: "null removes, with and without a path",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{
					op(t, "replace", "nickName", nil),
					op(t, "replace", "", map[string]any{"title": nil, "name.middleName": nil}),
				}
			},
			check: func(t *testing.T, out map[string]any) {
				for _, p := range []string{"nickName", "title", "name/middleName"} {
					if v, ok := get(out, p); ok {
						t.Errorf("%s = %#v; want removed", p, v)
					}
				}
				if v, _ := get(out, "name/givenName"); v != "Barbara" {
					t.Errorf("name.givenName = %#v; want it kept", v)
				}
			},
		},
		{
			name: "an extension attribute without its URN",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", "department", "Finance")}
			},
			check: func(t *testing.T, out map[string]any) {
				if v, _ := get(out, enterpriseURN+"/department"); v != "Finance" {
					t.Errorf("department = %#v; want Finance", v)
				}
				if _, ok := out["department"]; ok {
					t.Error("department written at the top level")
				}
			},
		},
		{
			name: "a path-less id is ignored (Okta group rename)",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", "", map[string]any{"ID": "abc", "displayName": "B"})}
			},
			check: func(t *testing.T, out map[string]any) {
				if out["displayName"] != "B" {
					t.Errorf("displayName = %#v", out["displayName"])
				}
				if _, ok := out["ID"]; ok {
					t.Error("id was stored")
				}
			},
		},
		{
			name: "op in any case",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "REPLACE", "title", "Boss")}
			},
			check: func(t *testing.T, out map[string]any) {
				if out["title"] != "Boss" {
					t.Errorf("title = %#v", out["title"])
				}
			},
		},
		{
			name: "unknown op",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "move", "title", "x")}
			},
			err: patch.ScimTypeInvalidValue,
		},
		{
			name: "remove without a path",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "remove", "", nil)}
			},
			err: patch.ScimTypeNoTarget,
		},
		{
			name: "path-less value that is not an object",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "add", "", "x")}
			},
			err: patch.ScimTypeInvalidValue,
		},
		{
			name: "id is readOnly",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", "id", "x")}
			},
			err: patch.ScimTypeMutability,
		},
		{
			name: "meta is readOnly",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "remove", "meta", nil)}
			},
			err: patch.ScimTypeMutability,
		},
		{
			name: "wrong type",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", "userName", 42)}
			},
			err: patch.ScimTypeInvalidValue,
		},
		{
			name: "several elements for a filtered path",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", `emails[type eq "work"]`, []any{
					map[string]any{"value": "a@example.com"}, map[string]any{"value": "b@example.com"},
				})}
			},
			err: patch.ScimTypeInvalidValue,
		},
		{
			name: "unknown schema URI",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "replace", "urn:example:params:scim:schemas:extension:acme:2.0:User:badge", "x")}
			},
			err: patch.ScimTypeInvalidPath,
		},
		{
			name: "path-less key that is not a path",
			ops: func(t *testing.T) []scim.PatchOperation {
				return []scim.PatchOperation{op(t, "add", "", map[string]any{"emails[": "x"})}
			},
			err: patch.ScimTypeInvalidPath,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, perr := applyChecked(t, full(), tc.ops(t), userSchema, userExts...)
			if tc.err != "" {
				if perr == nil {
					t.Fatalf("Apply succeeded; want %s", tc.err)
				}
				if perr.ScimType != tc.err {
					t.Fatalf("got %s (%s); want %s", perr.ScimType, perr.Detail, tc.err)
				}
				return
			}
			if perr != nil {
				t.Fatalf("Apply: %v", perr)
			}
			tc.check(t, out)
		})
	}
}

func TestApplyNilDocument(t *testing.T) {
	s, exts := schemasFor(users)
	out, perr := applyChecked(t, nil, []scim.PatchOperation{op(t, "add", "userName", "a@example.com")}, s, exts...)
	if perr != nil {
		t.Fatal(perr)
	}
	if !reflect.DeepEqual(out, map[string]any{"userName": "a@example.com"}) {
		t.Errorf("got %v", out)
	}
}

// TestApplyOutputIsIndependent checks that the result shares nothing mutable
// with the operations' values: the caller may reuse them.
func TestApplyOutputIsIndependent(t *testing.T) {
	s, exts := schemasFor(users)
	elem := map[string]any{"value": "a@example.com", "type": "work"}
	value := []any{elem}
	out, perr := applyChecked(t, map[string]any{}, []scim.PatchOperation{op(t, "add", "emails", value)}, s, exts...)
	if perr != nil {
		t.Fatal(perr)
	}
	elem["value"] = "changed@example.com"
	value[0] = "junk"
	if v, _ := get(out, "emails/0/value"); v != "a@example.com" {
		t.Errorf("result changed with the operation's value: %#v", v)
	}
}

func TestApplyAmbiguousExtensionAttribute(t *testing.T) {
	s, exts := schemasFor(users)
	other := schema.Schema{
		ID:   "urn:example:params:scim:schemas:extension:acme:2.0:User",
		Name: exts[0].Name,
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "department"})),
		},
	}
	exts = append(exts, other)
	_, perr := applyChecked(t, map[string]any{}, []scim.PatchOperation{op(t, "add", "department", "x")}, s, exts...)
	if perr == nil || perr.ScimType != patch.ScimTypeInvalidPath {
		t.Fatalf("got %v; want invalidPath for a name two extensions define", perr)
	}
	out, perr := applyChecked(t, map[string]any{}, []scim.PatchOperation{op(t, "add", other.ID+":department", "x")}, s, exts...)
	if perr != nil {
		t.Fatal(perr)
	}
	if v, _ := get(out, other.ID+"/department"); v != "x" {
		t.Errorf("got %v", out)
	}
}

func TestApplyImmutable(t *testing.T) {
	s := schema.Schema{
		ID: "urn:example:params:scim:schemas:core:2.0:Badge",
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name:       "serial",
				Mutability: schema.AttributeMutabilityImmutable(),
			})),
		},
	}
	set := func(v string) []scim.PatchOperation { return []scim.PatchOperation{op(t, "replace", "serial", v)} }

	out, perr := applyChecked(t, map[string]any{}, set("S-1"), s)
	if perr != nil {
		t.Fatalf("setting an unassigned immutable attribute: %v", perr)
	}
	if _, perr := applyChecked(t, out, set("s-1"), s); perr != nil {
		t.Fatalf("writing the same value (caseExact false) again: %v", perr)
	}
	if _, perr := applyChecked(t, out, set("S-2"), s); perr == nil || perr.ScimType != patch.ScimTypeMutability {
		t.Fatalf("changing an immutable attribute: got %v; want mutability", perr)
	}
	if _, perr := applyChecked(t, out, []scim.PatchOperation{op(t, "remove", "serial", nil)}, s); perr == nil || perr.ScimType != patch.ScimTypeMutability {
		t.Fatalf("removing an immutable attribute: got %v; want mutability", perr)
	}
}

func TestErrorValue(t *testing.T) {
	s, exts := schemasFor(users)
	doc := map[string]any{"userName": "bjensen@example.com"}
	_, err := patch.Apply(doc, []scim.PatchOperation{
		op(t, "replace", "title", "x"),
		op(t, "remove", "userName", nil),
	}, s, exts...)
	var perr *patch.Error
	if !errors.As(err, &perr) {
		t.Fatalf("got %T", err)
	}
	if !strings.Contains(perr.Detail, "operation 1") || !strings.Contains(perr.Detail, `"userName"`) {
		t.Errorf("detail %q does not name the operation and its path", perr.Detail)
	}
	if strings.Contains(err.Error(), "bjensen") {
		t.Errorf("error %q carries a stored value", err.Error())
	}
	se := perr.ScimError()
	if se.Status != http.StatusBadRequest || string(se.ScimType) != patch.ScimTypeMutability || se.Detail != perr.Detail {
		t.Errorf("ScimError() = %+v", se)
	}
}
