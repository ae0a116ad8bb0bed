// Package patch applies SCIM PATCH operations (RFC 7644 section 3.5.2) to a
// stored SCIM resource.
//
// onramp keeps each SCIM resource as the identity provider sent it (a JSON
// object, without id and meta). The scim package lets github.com/elimity-com/scim
// parse and validate a PATCH request, then calls Apply with the stored
// document and the []scim.PatchOperation elimity produced:
//
//	out, err := patch.Apply(doc, ops, userSchema, enterpriseUserSchema)
//
// Apply is pure: no I/O, no clock, no logging. It works on a deep copy, so the
// input document is never modified, and it applies either every operation or
// none: on the first failing operation it returns nil and an *Error whose
// ScimType is invalidPath, noTarget, invalidValue or mutability, and whose
// Detail names the operation's index and path but never a value (attribute
// values are personal data). (*Error).ScimError turns it into elimity's
// 400 error value.
//
// # What elimity has already done
//
// Apply is written against what elimity's validator hands over (internal/patch
// in the elimity module): op is lower-case; a path has been parsed and
// checked against the schemas; values have been checked against the attribute
// types, with integers as int64, decimals as float64, unknown and readOnly
// sub-attributes of complex values dropped; a multi-valued attribute's value is
// wrapped in a list unless the path has a value filter; a path-less value is an
// object whose keys are still raw paths; an "id" key in it has been removed.
// elimity rejects, with 400, before Apply runs: a null value, a string where a
// boolean is expected (Entra's "False"), a bare string for a complex attribute
// (Entra's manager), an extension attribute named without its schema URN, and
// a remove without a path. Apply handles all of those anyway, so that it is
// safe to call with operations from elsewhere and so that a normalising
// middleware in front of elimity can pass such shapes through; see "IdP quirks".
//
// # Semantics
//
// Names. Attribute and sub-attribute names are matched case-insensitively
// (RFC 7643 section 2.1), in paths, in value objects and in the stored
// document; whatever Apply writes uses the schema's spelling, so a replace on
// "Name.GivenName" of a document holding "NAME": {"GivenName": …} yields
// "name": {"givenName": …}. Extension attributes live in an object under the
// extension's URN; a path reaches them as "urn:…:enterprise:2.0:User:manager"
// or "urn:…:enterprise:2.0:User:manager.value", and a path-less value may use
// such keys or the URN itself as a key holding an object of attributes. A name
// without URN that only one extension defines resolves to that extension.
// id, externalId and meta are known to every resource type. When an operation
// creates or empties an extension's object, a stored "schemas" list gains or
// loses that URN.
//
// Unassigned values. null, "", [] and {} are "unassigned" (RFC 7643 section
// 2.5, with "" added): writing one removes the attribute or sub-attribute.
// An attribute or element left without any assigned sub-attribute disappears,
// as does an emptied extension object.
//
// add (section 3.5.2.1). Without a path, each key of the value object is
// applied as an add on that path, keys in sorted order. On a single-valued
// simple attribute the value replaces the old one. On a single-valued complex
// attribute the given sub-attributes are merged in, the others are kept. On a
// multi-valued attribute the given elements are appended, except those equal
// to an element already there (schema-aware: caseExact, numbers by value).
// With a value filter and a sub-attribute (emails[type eq "work"].value) the
// sub-attribute is set on every matching element; with a value filter only,
// the value object is merged into every matching element. When no element
// matches and the filter is an "eq" comparison or an "and" of them, a new
// element is appended that carries the compared values and the value (Entra
// relies on this; RFC 7644 leaves it open); with any other filter the
// operation fails with noTarget.
//
// replace (section 3.5.2.3). As add, except that a multi-valued attribute
// without filter is replaced as a whole, and a value filter without
// sub-attribute replaces each matching element with the value (noTarget when
// none matches). A value filter with a sub-attribute behaves as for add,
// including appending an element when none matches and the filter is made of
// "eq" comparisons (Entra sends replace for a work email the user does not
// have yet).
//
// remove (section 3.5.2.2). A path is required (noTarget). It removes the
// attribute, the sub-attribute, the elements a value filter matches, or a
// sub-attribute of them. With a value and no filter on a multi-valued
// attribute, it removes the elements that match one of the given elements
// (every sub-attribute given is equal). Removing something absent, or a filter
// matching nothing, changes nothing and is not an error.
//
// Elements and their "value". Unassigning the "value" sub-attribute of an
// element (emails[type eq "work"].value set to "" or removed) removes the
// element: an email or phone number without its value means nothing. When the
// "value" of a complex attribute or element changes, its readOnly
// sub-attributes (manager.displayName) are dropped: they described the old
// reference.
//
// primary. An operation that sets "primary" to true on an element sets it to
// false on the others (RFC 7644 section 3.5.2); one that marks two elements
// primary fails with invalidValue (RFC 7643 section 2.4).
//
// Value filters support every comparison of RFC 7644 section 3.4.2.2 (eq, ne,
// co, sw, ew, pr, gt, ge, lt, le) and and, or, not, against the sub-attributes
// of an element ("value" for a list of simple values). Strings compare
// case-insensitively unless the sub-attribute is caseExact; dateTime values
// compare as instants; numbers by value; booleans with eq and ne only, and a
// literal "true" matches a boolean true. A value filter on a single-valued
// attribute, which elimity accepts, is refused with invalidPath.
//
// Mutability. Writing or removing a readOnly attribute or sub-attribute (id,
// meta, groups, manager.displayName) fails with mutability; so do changing an
// assigned immutable attribute or sub-attribute (a group member's display)
// and unassigning a required one (userName, a group's displayName). Inside a
// complex value, readOnly sub-attributes are dropped instead, as elimity does.
// A path-less value's "id" key is ignored (Okta sends the group id with a
// rename).
//
// # IdP quirks
//
// Each quirk, with its source; the request bodies are in testdata/requests.
//
//   - Okta deactivates a user with a path-less replace,
//     {"op":"replace","value":{"active":false}}, and renames a group with
//     {"op":"replace","value":{"id":"…","displayName":"…"}}, the id included.
//     Source: Okta, "SCIM 2.0 protocol reference",
//     developer.okta.com/docs/reference/scim/scim-20.
//   - Entra ID spells op as "Add", "Replace", "Remove" (elimity lower-cases
//     it), and without the aadOptscim062020 flag sends booleans as strings
//     ("active": "False") and removes group members with
//     {"op":"Remove","path":"members","value":[{"value":"id"}]}. With the flag it
//     sends a path-less replace whose keys are dotted paths and URN-prefixed
//     attributes ("name.givenName", "urn:…:enterprise:2.0:User:employeeNumber").
//     Source: Microsoft, "Known issues and resolutions with SCIM 2.0 protocol
//     compliance of the Microsoft Entra user provisioning service",
//     learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility.
//     elimity rejects the string booleans; Apply converts "true"/"false" in any
//     case for boolean attributes when they reach it.
//   - Entra maps the work email to emails[type eq "work"].value and replaces it
//     whether or not the user has a work email yet; it adds members with
//     "$ref": null. Source: Microsoft, "Tutorial: Develop and plan provisioning
//     for a SCIM endpoint in Microsoft Entra ID",
//     learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups.
//   - Entra sends the enterprise manager as a bare id,
//     {"op":"add","path":"urn:…:enterprise:2.0:User:manager","value":"2c2f…"},
//     where RFC 7643 section 4.3 has {"value":"2c2f…"}. Sources: the
//     schema example in the Microsoft tutorial above ("manager": "123456") and
//     recorded requests in github.com/Captain-P-Goldfish/SCIM-SDK issue 686 and
//     github.com/apache/directory-scimple issue 1242. elimity rejects the bare
//     string; Apply turns it into {"value": …} for any complex attribute that
//     has a "value" sub-attribute.
package patch
