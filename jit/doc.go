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
//   - Profiles: an account JIT creates gets the mapped profile, the role from
//     the mapping's role rules, the asserted groups (kept under GroupsField
//     in Custom; SAML never creates or changes SCIM groups) and a SCIM
//     resource (userName, name, displayName, the email as the primary work
//     address, active), so that GET /scim/v2/Users/{id} shows it and an IdP
//     that looks the userName up before it creates a user finds and adopts
//     it (a blind create gets 409 uniqueness). Every later sign-in of an
//     existing account merges the assertion into the profile
//     (attributes.Merge) under the mapping's ownership, by default
//     "scim" while the connection has a live SCIM token and "assertion"
//     otherwise, and the role changes only if the mapping has role rules
//     (the default role says nothing about the person); the account is
//     written (Version+1, "user.updated" by "idp:<connection>") only when
//     that changes something.
//   - Sessions: random session cookies whose SHA-256 is stored; POST /logout
//     deletes the session and clears the cookie.
//   - Handler: the echo endpoints (metadata, login, ACS, /api/v1/me,
//     /logout) and the error pages, which show a stable reason code and what
//     to ask the Admin for, never the cause.
//   - Janitor: purges expired assertion IDs and sessions periodically (Run).
//
// # Cost of a sign-in
//
// BenchmarkACS measures a sign-in over HTTP against gosaml2's bare
// RetrieveAssertionInfo on the same responses. Beyond the validation itself
// a sign-in does: the shape checks of Verify (one more XML parse), two reads
// to resolve the organization and connection, two to find the linked
// account, and three writes, in two rounds: the replay cache first (it must
// be durable before the assertion has any effect), then the sign-in record
// and the session side by side, so that they share a commit of the store.
// What the connection parses into (IdP metadata, SP key pair, gosaml2
// service providers, the compiled mapping) is cached per connection and
// rebuilt when the stored values change; an unchanged profile costs no
// write and no token lookup. LastSignInAt is written on every sign-in, not
// coalesced: it is part of RecordSignIn, the transaction that also writes
// the sign-in's audit event, which DESIGN requires for every decision, so
// coalescing it would save no commit.
//
// Nothing in this package logs a SAML response, an assertion or a token.
package jit
