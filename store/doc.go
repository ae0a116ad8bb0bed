// Package store defines onramp's persistence contract: the value types the rest of
// the program works with, the small per-entity interfaces composed into Store, and
// the sentinel errors every implementation reports.
//
// Guarantees every implementation gives (and store/storetest checks):
//
//   - Safe for concurrent use by many goroutines and, for the SQL backends, by
//     several processes on one database.
//   - Every method that returns without error has committed durably: an
//     acknowledged write survives a crash of the process, and, except
//     SignIn's, an OS crash or a power loss too. SignIn's commit is made
//     durable against those right after it returns, not before (on SQLite:
//     the writer does not wait for the disk at a sign-in, see
//     sqlstore/doc.go "Deferred durability"); Durable waits for it, and the
//     server calls Durable before any answer but the ACS's redirect, so a
//     write that an OS crash could still take back is never shown outside
//     the process. After a restart of the machine the store refuses
//     assertions issued before it (ErrIssuedBeforeRecovery), since the
//     replay records of the last sign-ins before the crash may be gone.
//   - One call is one transaction. A write either happens completely, together with
//     the audit event it was given, or not at all.
//   - Times are stored and returned in UTC, truncated to microseconds.
//   - userName is unique per organization and compared case-insensitively; so are
//     email addresses in filters. externalId and id compare exactly.
//   - Failures are reported by wrapping the sentinels below with %w; callers test
//     them with errors.Is, never by comparing text.
//   - Update methods take a closure fn that is applied to the current value inside
//     the write transaction. fn may run more than once (an implementation may retry
//     on a serialization failure), so it must be a pure function of its argument.
//   - Deactivating (Active true→false) or deleting a user ends all its sessions in
//     the same transaction.
//   - De-provisioning by a provisioning token (UpdateUserGuarded,
//     DeleteUserGuarded) is counted against its DeprovisionLimit inside the
//     write's own transaction, serialised per token across processes; past
//     the limit the token is held (holds.go) until ReleaseHold.
//   - Deleting a user leaves a tombstone: the row keeps its ID, identities and
//     history with DeletedAt set, disappears from lists, frees its userName for a new
//     account, and GetUser still returns it (so JIT can refuse to resurrect it).
//
// The store never knows HTTP, SCIM or SAML: protocol packages translate their
// queries into the typed Filter below and map the sentinels to their own errors.
package store
