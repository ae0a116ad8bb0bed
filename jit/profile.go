package jit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// GroupsField is the key of store.User.Custom under which an account keeps
// the groups its SAML sign-ins asserted, as a JSON array of strings
// (["Admins","Engineering"]). Groups asserted by SAML are profile data: they
// decide the role through the mapping's role rules, and they never create or
// change SCIM groups (those come from the IdP's SCIM pushes only). The key is
// not a valid custom field name in package attributes (those cannot contain
// ':'), so no mapping can collide with it. GET /api/v1/me shows it as
// "groups".
const GroupsField = "saml:groups"

// profileOf is the account's profile as package attributes sees it: the
// primary email, the name fields, the role, the groups kept under
// GroupsField, and the other custom fields.
func profileOf(u store.User) attributes.Profile {
	p := attributes.Profile{
		Email:       u.PrimaryEmail(),
		UserName:    u.UserName,
		GivenName:   u.GivenName,
		FamilyName:  u.FamilyName,
		DisplayName: u.DisplayName,
		Role:        u.Role,
		Groups:      groupsOf(u),
	}
	for k, v := range u.Custom {
		if k == GroupsField {
			continue
		}
		if p.Custom == nil {
			p.Custom = make(map[string]string, len(u.Custom))
		}
		p.Custom[k] = v
	}
	return p
}

// groupsOf returns the groups kept under GroupsField; a value that is not a
// JSON array of strings counts as none.
func groupsOf(u store.User) []string {
	raw, ok := u.Custom[GroupsField]
	if !ok {
		return nil
	}
	var gs []string
	if err := json.Unmarshal([]byte(raw), &gs); err != nil {
		return nil
	}
	return gs
}

// changedFields names the profile fields that differ between a and b, in a
// fixed order: email, userName, givenName, familyName, displayName, groups,
// role, then custom.<name> sorted. Nil and empty lists and maps are equal.
func changedFields(a, b attributes.Profile) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{attributes.FieldEmail, a.Email, b.Email},
		{attributes.FieldUserName, a.UserName, b.UserName},
		{attributes.FieldGivenName, a.GivenName, b.GivenName},
		{attributes.FieldFamilyName, a.FamilyName, b.FamilyName},
		{attributes.FieldDisplayName, a.DisplayName, b.DisplayName},
	} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	if !slices.Equal(a.Groups, b.Groups) {
		out = append(out, attributes.FieldGroups)
	}
	if a.Role != b.Role {
		out = append(out, attributes.FieldRole)
	}
	var custom []string
	for k, v := range a.Custom {
		if w, ok := b.Custom[k]; !ok || w != v {
			custom = append(custom, "custom."+k)
		}
	}
	for k := range b.Custom {
		if _, ok := a.Custom[k]; !ok {
			custom = append(custom, "custom."+k)
		}
	}
	sort.Strings(custom)
	return append(out, custom...)
}

// withProfile returns u with profile p written into it: the name fields, the
// role, the custom fields with the groups under GroupsField, the primary
// email (see withPrimaryEmail), and, if u has a SCIM resource, the changed
// core attributes in it too (see syncResource), so that the SCIM view of the
// account shows what the account is. It is a pure function of its
// arguments; u's slices and maps are not modified.
func withProfile(u store.User, p attributes.Profile) (store.User, error) {
	changed := changedFields(profileOf(u), p)
	u.UserName, u.GivenName, u.FamilyName, u.DisplayName = p.UserName, p.GivenName, p.FamilyName, p.DisplayName
	u.Role = p.Role
	u.Emails = withPrimaryEmail(u.Emails, p.Email)
	custom, err := customWithGroups(p)
	if err != nil {
		return store.User{}, err
	}
	u.Custom = custom
	if len(u.Resource) > 0 {
		if u.Resource, err = syncResource(u.Resource, u, changed); err != nil {
			return store.User{}, err
		}
	}
	return u, nil
}

// customWithGroups is p's custom fields plus its groups under GroupsField;
// nil when there are neither.
func customWithGroups(p attributes.Profile) (map[string]string, error) {
	if len(p.Custom) == 0 && len(p.Groups) == 0 {
		return nil, nil
	}
	out := maps.Clone(p.Custom)
	if out == nil {
		out = map[string]string{}
	}
	if len(p.Groups) > 0 {
		raw, err := json.Marshal(p.Groups)
		if err != nil {
			return nil, fmt.Errorf("jit: encode groups: %w", err)
		}
		out[GroupsField] = string(raw)
	}
	return out, nil
}

