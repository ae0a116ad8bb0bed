package jit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/attributes"
	"github.com/onramp-dev/onramp/store"
)

// ProvisionStore is the part of the store the Provisioner uses.
type ProvisionStore interface {
	// GetLinkedUser, MatchUsers: Decide's input; SignIn: the decision.
	store.SignIns
	// ListIdentities tells which connections a matching account signs in
	// through (rule 2).
	ListIdentities(ctx context.Context, org store.OrgID, user store.UserID) ([]store.Identity, error)
	// ListTokens tells whether a connection has a live SCIM token, which
	// decides who owns its accounts' profiles when the mapping does not say
	// (attributes.DefaultOwnership).
	ListTokens(ctx context.Context, org store.OrgID) ([]store.Token, error)
}

// Audit actions the Provisioner records.
const (
	AuditCreated  = "jit.created"
	AuditLinked   = "jit.linked"
	AuditSignedIn = "jit.signed_in"
	AuditRefused  = "jit.refused"
	// AuditUserUpdated: a sign-in changed the account's profile; Detail
	// "fields" names the fields (never their values).
	AuditUserUpdated = "user.updated"
)

// RuleAttributeMissing is the rule of a refusal whose assertion lacks what
// the connection's attribute mapping requires (a person without an account;
// see MappingError). Like the policy's rules, it is never renamed.
const RuleAttributeMissing = "attribute_missing"

// maxProvisionAttempts bounds the re-reads after a race: a SCIM push or
// another replica's login for the same person won (store.ErrConflict), or
// the account changed between the read and the sign-in
// (store.ErrVersionMismatch); the next attempt finds what they made.
const maxProvisionAttempts = 3

// matchLimit bounds the accounts Decide sees for rule 2; two already make
// the match ambiguous.
const matchLimit = 10

// Provisioner applies the JIT policy to a verified assertion: it gathers the
// policy's input from the store, calls Decide, and carries the decision out
// (sign in, link, create, or record the refusal). It is the only part of the
// SAML path that writes accounts. Every decision is an audit event.
//
// A decision is carried out by one store.SignIn: the assertion ID (the
// replay record), the account's writes, the session and the audit events
// commit together, in one transaction, or not at all. A refusal burns the
// assertion ID too, in the refusal's audit write, so that a refused
// assertion cannot be tried again after the Admin changes the policy. The
// store checks in that transaction that the account is still the one the
// decision was made on (its Version, live and active, the identity still
// linked to it); if not, or if a racing create took the userName, the
// Provisioner reads again and decides again.
//
// On every sign-in of an existing account (rules 1 and 2) it also brings the
// account's profile up to date with the assertion: attributes.Merge of the
// account's profile and the one mapped from the assertion, under the
// connection mapping's ownership (by default: the assertion owns the profile
// unless the connection has a live SCIM token, then SCIM does and a sign-in
// only fills empty fields). The account is written, with a "user.updated"
// event by "idp:<connection>", only if that changes something; an unchanged
// sign-in reads the connection's tokens only if one of the two ownerships
// would change something, and writes no user row beyond LastSignInAt.
// Groups asserted by SAML are kept under GroupsField and give the role
// through the mapping's role rules; they never touch SCIM groups.
type Provisioner struct {
	st       ProvisionStore
	now      func() time.Time
	logger   *slog.Logger
	mappings mappingCache
}

// NewProvisioner returns a Provisioner; now and logger may be nil.
func NewProvisioner(st ProvisionStore, now func() time.Time, logger *slog.Logger) *Provisioner {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provisioner{st: st, now: now, logger: logger}
}

// Outcome is what Provision did. User is set unless the decision is a
// refusal.
type Outcome struct {
	Decision Decision
	User     store.User
}

// MappingError says the assertion lacks what the connection's attribute
// mapping requires (a 400 page naming the fields), or that the stored mapping
// is broken.
type MappingError struct {
	Fields []string // the missing required fields; empty if the mapping itself is invalid
	Err    error
}

