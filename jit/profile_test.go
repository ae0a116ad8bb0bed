package jit

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

func TestProfileOf_GroupsAreKeptApartFromCustomFields(t *testing.T) {
	u := store.User{
		UserName: "alice", GivenName: "Alice", Role: "Admin",
		Emails: []store.Email{{Value: "old@acme-corp.com"}, {Value: "alice@acme-corp.com", Primary: true}},
		Custom: map[string]string{"department": "R&D", GroupsField: `["Admins","Everyone"]`},
	}

	p := profileOf(u)

	want := attributes.Profile{
		Email: "alice@acme-corp.com", UserName: "alice", GivenName: "Alice", Role: "Admin",
		Groups: []string{"Admins", "Everyone"}, Custom: map[string]string{"department": "R&D"},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("profileOf = %+v, want %+v", p, want)
	}
	u.Custom[GroupsField] = "not json"
	if gs := profileOf(u).Groups; gs != nil {
		t.Fatalf("groups from a broken value: %q, want none", gs)
	}
}

func TestChangedFields(t *testing.T) {
	base := attributes.Profile{Email: "a@x.example", UserName: "a", Role: "Member", Groups: []string{"G"}, Custom: map[string]string{"k": "v"}}
	for _, tc := range []struct {
		name string
		edit func(p *attributes.Profile)
		want []string
	}{
		{"same", func(*attributes.Profile) {}, nil},
		{"nil and empty are equal", func(p *attributes.Profile) { p.Groups, p.Custom = []string{"G"}, map[string]string{"k": "v"} }, nil},
		{"names", func(p *attributes.Profile) { p.GivenName, p.DisplayName = "A", "A B" }, []string{"givenName", "displayName"}},
		{"group order counts", func(p *attributes.Profile) { p.Groups = []string{"H", "G"} }, []string{"groups"}},
		{"role", func(p *attributes.Profile) { p.Role = "Admin" }, []string{"role"}},
		{"custom", func(p *attributes.Profile) { p.Custom = map[string]string{"k": "w", "new": "1"} }, []string{"custom.k", "custom.new"}},
		{"custom removed", func(p *attributes.Profile) { p.Custom = nil }, []string{"custom.k"}},
		{"email and userName", func(p *attributes.Profile) { p.Email, p.UserName = "b@x.example", "b" }, []string{"email", "userName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			b.Groups, b.Custom = slices.Clone(base.Groups), map[string]string{"k": "v"}
			tc.edit(&b)
			if got := changedFields(base, b); !slices.Equal(got, tc.want) {
				t.Fatalf("changedFields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithPrimaryEmail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []store.Email
		value string
		want  []store.Email
	}{
		{"none yet", nil, "a@x.example", []store.Email{{Value: "a@x.example", Type: "work", Primary: true}}},
		{"primary replaced", []store.Email{{Value: "h@x.example", Type: "home"}, {Value: "old@x.example", Type: "work", Primary: true}}, "a@x.example",
			[]store.Email{{Value: "h@x.example", Type: "home"}, {Value: "a@x.example", Type: "work", Primary: true}}},
		{"first when no primary", []store.Email{{Value: "old@x.example", Type: "work"}, {Value: "h@x.example"}}, "a@x.example",
			[]store.Email{{Value: "a@x.example", Type: "work"}, {Value: "h@x.example"}}},
		{"empty changes nothing", []store.Email{{Value: "old@x.example"}}, "", []store.Email{{Value: "old@x.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.in)
			got := withPrimaryEmail(tc.in, tc.value)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("withPrimaryEmail = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(tc.in, before) {
				t.Fatalf("the input was modified: %+v", tc.in)
			}
		})
	}
}

func decodeJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return doc
}

func TestNewResource_IsACoreSCIMUser(t *testing.T) {
	u, err := newUser("o1", "c1", Assertion{NameID: "00u1alice"}, attributes.Profile{
		Email: "alice@acme-corp.com", UserName: "alice@acme-corp.com", GivenName: "Alice", FamilyName: "Liddell",
		DisplayName: "Alice Liddell", Role: "Member", Groups: []string{"Engineering"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJSON(t, u.Resource)
	want := map[string]any{
		"userName":    "alice@acme-corp.com",
		"name":        map[string]any{"givenName": "Alice", "familyName": "Liddell"},
		"displayName": "Alice Liddell",
		"emails":      []any{map[string]any{"value": "alice@acme-corp.com", "type": "work", "primary": true}},
		"active":      true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resource = %v\nwant %v", got, want)
	}
	if u.Custom[GroupsField] != `["Engineering"]` || u.Role != "Member" || u.Source != store.SourceJIT {
		t.Fatalf("user: %+v", u)
	}
}

func TestWithProfile_SyncsOnlyChangedAttributesIntoTheResource(t *testing.T) {
	// A resource as an IdP pushed it, with attributes onramp does not map.
	u := store.User{
		ID: "u1", UserName: "alice", GivenName: "Alice", FamilyName: "Liddell", Role: "Member",
		Emails: []store.Email{{Value: "alice@acme-corp.com", Type: "work", Primary: true}},
		Resource: json.RawMessage(`{"userName":"alice","name":{"givenName":"Alice","familyName":"Liddell","honorificPrefix":"Dr"},` +
			`"emails":[{"value":"home@x.example","type":"home"},{"value":"alice@acme-corp.com","type":"work","primary":true}],` +
			`"title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"}}`),
	}
	p := profileOf(u)
	p.FamilyName, p.Email, p.Role, p.Groups = "Smith", "alice.smith@acme-corp.com", "Admin", []string{"Admins"}

	next, err := withProfile(u, p)
	if err != nil {
		t.Fatal(err)
	}

	if next.FamilyName != "Smith" || next.Role != "Admin" || next.PrimaryEmail() != "alice.smith@acme-corp.com" || next.Custom[GroupsField] != `["Admins"]` {
		t.Fatalf("user: %+v", next)
	}
	doc := decodeJSON(t, next.Resource)
	name := doc["name"].(map[string]any)
	emails := doc["emails"].([]any)
	if name["familyName"] != "Smith" || name["givenName"] != "Alice" || name["honorificPrefix"] != "Dr" {
		t.Errorf("name: %v", name)
	}
	if emails[0].(map[string]any)["value"] != "home@x.example" || emails[1].(map[string]any)["value"] != "alice.smith@acme-corp.com" {
		t.Errorf("emails: %v", emails)
	}
	if doc["title"] != "Engineer" || doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == nil {
		t.Errorf("unmapped attributes were lost: %v", doc)
	}
	if _, ok := doc["displayName"]; ok {
		t.Errorf("displayName was added though it did not change: %v", doc)
	}
	if !reflect.DeepEqual(decodeJSON(t, u.Resource)["name"], map[string]any{"givenName": "Alice", "familyName": "Liddell", "honorificPrefix": "Dr"}) {
		t.Errorf("the input resource was modified")
	}
}