// withPrimaryEmail returns a copy of emails whose primary address (the
// primary one, else the first) is value; with no address yet, value is added
// as the primary work address. An empty value changes nothing.
func withPrimaryEmail(emails []store.Email, value string) []store.Email {
	if value == "" {
		return emails
	}
	out := slices.Clone(emails)
	i := slices.IndexFunc(out, func(e store.Email) bool { return e.Primary })
	if i < 0 && len(out) > 0 {
		i = 0
	}
	if i < 0 {
		return []store.Email{{Value: value, Type: "work", Primary: true}}
	}
	out[i].Value = value
	return out
}

// newResource is the SCIM resource of an account JIT creates, shaped as an
// IdP would have pushed it (RFC 7643 core User, without id, meta and
// schemas, which the SCIM endpoint adds): userName, name.givenName and
// name.familyName, displayName, the email as the primary work address, and
// active. It is what GET /scim/v2/Users/{id} returns, and what an IdP that
// finds the account by "userName eq" before creating one adopts.
func newResource(u store.User) (json.RawMessage, error) {
	doc := map[string]any{"userName": u.UserName, "active": u.Active}
	name := map[string]any{}
	if u.GivenName != "" {
		name["givenName"] = u.GivenName
	}
	if u.FamilyName != "" {
		name["familyName"] = u.FamilyName
	}
	if len(name) > 0 {
		doc["name"] = name
	}
	if u.DisplayName != "" {
		doc["displayName"] = u.DisplayName
	}
	if len(u.Emails) > 0 {
		emails := make([]any, 0, len(u.Emails))
		for _, e := range u.Emails {
			m := map[string]any{"value": e.Value, "primary": e.Primary}
			if e.Type != "" {
				m["type"] = e.Type
			}
			emails = append(emails, m)
		}
		doc["emails"] = emails
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("jit: encode scim resource: %w", err)
	}
	return raw, nil
}

// syncResource writes the changed core fields of u into its stored SCIM
// resource and leaves everything else in it as it is: userName,
// name.givenName, name.familyName, displayName, and the value of the primary
// email (the primary element, else the first; an element is added if there
// is none). Fields that became empty are left as they are: a login never
// erases a value (see attributes.Merge).
func syncResource(raw json.RawMessage, u store.User, changed []string) (json.RawMessage, error) {
	doc := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, fmt.Errorf("jit: decode scim resource of user %s: %w", u.ID, err)
	}
	touched := false
	set := func(key, value string) {
		if value != "" {
			doc[key] = value
			touched = true
		}
	}
	setName := func(key, value string) {
		if value == "" {
			return
		}
		name, ok := doc["name"].(map[string]any)
		if !ok {
			name = map[string]any{}
			doc["name"] = name
		}
		name[key] = value
		touched = true
	}
	for _, f := range changed {
		switch f {
		case attributes.FieldUserName:
			set("userName", u.UserName)
		case attributes.FieldDisplayName:
			set("displayName", u.DisplayName)
		case attributes.FieldGivenName:
			setName("givenName", u.GivenName)
		case attributes.FieldFamilyName:
			setName("familyName", u.FamilyName)
		case attributes.FieldEmail:
			if v := u.PrimaryEmail(); v != "" {
				setResourceEmail(doc, v)
				touched = true
			}
		}
	}
	if !touched {
		return raw, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("jit: encode scim resource of user %s: %w", u.ID, err)
	}
	return out, nil
}

// setResourceEmail sets the value of the resource's primary email element.
func setResourceEmail(doc map[string]any, value string) {
	list, _ := doc["emails"].([]any)
	idx := -1
	for i, e := range list {
		if m, ok := e.(map[string]any); ok {
			if p, _ := m["primary"].(bool); p {
				idx = i
				break
			}
			if idx < 0 {
				idx = i
			}
		}
	}
	if idx < 0 {
		doc["emails"] = append(list, map[string]any{"value": value, "type": "work", "primary": true})
		return
	}
	list[idx].(map[string]any)["value"] = value
}
