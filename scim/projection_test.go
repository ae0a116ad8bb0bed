package scim

import (
	"net/url"
	"reflect"
	"testing"
)

func userDocForProjection() map[string]any {
	return map[string]any{
		"userName":   "bjensen",
		"externalId": "b1",
		"name":       map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{
			map[string]any{"value": "b@example.com", "type": "work", "primary": true},
			map[string]any{"value": "bj@example.org", "type": "home"},
		},
		EnterpriseUserSchemaURI: map[string]any{"employeeNumber": "7", "department": "Sales"},
	}
}

func TestProjection(t *testing.T) {
	tests := []struct {
		query string
		want  map[string]any
	}{
		{"", userDocForProjection()},
		{"attributes=userName", map[string]any{"userName": "bjensen"}},
		{"attributes=USERNAME,name.givenName", map[string]any{
			"userName": "bjensen", "name": map[string]any{"givenName": "Barbara"},
		}},
		{"attributes=emails.value", map[string]any{"emails": []any{
			map[string]any{"value": "b@example.com"}, map[string]any{"value": "bj@example.org"},
		}}},
		{"attributes=emails.value,emails.type", map[string]any{"emails": []any{
			map[string]any{"value": "b@example.com", "type": "work"}, map[string]any{"value": "bj@example.org", "type": "home"},
		}}},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName", map[string]any{"userName": "bjensen"}},
		{"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", map[string]any{
			EnterpriseUserSchemaURI: map[string]any{"department": "Sales"},
		}},
		{"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", map[string]any{
			EnterpriseUserSchemaURI: map[string]any{"employeeNumber": "7", "department": "Sales"},
		}},
		{"attributes=nickName", map[string]any{}},
		{"excludedAttributes=emails,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", map[string]any{
			"userName": "bjensen", "externalId": "b1", "name": map[string]any{"givenName": "Barbara"},
			EnterpriseUserSchemaURI: map[string]any{"department": "Sales"},
		}},
		{"excludedAttributes=emails.primary", map[string]any{
			"userName": "bjensen", "externalId": "b1",
			"name": map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
			"emails": []any{
				map[string]any{"value": "b@example.com", "type": "work"},
				map[string]any{"value": "bj@example.org", "type": "home"},
			},
			EnterpriseUserSchemaURI: map[string]any{"employeeNumber": "7", "department": "Sales"},
		}},
		// attributes wins over excludedAttributes.
		{"attributes=userName&excludedAttributes=userName", map[string]any{"userName": "bjensen"}},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		doc := userDocForProjection()
		got := parseProjection(q, UserSchemaURI, EnterpriseUserSchemaURI).apply(doc)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.query, got, tt.want)
		}
		if !reflect.DeepEqual(doc, userDocForProjection()) {
			t.Errorf("%s: apply modified its input", tt.query)
		}
	}
}

func TestProjectionWants(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{"", true},
		{"excludedAttributes=members", false},
		{"excludedAttributes=Members", false},
		{"excludedAttributes=members.display", true},
		{"attributes=displayName", false},
		{"attributes=members", true},
		{"attributes=members.value", true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		if got := parseProjection(q, GroupSchemaURI).wants("members"); got != tt.want {
			t.Errorf("%s: wants(members) = %v, want %v", tt.query, got, tt.want)
		}
	}
}