func (e *MappingError) Error() string {
	if len(e.Fields) == 0 {
		return "jit: attribute mapping: " + e.Err.Error()
	}
	return "jit: the assertion lacks required attributes for " + strings.Join(e.Fields, ", ") + ": " + e.Err.Error()
}

func (e *MappingError) Unwrap() error { return e.Err }

// Provision decides and acts on a verified sign-in by assertion a through
// connection conn of organization org, recording a's ID as used (see
// Provisioner). Errors: a *VerifyError with ReasonReplayed if a's ID was
// used before (nothing is written then); a *MappingError if the assertion
// of a person without an account lacks required attributes (the refusal is
// recorded and a's ID burnt). org and conn are decided on as the caller
// read them.
func (p *Provisioner) Provision(ctx context.Context, org store.Org, conn store.Connection, a Assertion) (Outcome, error) {
	return p.provision(ctx, org, conn, false, a, nil, nil, nil)
}

// provision is Provision that also starts session sess (whose UserID the
// store fills in) for the account that signs in, in the same transaction,
// and takes the account linked to a's identity from pf if pf read that
// identity; sess and pf may be nil. With stamped, org and conn may be
// older than the store's (a cache): the decision is carried out only if
// they are not (store.SignIn.Config), else the error wraps
// store.ErrConfigChanged and nothing is written.
//
// spec, if set, is the speculation started for a's response (see
// Speculation): its outcome is the sign-in's if it carried the sign-in out
// on an Assertion equal to a; otherwise provision does so itself, with the
// reads the speculation made.
func (p *Provisioner) provision(ctx context.Context, org store.Org, conn store.Connection, stamped bool, a Assertion, sess *store.Session, pf *prefetched, spec *speculation) (Outcome, error) {
	if spec != nil {
		if out, err, ok := spec.result(ctx, a); ok {
			return out, err
		}
		pf = spec.reads()
	}
	cfg := configRead(org, conn, stamped)
	var lastErr error
	for range maxProvisionAttempts {
		out, err := p.attempt(ctx, org, conn, cfg, a, sess, pf, nil)
		if !retryable(err) {
			return out, err
		}
		pf = nil // what it read is what changed
		lastErr = err
		p.logger.InfoContext(ctx, "jit: provisioning raced, re-reading", "org", org.ID, "connection", conn.ID)
	}
	return Outcome{}, fmt.Errorf("jit: provision: still conflicting after %d attempts: %w", maxProvisionAttempts, lastErr)
}

// configRead is the stamp of org and conn as read, for store.SignIn.Config,
// if they may be stale (stamped); else nil.
func configRead(org store.Org, conn store.Connection, stamped bool) *store.ConfigRead {
	if !stamped {
		return nil
	}
	return &store.ConfigRead{OrgUpdatedAt: org.UpdatedAt, ConnectionUpdatedAt: conn.UpdatedAt}
}

// retryable reports whether err means that what a decision was made on
// changed before it was carried out: read again and decide again. A replay
// is not one of them.
func retryable(err error) bool {
	return !errors.Is(err, store.ErrAssertionUsed) && !errors.Is(err, store.ErrIssuedBeforeRecovery) &&
		(errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrVersionMismatch))
}

