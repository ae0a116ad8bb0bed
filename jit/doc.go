// Package jit is onramp's SAML service provider and its just-in-time (JIT)
// provisioning policy.
//
// The parts, in the order a sign-in flows through them:
//
//   - ConnectionConfig: one SSO connection as the service provider sees it: our
//     entity ID (BASE/saml/{org}/{connection}/metadata) and ACS URL, the
//     identity provider's entity ID, SSO URL and signing certificates (imported
//     from its metadata with ParseIdPMetadata; several certificates are kept so
//     that an IdP can rotate its key), and the connection's SP key pair
//     (NewSPKeyPair), which signs our AuthnRequests and decrypts encrypted
//     assertions.
//   - RequestTracker: the AuthnRequest IDs a browser is waiting on, kept in an
//     HMAC-signed cookie so that a response answers a request that this browser
//     started, on any replica.
//   - Verifier: a strict wrapper around github.com/russellhaering/gosaml2. A
//     response yields an Assertion only when every check has passed; otherwise
//     Verify returns a *VerifyError whose Reason is a stable code for the error
//     page and the audit log. gosaml2 reports some results (audience, validity
//     time) only as warnings, and does not check InResponseTo or replay at all;
//     Verify turns all of them into failures. See Verify for the full list.
//   - Decide: the JIT policy of DESIGN.md as a pure function.
//   - Provisioner: gathers Decide's input from the store (the identity's
//     account, accounts with the same userName or email, mapped through the
//     connection's attribute mapping from package attributes) and carries the
//     decision out; a conflict with a racing SCIM push or login is re-read, so
//     one person ends with one account. Every decision is an audit event.
//   - Sessions: random session cookies whose SHA-256 is stored.
//   - Handler: the echo endpoints (metadata, login, ACS, /api/v1/me) and the
//     error pages, which show a stable reason code and what to ask the Admin
//     for, never the cause.
//
// Nothing in this package logs a SAML response, an assertion or a token.
package jit
