package jit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
}

// Audit actions the Provisioner records.
const (
	AuditCreated  = "jit.created"
	AuditLinked   = "jit.linked"
	AuditSignedIn = "jit.signed_in"
	AuditRefused  = "jit.refused"
)

// maxProvisionAttempts bounds the re-reads after a conflict: a SCIM push or
// another replica's login for the same person won the race, and the second
// attempt finds what it made.
const maxProvisionAttempts = 3

// Provisioner applies the JIT policy to a verified assertion: it gathers the
// policy's input from the store, calls Decide, and carries the decision out
// (sign in, link, create, or record the refusal). It is the only part of the
// SAML path that writes accounts. Every decision is an audit event.
type Provisioner struct {
	st     ProvisionStore
	now    func() time.Time
	logger *slog.Logger
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
	var lastErr error
	for range maxProvisionAttempts {
		out, err := p.attempt(ctx, org, conn, a)
		if !errors.Is(err, store.ErrConflict) {
			return out, err
		}
		lastErr = err
		p.logger.InfoContext(ctx, "jit: provisioning raced, re-reading", "org", org.ID, "connection", conn.ID)
	}
	return Outcome{}, fmt.Errorf("jit: provision: still conflicting after %d attempts: %w", maxProvisionAttempts, lastErr)
}

func (p *Provisioner) attempt(ctx context.Context, org store.Org, conn store.Connection, a Assertion) (Outcome, error) {
	in := PolicyInput{
		OrgName:    org.Name,
		Onboarding: org.Onboarding,
		Access:     org.Access,
		Connection: PolicyConnection{ID: conn.ID, Slug: conn.Slug, Name: conn.Name, JITProvisioning: conn.JITProvisioning},
		NameID:     a.NameID,
	}
	var profile attributes.Profile
	if strings.TrimSpace(a.NameID) != "" {
		linked, err := p.linkedAccount(ctx, org.ID, conn.ID, a.NameID)
		if err != nil {
			return Outcome{}, err
		}
		in.Linked = linked
		if linked == nil {
			profile, err = mapProfile(conn, a)
			if err != nil {
				return Outcome{}, err
			}
			in.Email = profile.Email
			if in.Matches, err = p.matches(ctx, org.ID, profile); err != nil {
				return Outcome{}, err
			}
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
		ev.UserID = in.Linked.User.ID
		u, err := p.signIn(ctx, org.ID, conn.ID, a.NameID, in.Linked.User.ID, ev)
		return Outcome{Decision: d, User: u}, err
	case ActionLink:
		target := in.Matches[0].User
		ev.Action, ev.UserID = AuditLinked, target.ID
		err := p.st.LinkIdentity(ctx, store.Identity{ConnectionID: conn.ID, NameID: a.NameID, OrgID: org.ID, UserID: target.ID}, ev)
		if err != nil {
			return Outcome{}, fmt.Errorf("jit: link identity to user %s: %w", target.ID, err)
		}
		u, err := p.signIn(ctx, org.ID, conn.ID, a.NameID, target.ID, ev)
		return Outcome{Decision: d, User: u}, err
	case ActionCreate:
		ev.Action = AuditCreated
		u, err := p.st.CreateLinkedUser(ctx, newUser(org.ID, conn.ID, a, profile), store.Identity{ConnectionID: conn.ID, NameID: a.NameID, OrgID: org.ID}, ev)
		if err != nil {
			return Outcome{}, fmt.Errorf("jit: create user: %w", err)
		}
		ev.UserID = u.ID
		u, err = p.signIn(ctx, org.ID, conn.ID, a.NameID, u.ID, ev)
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

// signIn records the sign-in (LastSignInAt, and the audit event) and returns
// the user as it now is.
func (p *Provisioner) signIn(ctx context.Context, org store.OrgID, conn store.ConnectionID, nameID string, user store.UserID, ev store.AuditEvent) (store.User, error) {
	ev.Action = AuditSignedIn
	ev.UserID = user
	if err := p.st.RecordSignIn(ctx, conn, nameID, p.now(), ev); err != nil {
		return store.User{}, fmt.Errorf("jit: record sign-in: %w", err)
	}
	u, err := p.st.GetUser(ctx, org, user)
	if err != nil {
		return store.User{}, fmt.Errorf("jit: read user %s: %w", user, err)
	}
	return u, nil
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
	st, err := p.account(ctx, org, id.UserID)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func (p *Provisioner) account(ctx context.Context, org store.OrgID, user store.UserID) (AccountState, error) {
	u, err := p.st.GetUser(ctx, org, user)
	if err != nil {
		return AccountState{}, fmt.Errorf("jit: read user %s: %w", user, err)
	}
	ids, err := p.st.ListIdentities(ctx, org, user)
	if err != nil {
		return AccountState{}, fmt.Errorf("jit: read identities of user %s: %w", user, err)
	}
	st := AccountState{User: u}
	for _, id := range ids {
		st.LinkedConnections = append(st.LinkedConnections, id.ConnectionID)
	}
	return st, nil
}

// matches returns the live accounts (active or not, no tombstones) whose
// userName or email equals the profile's.
func (p *Provisioner) matches(ctx context.Context, org store.OrgID, prof attributes.Profile) ([]AccountState, error) {
	var f store.Filter
	if prof.UserName != "" {
		f = store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: prof.UserName}
	}
	if prof.Email != "" {
		byEmail := store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: prof.Email}
		if f == nil {
			f = byEmail
		} else {
			f = store.Or{Left: f, Right: byEmail}
		}
	}
	if f == nil {
		return nil, nil
	}
	page, err := p.st.ListUsers(ctx, org, store.UserQuery{Filter: f, Count: 10})
	if err != nil {
		return nil, fmt.Errorf("jit: find matching users: %w", err)
	}
	var out []AccountState
	for _, u := range page.Items {
		st, err := p.account(ctx, org, u.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// mapProfile applies the connection's attribute mapping to the assertion.
func mapProfile(conn store.Connection, a Assertion) (attributes.Profile, error) {
	m, err := attributes.Resolve(conn.MappingPreset, conn.Mapping)
	if err != nil {
		return attributes.Profile{}, &MappingError{Err: err}
	}
	prof, _, err := m.FromSAML(a.NameID, a.Attributes)
	if err != nil {
		me := &MappingError{Err: err}
		var missing *attributes.MissingFieldError
		for _, e := range flatten(err) {
			if errors.As(e, &missing) {
				me.Fields = append(me.Fields, missing.Field)
			}
		}
		return attributes.Profile{}, me
	}
	return prof, nil
}

// flatten lists the errors joined in err (errors.Join), or err itself.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// newUser is the account JIT creates from the mapped profile.
func newUser(org store.OrgID, conn store.ConnectionID, a Assertion, prof attributes.Profile) store.User {
	u := store.User{
		OrgID:        org,
		UserName:     prof.UserName,
		DisplayName:  prof.DisplayName,
		GivenName:    prof.GivenName,
		FamilyName:   prof.FamilyName,
		Active:       true,
		Role:         prof.Role,
		Custom:       prof.Custom,
		Source:       store.SourceJIT,
		ConnectionID: conn,
	}
	if u.UserName == "" {
		u.UserName = a.NameID
	}
	if prof.Email != "" {
		u.Emails = []store.Email{{Value: prof.Email, Type: "work", Primary: true}}
	}
	return u
}
