package attributes

import (
	"errors"
	"fmt"
	"strings"
)

// Preset names.
const (
	PresetOkta      = "okta"
	PresetEntra     = "entra"
	PresetGoogle    = "google"
	PresetOneLogin  = "onelogin"
	PresetJumpCloud = "jumpcloud"
	PresetGeneric   = "generic"
)

// ErrUnknownPreset is returned (wrapped with the name) by Preset for a name it does
// not know.
var ErrUnknownPreset = errors.New("attributes: unknown preset")

// PresetNames lists the presets, in a stable order.
func PresetNames() []string {
	return []string{PresetOkta, PresetEntra, PresetGoogle, PresetOneLogin, PresetJumpCloud, PresetGeneric}
}

// Preset returns a fresh copy of a named preset. Each preset maps what that IdP
// sends by default (or, where the IdP sends nothing by default, what its own
// documentation tells admins to configure) on both the SAML and the SCIM side, so
// that the same person gets the same Profile either way. The sources of each
// choice are cited next to it.
func Preset(name string) (Mapping, error) {
	switch name {
	case PresetOkta:
		return okta(), nil
	case PresetEntra:
		return entra(), nil
	case PresetGoogle:
		return google(), nil
	case PresetOneLogin:
		return oneLogin(), nil
	case PresetJumpCloud:
		return jumpCloud(), nil
	case PresetGeneric:
		return generic(), nil
	}
	return Mapping{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownPreset, name, strings.Join(PresetNames(), ", "))
}

// Well-known claim and attribute names.
const (
	// WS-Federation / Entra claim URIs.
	claimEmail       = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	claimGivenName   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	claimSurname     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
	claimName        = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claimDisplayName = "http://schemas.microsoft.com/identity/claims/displayname"
	claimGroups      = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	// SAML 2.0 X.500/LDAP attribute profile names (urn:oid), as used by
	// eduPerson / REFEDS / InCommon IdPs (Shibboleth, SimpleSAMLphp, Keycloak).
	oidMail           = "urn:oid:0.9.2342.19200300.100.1.3"
	oidUID            = "urn:oid:0.9.2342.19200300.100.1.1"
	oidGivenName      = "urn:oid:2.5.4.42"
	oidSurname        = "urn:oid:2.5.4.4"
	oidDisplayName    = "urn:oid:2.16.840.1.113730.3.1.241"
	oidEPPN           = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
	oidIsMemberOf     = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"
	nameTemplate      = "{givenName} {familyName}"
	scimPrimaryEmail  = "emails[primary eq true].value"
	scimWorkEmail     = `emails[type eq "work"].value`
	scimAnyEmail      = "emails.value"
	scimGroupsDisplay = "groups.display"
)

func list(s ...string) []string { return s }

func ptr[T any](v T) *T { return &v }

// rule builds a rule; required rules get the flag set.
func rule(saml, scim []string, required bool, ts ...Transform) *Rule {
	r := &Rule{SAML: saml, SCIM: scim}
	if len(ts) > 0 {
		r.Transforms = ts
	}
	if required {
		r.Required = ptr(true)
	}
	return r
}

func displayNameRule(saml, scim []string) *Rule {
	r := rule(saml, scim, false)
	r.Template = ptr(nameTemplate)
	return r
}

// emailOnly keeps only values that are email addresses, so that an opaque NameID
// or userName fallback never becomes the email.
func emailOnly() Transform { return Transform{Op: OpEmail} }

