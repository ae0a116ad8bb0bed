package scim

import (
	"errors"
	"reflect"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

func TestToStoreFilter(t *testing.T) {
	modified := time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC)
	tests := []struct {
		name   string
		kind   resourceKind
		filter string
		want   store.Filter
	}{
		{"okta userName eq", userResource, `userName eq "test.user@okta.local"`,
			store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "test.user@okta.local"}},
		{"attribute and operator case", userResource, `UserName EQ "Test.User@okta.local"`,
			store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "Test.User@okta.local"}},
		{"core URN prefix", userResource, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`,
			store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "a"}},
		{"entra externalId", userResource, `externalId eq "jyoung"`,
			store.Compare{Field: store.FieldExternalID, Op: store.OpEq, Value: "jyoung"}},
		{"id ne", userResource, `id ne "u1"`,
			store.Compare{Field: store.FieldID, Op: store.OpNe, Value: "u1"}},
		{"displayName co", userResource, `displayName co "Jens"`,
			store.Compare{Field: store.FieldDisplayName, Op: store.OpCo, Value: "Jens"}},
		{"sw", userResource, `userName sw "j"`,
			store.Compare{Field: store.FieldUserName, Op: store.OpSw, Value: "j"}},
		{"ew", userResource, `emails.value ew "@example.com"`,
			store.Compare{Field: store.FieldEmailValue, Op: store.OpEw, Value: "@example.com"}},
		{"emails without sub-attribute means value", userResource, `emails eq "a@example.com"`,
			store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "a@example.com"}},
		{"active bool", userResource, `active eq false`,
			store.Compare{Field: store.FieldActive, Op: store.OpEq, Value: false}},
		{"present", userResource, `externalId pr`,
			store.Compare{Field: store.FieldExternalID, Op: store.OpPresent}},
		{"lastModified gt", userResource, `meta.lastModified gt "2011-05-13T04:42:34Z"`,
			store.Compare{Field: store.FieldLastModified, Op: store.OpGt, Value: modified}},
		{"created le with offset", userResource, `meta.created le "2011-05-13T06:42:34+02:00"`,
			store.Compare{Field: store.FieldCreated, Op: store.OpLe, Value: modified}},
		{"and/or/not", userResource, `userName eq "a" and (active eq true or not (externalId pr))`,
			store.And{
				Left: store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "a"},
				Right: store.Or{
					Left:  store.Compare{Field: store.FieldActive, Op: store.OpEq, Value: true},
					Right: store.Not{F: store.Compare{Field: store.FieldExternalID, Op: store.OpPresent}},
				},
			}},
		{"value path", userResource, `emails[type eq "work" and value co "@example.com"]`,
			store.Element{Attr: "emails", F: store.And{
				Left:  store.Compare{Field: store.FieldEmailType, Op: store.OpEq, Value: "work"},
				Right: store.Compare{Field: store.FieldEmailValue, Op: store.OpCo, Value: "@example.com"},
			}}},
		{"value path primary", userResource, `emails[primary eq true]`,
			store.Element{Attr: "emails", F: store.Compare{Field: store.FieldEmailPrimary, Op: store.OpEq, Value: true}}},
		{"group displayName", groupResource, `displayName eq "Test SCIMv2"`,
			store.Compare{Field: store.FieldDisplayName, Op: store.OpEq, Value: "Test SCIMv2"}},
		{"members.value", groupResource, `members.value eq "u1"`,
			store.Compare{Field: store.FieldMemberValue, Op: store.OpEq, Value: "u1"}},
		{"members value path", groupResource, `id eq "g1" and members[value eq "u1"]`,
			store.And{
				Left:  store.Compare{Field: store.FieldID, Op: store.OpEq, Value: "g1"},
				Right: store.Element{Attr: "members", F: store.Compare{Field: store.FieldMemberValue, Op: store.OpEq, Value: "u1"}},
			}},
		{"members compares value", groupResource, `members eq "u1"`,
			store.Compare{Field: store.FieldMemberValue, Op: store.OpEq, Value: "u1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := filter.ParseFilter([]byte(tt.filter))
			if err != nil {
				t.Fatalf("parse %q: %v", tt.filter, err)
			}
			got, err := toStoreFilter(e, tt.kind)
			if err != nil {
				t.Fatalf("toStoreFilter(%q): %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("toStoreFilter(%q)\n got %#v\nwant %#v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestToStoreFilterRefuses(t *testing.T) {
	tests := []struct {
		name   string
		kind   resourceKind
		filter string
	}{
		{"unindexed attribute", userResource, `title eq "Boss"`},
		{"name.givenName", userResource, `name.givenName eq "Barbara"`},
		{"enterprise attribute", userResource, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{"foreign URN", userResource, `urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "a"`},
		{"members on users", userResource, `members.value eq "u1"`},
		{"userName on groups", groupResource, `userName eq "a"`},
		{"gt on bool", userResource, `active gt true`},
		{"co on bool", userResource, `emails.primary co true`},
		{"co on time", userResource, `meta.created co "2011"`},
		{"string for bool", userResource, `active eq "true"`},
		{"bool for string", userResource, `userName eq true`},
		{"number for string", userResource, `externalId eq 12`},
		{"bad date", userResource, `meta.lastModified gt "yesterday"`},
		{"value path on single-valued", userResource, `name[givenName eq "a"]`},
		{"foreign sub-attribute in value path", userResource, `emails[display eq "a"]`},
		{"emails value path on groups", groupResource, `emails[value eq "a"]`},
		{"unknown member sub-attribute", groupResource, `members[display eq "a"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := filter.ParseFilter([]byte(tt.filter))
			if err != nil {
				t.Fatalf("parse %q: %v", tt.filter, err)
			}
			got, err := toStoreFilter(e, tt.kind)
			var bad *badRequest
			if !errors.As(err, &bad) || bad.scimType != "invalidFilter" || bad.detail == "" {
				t.Fatalf("toStoreFilter(%q) = %v, %v; want an invalidFilter error", tt.filter, got, err)
			}
		})
	}
}
