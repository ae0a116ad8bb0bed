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
	store.Users
	store.Identities
	store.Audit
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

// maxProvisionAttempts bounds the re-reads after a conflict: a SCIM push or
// another replica's login for the same person won the race, and the second
// attempt finds what it made.
const maxProvisionAttempts = 3

// errUnchanged aborts a profile update whose closure finds nothing to change
// (a concurrent sign-in already made the same change): nothing is written.
var errUnchanged = errors.New("jit: profile unchanged")

// Provisioner applies the JIT policy to a verified assertion: it gathers the
// policy's input from the store, calls Decide, and carries the decision out
// (sign in, link, create, or record the refusal). It is the only part of the
// SAML path that writes accounts. Every decision is an audit event.
//
// On every sign-in of an existing account (rules 1 and 2) it also brings the
// account's profile up to date with the assertion: attributes.Merge of the
// account's profile and the one mapped from the assertion, under the
// connection mapping's ownership (by default: the assertion owns the profile
// unless the connection has a live SCIM token, then SCIM does and a sign-in
// only fills empty fields). The account is written, with a "user.updated"
// event by "idp:<connection>", only if that changes something; an unchanged
// sign-in reads the connection's tokens only if one of the two ownerships
// would change something, and writes no user row beyond RecordSignIn's
// LastSignInAt. Groups asserted by SAML are kept under GroupsField and give
// the role through the mapping's role rules; they never touch SCIM groups.
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
// connection conn of organization org.
func (p *Provisioner) Provision(ctx context.Context, org store.Org, conn store.Connection, a Assertion) (Outcome, error) {
	return p.provision(ctx, org, conn, a, nil)
}

// alongsideFunc is a write of the caller's that depends only on the account
// signing in (the ACS starts the session). The Provisioner runs it beside
// RecordSignIn, so that the two writes can share a commit of the store
// instead of waiting for one each; its error fails the sign-in like
// RecordSignIn's. It runs at most once per Provision.
type alongsideFunc func(ctx context.Context, u store.User) error

func (p *Provisioner) provision(ctx context.Context, org store.Org, conn store.Connection, a Assertion, alongside alongsideFunc) (Outcome, error) {
	if alongside != nil {
		// Attempts run one after the other, and an attempt that got as far
		// as the sign-in record does not conflict; this keeps the promise
		// of alongsideFunc even if a store one day says otherwise.
		ran, once := false, alongside
		alongside = func(ctx context.Context, u store.User) error {
			if ran {
				return errors.New("jit: the sign-in's own write would run twice")
			}
			ran = true
			return once(ctx, u)
		}
	}
	var lastErr error
	for range maxProvisionAttempts {
		out, err := p.attempt(ctx, org, conn, a, alongside)
		if !errors.Is(err, store.ErrConflict) {
			return out, err
		}
		lastErr = err
		p.logger.InfoContext(ctx, "jit: provisioning raced, re-reading", "org", org.ID, "connection", conn.ID)
	}
	return Outcome{}, fmt.Errorf("jit: provision: still conflicting after %d attempts: %w", maxProvisionAttempts, lastErr)
}

