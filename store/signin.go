package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrAssertionUsed: the assertion ID a sign-in would record is already in the
// replay cache (a replay). It wraps ErrConflict, so errors.Is(err,
// ErrConflict) holds as well: callers that retry other conflicts test for
// ErrAssertionUsed first.
var ErrAssertionUsed = fmt.Errorf("%w: assertion already used", ErrConflict)

// ErrIssuedBeforeRecovery: the assertion was issued before the store last
// recovered from a restart of the machine (or a move to another one), when
// replay records of the sign-ins made just before it may have been lost
// (see Store.Durable). The assertion might be one of them, so it is refused
// as a possible replay; nothing was written. The person starts the sign-in
// again and gets a new assertion.
var ErrIssuedBeforeRecovery = errors.New("store: assertion issued before the store's recovery from a machine restart")

// ErrConfigChanged: the organization or connection a sign-in was decided on
// (SignIn.Config) changed, or is gone, since the caller read it. Nothing was
// written; read them again and decide again.
var ErrConfigChanged = errors.New("store: organization or connection changed")

// ConfigRead stamps the organization and connection a sign-in was decided
// on, as the caller read them: their UpdatedAt. Every change to an
// organization or a connection sets UpdatedAt to the writing transaction's
// time (with microsecond precision), so a stamp that still matches means the
// rows are as read, and a caller may keep them in memory between sign-ins
// (the ACS does) and let SignIn say when they went stale.
type ConfigRead struct {
	OrgUpdatedAt        time.Time
	ConnectionUpdatedAt time.Time
}

// UsedAssertion is an assertion's entry in the replay cache: its ID, unique
// per connection, kept until NotOnOrAfter.
type UsedAssertion struct {
	ConnectionID ConnectionID
	ID           string
	NotOnOrAfter time.Time
	// IssuedAt is the assertion's IssueInstant. SignIn refuses an assertion
	// issued before the store's last recovery with ErrIssuedBeforeRecovery;
	// zero skips that check (for callers with no IssueInstant to give).
	IssuedAt time.Time
}

// SignInAccount says which account a sign-in is for and how it gets there.
// At most one of Linked, Link and Create is set; none is a refusal, which
// only records the assertion and the events.
//
// Linked and Link are the account as the caller read it, the decision's
// input. The sign-in goes ahead only if the account is still that: at the
// same Version (every change to an account increments it), live and
// active, and (Linked) the identity still linked to it; otherwise SignIn
// writes nothing and returns ErrVersionMismatch: read again and decide
// again.
type SignInAccount struct {
	// Linked: the identity is linked to this account, which signs in (JIT
	// rule 1).
	Linked *User
	// Link: link the identity to this account, then sign in (rule 2).
	Link *User
	// Create: create this account with the identity linked to it (rule 3),
	// as CreateUser would (the store sets ID, Version and times).
	Create *User
}

// ProfileUpdate is a new profile for the account that signs in (Linked or
// Link), computed by the caller from that account as read.
// The store writes User's profile fields (userName, externalId, names,
// emails, role, custom fields, source, connection, resource) as UpdateUser
// would, with Version+1 and the audit event Event; ID, OrgID, Active,
// CreatedAt, LastSignInAt and DeletedAt stay the store's.
type ProfileUpdate struct {
	User  User
	Event AuditEvent
}

