package scim

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// profile is the part of a user account derived from its SCIM resource (see
// "Mapping" in doc.go).
type profile struct {
	UserName    string
	ExternalID  string
	DisplayName string
	GivenName   string
	FamilyName  string
	Emails      []store.Email
	Active      bool
	Role        string            // set on create; on update only if setRole
	Custom      map[string]string // set only if setCustom
	setRole     bool
	setCustom   bool
}

// profileFromResource derives the profile of a User resource as elimity
// validated it (canonical attribute names, RFC types): userName, externalId and
// active from the resource itself, the rest through the connection's mapping.
func profileFromResource(res map[string]any, m userMapping) (profile, error) {
	p := profile{
		UserName:   str(res["userName"]),
		ExternalID: str(res["externalId"]),
		Active:     true, // an absent active means nothing was said against it
	}
	if strings.TrimSpace(p.UserName) == "" {
		return profile{}, invalidValue("userName is required and must not be empty")
	}
	if a, ok := res["active"].(bool); ok {
		p.Active = a
	}
	mapped, _, err := m.c.FromSCIM(res)
	if err := onlyMissing(err); err != nil {
		return profile{}, fmt.Errorf("scim: map user resource: %w", err)
	}
	p.DisplayName, p.GivenName, p.FamilyName = mapped.DisplayName, mapped.GivenName, mapped.FamilyName
	p.Emails = accountEmails(resourceEmails(res), mapped.Email)
	p.Role, p.setRole = mapped.Role, m.manageRole
	p.Custom, p.setCustom = mapped.Custom, m.manageCustom
	return p, nil
}

// onlyMissing drops the *attributes.MissingFieldError(s) from err: SCIM requires
// only userName (checked above), so a pushed user the mapping finds no email or
// other required field for is stored with what there is. Anything else is kept.
func onlyMissing(err error) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var rest []error
	for _, e := range errs {
		var missing *attributes.MissingFieldError
		if !errors.As(e, &missing) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
}

// resourceEmails lists the resource's email addresses as sent.
func resourceEmails(res map[string]any) []store.Email {
	list, _ := res["emails"].([]any)
	var out []store.Email
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		v := strings.TrimSpace(str(m["value"]))
		if v == "" {
			continue
		}
		primary, _ := m["primary"].(bool)
		out = append(out, store.Email{Value: v, Type: str(m["type"]), Primary: primary})
	}
	return out
}

// accountEmails is the account's email list: every address of the resource
// (filters on emails see all of them), arranged so that User.PrimaryEmail is the
// mapped email. The mapped address goes first; it is flagged primary only when
// another address is (otherwise being first is enough, and the flags stay as the
// IdP sent them). A mapped email that is not in the list (a fallback such as
// userName) is added first.
func accountEmails(emails []store.Email, mapped string) []store.Email {
	if mapped == "" {
		return emails
	}
	i := slices.IndexFunc(emails, func(e store.Email) bool { return strings.EqualFold(e.Value, mapped) })
	var first store.Email
	rest := emails
	if i >= 0 {
		first = emails[i]
		rest = slices.Delete(slices.Clone(emails), i, i+1)
	} else {
		first = store.Email{Value: mapped}
	}
	if slices.ContainsFunc(rest, func(e store.Email) bool { return e.Primary }) {
		first.Primary = true
	}
	return append([]store.Email{first}, rest...)
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
	if p.setRole || u.Role == "" {
		u.Role = p.Role
	}
	if p.setCustom {
		u.Custom = p.Custom
	}
}

// changes reports whether applying p would change u.
func (p profile) changes(u store.User) bool {
	next := u
	p.applyTo(&next)
	return next.UserName != u.UserName || next.ExternalID != u.ExternalID ||
		next.DisplayName != u.DisplayName || next.GivenName != u.GivenName ||
		next.FamilyName != u.FamilyName || !slices.Equal(next.Emails, u.Emails) ||
		next.Active != u.Active || next.Role != u.Role || !maps.Equal(next.Custom, u.Custom)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
