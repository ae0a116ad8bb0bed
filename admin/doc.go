// Package admin is onramp's admin API: what an organization's Admin
// configures (user onboarding and the access control list, SSO connections
// and their authentication settings, attribute mappings, SCIM tokens) and
// reads (users, groups, the audit log), the release of a SCIM token's held
// de-provisioning (holds.go), and the rollover of a connection's SP
// certificate in three steps (sprollover.go).
//
// It has two layers:
//
//   - Service holds every operation as a Go method taking an Actor. It knows
//     no HTTP, so the server-rendered console can call the same functions as
//     the JSON API. An Actor is made only by Service.Authorize, after
//     Service.Authenticate has identified the caller. Invalid input is a
//     *ValidationError whose Fields name each field and what is wrong with it;
//     input is validated completely before the one store write a change makes,
//     so nothing partial is ever saved. Every change is written together with
//     an audit event naming the actor ("token:<id>" or "user:<id>"); an update
//     that changes nothing writes nothing.
//   - API is the JSON edge under BASE/api/v1 (echo): authentication,
//     authorization, CSRF, body decoding and limits, and httpStatus, the one
//     function that maps errors to status codes. The OpenAPI 3 document of
//     the API (openapi.json, embedded) is served at BASE/api/v1/openapi.json;
//     tests check that it lists exactly the routes the API registers and that
//     the answers match its schemas.
//
// # Authentication and authorization
//
// A caller is either an admin API token (`onramp token create --admin`),
// sent as "Authorization: Bearer onramp_…" and bound to one organization, or
// the browser session (package jit's cookie) of a live user whose role in the
// organization is Admin. No credentials, or invalid ones: 401. Valid
// credentials of someone who may not administer (a Member's session, a SCIM
// token): 403. Any organization other than the credential's: 404, whether it
// exists or not.
//
// # CSRF
//
// Requests authenticated by the session cookie that change something (POST,
// PUT, PATCH, DELETE) must carry the session's CSRF token in the X-CSRF-Token
// header (HTML forms: the csrf_token field; see CSRFToken and CheckCSRF). The
// token is HMAC-SHA256, keyed with the session cookie's secret, of a fixed
// label: stateless, the same on every replica, valid for the session's
// lifetime, and computable only by whoever holds the cookie. A page of another
// site can neither read the HttpOnly cookie nor read the token from
// GET /api/v1/csrf-token (onramp sends no CORS headers). Bearer-token requests
// are exempt: browsers never attach an Authorization header by themselves.
//
// # Errors
//
// Error answers are {"error": "…", "fields": {…}, "request_id": "…"}, with a
// fixed "error" text per status: 400 invalid input (fields), 401, 403, 404,
// 409 a conflict with what is stored (e.g. a slug taken; fields; or a step of
// the SP certificate rollover that its state does not allow, whose "error"
// says why, in fixed words: StateError), 412 If-Match
// does not match the version (ETag), 413, 415, and 500 "internal error,
// reference <request-id>", whose cause goes only to the log.
package admin