// attempt reads, decides and carries the decision out once; with h, the
// write is held for h's verdict (a speculation's).
func (p *Provisioner) attempt(ctx context.Context, org store.Org, conn store.Connection, cfg *store.ConfigRead, a Assertion, sess *store.Session, pf *prefetched, h *hold) (Outcome, error) {
	in := PolicyInput{
		OrgName:    org.Name,
		Onboarding: org.Onboarding,
		Access:     org.Access,
		Connection: PolicyConnection{ID: conn.ID, Slug: conn.Slug, Name: conn.Name, JITProvisioning: conn.JITProvisioning},
		NameID:     a.NameID,
	}
	var (
		m       connMapping
		profile attributes.Profile
		// mapped: profile holds what the assertion says; when false (the
		// linked account's assertion could not be mapped at all) sign-in
		// goes ahead without a profile update.
		mapped bool
	)
	if strings.TrimSpace(a.NameID) != "" {
		linked, err := pf.linkedAccount(ctx, p, conn.ID, a.NameID)
		if err != nil {
			return Outcome{}, err
		}
		in.Linked = linked
		if linked == nil {
			var me *MappingError
			if m, profile, me = p.mapProfile(conn, a); me != nil {
				return Outcome{}, p.refuseUnmapped(ctx, org, conn, cfg, a, me, h)
			}
			mapped = true
			in.Email = profile.Email
			if in.Matches, err = pf.matches(ctx, p, org.ID, profile); err != nil {
				return Outcome{}, err
			}
		} else {
			m, profile, mapped = p.mapLinked(ctx, conn, a)
		}
	}

	d := Decide(in)
	ev := store.AuditEvent{
		Actor:        "idp:" + conn.Slug,
		ConnectionID: conn.ID,
		Rule:         d.Rule,
		Detail:       map[string]string{"assertion_id": a.ID},
	}
	signedIn := ev
	signedIn.Action = AuditSignedIn
	si := store.SignIn{OrgID: org.ID, Assertion: a.used(conn.ID), NameID: a.NameID, At: p.now(), Session: sess, Config: cfg}
	var err error
	switch d.Action {
	case ActionSignIn:
		u := in.Linked.User
		si.Account = store.SignInAccount{Linked: &u}
		if mapped {
			if si.Profile, err = p.profileUpdate(ctx, org.ID, conn, m, u, profile); err != nil {
				return Outcome{}, err
			}
		}
		si.Events = []store.AuditEvent{signedIn}
	case ActionLink:
		u := in.Matches[0].User
		si.Account = store.SignInAccount{Link: &u}
		if si.Profile, err = p.profileUpdate(ctx, org.ID, conn, m, u, profile); err != nil {
			return Outcome{}, err
		}
		linked := ev
		linked.Action = AuditLinked
		si.Events = []store.AuditEvent{linked, signedIn}
	case ActionCreate:
		nu, err := newUser(org.ID, conn.ID, a, profile)
		if err != nil {
			return Outcome{}, err
		}
		si.Account = store.SignInAccount{Create: &nu}
		created := ev
		created.Action = AuditCreated
		si.Events = []store.AuditEvent{created, signedIn}
	default:
		ev.Action = AuditRefused
		ev.Detail["hint"] = d.Hint
		if in.Linked != nil {
			ev.UserID = in.Linked.User.ID
		} else if len(in.Matches) == 1 {
			ev.UserID = in.Matches[0].User.ID
		}
		si.NameID, si.Session, si.Events = "", nil, []store.AuditEvent{ev}
	}
	res, err := p.signIn(ctx, si, h)
	if err != nil {
		return Outcome{}, err
	}
	if res.ProfileConflict != nil {
		// Refusing would lock the person out over a rename.
		p.logger.WarnContext(ctx, "jit: profile update conflicts with another account, signed in without it",
			"org", org.ID, "connection", conn.ID, "user", res.User.ID, "err", res.ProfileConflict)
	}
	return Outcome{Decision: d, User: res.User}, nil
}

// signIn carries a decision out, held for h's verdict if h is set; a
// replay, or an assertion issued before the store recovered from a machine
// restart, is a *VerifyError.
func (p *Provisioner) signIn(ctx context.Context, si store.SignIn, h *hold) (store.SignInResult, error) {
	if h != nil {
		si.Verdict = h.verdict
	}
	res, err := p.st.SignIn(ctx, si)
	if h != nil {
		h.decided = !errors.Is(err, store.ErrNotHeld)
	}
	switch {
	case errors.Is(err, store.ErrAssertionUsed):
		return store.SignInResult{}, reject(ReasonReplayed, err)
	case errors.Is(err, store.ErrIssuedBeforeRecovery):
		return store.SignInResult{}, reject(ReasonIssuedBeforeRecovery, err)
	}
	if err != nil {
		return store.SignInResult{}, fmt.Errorf("jit: sign in: %w", err)
	}
	return res, nil
}