func (p *Provisioner) attempt(ctx context.Context, org store.Org, conn store.Connection, a Assertion, alongside alongsideFunc) (Outcome, error) {
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
		linked, err := p.linkedAccount(ctx, org.ID, conn.ID, a.NameID)
		if err != nil {
			return Outcome{}, err
		}
		in.Linked = linked
		if linked == nil {
			if m, profile, err = p.mapProfile(conn, a); err != nil {
				return Outcome{}, err
			}
			mapped = true
			in.Email = profile.Email
			if in.Matches, err = p.matches(ctx, org.ID, profile); err != nil {
				return Outcome{}, err
			}
		} else {
			m, profile, mapped = p.mapLinked(ctx, conn, a)
		}
	}

	d := Decide(in)
	ev := store.AuditEvent{
		OrgID:        org.ID,
		Actor:        "idp:" + conn.Slug,
		ConnectionID: conn.ID,
		Rule:         d.Rule,
		Detail:       map[string]string{"assertion_id": a.ID},
	}
	switch d.Action {
	case ActionSignIn:
		u := in.Linked.User
		if mapped {
			var err error
			if u, err = p.refresh(ctx, org.ID, conn, m, u, profile); err != nil {
				return Outcome{}, err
			}
		}
		u, err := p.signIn(ctx, conn.ID, a.NameID, u, ev, alongside)
		return Outcome{Decision: d, User: u}, err
	case ActionLink:
		target := in.Matches[0].User
		ev.Action, ev.UserID = AuditLinked, target.ID
		err := p.st.LinkIdentity(ctx, store.Identity{ConnectionID: conn.ID, NameID: a.NameID, OrgID: org.ID, UserID: target.ID}, ev)
		if err != nil {
			return Outcome{}, fmt.Errorf("jit: link identity to user %s: %w", target.ID, err)
		}
		u, err := p.refresh(ctx, org.ID, conn, m, target, profile)
		if err != nil {
			return Outcome{}, err
		}
		u, err = p.signIn(ctx, conn.ID, a.NameID, u, ev, alongside)
		return Outcome{Decision: d, User: u}, err
	case ActionCreate:
		ev.Action = AuditCreated
		nu, err := newUser(org.ID, conn.ID, a, profile)
		if err != nil {
			return Outcome{}, err
		}
		u, err := p.st.CreateLinkedUser(ctx, nu, store.Identity{ConnectionID: conn.ID, NameID: a.NameID, OrgID: org.ID}, ev)
		if err != nil {
			return Outcome{}, fmt.Errorf("jit: create user: %w", err)
		}
		u, err = p.signIn(ctx, conn.ID, a.NameID, u, ev, alongside)
		return Outcome{Decision: d, User: u}, err
	default:
		ev.Action = AuditRefused
		ev.Detail["hint"] = d.Hint
		if in.Linked != nil {
			ev.UserID = in.Linked.User.ID
		} else if len(in.Matches) == 1 {
			ev.UserID = in.Matches[0].User.ID
		}
		if err := p.st.RecordEvent(ctx, ev); err != nil {
			return Outcome{}, fmt.Errorf("jit: record refusal: %w", err)
		}
		return Outcome{Decision: d}, nil
	}
}

// signIn records the sign-in (LastSignInAt on the identity and the account,
// and the audit event, in one transaction), runs alongside beside it if it
// is set, and returns u as it now is.
func (p *Provisioner) signIn(ctx context.Context, conn store.ConnectionID, nameID string, u store.User, ev store.AuditEvent, alongside alongsideFunc) (store.User, error) {
	ev.Action = AuditSignedIn
	ev.UserID = u.ID
	at := p.now()
	var errAlongside error
	done := make(chan struct{})
	if alongside != nil {
		go func() {
			defer close(done)
			errAlongside = alongside(ctx, u)
		}()
	} else {
		close(done)
	}
	err := p.st.RecordSignIn(ctx, conn, nameID, at, ev)
	// If only one of the two writes succeeds the sign-in fails: a session
	// whose record failed is never given to the browser (its row expires
	// unused), and a recorded sign-in whose session failed is an error page.
	<-done
	if err != nil {
		return store.User{}, fmt.Errorf("jit: record sign-in: %w", err)
	}
	if errAlongside != nil {
		// Not a conflict to retry on: the sign-in is recorded.
		return store.User{}, fmt.Errorf("jit: sign-in of user %s: %v", u.ID, errAlongside) //nolint:errorlint // %v on purpose, see above
	}
	// As the store keeps it (see store/doc.go), without reading it back.
	t := at.UTC().Truncate(time.Microsecond)
	u.LastSignInAt = &t
	return u, nil
}

