// Package replicas holds no production code. Its tests show, end to end, that
// several `onramp serve` processes on one PostgreSQL database behave as one
// server behind a load balancer: the test builds the onramp binary, creates a
// fresh schema, runs `onramp migrate` twice at once, applies an organization
// whose SSO connection points at crewjam's IdP (jit/samltest, running in the
// test process), creates a SCIM token and starts two replicas with the same
// --base-url (a small load balancer in the test that each request can be
// steered through to replica A or B) and the same --saml-key. It then checks
// what docs/operations.md promises: a sign-in started on one replica completes
// on the other (also with no --saml-key, on the key kept in the store); a
// replica with another key or base URL fails closed; an assertion used on one
// is a replay on the other; userName stays unique under SCIM writes to both; a
// JIT sign-in and a SCIM create of the same person make one account; a session
// is shared and ends on every replica when the user is deactivated or signs
// out; `onramp migrate` runs beside serving replicas; and --db-max-conns bounds
// the connections a replica opens (pool_test.go, by PostgreSQL's own count).
//
// The tests read the PostgreSQL server from ONRAMP_TEST_POSTGRES_DSN (as the
// store's do). Without it they are skipped on a developer's machine and fail
// when CI is set.
//
// Its benchmarks (bench_test.go) compare one SQLite server, one PostgreSQL
// replica and two PostgreSQL replicas behind the same balancer: SAML sign-ins
// at the ACS, and `onramp bench scim`.
package replicas