// refuseUnmapped records the refusal of a person without an account whose
// assertion lacks what the mapping requires, burning the assertion ID, and
// returns me (or the replay error).
func (p *Provisioner) refuseUnmapped(ctx context.Context, org store.Org, conn store.Connection, cfg *store.ConfigRead, a Assertion, me *MappingError, h *hold) error {
	ev := store.AuditEvent{Actor: "idp:" + conn.Slug, Action: AuditRefused, ConnectionID: conn.ID, Rule: RuleAttributeMissing,
		Detail: map[string]string{"assertion_id": a.ID, "fields": strings.Join(me.Fields, ",")}}
	if _, err := p.signIn(ctx, store.SignIn{OrgID: org.ID, Assertion: a.used(conn.ID), Events: []store.AuditEvent{ev}, Config: cfg}, h); err != nil {
		return err
	}
	return me
}

// profileUpdate is the profile write a sign-in of existing account u makes
// to bring it up to date with the profile mapped from the assertion (see
// Provisioner), or nil if that changes nothing. The role changes only if
// the mapping has role rules. The store writes it only if u is unchanged
// since it was read (see store.SignInAccount), so the merge is made with
// the account's current values; a userName or externalId it would take
// from another account is not written, and the sign-in goes ahead without
// it (store.SignInResult.ProfileConflict).
func (p *Provisioner) profileUpdate(ctx context.Context, org store.OrgID, conn store.Connection, m connMapping, u store.User, login attributes.Profile) (*store.ProfileUpdate, error) {
	if !m.roleRules {
		// The login's role is only the mapping's default: keep the account's
		// (an Admin made by the admin API is not demoted by signing in).
		login.Role = ""
	}
	cur := profileOf(u)
	o := m.ownership
	if o == "" {
		if len(changedFields(cur, attributes.Merge(cur, login, attributes.OwnershipAssertion))) == 0 &&
			len(changedFields(cur, attributes.Merge(cur, login, attributes.OwnershipSCIM))) == 0 {
			return nil, nil // unchanged whoever owns the profile: no token lookup, no write
		}
		has, err := p.hasSCIMToken(ctx, org, conn.ID)
		if err != nil {
			return nil, err
		}
		o = attributes.DefaultOwnership(has)
	}
	want := attributes.Merge(cur, login, o)
	fields := changedFields(cur, want)
	if len(fields) == 0 {
		return nil, nil
	}
	next, err := withProfile(u, want)
	if err != nil {
		return nil, err
	}
	return &store.ProfileUpdate{User: next, Event: store.AuditEvent{
		Actor:        "idp:" + conn.Slug,
		Action:       AuditUserUpdated,
		ConnectionID: conn.ID,
		Detail:       map[string]string{"fields": strings.Join(fields, ","), "ownership": string(o)},
	}}, nil
}

// hasSCIMToken reports whether the connection has a SCIM token that is not
// revoked.
func (p *Provisioner) hasSCIMToken(ctx context.Context, org store.OrgID, conn store.ConnectionID) (bool, error) {
	toks, err := p.st.ListTokens(ctx, org)
	if err != nil {
		return false, fmt.Errorf("jit: list tokens: %w", err)
	}
	return slices.ContainsFunc(toks, func(t store.Token) bool {
		return t.Kind == store.TokenSCIM && t.ConnectionID == conn && t.RevokedAt == nil
	}), nil
}

// linkedAccount returns the account linked to (conn, nameID), or nil, in
// one read of the store.
func (p *Provisioner) linkedAccount(ctx context.Context, conn store.ConnectionID, nameID string) (*AccountState, error) {
	// Rule 1 looks only at the account, not at its other identities.
	_, u, err := p.st.GetLinkedUser(ctx, conn, nameID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jit: read linked account: %w", err)
	}
	return &AccountState{User: u}, nil
}