// SignIn is everything one sign-in writes, in one transaction.
type SignIn struct {
	OrgID OrgID
	// Assertion is recorded in the replay cache first. If its ID is there
	// already, SignIn writes nothing and returns ErrAssertionUsed.
	Assertion UsedAssertion
	// NameID, with Assertion.ConnectionID, is the identity signing in.
	// Required unless the sign-in is a refusal.
	NameID  string
	Account SignInAccount
	// Profile, if set (Linked or Link only), is written unless its userName
	// or externalId is taken by another live account: then the sign-in goes
	// ahead without it and SignInResult.ProfileConflict holds the conflict.
	Profile *ProfileUpdate
	// At is the sign-in's time, written as LastSignInAt of the identity and
	// the account (not a change to the account: Version and UpdatedAt stay).
	At time.Time
	// Session, if set, is created for the account; the store fills OrgID and
	// UserID. A refusal takes none.
	Session *Session
	// Events are the decision's audit events, written after the account's
	// writes, in order; the store fills OrgID, ConnectionID if empty and
	// UserID if empty (with the account's).
	Events []AuditEvent
	// Config, if set, is checked first: the organization OrgID and the
	// connection Assertion.ConnectionID must still have these UpdatedAt
	// stamps, else SignIn writes nothing (the assertion ID is not recorded)
	// and returns ErrConfigChanged.
	Config *ConfigRead
	// Verdict, if set, holds the sign-in open for its caller's verdict: the
	// store runs every statement of the transaction, then waits for a value
	// from Verdict, and commits only on true. The ACS uses it to carry a
	// sign-in out from what a response claims while it still checks the
	// response's signature, and sends true only once the verified assertion
	// turns out to be the one claimed (see jit's speculation). Verdict must
	// be buffered, so that sending never waits for the store.
	//
	// Holding the write transaction open delays every other write on a store
	// with a single writer, so the store holds it only while it has nothing
	// else to write, and only briefly: if the verdict is false, or does not
	// come soon, or another write is waiting (or was already waiting when
	// the sign-in would have started), SignIn writes nothing and returns
	// ErrNotHeld. So does a store that never holds (HoldsSignIns false),
	// at once. Any other error is SignIn's own, decided on the statements
	// it ran, before or while it held.
	Verdict <-chan bool
}

// ErrNotHeld: a SignIn with a Verdict was not held open until a true
// verdict (see SignIn.Verdict); nothing was written. The caller carries the
// sign-in out again, without a Verdict, once it has decided.
var ErrNotHeld = errors.New("store: sign-in not held for its verdict")

// SignInResult is what a SignIn did.
type SignInResult struct {
	// User is the account as it is after the sign-in; zero for a refusal.
	User User
	// ProfileConflict is set when SignIn.Profile was not written because its
	// userName or externalId is another account's (it wraps ErrConflict).
	ProfileConflict error
}

// SignIns is the storage side of a SAML sign-in: the two reads the ACS makes
// before it decides, and the one write transaction that carries the decision
// out.
type SignIns interface {
	// GetConnectionByPath returns the connection with slug connSlug of the
	// organization with slug orgSlug, and that organization, in one read.
	// ErrNotFound if either does not exist.
	GetConnectionByPath(ctx context.Context, orgSlug, connSlug string) (Org, Connection, error)
	// GetLinkedUser returns the identity (conn, nameID) and the account it is
	// linked to (tombstones included) in one read; ErrNotFound if the
	// identity is not linked.
	GetLinkedUser(ctx context.Context, conn ConnectionID, nameID string) (Identity, User, error)
	// MatchUsers returns the organization's live accounts (active or not,
	// tombstones excluded) whose userName equals userName or one of whose
	// email addresses equals email, both compared case-insensitively (an
	// empty value matches nothing), at most limit of them: the userName's
	// first, then the others in creation order, each once.
	MatchUsers(ctx context.Context, org OrgID, userName, email string, limit int) ([]User, error)
	// SignIn performs a sign-in in one transaction: the assertion ID, the
	// account's writes (link or create, profile, LastSignInAt), the session
	// and the audit events become durable together or not at all.
	//
	// That is what makes the replay check safe without a commit of its own:
	// a session exists only if its assertion ID was recorded with it, and
	// the ID is recorded first, so a replay (sequential or concurrent, on any
	// process sharing the database) finds it, or waits on the concurrent
	// insert of it, and writes nothing. One assertion yields at most one
	// session. A refusal records the ID with the refusal's events, so a
	// refused assertion cannot be tried again either. Errors:
	// ErrAssertionUsed (a replay; nothing written), ErrVersionMismatch (see
	// SignInAccount), ErrConflict (Create's userName or externalId, or
	// the identity, is taken: a race with SCIM or another sign-in; read
	// again), ErrInvalidReference (the connection is not the organization's),
	// ErrConfigChanged (see SignIn.Config; nothing written),
	// ErrIssuedBeforeRecovery (see UsedAssertion.IssuedAt; nothing written).
	//
	// A sign-in's commit may be durable against an OS crash or a power loss
	// only shortly after SignIn returns (it always survives a crash of the
	// process): see Store.Durable, which whoever shows the sign-in's effects
	// outside the process (anything but the browser's session cookie) waits
	// on first.
	SignIn(ctx context.Context, in SignIn) (SignInResult, error)
	// HoldsSignIns tells whether SignIn may hold a sign-in open for its
	// verdict (SignIn.Verdict) at all; if false, a SignIn with a Verdict
	// returns ErrNotHeld without running anything.
	HoldsSignIns() bool
}