// okta: Okta sends no attribute statements by default; its NameID is the
// "Application username" (by default the Okta username, an email address), and
// admins add attribute statements whose names Okta's guides spell firstName,
// lastName, email, with a group attribute statement named groups.
//
//   - SAML: https://developer.okta.com/docs/guides/build-sso-integration/saml2/main/
//     (attribute statements) and https://help.okta.com/en-us/content/topics/apps/define-attribute-statements.htm
//   - SCIM: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20
//     (the create-user body: userName, name.givenName/familyName, emails with
//     primary true, displayName; groups are pushed separately as Groups).
func okta() Mapping {
	return Mapping{
		Email:       rule(list("email", claimEmail, SourceNameID), list(scimPrimaryEmail, scimWorkEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName:    rule(list(SourceNameID), list("userName"), true),
		GivenName:   rule(list("firstName", "givenName", claimGivenName), list("name.givenName"), false),
		FamilyName:  rule(list("lastName", "familyName", claimSurname), list("name.familyName"), false),
		DisplayName: displayNameRule(list("displayName"), list("displayName", "name.formatted")),
		Groups:      rule(list("groups"), list(scimGroupsDisplay), false),
	}
}

// entra: Microsoft Entra ID's default "Attributes & Claims" of a SAML
// enterprise app: NameID = user.userprincipalname, emailaddress = user.mail,
// givenname, surname, name = user.userprincipalname; Entra also emits
// identity/claims/displayname. The groups claim is optional and carries group
// object IDs unless configured otherwise.
//
//   - SAML: https://learn.microsoft.com/entra/identity-platform/saml-claims-customization
//     and https://learn.microsoft.com/entra/identity-platform/reference-saml-tokens
//   - SCIM: the default user attribute mapping of
//     https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
//     (userPrincipalName→userName, mail→emails[type eq "work"].value,
//     givenName→name.givenName, surname→name.familyName,
//     displayName→displayName).
//
// A user without a mailbox has no mail: Entra then sends no email on either side
// and the preset falls back to the UPN (the name claim / userName) on both.
//
// userName comes from the name claim before the NameID: both are the UPN by
// default, but admins often switch the NameID to a persistent or pairwise
// identifier (user.objectid, the documented samples' format), and the SCIM
// side's userName stays userPrincipalName, so the name claim is what makes the
// same person the same account on both sides.
func entra() Mapping {
	return Mapping{
		Email:       rule(list(claimEmail, claimName, SourceNameID), list(scimWorkEmail, scimPrimaryEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName:    rule(list(claimName, SourceNameID), list("userName"), true),
		GivenName:   rule(list(claimGivenName), list("name.givenName"), false),
		FamilyName:  rule(list(claimSurname), list("name.familyName"), false),
		DisplayName: displayNameRule(list(claimDisplayName), list("displayName", "name.formatted")),
		Groups:      rule(list(claimGroups), list(scimGroupsDisplay), false),
	}
}

// google: a Google Workspace custom SAML app sends the NameID "Basic
// Information > Primary email" by default and no attributes unless the admin
// maps some; the names below are the ones Google set-up guides use
// (firstName/lastName, email, groups for "Group membership").
//
//   - SAML: https://support.google.com/a/answer/6087519 (set up a custom SAML app:
//     Name ID, attribute mapping, group membership)
//   - SCIM: https://support.google.com/a/answer/7681608 (automated user
//     provisioning: primary email as userName, first and last name, emails)
func google() Mapping {
	return Mapping{
		Email:       rule(list("email", "mail", SourceNameID), list(scimPrimaryEmail, scimWorkEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName:    rule(list(SourceNameID), list("userName"), true),
		GivenName:   rule(list("firstName", "givenName", "first_name"), list("name.givenName"), false),
		FamilyName:  rule(list("lastName", "familyName", "surname", "last_name"), list("name.familyName"), false),
		DisplayName: displayNameRule(list("displayName"), list("displayName", "name.formatted")),
		Groups:      rule(list("groups"), list(scimGroupsDisplay), false),
	}
}

// oneLogin: OneLogin's SAML connectors send the NameID (Email by default) and
// the parameters User.email, User.FirstName, User.LastName, memberOf and
// PersonImmutableID. memberOf can arrive as one semicolon-delimited value, so it
// is split at ';'. OneLogin's SCIM provisioner's default JSON template sends
// userName ({$parameters.scimusername}), name.givenName/familyName/formatted and
// a work email marked primary.
//
//   - SAML: https://developers.onelogin.com/saml (SAML Test Connector (IdP w/ attr))
//   - SCIM: https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904
//     and https://developers.onelogin.com/scim/create-app
func oneLogin() Mapping {
	return Mapping{
		Email:       rule(list("User.email", SourceNameID), list(scimPrimaryEmail, scimWorkEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName:    rule(list(SourceNameID), list("userName"), true),
		GivenName:   rule(list("User.FirstName"), list("name.givenName"), false),
		FamilyName:  rule(list("User.LastName"), list("name.familyName"), false),
		DisplayName: displayNameRule(list("User.DisplayName"), list("displayName", "name.formatted")),
		Groups:      rule(list("memberOf"), list(scimGroupsDisplay), false, Transform{Op: OpSplit, Arg: ";"}),
	}
}

// jumpCloud: a JumpCloud SAML app sends the SAMLSubject NameID (the user's
// email by default) and the user attributes the admin maps, named after
// JumpCloud's attribute names (email, firstname, lastname, displayname; matched
// case-insensitively, so firstName works too); "include group attribute" adds
// memberOf. JumpCloud's SCIM integration sends userName (the JumpCloud
// username, which is not an email address), name.givenName, name.familyName,
// displayName and emails. Because the NameID is the email by default, the two
// sides only agree on userName when the admin also maps the JumpCloud attribute
// username (as "username") or sets the SAMLSubject NameID to the username; the
// preset reads "username" first and falls back to the NameID.
//
//   - SAML: https://jumpcloud.com/support/saml-attribute-notes and
//     https://jumpcloud.com/support/configure-user-attributes-for-saml-connectors
//   - SCIM: https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration
func jumpCloud() Mapping {
	return Mapping{
		Email:       rule(list("email", SourceNameID), list(scimPrimaryEmail, scimWorkEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName:    rule(list("username", SourceNameID), list("userName"), true),
		GivenName:   rule(list("firstname"), list("name.givenName"), false),
		FamilyName:  rule(list("lastname"), list("name.familyName"), false),
		DisplayName: displayNameRule(list("displayname"), list("displayName", "name.formatted")),
		Groups:      rule(list("memberOf"), list(scimGroupsDisplay), false),
	}
}

// generic: any standards-minded IdP. SAML names cover the X.500/LDAP attribute
// profile (urn:oid, as REFEDS/InCommon/eduPerson IdPs send them), the
// WS-Federation claim URIs and the common plain names; SCIM follows RFC 7643
// (section 4.1 attributes, the section 8.2 full user representation).
//
//   - SAML: https://docs.oasis-open.org/security/saml/v2.0/saml-profiles-2.0-os.pdf
//     (section 8.2, X.500/LDAP attribute profile) and https://refeds.org/specifications/eduperson
//   - SCIM: https://www.rfc-editor.org/rfc/rfc7643#section-8.2
func generic() Mapping {
	return Mapping{
		Email: rule(list("email", "mail", "emailAddress", oidMail, claimEmail, "User.email", SourceNameID),
			list(scimPrimaryEmail, scimWorkEmail, scimAnyEmail, "userName"), true, emailOnly()),
		UserName: rule(list(SourceNameID, oidEPPN, oidUID, "uid", "username"), list("userName"), true),
		GivenName: rule(list("givenName", "firstName", "given_name", "first_name", oidGivenName, claimGivenName, "User.FirstName"),
			list("name.givenName"), false),
		FamilyName: rule(list("sn", "surname", "familyName", "lastName", "family_name", "last_name", oidSurname, claimSurname, "User.LastName"),
			list("name.familyName"), false),
		DisplayName: displayNameRule(list("displayName", oidDisplayName, claimDisplayName), list("displayName", "name.formatted")),
		Groups:      rule(list("groups", "memberOf", "isMemberOf", oidIsMemberOf, claimGroups), list(scimGroupsDisplay), false),
	}
}