// prefetched is what the ACS reads while a response is being verified: the
// account linked to the identity it claims and, when none is, the accounts
// that person could be linked to. The shape check (step 1 of Verify) tells
// the ACS the NameID and the AttributeStatement the response claims, and the
// reads start then, on a goroutine of their own, so that they run beside
// the signature check instead of after it; the second maps the claimed
// attributes with the connection's mapping and reads the matching accounts
// (MatchUsers), as the sign-in of a person without an account does next.
//
// The claims are not trusted. linkedAccount uses the first read only for
// the very identity the verified assertion names, and matches uses the
// second only if the verified assertion maps to the same userName and
// email in the same organization; otherwise each reads again. The reads
// are only reads, like the ones the sign-in makes anyway (the connection's,
// before the verification). What they read may be older by the
// verification's duration; SignIn's checks cover that as they cover any
// read (an account unchanged since read, a userName not taken since).
type prefetched struct {
	conn       store.ConnectionID
	nameID     string
	linkedDone chan struct{}
	linked     *AccountState // set before linkedDone is closed
	err        error

	matchDone chan struct{} // closed when the goroutine is done
	// Set before matchDone is closed, if the claimed attributes were mapped
	// and their matches read without error.
	matchFor matchKey
	matched  []AccountState
	hasMatch bool
}

// matchKey is what a MatchUsers read depends on.
type matchKey struct {
	org             store.OrgID
	userName, email string
}

// prefetch starts reading the account linked to the identity the response
// claims (conn, c.NameID), then, if there is none, the accounts its claimed
// attributes match.
func (p *Provisioner) prefetch(ctx context.Context, conn store.Connection, c shapeClaims) *prefetched {
	pf := &prefetched{conn: conn.ID, nameID: c.NameID, linkedDone: make(chan struct{}), matchDone: make(chan struct{})}
	go p.fetch(ctx, pf, conn, c)
	return pf
}

// fetch makes pf's reads, on the caller's goroutine.
func (p *Provisioner) fetch(ctx context.Context, pf *prefetched, conn store.Connection, c shapeClaims) {
	defer close(pf.matchDone)
	pf.linked, pf.err = p.linkedAccount(ctx, conn.ID, c.NameID)
	close(pf.linkedDone)
	if pf.err != nil || pf.linked != nil {
		return
	}
	attrs := claimedAttributes(c.AttributeStatement)
	if attrs == nil {
		return
	}
	_, prof, me := p.mapProfile(conn, Assertion{NameID: c.NameID, Attributes: attrs})
	if me != nil {
		return
	}
	matched, err := p.matches(ctx, conn.OrgID, prof)
	if err != nil {
		return
	}
	pf.matchFor, pf.matched, pf.hasMatch = matchKey{conn.OrgID, prof.UserName, prof.Email}, matched, true
}

// holds tells whether the store can hold a speculation's sign-in.
func (p *Provisioner) holds() bool { return p.st.HoldsSignIns() }

// linkedAccount is the account linked to (conn, nameID): pf's read if pf
// read that identity, else a read of its own.
func (pf *prefetched) linkedAccount(ctx context.Context, p *Provisioner, conn store.ConnectionID, nameID string) (*AccountState, error) {
	if pf == nil || pf.conn != conn || pf.nameID != nameID {
		return p.linkedAccount(ctx, conn, nameID)
	}
	select {
	case <-pf.linkedDone:
		return pf.linked, pf.err
	case <-ctx.Done():
		return nil, fmt.Errorf("jit: read linked account: %w", ctx.Err())
	}
}

// matches is the accounts prof matches in org (Provisioner.matches): pf's
// read if pf read them for the same userName and email, else a read of its
// own.
func (pf *prefetched) matches(ctx context.Context, p *Provisioner, org store.OrgID, prof attributes.Profile) ([]AccountState, error) {
	if pf != nil {
		select {
		case <-pf.matchDone:
		case <-ctx.Done():
			return nil, fmt.Errorf("jit: find matching users: %w", ctx.Err())
		}
		if pf.hasMatch && pf.matchFor == (matchKey{org, prof.UserName, prof.Email}) {
			return pf.matched, nil
		}
	}
	return p.matches(ctx, org, prof)
}

// account is u with the connections of its linked identities.
func (p *Provisioner) account(ctx context.Context, org store.OrgID, u store.User) (AccountState, error) {
	ids, err := p.st.ListIdentities(ctx, org, u.ID)
	if err != nil {
		return AccountState{}, fmt.Errorf("jit: read identities of user %s: %w", u.ID, err)
	}
	st := AccountState{User: u}
	for _, id := range ids {
		st.LinkedConnections = append(st.LinkedConnections, id.ConnectionID)
	}
	return st, nil
}

