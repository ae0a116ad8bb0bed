// Package attributes maps identity-provider data to onramp's Profile: SAML
// assertions (attribute statement and NameID) on the JIT path, SCIM User
// resources on the provisioning path, with one Mapping per SSO connection so that
// a person looks the same whichever way they arrived.
//
// The package is pure: no I/O, no clock, no randomness, and no other onramp
// package (deps_test.go enforces that, and that neither net/http nor
// database/sql is imported). Everything is a function of its arguments, so it is
// safe for concurrent use.
//
// # The mapping model
//
// A Mapping has one Rule per profile field (email, userName, givenName,
// familyName, displayName, groups), custom fields (name → Rule), role rules and
// an ownership choice. A Rule has two lists of candidate sources, one per side:
//
//   - SAML: attribute Names as the IdP sends them, e.g. "email" or
//     "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", or
//     the special source "NameID" (the assertion's Subject NameID). Names match
//     exactly, else case-insensitively.
//   - SCIM: attribute paths in RFC 7644's PATCH path grammar, evaluated on the
//     resource: "userName", "name.givenName", "emails[primary eq true].value",
//     `emails[type eq "work"].value`, "groups.display",
//     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".
//
// The first candidate that yields a value (after the rule's transforms) wins;
// the trace says which. Then, if nothing did, the rule's Template
// ("{givenName} {familyName}") and then its default apply. Transforms: lower,
// upper, first, split(sep), join(sep), default(value), email (keep only email
// addresses). Values are always trimmed and empty values dropped. A
// single-valued field takes the first value left ("first element fallback");
// groups keep all, deduplicated. A Required field that gets no value makes
// FromSAML/FromSCIM return a *MissingFieldError naming the field and the
// sources tried (never values).
//
// SCIM path evaluation: attribute names and schema URNs are case-insensitive; a
// URN-prefixed path looks inside that extension's object (or, failing that, at a
// top-level key spelling the whole path); the core User URN prefix addresses the
// top level. A value filter supports eq, ne, co, sw, ew, gt, ge, lt, le, pr, and,
// or, not, compares strings case-insensitively and accepts "True"/"False"
// strings for booleans (Entra). A multi-valued attribute without a filter yields
// all its elements in order; an object leaf yields its "value" sub-attribute.
// Paths are parsed by github.com/scim2/filter-parser, whose grammar accepts
// "not (…)" only at the start of a value filter and no parenthesised grouping
// inside one; such paths fail validation with ErrPathSyntax.
//
// Role: the first role rule, in order, whose group the person is in (groups
// compare case-insensitively) gives the role; otherwise DefaultRole, or
// RoleMember. RoleAdmin is the role that may administer the organization. Any
// spelling of "admin"/"member" is canonicalised.
//
// Mappings are stored per connection as a preset name plus the admin's
// overrides in JSON (store.Connection.MappingPreset and .Mapping). Resolve
// combines them: Preset, ParseMapping (strict: unknown keys fail), Overlay
// (field by field; a set list replaces, an absent one inherits, an empty one
// clears), Validate (every problem at once, as *ValidationError with field
// names). Compile once and reuse the *Compiled on hot paths.
//
// # At the edges
//
// FromSAML and FromSCIM return the (partial) profile and the trace even when they
// also return *MissingFieldError, so an edge can decide. The JIT path refuses a
// sign-in with a missing required field (400 page naming the field). The SCIM
// path may be more lenient where the SCIM protocol is: RFC 7643 requires only
// userName, so a pushed user without an email address can be stored with the
// profile returned alongside the error (the presets require email because JIT's
// domain rule needs it).
//
// # Presets
//
// okta, entra, google, onelogin, jumpcloud and generic. Each fills both sides
// from the vendor's documented defaults; where the vendor sends no attributes by
// default (Okta, Google, JumpCloud send only a NameID unless the admin adds
// attribute statements) the names are those the vendor's own set-up guides use.
// The documentation each choice comes from is cited in presets.go. Fixtures in
// testdata/<preset>/ hold, for one person, the SCIM body the IdP pushes and the
// NameID and attributes it asserts; the tests check both map to the same golden
// Profile. They are modelled on the vendors' documented examples, not captured
// from live tenants.
//
// # Preview
//
// Preview applies a mapping to a pasted SAML response (base64 as posted to an ACS,
// or XML), assertion, bare attribute statement or SCIM User body, detecting
// which, and returns the profile, the trace, what is missing, the NameID, the
// email domain and the blockers (what would stop a JIT sign-in whatever the
// organization's policy). It parses XML with encoding/xml in strict mode and
// refuses DOCTYPEs. It does not verify signatures or anything else: it is a
// preview of the mapping only.
//
// Whether JIT is then allowed is the organization's policy, decided in package
// jit: a sign-in may create an account only when Blockers is empty and either
// the connection route holds (jit.ssoConnections on, the connection in
// accessControl.ssoConnections, its jitProvisioning on) or the email route holds
// (jit.emailDomains on and EmailDomain in accessControl.emailDomains).
//
// # Ownership
//
// Who owns an account's profile after it exists is a per-connection choice
// (Mapping.Ownership): "assertion" (each SSO login updates the profile from the
// assertion) or "scim" (fields SCIM manages are left alone on login; a login only
// fills empty fields). When the mapping does not say, DefaultOwnership picks
// "scim" if the connection has a SCIM token and "assertion" otherwise. Merge
// applies the choice and documents exactly which fields change.
package attributes
