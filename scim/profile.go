package scim

import (
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// profile is the part of a user account derived from its SCIM resource.
type profile struct {
	UserName    string
	ExternalID  string
	DisplayName string
	GivenName   string
	FamilyName  string
	Emails      []store.Email
	Active      bool
}

// profileFromResource derives the profile fields from a User resource as elimity
// validated it (canonical attribute names, RFC types).
//
// This is where package attributes will plug in: once the per-connection mapping
// engine exists, the handler should call Mapping.FromSCIM(resource) for the
// token's connection instead, so that SCIM and SAML map a person the same way.
// Until then this reads the core attributes directly.
func profileFromResource(res map[string]any) (profile, error) {
	p := profile{
		UserName:    str(res["userName"]),
		ExternalID:  str(res["externalId"]),
		DisplayName: str(res["displayName"]),
		Active:      true, // an absent active means nothing was said against it
	}
	if strings.TrimSpace(p.UserName) == "" {
		return profile{}, invalidValue("userName is required and must not be empty")
	}
	if a, ok := res["active"].(bool); ok {
		p.Active = a
	}
	if name, ok := res["name"].(map[string]any); ok {
		p.GivenName = str(name["givenName"])
		p.FamilyName = str(name["familyName"])
		if p.DisplayName == "" {
			p.DisplayName = str(name["formatted"])
		}
	}
	if p.DisplayName == "" {
		p.DisplayName = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	}
	if list, ok := res["emails"].([]any); ok {
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			v := str(m["value"])
			if v == "" {
				continue
			}
			primary, _ := m["primary"].(bool)
			p.Emails = append(p.Emails, store.Email{Value: v, Type: str(m["type"]), Primary: primary})
		}
	}
	return p, nil
}

// applyTo writes the profile into a user record.
func (p profile) applyTo(u *store.User) {
	u.UserName = p.UserName
	u.ExternalID = p.ExternalID
	u.DisplayName = p.DisplayName
	u.GivenName = p.GivenName
	u.FamilyName = p.FamilyName
	u.Emails = p.Emails
	u.Active = p.Active
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
