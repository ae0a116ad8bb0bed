package attributes

import (
	"maps"
	"slices"
	"strings"
)

// Profile is a person as onramp sees them, whichever way they arrived.
type Profile struct {
	Email       string            `json:"email"`
	UserName    string            `json:"userName"`
	GivenName   string            `json:"givenName"`
	FamilyName  string            `json:"familyName"`
	DisplayName string            `json:"displayName"`
	Groups      []string          `json:"groups,omitempty"`
	Role        string            `json:"role"`
	Custom      map[string]string `json:"custom,omitempty"`
}

// EmailDomain returns the lower-case domain of p.Email ("" if Email is not an
// address). It is what the JIT email-domain rule compares with
// accessControl.emailDomains.
func (p Profile) EmailDomain() string {
	i := strings.LastIndexByte(p.Email, '@')
	if i <= 0 || i == len(p.Email)-1 {
		return ""
	}
	return strings.ToLower(p.Email[i+1:])
}

func (p Profile) clone() Profile {
	c := p
	c.Groups = slices.Clone(p.Groups)
	c.Custom = maps.Clone(p.Custom)
	return c
}

// Roles. Admin is the role that may administer the organization; Member is the
// default.
const (
	RoleAdmin  = "Admin"
	RoleMember = "Member"
)

// CanonicalRole returns RoleAdmin or RoleMember for any spelling of them
// ("admin", " ADMIN "), so that a rule typed in lower case still grants exactly
// the role the rest of the program checks for; other roles are returned trimmed.
func CanonicalRole(role string) string {
	r := strings.TrimSpace(role)
	switch {
	case strings.EqualFold(r, RoleAdmin):
		return RoleAdmin
	case strings.EqualFold(r, RoleMember):
		return RoleMember
	}
	return r
}

// Ownership says who owns an account's profile fields after it exists. It is a
// per-connection choice (Mapping.Ownership).
type Ownership string

const (
	// OwnershipAssertion: each SSO login updates the profile from the assertion.
	OwnershipAssertion Ownership = "assertion"
	// OwnershipSCIM: the IdP's SCIM pushes own the profile; a login only fills
	// fields that are still empty.
	OwnershipSCIM Ownership = "scim"
)

// DefaultOwnership is the ownership of a connection whose mapping does not say:
// OwnershipSCIM when the connection has a SCIM token (SCIM is the richer and
// authoritative feed), else OwnershipAssertion (the assertion is all there is).
func DefaultOwnership(hasSCIMToken bool) Ownership {
	if hasSCIMToken {
		return OwnershipSCIM
	}
	return OwnershipAssertion
}

// EffectiveOwnership returns m.Ownership, or DefaultOwnership when it is empty.
func (m Mapping) EffectiveOwnership(hasSCIMToken bool) Ownership {
	if m.Ownership != "" {
		return m.Ownership
	}
	return DefaultOwnership(hasSCIMToken)
}

// Merge returns the profile an existing account should have after an SSO login,
// given its current profile and the profile mapped from the login's assertion.
// Neither argument is modified. Exactly these fields change:
//
// With OwnershipAssertion (the assertion owns the profile):
//   - Email, UserName, GivenName, FamilyName, DisplayName: replaced by the
//     login's value when that is non-empty; an attribute the assertion lacks
//     never erases a value.
//   - Groups: replaced by the login's groups when the assertion carried any.
//   - Role: replaced by the login's role when the assertion carried groups (the
//     role is derived from them); without groups the role is left alone, so a
//     login that omits the groups attribute never demotes an Admin.
//   - Custom: each key the login mapped replaces the current value; other keys
//     are kept.
//
// With OwnershipSCIM (SCIM owns the profile):
//   - every field that is currently empty (string fields, Groups, Role, Custom
//     keys) is filled from the login; every non-empty field is left alone.
//
// Any other Ownership value is treated as OwnershipSCIM, the choice that changes
// less.
func Merge(current, fromLogin Profile, o Ownership) Profile {
	out := current.clone()
	login := fromLogin.clone()
	strs := []struct {
		cur *string
		new string
	}{
		{&out.Email, login.Email}, {&out.UserName, login.UserName}, {&out.GivenName, login.GivenName},
		{&out.FamilyName, login.FamilyName}, {&out.DisplayName, login.DisplayName},
	}
	if o == OwnershipAssertion {
		for _, s := range strs {
			if s.new != "" {
				*s.cur = s.new
			}
		}
		if len(login.Groups) > 0 {
			out.Groups = login.Groups
			if login.Role != "" {
				out.Role = login.Role
			}
		}
		for k, v := range login.Custom {
			if out.Custom == nil {
				out.Custom = map[string]string{}
			}
			out.Custom[k] = v
		}
		return out
	}
	for _, s := range strs {
		if *s.cur == "" {
			*s.cur = s.new
		}
	}
	if len(out.Groups) == 0 && len(login.Groups) > 0 {
		out.Groups = login.Groups
	}
	if out.Role == "" {
		out.Role = login.Role
	}
	for k, v := range login.Custom {
		if out.Custom[k] != "" {
			continue
		}
		if out.Custom == nil {
			out.Custom = map[string]string{}
		}
		out.Custom[k] = v
	}
	return out
}
