// Package scim serves onramp's SCIM 2.0 endpoint (RFC 7643, RFC 7644) at
// BASE/scim/v2: /Users and /Groups (POST, GET, PUT, PATCH, DELETE, POST
// …/.search), /ServiceProviderConfig, /Schemas and /ResourceTypes, over
// github.com/elimity-com/scim.
//
// # Mounting
//
// New returns an http.Handler for every path under the path of Config.BaseURL
// (for example /scim/v2); it strips that prefix itself, so the composition root
// wraps it with echo.WrapHandler on "/scim/v2" and "/scim/v2/*" (package server
// does), or calls Handler.Mount.
//
// # Request pipeline
//
//  1. Request ID: the one the server's middleware set, else a well-formed
//     X-Request-ID, else a new one. 500 bodies quote it; the log has the cause.
//  2. Bearer token (apitoken.Verify, kind scim): missing or bad → 401 with
//     WWW-Authenticate: Bearer; store failure → 503. The token selects the
//     organization and connection (Tenant in the context); every store call is
//     scoped by that organization, so a token never reaches another's data.
//  3. Body limit (Config.MaxBodyBytes, default 1 MiB) → 413.
//  4. Adaptation: POST …/.search becomes the equivalent GET; a list without
//     count gets DefaultPageSize (100); count is capped at MaxPageSize (1000,
//     store.MaxPageSize); vendor quirks are normalised (see quirks.go: Entra's
//     string booleans, manager shapes, unquoted filter values, and
//     emails[type eq "work"].value eq "…" filters). Shapes elimity accepts as
//     they are (capitalised ops, explicit nulls, extra schema URIs, Okta's
//     read-only id in PATCH values) are not touched.
//  5. elimity validates against the schemas (schemas.go) and calls the Users and
//     Groups handlers, which map every error through toSCIMError: SCIM error
//     bodies with the right status and scimType, never internal text.
//
// # Resources
//
// A user's SCIM resource is stored as the IdP sent it (without id, meta,
// schemas, password and the read-only groups), so GET returns what was PUT; the
// profile fields the rest of onramp uses (userName, externalId, displayName,
// names, emails, active) are derived from it. PATCH applies operations with
// package scim/patch. active:false (by PATCH or PUT) deactivates the account and
// the store ends its sessions; active:true reactivates it; DELETE leaves a
// tombstone that SCIM no longer shows and JIT refuses to resurrect. Groups keep
// their attributes in the same way and their members in the store; PATCH
// operations on members become one store.MemberChange. Every change writes an
// audit event naming the token ("token:<id>").
//
// Filters are translated into store.Filter (filter.go) for the attributes the
// store indexes: id, externalId, userName, displayName, active, meta.created,
// meta.lastModified, emails (value, type, primary, value paths) and, for groups,
// members.value. Anything else is refused with invalidFilter, never scanned.
// attributes and excludedAttributes are applied by the handlers (elimity ignores
// them); id, schemas and meta are always returned. Optimistic concurrency:
// meta.version and ETag are W/"<version>", and If-Match on PUT, PATCH and DELETE
// is enforced (412). Sorting and bulk are not supported, as
// /ServiceProviderConfig says.
package scim
