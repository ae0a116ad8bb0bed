package storetest

import (
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func identityTests() []test {
	return []test{
		{"LinkGetList", testIdentityLink},
		{"LinkTakenIdentityIsConflict", testIdentityConflict},
		{"LinkAcrossOrgsIsInvalidReference", testIdentityCrossOrg},
		{"RecordSignInSetsIdentityAndUser", testIdentitySignIn},
		{"CreateLinkedUserIsAtomic", testIdentityCreateLinkedAtomic},
	}
}

func testIdentityLink(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	okta, entra := newConn(t, s, o.ID, "okta"), newConn(t, s, o.ID, "entra")
	ann := newUser(t, s, o.ID, "ann")
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: okta.ID, NameID: "00u1", OrgID: o.ID, UserID: ann.ID}, store.AuditEvent{Actor: "idp:okta"}))
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: entra.ID, NameID: "ann@acme.com", OrgID: o.ID, UserID: ann.ID}, store.AuditEvent{}))
	id := must(s.GetIdentity(ctx(t), okta.ID, "00u1"))(t)
	if id.UserID != ann.ID || id.OrgID != o.ID || id.CreatedAt.IsZero() || id.LastSignInAt != nil {
		t.Errorf("identity = %+v", id)
	}
	_, err := s.GetIdentity(ctx(t), okta.ID, "00U1") // NameIDs are exact
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetIdentity(ctx(t), entra.ID, "00u1")
	wantErr(t, err, store.ErrNotFound)
	if ids := must(s.ListIdentities(ctx(t), o.ID, ann.ID))(t); len(ids) != 2 {
		t.Errorf("ListIdentities = %+v, want 2", ids)
	}
	if evs := events(t, s, o.ID, "identity.linked"); len(evs) != 2 || evs[0].UserID != ann.ID {
		t.Errorf("identity.linked events = %+v", evs)
	}
}

func testIdentityConflict(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	ann, bob := newUser(t, s, o.ID, "ann"), newUser(t, s, o.ID, "bob")
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: "n1", OrgID: o.ID, UserID: ann.ID}, store.AuditEvent{}))
	err := s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: "n1", OrgID: o.ID, UserID: bob.ID}, store.AuditEvent{Action: "identity.dup"})
	wantErr(t, err, store.ErrConflict)
	if id := must(s.GetIdentity(ctx(t), c.ID, "n1"))(t); id.UserID != ann.ID {
		t.Errorf("identity moved to %s", id.UserID)
	}
	if evs := events(t, s, o.ID, "identity.dup"); len(evs) != 0 {
		t.Errorf("refused link left audit events: %+v", evs)
	}
}

func testIdentityCrossOrg(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "a"), newOrg(t, s, "b")
	ca := newConn(t, s, a.ID, "okta")
	ua, ub := newUser(t, s, a.ID, "ann"), newUser(t, s, b.ID, "bob")
	err := s.LinkIdentity(ctx(t), store.Identity{ConnectionID: ca.ID, NameID: "n", OrgID: b.ID, UserID: ub.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	err = s.LinkIdentity(ctx(t), store.Identity{ConnectionID: ca.ID, NameID: "n", OrgID: a.ID, UserID: ub.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	err = s.LinkIdentity(ctx(t), store.Identity{ConnectionID: "no-such-conn", NameID: "n", OrgID: a.ID, UserID: ua.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
}

func testIdentitySignIn(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	ann := newUser(t, s, o.ID, "ann")
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: "n1", OrgID: o.ID, UserID: ann.ID}, store.AuditEvent{}))
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	check(t, s.RecordSignIn(ctx(t), c.ID, "n1", at, store.AuditEvent{Actor: "idp:okta", Action: "jit.signed_in", Rule: "linked"}))
	want := at.UTC().Truncate(time.Microsecond)
	id := must(s.GetIdentity(ctx(t), c.ID, "n1"))(t)
	u := must(s.GetUser(ctx(t), o.ID, ann.ID))(t)
	for what, got := range map[string]*time.Time{"identity": id.LastSignInAt, "user": u.LastSignInAt} {
		if got == nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s LastSignInAt = %v, want %v UTC", what, got, want)
		}
	}
	if u.Version != ann.Version {
		t.Errorf("a sign-in changed the user's version to %d", u.Version)
	}
	evs := events(t, s, o.ID, "jit.signed_in")
	if len(evs) != 1 || evs[0].UserID != ann.ID || evs[0].ConnectionID != c.ID || evs[0].Rule != "linked" {
		t.Errorf("sign-in events = %+v", evs)
	}
	wantErr(t, s.RecordSignIn(ctx(t), c.ID, "unknown", at, store.AuditEvent{}), store.ErrNotFound)
}

func testIdentityCreateLinkedAtomic(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	u := must(s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: "ann", Active: true, Source: store.SourceJIT, ConnectionID: c.ID},
		store.Identity{ConnectionID: c.ID, NameID: "n1"}, store.AuditEvent{Actor: "idp:okta", Action: "jit.created", Rule: "jit.ssoConnections"}))(t)
	id := must(s.GetIdentity(ctx(t), c.ID, "n1"))(t)
	if id.UserID != u.ID || id.OrgID != o.ID {
		t.Errorf("identity = %+v, want linked to %s", id, u.ID)
	}
	if evs := events(t, s, o.ID, "jit.created"); len(evs) != 1 || evs[0].UserID != u.ID || evs[0].ConnectionID != c.ID {
		t.Errorf("jit.created events = %+v", evs)
	}
	// A taken identity fails the whole call: no user is left behind.
	_, err := s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: "bob"}, store.Identity{ConnectionID: c.ID, NameID: "n1"}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: cmp(store.FieldUserName, store.OpEq, "bob")}))(t)
	if p.Total != 0 {
		t.Error("a failed CreateLinkedUser left its user behind")
	}
	// A connection of another organization is refused, and nothing is written.
	other := newConn(t, s, newOrg(t, s, "other").ID, "okta")
	_, err = s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: "cy"}, store.Identity{ConnectionID: other.ID, NameID: "n2"}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	if p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{}))(t); p.Total != 1 {
		t.Errorf("%d users, want 1", p.Total)
	}
}
