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
//  3. Token limits (Config.Limits, limits.go; in this process, package
//     throttle): requests in flight per token (onramp serve: 16) and,
//     if set, a token-bucket rate per token (onramp serve: off) → 429 with
//     Retry-After, which Okta and Entra honour by backing off.
//  4. Body limit (Config.MaxBodyBytes, default 1 MiB) → 413; a list filter
//     longer than MaxFilterLength (4 KiB) → 400 invalidFilter.
//  5. Adaptation: POST …/.search becomes the equivalent GET; a list without
//     count gets DefaultPageSize (100); count is capped at MaxPageSize (1000,
//     store.MaxPageSize); vendor quirks are normalised (see quirks.go: Entra's
//     string booleans, manager shapes, unquoted filter values, and
//     emails[type eq "work"].value eq "…" filters). Shapes elimity accepts as
//     they are (capitalised ops, explicit nulls, extra schema URIs, Okta's
//     read-only id in PATCH values) are not touched.
//  6. elimity validates against the schemas (schemas.go) and calls the Users and
//     Groups handlers, which map every error through toSCIMError: SCIM error
//     bodies with the right status and scimType, never internal text.
//
// # Resources
//
// A user's SCIM resource is stored as the IdP sent it (without id, meta,
// schemas, password and the read-only groups), so GET returns what was PUT; the
// profile fields the rest of onramp uses are derived from it (see Mapping).
// PATCH applies operations with
// package scim/patch. active:false (by PATCH or PUT) deactivates the account and
// the store ends its sessions; active:true reactivates it; DELETE leaves a
// tombstone that SCIM no longer shows and JIT refuses to resurrect. Groups keep
// their attributes in the same way and their members in the store; PATCH
// operations on members become one store.MemberChange. Every change writes an
// audit event naming the token ("token:<id>").
//
// # Mass de-provisioning safety rail
//
// User writes go through the store's guarded updates (store.Holds) with
// Config.Limits.Deprovision. When one token de-provisions (active:false by
// PATCH or PUT, or DELETE of an active user) more than its share of the
// organization's active users within the window (onramp serve: 10%, but
// never fewer than 20, within an hour), the store holds the token: that
// write and every further de-provisioning by it change nothing and are
// answered 429 with Retry-After: 300 and a detail telling that an Admin must
// release the hold in the console; the audit log gets
// scim.deprovisioning_held. 429 rather than 403, because Okta and Entra retry
// a 429 and give up on a 403: after the release the held changes arrive with
// the IdP's retries. Other writes of the token go on. Elimity allows no 429
// for a write, so the answer is written past it (override in limits.go).
//
// # Mapping
//
// The profile is derived with the attribute mapping of the token's connection
// (package attributes: attributes.Resolve(conn.MappingPreset, conn.Mapping),
// then FromSCIM), the same mapping the SAML side uses, so that a person looks
// the same whichever way they arrived. What comes from where:
//
//   - userName, externalId and active always come from the resource itself. An
//     IdP looks its users up by userName (and Entra by externalId) before it
//     creates one; a mapping that changed them would make its own lookups miss
//     and create duplicates.
//   - email, givenName, familyName and displayName come from the mapping. The
//     account's email list (store.User.Emails) keeps every address of the
//     resource, so that filters on emails see all of them, with the mapped
//     email first (flagged primary if another address is), so that
//     User.PrimaryEmail is the mapped email; a mapped email that is not in the
//     list (a fallback such as userName) is added to it.
//   - role: a create gets the role the mapping gives (its default role unless
//     a role rule matches). A mapping with role rules manages roles, and every
//     update sets the role again; without rules an update leaves the role alone
//     (an Admin may have changed it). The read-only groups attribute is not part
//     of the stored resource, so role rules only see groups when the mapping
//     reads them from another attribute (roles, an extension).
//   - custom fields: set from the mapping on every write when it defines any,
//     else left alone.
//
// A missing required field (the presets require email, because JIT's domain
// rule needs one) never rejects a push: SCIM requires only userName, and the
// account is stored with what there is. A mapping that does not resolve (an
// unknown preset, overrides that no longer validate) or a connection that is
// gone maps with the generic preset, and the problem is logged: a broken
// mapping must never stop an IdP's pushes, least of all a deactivation.
//
// Compiled mappings are cached per connection. An entry is trusted for
// Config.MappingRecheck (default one second); the next write after that reads
// the connection and compiles again only if its UpdatedAt moved. So a mapping
// change applies to pushes at most a second later, and a write costs neither a
// connection read nor a compilation. A PUT or PATCH that changes neither the
// resource nor the profile derived from it writes nothing (no new version, no
// audit event); after a mapping change, the next push of a user rewrites its
// profile even if the resource is the same.
//
// # Performance
//
// The request path avoids the work that dominated it when first measured
// (`go test ./scim -run XXX -bench SCIM -cpuprofile …`, and `onramp bench scim`):
//
//   - elimity's schema constructors compile a regular expression per attribute
//     name on every call; the Handler builds its schemas and PATCH appliers once.
//   - User updates are planned (stored resource decoded, PATCH applied, profile
//     mapped) before the store's update, not inside its closure: on SQLite one
//     goroutine runs every write, so work inside the closure is work no other
//     write can do meanwhile. The closure checks that Version is unchanged and
//     applies the plan, planning again only after a concurrent write.
//   - GET /Users?filter=userName eq "…" (also externalId, id), the lookup IdPs
//     send before every create, is answered without elimity, whose filter
//     validation rebuilds schemas and runs a slow parser per request; the answer
//     is elimity's, byte for byte (fastlist_test.go).
//
// Filters are translated into store.Filter (filter.go) for the attributes the
// store indexes: id, externalId, userName, displayName, active, meta.created,
// meta.lastModified, emails (value, type, primary, value paths) and, for groups,
// members.value. Anything else is refused with invalidFilter, never scanned.
// attributes and excludedAttributes are applied by the handlers (elimity ignores
// them); id, schemas and meta are always returned. Optimistic concurrency:
// meta.version and ETag are W/"<version>", and If-Match on PUT, PATCH and DELETE
// is enforced (412), inside the write's own transaction (PUT and PATCH in
// their update closure, DELETE through store.VersionCheck), so no other write
// can come between the check and the change. Sorting and bulk are not supported, as
// /ServiceProviderConfig says.
package scim
