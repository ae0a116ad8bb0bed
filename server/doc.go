// Package server builds onramp's HTTP front: the echo instance with its middleware
// (request IDs, panic recovery, request logging), the JSON error renderer, the health
// endpoints, the mount point of the SCIM handler and, with Config.Metrics, the
// Prometheus metrics at /metrics.
//
// The middleware order, outermost first, is: request ID, request log, metrics,
// recover, limits, durable. So every request, even one whose handler panics, is logged and counted
// once with its final status and request ID. Request logs carry the method, the
// path without its query string, the status, the latency, the request ID and, on
// routes that name them, the organization and connection slugs; never bodies,
// query strings or headers, because those hold bearer tokens, SAML responses and
// personal data. LogHandler adds the request ID, and whatever else the caller's
// sources read from the context (cmd/onramp adds a SCIM token's organization and
// connection), to every record logged with a request's context.
//
// Metrics are labelled by route pattern (/saml/:org/:connection/acs), never by
// raw path; SCIM requests, which one route serves, are labelled by their own
// pattern (/scim/v2/Users/:id) and counted by operation (Users.patch). /metrics
// is not authenticated: it tells request counts and latencies, no personal data,
// but a public deployment should still keep it to the scraper (see README).
//
// Limits (limits.go): every request body outside SCIM is bounded (MaxBody,
// 4 MiB; MaxACSBody, 1 MiB, for the ACS) before a handler reads it, and a
// body declared larger is answered 413 at once; each handler bounds its own
// lower still. Config.Limits adds per-process rate limits (package throttle)
// on the SAML sign-in endpoints per client address and on bearer-token
// requests outside SCIM (the admin API) per token. Refusals are in the
// route's format: the JSON error body under /api/, an HTML page with a reason
// code (too_large, rate_limited) elsewhere, and 429s carry Retry-After. SCIM
// requests are left to the SCIM handler, which bounds them in SCIM's format.
//
// Durability (durable.go): with Config.Durable, an answer's status line waits
// until every write committed so far is durable. A sign-in commits without
// waiting for the disk (store/sqlstore, "Deferred durability") and the
// store fsyncs it right after; this is what keeps such a write from being
// shown, over SCIM, /api/v1/me or the console, before an OS crash could no
// longer take it back. The ACS (Config.AnswerBeforeDurable) does not wait:
// its answer is only the session's cookie and a redirect.
//
// Errors become JSON bodies of the shape {"error": "...", "request_id": "..."}. A 5xx
// never carries the cause's text, only "internal error, reference <request-id>"; the
// cause goes to the log under the same request ID.
package server
