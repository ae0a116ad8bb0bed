// Package bench drives a running onramp server over HTTP and measures what
// identity providers make it do: SCIM user creation at one and many concurrent
// clients, lookups by `userName eq` at a given directory size, deactivation by
// PATCH, and an Okta-style initial sync (a filter GET, then a POST, per user). It
// also reads the server's resident memory from /proc when given its PID, and,
// given a scratch directory (RawDB), measures in the same run the rate of raw
// SQLite single-row insert transactions with the store's settings (WAL,
// synchronous=FULL, BEGIN IMMEDIATE, busy timeout; read back from SQLite and
// printed) and the ratio of SCIM creates at the highest concurrency to it: what
// the HTTP and SCIM layers cost, or, with group commit, gain.
//
// It is the engine of `onramp bench scim`. Every phase is bounded by a request
// count and the whole run by a timeout, and by default only loopback addresses are
// accepted as targets. The users it creates are named bench-<run>-<n>@example.com,
// where <run> is random per run, so runs against the same database do not collide;
// they stay in the organization afterwards (use a throw-away database).
//
// RunMixed is the engine of `onramp bench mixed`: for a given duration, many
// clients each send a rotation of SCIM writes and lookups, IdP-initiated SAML
// sign-ins and admin API changes, and the report has throughput, latency
// percentiles and errors per kind of request. The sign-ins are signed by IdP,
// a SAML identity provider (crewjam/saml's) whose key pair is kept in a file,
// so that the metadata an operator registers and the responses of a later
// run belong together.
package bench
