// Package server builds onramp's HTTP front: the echo instance with its middleware
// (request IDs, panic recovery, request logging), the JSON error renderer, the health
// endpoints and the mount point of the SCIM handler.
//
// The middleware order, outermost first, is: request ID, request log, recover. So
// every request, even one whose handler panics, is logged once with its final status
// and request ID. Request logs carry the method, the path without its query string,
// the status, the latency and the request ID; never bodies, query strings or headers,
// because those hold bearer tokens, SAML responses and personal data.
//
// Errors become JSON bodies of the shape {"error": "...", "request_id": "..."}. A 5xx
// never carries the cause's text, only "internal error, reference <request-id>"; the
// cause goes to the log under the same request ID.
package server
