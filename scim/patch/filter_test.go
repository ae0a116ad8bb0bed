package patch

import (
	"encoding/json"
	"testing"

	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

func mustFilter(t *testing.T, attr, expr string) filter.Expression {
	t.Helper()
	p, err := filter.ParsePath([]byte(attr + "[" + expr + "]"))
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	return p.ValueExpression
}

// testAttrs builds attributes the core schemas do not have: a caseExact
// sub-attribute, integer, decimal and dateTime sub-attributes, and a
// multi-valued attribute of simple strings.
func testAttrs() (complexAttr, simpleList schema.CoreAttribute) {
	complexAttr = schema.ComplexCoreAttribute(schema.ComplexParams{
		Name:        "badges",
		MultiValued: true,
		SubAttributes: []schema.SimpleParams{
			schema.SimpleStringParams(schema.StringParams{Name: "value"}),
			schema.SimpleStringParams(schema.StringParams{Name: "display"}),
			schema.SimpleStringParams(schema.StringParams{Name: "code", CaseExact: true}),
			schema.SimpleNumberParams(schema.NumberParams{Name: "level", Type: schema.AttributeTypeInteger()}),
			schema.SimpleNumberParams(schema.NumberParams{Name: "score", Type: schema.AttributeTypeDecimal()}),
			schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "issued"}),
			schema.SimpleBooleanParams(schema.BooleanParams{Name: "primary"}),
		},
	})
	simpleList = schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		Name:        "tags",
		MultiValued: true,
	}))
	return complexAttr, simpleList
}

func TestMatchFilter(t *testing.T) {
	badges, tags := testAttrs()
	elem := map[string]any{
		"value":   "Gold Star",
		"code":    "GS-1",
		"level":   json.Number("3"), // as decoded from the stored JSON
		"score":   int64(4),
		"issued":  "2024-03-01T10:00:00+01:00",
		"primary": true,
	}
	tests := []struct {
		expr string
		want bool
	}{
		{`value eq "gold star"`, true}, // caseExact false
		{`code eq "gs-1"`, false},      // caseExact true
		{`code eq "GS-1"`, true},
		{`value ne "gold star"`, false},
		{`value ne "silver"`, true},
		{`value co "LD ST"`, true},
		{`value sw "gold"`, true},
		{`value sw "star"`, false},
		{`value ew "STAR"`, true},
		{`code co "gs"`, false},
		{`value pr`, true},
		{`display pr`, false},
		{`level gt 2`, true},
		{`level ge 3`, true},
		{`level lt 3`, false},
		{`level le 3.0`, true},
		{`score eq 4.0`, true},
		{`score gt 4.5`, false},
		{`issued gt "2024-03-01T08:59:59Z"`, true}, // 09:00 UTC, compared as instants
		{`issued lt "2024-03-01T09:00:01Z"`, true},
		{`issued eq "2024-03-01T09:00:00Z"`, true},
		{`primary eq true`, true},
		{`primary eq false`, false},
		{`primary eq "True"`, true}, // string booleans, as elimity lets through
		{`primary gt false`, false}, // only eq and ne apply to booleans
		{`value eq "gold star" and level ge 3`, true},
		{`value eq "gold star" and level gt 3`, false},
		{`value eq "x" or code eq "GS-1"`, true},
		{`not (value eq "x")`, true},
		{`not (value eq "gold star")`, false},
		{`score eq null`, false},
		{`display eq null`, true},
		{`display ne "x"`, true}, // an absent value is not equal to anything
		{`display eq "x"`, false},
	}
	for _, tc := range tests {
		got, err := matchFilter(badges, elem, mustFilter(t, "badges", tc.expr))
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.expr, got, tc.want)
		}
	}

	// A list of simple values is filtered on "value", the element itself.
	for expr, want := range map[string]bool{`value eq "BLUE"`: true, `value sw "gr"`: false} {
		got, err := matchFilter(tags, "blue", mustFilter(t, "tags", expr))
		if err != nil || got != want {
			t.Errorf("tags[%s] on \"blue\": got %v, %v; want %v", expr, got, err, want)
		}
	}
}

func TestMatchFilterRejects(t *testing.T) {
	badges, tags := testAttrs()
	for _, tc := range []struct {
		attr schema.CoreAttribute
		expr string
	}{
		{badges, `colour eq "red"`},      // no such sub-attribute
		{badges, `value.x eq "red"`},     // sub-attribute of a sub-attribute
		{tags, `type eq "work"`},         // simple values have only "value"
		{badges, `value xx "red"`},       // unknown operator
		{badges, `urn:x:value eq "red"`}, // URN inside a value filter
	} {
		p, err := filter.ParsePath([]byte(tc.attr.Name() + "[" + tc.expr + "]"))
		if err != nil {
			continue // the parser already refuses it: fine too
		}
		if _, err := matchFilter(tc.attr, nil, p.ValueExpression); err == nil {
			t.Errorf("%s[%s]: want an error", tc.attr.Name(), tc.expr)
		}
	}
}

func TestEqualities(t *testing.T) {
	badges, _ := testAttrs()
	tests := []struct {
		expr string
		want map[string]any // nil: not derivable
	}{
		{`value eq "work"`, map[string]any{"value": "work"}},
		{`VALUE eq "work" and level eq 2`, map[string]any{"value": "work", "level": int64(2)}},
		{`primary eq "true" and code eq "A"`, map[string]any{"primary": true, "code": "A"}},
		{`value eq "a" and value eq "A"`, map[string]any{"value": "A"}}, // same, case-insensitively
		{`value eq "a" and value eq "b"`, nil},
		{`value eq "a" or value eq "b"`, nil},
		{`value ne "a"`, nil},
		{`not (value eq "a")`, nil},
		{`value pr`, nil},
		{`value eq null`, nil},
		{`level eq 2.5`, nil}, // not an integer
	}
	for _, tc := range tests {
		got, ok := equalities(badges, mustFilter(t, "badges", tc.expr))
		if tc.want == nil {
			if ok {
				t.Errorf("%s: derived %v; want not derivable", tc.expr, got)
			}
			continue
		}
		if !ok || len(got) != len(tc.want) {
			t.Errorf("%s: got %v (%v); want %v", tc.expr, got, ok, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %#v; want %#v", tc.expr, k, got[k], v)
			}
		}
	}
}

func TestNormLeaf(t *testing.T) {
	badges, _ := testAttrs()
	sub := func(name string) schema.CoreAttribute {
		s, ok := findSub(badges, name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return s
	}
	tests := []struct {
		attr    string
		in      any
		want    any
		wantErr bool
	}{
		{"primary", "True", true, false},
		{"primary", " false ", false, false},
		{"primary", "yes", nil, true},
		{"primary", "", nil, false},
		{"primary", nil, nil, false},
		{"level", json.Number("7"), int64(7), false},
		{"level", 7.0, int64(7), false},
		{"level", 7.5, nil, true},
		{"level", "7", nil, true}, // only booleans are accepted as strings
		{"score", json.Number("1.5"), 1.5, false},
		{"score", int64(2), 2.0, false},
		{"issued", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", false},
		{"issued", "yesterday", nil, true},
		{"value", 12, nil, true},
		{"value", "", nil, false},
	}
	for _, tc := range tests {
		got, err := normLeaf(sub(tc.attr), tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s(%#v): got %#v, %v; want %#v, error %v", tc.attr, tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
