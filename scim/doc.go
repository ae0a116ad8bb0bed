// Package scim serves onramp's SCIM 2.0 endpoint (RFC 7643, RFC 7644): Users and
// Groups over github.com/elimity-com/scim, behind a bearer-token check that scopes
// every request to one organization and connection, a body-size limit, and a small
// normalisation step for the shapes real identity providers (Okta, Microsoft Entra
// ID) send that elimity would otherwise reject. SCIM filters are translated into the
// typed store.Filter; store errors are mapped to SCIM error bodies in one place.
package scim