// matches returns the live accounts (active or not, no tombstones) whose
// userName or email equals the profile's, the userName's first, with the
// connections they are linked through. The store finds them in one query
// of two index lookups (an Or filter would scan the organization's users).
func (p *Provisioner) matches(ctx context.Context, org store.OrgID, prof attributes.Profile) ([]AccountState, error) {
	users, err := p.st.MatchUsers(ctx, org, prof.UserName, prof.Email, matchLimit)
	if err != nil {
		return nil, fmt.Errorf("jit: find matching users: %w", err)
	}
	var out []AccountState
	for _, u := range users {
		st, err := p.account(ctx, org, u)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// mapProfile applies the connection's attribute mapping to the assertion of
// a sign-in without a linked account, which must carry every required field.
func (p *Provisioner) mapProfile(conn store.Connection, a Assertion) (connMapping, attributes.Profile, *MappingError) {
	m, err := p.mappings.get(conn)
	if err != nil {
		return connMapping{}, attributes.Profile{}, &MappingError{Err: err}
	}
	prof, _, err := m.compiled.FromSAML(a.NameID, a.Attributes)
	if err != nil {
		return connMapping{}, attributes.Profile{}, missingFields(err)
	}
	return m, prof, nil
}

// mapLinked maps the assertion of a linked account's sign-in. The account
// exists, so a missing required attribute does not refuse the sign-in: the
// partial profile still updates the fields it has (a missing attribute never
// erases a value, see attributes.Merge). A mapping that cannot be used at
// all skips the update (ok false); both are logged.
func (p *Provisioner) mapLinked(ctx context.Context, conn store.Connection, a Assertion) (m connMapping, prof attributes.Profile, ok bool) {
	m, err := p.mappings.get(conn)
	if err != nil {
		p.logger.WarnContext(ctx, "jit: connection mapping is invalid, signing in without a profile update", "connection", conn.ID, "err", err)
		return connMapping{}, attributes.Profile{}, false
	}
	prof, _, err = m.compiled.FromSAML(a.NameID, a.Attributes)
	if err != nil {
		p.logger.InfoContext(ctx, "jit: assertion lacks mapped attributes, updating the profile from the others",
			"connection", conn.ID, "fields", strings.Join(missingFields(err).Fields, ","))
	}
	return m, prof, true
}

// missingFields turns FromSAML's error into a *MappingError naming the
// missing required fields.
func missingFields(err error) *MappingError {
	me := &MappingError{Err: err}
	var missing *attributes.MissingFieldError
	for _, e := range flatten(err) {
		if errors.As(e, &missing) {
			me.Fields = append(me.Fields, missing.Field)
		}
	}
	return me
}

// flatten lists the errors joined in err (errors.Join), or err itself.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// newUser is the account JIT creates from the mapped profile: active, the
// role from the mapping's role rules, the asserted groups under GroupsField,
// and a SCIM resource (see newResource) so that the account is visible and
// adoptable over SCIM.
func newUser(org store.OrgID, conn store.ConnectionID, a Assertion, prof attributes.Profile) (store.User, error) {
	u := store.User{
		OrgID:        org,
		UserName:     prof.UserName,
		DisplayName:  prof.DisplayName,
		GivenName:    prof.GivenName,
		FamilyName:   prof.FamilyName,
		Active:       true,
		Role:         prof.Role,
		Source:       store.SourceJIT,
		ConnectionID: conn,
	}
	if u.UserName == "" {
		u.UserName = a.NameID
	}
	if prof.Email != "" {
		u.Emails = []store.Email{{Value: prof.Email, Type: "work", Primary: true}}
	}
	var err error
	if u.Custom, err = customWithGroups(prof); err != nil {
		return store.User{}, err
	}
	if u.Resource, err = newResource(u); err != nil {
		return store.User{}, err
	}
	return u, nil
}
