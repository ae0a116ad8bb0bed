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
//     time) only as warnings, and does not check InResponseTo at all; Verify
//     turns all of them into failures. See Verify for the full list. Verify
//     touches no store: the replay check belongs to the sign-in (below).
//   - Decide: the JIT policy of DESIGN.md as a pure function.
//   - Provisioner: gathers Decide's input from the store (the identity's
//     account, accounts with the same userName or email, mapped through the
//     connection's attribute mapping from package attributes) and carries the
//     decision out in one store.SignIn; a conflict with a racing SCIM push or
//     login is re-read, so one person ends with one account. Every decision
//     is an audit event.
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
// # One sign-in, one transaction
//
// Everything a sign-in writes is one store.SignIn, one transaction: the
// assertion ID in the replay cache, the account's writes (identity linked,
// account created, profile updated, LastSignInAt), the session and the
// decision's audit events. The replay record used to be a commit of its own,
// made by Verify before the sign-in's writes so that it was durable before
// the assertion had any effect; in one transaction it needs no such
// ordering, and replay protection is at least as strong:
//
//   - The session and the used ID become durable together or not at all. A
//     browser gets its cookie only after the commit, so every session a
//     browser holds has its assertion ID recorded, on every replica (the
//     cache is the shared store's table).
//   - A replay meets the recorded ID: SignIn inserts the ID first (INSERT …
//     ON CONFLICT DO NOTHING) and, if it was there, writes nothing and
//     returns store.ErrAssertionUsed, which the ACS answers as
//     ReasonReplayed. Concurrent posts of one response meet on the
//     assertions table's primary key: SQLite's single writer runs them one
//     after the other; on PostgreSQL the second insert waits for the first
//     transaction and inserts nothing if it committed. So one response
//     yields at most one session, however many replicas it is posted to.
//   - A sign-in that fails (a store outage, or a race that outlasts the
//     retries) records nothing, so the person can post the same response
//     again while it is valid; it still yields at most one session.
//   - A refusal (a policy decision, or an assertion that lacks required
//     attributes) records the ID in the refusal's audit write, so that a
//     refused assertion cannot be tried again after the Admin changes the
//     policy. A response that fails verification records nothing: its ID is
//     not vouched for by the IdP.
//
// The transaction also checks that the decision still holds: the account
// signing in must be at the Version it was read at (every change to an
// account increments it), live and active, and its identity still linked
// to it; a created account's userName and identity must be free. Otherwise
// nothing is written and the Provisioner reads again and decides again.
//
// # Cost of a sign-in
//
// BenchmarkACS measures a sign-in over HTTP against gosaml2's bare
// RetrieveAssertionInfo on the same responses. Beyond the validation itself
// a sign-in does: the shape checks of Verify (a byte scanner, about a
// tenth of an XML parse; see shape.go), one read for the identity and its
// account together (GetLinkedUser), and one write transaction, whose commit
// is shared with concurrent sign-ins and SCIM writes by the SQLite store's
// group commit. The organization and connection are read once per process
// and kept (targetCache): the write transaction checks that they are still
// as read (store.SignIn.Config), which costs a primary-key lookup in the
// writer's warm cache instead of a read through a reader connection whose
// page cache every commit empties. The identity read runs
// beside the signature check: the shape check tells the ACS which NameID the
// response claims, the read starts then, and its result is used only if the
// verified assertion names the same identity (see prefetched). A sign-in of
// an existing account reads nothing in its transaction: conditional updates
// of LastSignInAt check that the account and the link are unchanged. A new
// person costs one more read (MatchUsers: the accounts with the same
// userName or email, two index lookups in one query), which runs beside the
// signature check too, on the attributes the response claims (the shape
// check hands over the assertion's AttributeStatement; claimedAttributes
// reads it) and is used only if the verified attributes map to the same
// userName and email; and a larger write.
// What the connection parses into (IdP metadata, SP key pair, gosaml2
// service providers, the compiled mapping) is cached per connection and
// rebuilt when the stored values change; an unchanged profile costs no
// write and no token lookup. LastSignInAt is written on every sign-in, not
// coalesced: the sign-in's transaction commits anyway, for the session and
// the audit event that DESIGN requires for every decision.
//
// With one browser at a time, that transaction's commit was most of what a
// sign-in added when it waited for the disk: SQLite appends every page the
// sign-in changed to the WAL and syncs it. A returning person's sign-in
// changes the user and identity rows, the session with its three indexes,
// the assertion ID with its expiry index and the audit event with its two
// (sqlstore's doc.go, "pages per write"). Measured on the 2-core CI machine
// (2026-12-07), that commit with its fsync took 0.9-1.6 ms of a 6-7 ms
// sign-in, a new person's 1.2-1.9 ms, against a bare validation of
// 3.6-4.2 ms. So the store answers a sign-in once its commit is written,
// and fsyncs it just after (sqlstore's doc.go, "Deferred durability"): the
// ACS's redirect goes out meanwhile, while every other answer of the server
// waits for the fsync, so nothing but the session cookie is seen before the
// sign-in is durable, and after a restart of the machine, which can lose
// the last sign-ins' replay records, assertions issued before it are
// refused (ReasonIssuedBeforeRecovery). With several browsers the commits
// are shared and a sign-in's cost is its CPU.
//
// With one browser at a time, the write transaction itself was then what
// a sign-in added beyond its verification: 0.23 ms for a returning person
// and 0.3 ms for a new one on the 2-core CI machine (statements, and a
// commit that writes some 11 or 25 WAL frames), after the 1.3-1.5 ms of the
// signature check. So while a core is idle, the ACS now writes the sign-in
// beside the check, from what the response claims, and holds the
// transaction uncommitted until the check is over: it commits only if the
// verified assertion is exactly the one claimed, and rolls back otherwise,
// leaving no trace (see "Speculation" in speculate.go; the store's side is
// store.SignIn.Verdict). During the hold the store writes the transaction's
// pages to the WAL, so that the commit after the verdict writes one frame.
// What is left after the check is that commit and the hand-over to the
// writer and back, about 0.1 ms.
//
// Where a sign-in's time goes now, with one browser: the verification takes
// the bare validation's time plus about a tenth (the caches the rest of the
// request has cooled, and whatever else the machine runs meanwhile; alone,
// Verify and RetrieveAssertionInfo take the same time), the HTTP exchange
// and the form parse 0.1-0.15 ms (parseForm), the commit and the hand-over
// 0.1 ms. One sign-in in seven to ten is speculated on too late to help
// (SpeculationLate: its goroutine waited for the other core, which a VM
// may take hundreds of microseconds to wake) and costs what it did before.
// BenchmarkACS, five runs of 1000 sign-ins on the 2-core CI machine
// (2026-12-08, a bare validation of 1.44-1.74 ms): a returning person
// 1.34-1.42 times the bare validation with one browser (median 1.35) and
// 1.24-1.31 with 16; a new person 1.35-1.53 (median 1.40) and 1.31-1.41.
// The machine is shared and noisy: compare rows of one run, not runs.
//
// Nothing in this package logs a SAML response, an assertion or a token.
package jit