// refresh brings an existing account's profile up to date with the one
// mapped from a sign-in (see Provisioner) and returns the account as it now
// is. The role changes only if the mapping has role rules. A change whose new userName or externalId is taken by another account
// (store.ErrConflict) is not made: the sign-in goes ahead and the conflict is
// logged, since refusing would lock the person out over a rename.
func (p *Provisioner) refresh(ctx context.Context, org store.OrgID, conn store.Connection, m connMapping, u store.User, login attributes.Profile) (store.User, error) {
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
			return u, nil // unchanged whoever owns the profile: no token lookup, no write
		}
		has, err := p.hasSCIMToken(ctx, org, conn.ID)
		if err != nil {
			return store.User{}, err
		}
		o = attributes.DefaultOwnership(has)
	}
	fields := changedFields(cur, attributes.Merge(cur, login, o))
	if len(fields) == 0 {
		return u, nil
	}
	ev := store.AuditEvent{
		OrgID:        org,
		Actor:        "idp:" + conn.Slug,
		Action:       AuditUserUpdated,
		UserID:       u.ID,
		ConnectionID: conn.ID,
		Detail:       map[string]string{"fields": strings.Join(fields, ","), "ownership": string(o)},
	}
	updated, err := p.st.UpdateUser(ctx, org, u.ID, func(x *store.User) error {
		// Merge again with the account as it is inside the transaction, so
		// that a concurrent SCIM write is not overwritten with stale values.
		have := profileOf(*x)
		want := attributes.Merge(have, login, o)
		if len(changedFields(have, want)) == 0 {
			return errUnchanged
		}
		next, err := withProfile(*x, want)
		if err != nil {
			return err
		}
		*x = next
		return nil
	}, ev)
	switch {
	case errors.Is(err, errUnchanged):
		return u, nil
	case errors.Is(err, store.ErrConflict):
		p.logger.WarnContext(ctx, "jit: profile update conflicts with another account, signing in without it",
			"org", org, "connection", conn.ID, "user", u.ID, "fields", strings.Join(fields, ","), "err", err)
		return u, nil
	case err != nil:
		return store.User{}, fmt.Errorf("jit: update profile of user %s: %w", u.ID, err)
	}
	return updated, nil
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

// linkedAccount returns the account linked to (conn, nameID), or nil.
func (p *Provisioner) linkedAccount(ctx context.Context, org store.OrgID, conn store.ConnectionID, nameID string) (*AccountState, error) {
	id, err := p.st.GetIdentity(ctx, conn, nameID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jit: read identity: %w", err)
	}
	// Rule 1 looks only at the account, not at its other identities.
	u, err := p.st.GetUser(ctx, org, id.UserID)
	if err != nil {
		return nil, fmt.Errorf("jit: read user %s: %w", id.UserID, err)
	}
	return &AccountState{User: u}, nil
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
// userName or email equals the profile's, the userName's first.
//
// It asks the store twice, once per field, rather than once with an Or
// filter: each of userName eq and emails.value eq is an index lookup, while
// their disjunction is not one for the SQL store (it scans the
// organization's users, a millisecond per 4,000 of them on every first
// sign-in).
func (p *Provisioner) matches(ctx context.Context, org store.OrgID, prof attributes.Profile) ([]AccountState, error) {
	var filters []store.Filter
	if prof.UserName != "" {
		filters = append(filters, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: prof.UserName})
	}
	if prof.Email != "" {
		filters = append(filters, store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: prof.Email})
	}
	var out []AccountState
	for _, f := range filters {
		page, err := p.st.ListUsers(ctx, org, store.UserQuery{Filter: f, Count: 10})
		if err != nil {
			return nil, fmt.Errorf("jit: find matching users: %w", err)
		}
		for _, u := range page.Items {
			if slices.ContainsFunc(out, func(a AccountState) bool { return a.User.ID == u.ID }) {
				continue
			}
			st, err := p.account(ctx, org, u)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// mapProfile applies the connection's attribute mapping to the assertion of
// a sign-in without a linked account, which must carry every required field.
func (p *Provisioner) mapProfile(conn store.Connection, a Assertion) (connMapping, attributes.Profile, error) {
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
