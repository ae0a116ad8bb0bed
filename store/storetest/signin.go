package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func signInTests() []test {
	return []test{
		{"GetConnectionByPath", testSignInConnectionByPath},
		{"GetLinkedUser", testSignInLinkedUser},
		{"MatchUsers", testSignInMatchUsers},
		{"LinkedWritesEverythingAtOnce", testSignInLinked},
		{"ReplayWritesNothing", testSignInReplay},
		{"RefusalBurnsTheAssertion", testSignInRefusal},
		{"ChangedAccountIsVersionMismatch", testSignInChangedAccount},
		{"ChangedConfigIsConfigChanged", testSignInChangedConfig},
		{"LinkExistingAccount", testSignInLink},
		{"CreateAccount", testSignInCreate},
		{"ProfileUpdate", testSignInProfile},
		{"ProfileTakenUserNameSignsInWithout", testSignInProfileConflict},
		{"ConcurrentReplaysYieldOneSession", testSignInConcurrentReplays},
		{"MalformedIsRefused", testSignInMalformed},
	}
}

// signInSetup is an organization with connection okta and an account (ann)
// linked to the identity (okta, "00u-ann").
type signInSetup struct {
	org  store.Org
	conn store.Connection
	ann  store.User
}

const annNameID = "00u-ann"

func newSignInSetup(t *testing.T, s store.Store) signInSetup {
	t.Helper()
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	ann := newUser(t, s, o.ID, "ann", func(u *store.User) {
		u.Emails = []store.Email{{Value: "Ann@Acme.com", Primary: true}}
	})
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: annNameID, OrgID: o.ID, UserID: ann.ID}, store.AuditEvent{}))
	return signInSetup{org: o, conn: c, ann: ann}
}

// assertion is an assertion of the setup's connection, valid for a while.
func (x signInSetup) assertion(id string) store.UsedAssertion {
	return store.UsedAssertion{ConnectionID: x.conn.ID, ID: id, NotOnOrAfter: time.Now().Add(5 * time.Minute)}
}

// linked is the sign-in of ann through her linked identity, with a session
// whose ID hash is hash.
func (x signInSetup) linked(assertionID, hash string) store.SignIn {
	return store.SignIn{
		OrgID:     x.org.ID,
		Assertion: x.assertion(assertionID),
		NameID:    annNameID,
		Account:   store.SignInAccount{Linked: &x.ann},
		Session:   newSignInSession(hash),
		Events:    []store.AuditEvent{{Actor: "idp:okta", Action: "jit.signed_in", Rule: "linked_identity"}},
	}
}

func newSignInSession(hash string) *store.Session {
	return &store.Session{IDHash: []byte(hash), ExpiresAt: time.Now().Add(time.Hour)}
}

// sessionExists reports whether a session with the ID hash exists.
func sessionExists(t *testing.T, s store.Store, hash string) bool {
	t.Helper()
	_, err := s.GetSession(ctx(t), []byte(hash))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func testSignInConnectionByPath(t *testing.T, s store.Store) {
	acme, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
	okta := newConn(t, s, acme.ID, "okta")
	otherOkta := newConn(t, s, other.ID, "okta") // the same slug in another organization
	newConn(t, s, acme.ID, "entra")

	o, c, err := s.GetConnectionByPath(ctx(t), "acme", "okta")
	check(t, err)
	if o.ID != acme.ID || o.Slug != "acme" || o.Name != acme.Name || c.ID != okta.ID || c.OrgID != acme.ID ||
		c.Slug != "okta" || c.SPCertPEM != okta.SPCertPEM || c.MappingPreset != okta.MappingPreset || !c.JITProvisioning {
		t.Errorf("GetConnectionByPath(acme, okta) = %+v, %+v", o, c)
	}
	if want := must(s.GetConnection(ctx(t), okta.ID))(t); !c.CreatedAt.Equal(want.CreatedAt) || c.IdPMetadataXML != want.IdPMetadataXML {
		t.Errorf("connection %+v, GetConnection says %+v", c, want)
	}
	if _, c, err := s.GetConnectionByPath(ctx(t), "other", "okta"); err != nil || c.ID != otherOkta.ID {
		t.Errorf("GetConnectionByPath(other, okta) = %s, %v; want %s", c.ID, err, otherOkta.ID)
	}
	for _, path := range [][2]string{{"acme", "onelogin"}, {"nobody", "okta"}, {"other", "entra"}, {"ACME", "okta"}} {
		_, _, err := s.GetConnectionByPath(ctx(t), path[0], path[1])
		wantErr(t, err, store.ErrNotFound)
	}
}

func testSignInLinkedUser(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	id, u, err := s.GetLinkedUser(ctx(t), x.conn.ID, annNameID)
	check(t, err)
	if id.UserID != x.ann.ID || id.NameID != annNameID || id.ConnectionID != x.conn.ID || id.OrgID != x.org.ID || id.CreatedAt.IsZero() {
		t.Errorf("identity = %+v", id)
	}
	if u.ID != x.ann.ID || u.UserName != "ann" || u.Version != x.ann.Version || u.PrimaryEmail() != "Ann@Acme.com" || !u.Active {
		t.Errorf("user = %+v, want ann", u)
	}
	_, _, err = s.GetLinkedUser(ctx(t), x.conn.ID, "00U-ANN") // NameIDs are exact
	wantErr(t, err, store.ErrNotFound)

	// A tombstone still comes back, so that JIT can refuse to resurrect it.
	check(t, s.DeleteUser(ctx(t), x.org.ID, x.ann.ID, store.AuditEvent{Actor: "test"}))
	if _, u, err := s.GetLinkedUser(ctx(t), x.conn.ID, annNameID); err != nil || u.DeletedAt == nil {
		t.Errorf("after DeleteUser: %+v, %v; want the tombstone", u, err)
	}
}

func testSignInMatchUsers(t *testing.T, s store.Store) {
	o, other := newOrg(t, s, "acme"), newOrg(t, s, "other")
	withEmail := func(e string) func(*store.User) {
		return func(u *store.User) { u.Emails = []store.Email{{Value: "x@else.com"}, {Value: e, Primary: true}} }
	}
	ann := newUser(t, s, o.ID, "Ann@Acme.com")
	bob := newUser(t, s, o.ID, "bob", withEmail("ANN@acme.com"))
	cat := newUser(t, s, o.ID, "cat", withEmail("ann@acme.com"), func(u *store.User) { u.Active = false })
	gone := newUser(t, s, o.ID, "gone", withEmail("ann@acme.com"))
	check(t, s.DeleteUser(ctx(t), o.ID, gone.ID, store.AuditEvent{Actor: "test"}))
	newUser(t, s, other.ID, "ann@acme.com", withEmail("ann@acme.com")) // another organization

	ids := func(us []store.User) []store.UserID {
		out := make([]store.UserID, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	for _, tc := range []struct {
		userName, email string
		limit           int
		want            []store.UserID
	}{
		{"ann@acme.com", "", 10, []store.UserID{ann.ID}},
		{"", "Ann@ACME.com", 10, []store.UserID{bob.ID, cat.ID}}, // deactivated included, tombstone not
		{"bob", "ann@acme.com", 10, []store.UserID{bob.ID, cat.ID}},
		{"cat", "ann@acme.com", 10, []store.UserID{cat.ID, bob.ID}}, // the userName's first, each once
		{"ANN@acme.com", "ann@acme.com", 2, []store.UserID{ann.ID, bob.ID}},
		{"cat", "ann@acme.com", 1, []store.UserID{cat.ID}},
		{"gone", "nobody@acme.com", 10, nil},
		{"", "x@ELSE.com", 10, []store.UserID{bob.ID, cat.ID}}, // any address, not only the primary
		{"", "", 10, nil},
	} {
		got := must(s.MatchUsers(ctx(t), o.ID, tc.userName, tc.email, tc.limit))(t)
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("MatchUsers(%q, %q, %d) = %v, want %v", tc.userName, tc.email, tc.limit, ids(got), tc.want)
		}
	}
	if got := must(s.MatchUsers(ctx(t), o.ID, "bob", "", 1))(t); len(got) != 1 || got[0].PrimaryEmail() != "ANN@acme.com" || got[0].Version != bob.Version {
		t.Errorf("MatchUsers returned %+v, want bob in full", got)
	}
}

func testSignInLinked(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	at := time.Date(2026, 3, 4, 5, 6, 7, 8910, time.UTC)
	in := x.linked("_a1", "sess-1")
	in.At = at

	res, err := s.SignIn(ctx(t), in)

	check(t, err)
	micro := at.Truncate(time.Microsecond)
	if res.User.ID != x.ann.ID || res.User.Version != x.ann.Version || res.User.LastSignInAt == nil || !res.User.LastSignInAt.Equal(micro) || res.ProfileConflict != nil {
		t.Errorf("result = %+v", res)
	}
	u := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t)
	if u.LastSignInAt == nil || !u.LastSignInAt.Equal(micro) || u.Version != x.ann.Version || !u.UpdatedAt.Equal(x.ann.UpdatedAt) {
		t.Errorf("user after sign-in = %+v (LastSignInAt set, Version and UpdatedAt unchanged)", u)
	}
	if id := must(s.GetIdentity(ctx(t), x.conn.ID, annNameID))(t); id.LastSignInAt == nil || !id.LastSignInAt.Equal(micro) {
		t.Errorf("identity after sign-in = %+v", id)
	}
	se := must(s.GetSession(ctx(t), []byte("sess-1")))(t)
	if se.UserID != x.ann.ID || se.OrgID != x.org.ID || !bytes.Equal(se.IDHash, []byte("sess-1")) || !se.ExpiresAt.Equal(stampOf(in.Session.ExpiresAt)) {
		t.Errorf("session = %+v", se)
	}
	evs := events(t, s, x.org.ID, "jit.signed_in")
	if len(evs) != 1 || evs[0].UserID != x.ann.ID || evs[0].ConnectionID != x.conn.ID || evs[0].Rule != "linked_identity" || evs[0].Actor != "idp:okta" {
		t.Errorf("jit.signed_in events = %+v", evs)
	}
	// The assertion is in the one replay cache UseAssertion also writes.
	wantErr(t, s.UseAssertion(ctx(t), x.conn.ID, "_a1", time.Now().Add(time.Minute)), store.ErrConflict)
}

func stampOf(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func testSignInReplay(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	first := must(s.SignIn(ctx(t), x.linked("_a1", "sess-1")))(t)

	_, err := s.SignIn(ctx(t), x.linked("_a1", "sess-2"))

	wantErr(t, err, store.ErrAssertionUsed)
	wantErr(t, err, store.ErrConflict)
	if sessionExists(t, s, "sess-2") {
		t.Error("a replayed sign-in created a session")
	}
	if evs := events(t, s, x.org.ID, "jit.signed_in"); len(evs) != 1 {
		t.Errorf("%d jit.signed_in events after a replay, want 1", len(evs))
	}
	if u := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t); !u.LastSignInAt.Equal(*first.User.LastSignInAt) {
		t.Errorf("a replay moved LastSignInAt to %v", u.LastSignInAt)
	}
	// An ID recorded by UseAssertion is used for SignIn too; IDs are per
	// connection and exact.
	check(t, s.UseAssertion(ctx(t), x.conn.ID, "_a2", time.Now().Add(time.Minute)))
	_, err = s.SignIn(ctx(t), x.linked("_a2", "sess-3"))
	wantErr(t, err, store.ErrAssertionUsed)
	must(s.SignIn(ctx(t), x.linked("_A1", "sess-4")))(t)
	entra := newConn(t, s, x.org.ID, "entra")
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: entra.ID, NameID: annNameID, OrgID: x.org.ID, UserID: x.ann.ID}, store.AuditEvent{}))
	in := x.linked("_a1", "sess-5")
	in.Assertion.ConnectionID = entra.ID
	must(s.SignIn(ctx(t), in))(t)
}

func testSignInRefusal(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	refusal := store.SignIn{
		OrgID:     x.org.ID,
		Assertion: x.assertion("_a1"),
		Events:    []store.AuditEvent{{Actor: "idp:okta", Action: "jit.refused", Rule: "jit_not_allowed", UserID: x.ann.ID}},
	}

	res, err := s.SignIn(ctx(t), refusal)

	check(t, err)
	if res.User.ID != "" {
		t.Errorf("a refusal returned user %s", res.User.ID)
	}
	evs := events(t, s, x.org.ID, "jit.refused")
	if len(evs) != 1 || evs[0].UserID != x.ann.ID || evs[0].ConnectionID != x.conn.ID || evs[0].Rule != "jit_not_allowed" {
		t.Errorf("jit.refused events = %+v", evs)
	}
	if u := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t); u.LastSignInAt != nil {
		t.Errorf("a refusal set LastSignInAt %v", u.LastSignInAt)
	}
	// The refused assertion cannot be tried again, whatever changed since.
	_, err = s.SignIn(ctx(t), x.linked("_a1", "sess-1"))
	wantErr(t, err, store.ErrAssertionUsed)
	_, err = s.SignIn(ctx(t), refusal)
	wantErr(t, err, store.ErrAssertionUsed)
	if evs := events(t, s, x.org.ID, "jit.refused"); len(evs) != 1 {
		t.Errorf("%d jit.refused events after a replayed refusal, want 1", len(evs))
	}
}

func testSignInChangedAccount(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	stale := x.linked("_a1", "sess-1")
	renamed := must(s.UpdateUser(ctx(t), x.org.ID, x.ann.ID, func(u *store.User) error { u.DisplayName = "Ann A."; return nil }, store.AuditEvent{Actor: "test"}))(t)

	_, err := s.SignIn(ctx(t), stale)

	wantErr(t, err, store.ErrVersionMismatch)
	if sessionExists(t, s, "sess-1") || len(events(t, s, x.org.ID, "jit.signed_in")) != 0 {
		t.Fatal("a sign-in decided on a stale account wrote its session or event")
	}
	// Nothing was written, the assertion ID included: decided again on the
	// current account, the same assertion signs in.
	fresh := x.linked("_a1", "sess-1")
	fresh.Account.Linked = &renamed
	if res := must(s.SignIn(ctx(t), fresh))(t); res.User.DisplayName != "Ann A." || res.User.Version != renamed.Version {
		t.Errorf("signed in as %+v", res.User)
	}

	// Deactivated (SCIM active:false) since it was read.
	ann := must(s.UpdateUser(ctx(t), x.org.ID, x.ann.ID, func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{Actor: "test"}))(t)
	in := x.linked("_a2", "sess-2")
	in.Account.Linked = &ann // even as it is now
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrVersionMismatch)

	// The identity now links to another account, or to none.
	bob := newUser(t, s, x.org.ID, "bob")
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: x.conn.ID, NameID: "00u-bob", OrgID: x.org.ID, UserID: bob.ID}, store.AuditEvent{}))
	ann = must(s.UpdateUser(ctx(t), x.org.ID, x.ann.ID, func(u *store.User) error { u.Active = true; return nil }, store.AuditEvent{Actor: "test"}))(t)
	in = x.linked("_a3", "sess-3")
	in.Account.Linked = &ann
	in.NameID = "00u-bob"
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrVersionMismatch)
	in.NameID = "00u-nobody"
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrVersionMismatch)
	if sessionExists(t, s, "sess-2") || sessionExists(t, s, "sess-3") {
		t.Fatal("a refused sign-in left a session")
	}
}

func testSignInLink(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	entra := newConn(t, s, x.org.ID, "entra")
	link := func(assertionID, hash string, u store.User) store.SignIn {
		return store.SignIn{
			OrgID:     x.org.ID,
			Assertion: store.UsedAssertion{ConnectionID: entra.ID, ID: assertionID, NotOnOrAfter: time.Now().Add(time.Minute)},
			NameID:    "ann@acme.com",
			Account:   store.SignInAccount{Link: &u},
			Session:   newSignInSession(hash),
			Events: []store.AuditEvent{
				{Actor: "idp:entra", Action: "jit.linked", Rule: "link_existing_account"},
				{Actor: "idp:entra", Action: "jit.signed_in", Rule: "link_existing_account"},
			},
		}
	}
	stale := x.ann
	stale.Version--
	_, err := s.SignIn(ctx(t), link("_a0", "sess-0", stale))
	wantErr(t, err, store.ErrVersionMismatch)

	res, err := s.SignIn(ctx(t), link("_a1", "sess-1", x.ann))

	check(t, err)
	id := must(s.GetIdentity(ctx(t), entra.ID, "ann@acme.com"))(t)
	if id.UserID != x.ann.ID || id.LastSignInAt == nil || res.User.ID != x.ann.ID || res.User.LastSignInAt == nil || !id.LastSignInAt.Equal(*res.User.LastSignInAt) {
		t.Errorf("identity %+v, result %+v", id, res)
	}
	if u := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t); u.LastSignInAt == nil || u.Version != x.ann.Version {
		t.Errorf("user after link = %+v", u)
	}
	if !sessionExists(t, s, "sess-1") {
		t.Error("no session after the link")
	}
	for _, action := range []string{"jit.linked", "jit.signed_in"} {
		if evs := events(t, s, x.org.ID, action); len(evs) != 1 || evs[0].UserID != x.ann.ID || evs[0].ConnectionID != entra.ID {
			t.Errorf("%s events = %+v", action, evs)
		}
	}

	// The identity is taken (linked by a racing sign-in): a conflict, and
	// nothing written, the assertion ID included.
	bob := newUser(t, s, x.org.ID, "bob")
	in := link("_a2", "sess-2", bob)
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrConflict)
	if errors.Is(err, store.ErrAssertionUsed) {
		t.Errorf("a taken identity reported as a replay: %v", err)
	}
	if sessionExists(t, s, "sess-2") || len(events(t, s, x.org.ID, "jit.linked")) != 1 {
		t.Error("a refused link wrote its session or event")
	}
	check(t, s.UseAssertion(ctx(t), entra.ID, "_a2", time.Now().Add(time.Minute)))

	// A deleted account cannot be linked.
	check(t, s.DeleteUser(ctx(t), x.org.ID, bob.ID, store.AuditEvent{Actor: "test"}))
	in = link("_a3", "sess-3", bob)
	in.NameID = "bob@acme.com"
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrVersionMismatch)
}

func testSignInCreate(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	create := func(assertionID, hash, userName, nameID string) store.SignIn {
		return store.SignIn{
			OrgID:     x.org.ID,
			Assertion: x.assertion(assertionID),
			NameID:    nameID,
			Account: store.SignInAccount{Create: &store.User{
				OrgID: x.org.ID, UserName: userName, GivenName: "Dee", Active: true, Role: "Member",
				Source: store.SourceJIT, ConnectionID: x.conn.ID,
				Emails: []store.Email{{Value: userName + "@acme.com", Type: "work", Primary: true}},
				Custom: map[string]string{"groups": `["Everyone"]`},
			}},
			Session: newSignInSession(hash),
			Events: []store.AuditEvent{
				{Actor: "idp:okta", Action: "jit.created", Rule: "jit_sso_connection"},
				{Actor: "idp:okta", Action: "jit.signed_in", Rule: "jit_sso_connection"},
			},
		}
	}

	res, err := s.SignIn(ctx(t), create("_a1", "sess-1", "dee", "00u-dee"))

	check(t, err)
	u := res.User
	if u.ID == "" || u.Version != 1 || u.UserName != "dee" || u.LastSignInAt == nil || u.CreatedAt.IsZero() {
		t.Fatalf("created %+v", u)
	}
	got := must(s.GetUser(ctx(t), x.org.ID, u.ID))(t)
	if got.UserName != "dee" || got.Source != store.SourceJIT || got.PrimaryEmail() != "dee@acme.com" || got.Custom["groups"] != `["Everyone"]` ||
		got.LastSignInAt == nil || !got.LastSignInAt.Equal(*u.LastSignInAt) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("stored %+v, returned %+v", got, u)
	}
	if id, lu, err := s.GetLinkedUser(ctx(t), x.conn.ID, "00u-dee"); err != nil || lu.ID != u.ID || id.LastSignInAt == nil {
		t.Errorf("identity %+v linked to %s, %v", id, lu.ID, err)
	}
	if se := must(s.GetSession(ctx(t), []byte("sess-1")))(t); se.UserID != u.ID {
		t.Errorf("session of %s, want %s", se.UserID, u.ID)
	}
	for _, action := range []string{"jit.created", "jit.signed_in"} {
		if evs := events(t, s, x.org.ID, action); len(evs) != 1 || evs[0].UserID != u.ID {
			t.Errorf("%s events = %+v", action, evs)
		}
	}

	// A taken userName (case-insensitively) or identity is a conflict that
	// writes nothing, the assertion ID included.
	for i, in := range []store.SignIn{create("_a2", "sess-2", "DEE", "00u-dee2"), create("_a3", "sess-3", "dee2", "00u-dee")} {
		_, err := s.SignIn(ctx(t), in)
		wantErr(t, err, store.ErrConflict)
		if errors.Is(err, store.ErrAssertionUsed) {
			t.Errorf("create %d: reported as a replay: %v", i, err)
		}
		if sessionExists(t, s, string(in.Session.IDHash)) {
			t.Errorf("create %d: a conflicting create left a session", i)
		}
		check(t, s.UseAssertion(ctx(t), x.conn.ID, in.Assertion.ID, time.Now().Add(time.Minute)))
	}
	if page := must(s.ListUsers(ctx(t), x.org.ID, store.UserQuery{Count: 10}))(t); page.Total != 2 {
		t.Errorf("%d users, want ann and dee", page.Total)
	}
}

func testSignInProfile(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	in := x.linked("_a1", "sess-1")
	next := x.ann
	next.FamilyName, next.Role = "Smith", "Admin"
	next.Emails = []store.Email{{Value: "ann.smith@acme.com", Type: "work", Primary: true}}
	next.Active = false                // not the sign-in's to change
	next.Version, next.ID = 99, "ufoo" // the store's
	in.Profile = &store.ProfileUpdate{User: next, Event: store.AuditEvent{Actor: "idp:okta", Action: "user.updated", Detail: map[string]string{"fields": "familyName"}}}

	res, err := s.SignIn(ctx(t), in)

	check(t, err)
	got := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t)
	if got.FamilyName != "Smith" || got.Role != "Admin" || !got.Active || got.Version != x.ann.Version+1 || got.LastSignInAt == nil ||
		res.User.Version != got.Version || res.User.FamilyName != "Smith" || res.User.ID != x.ann.ID || res.ProfileConflict != nil {
		t.Fatalf("stored %+v, returned %+v", got, res)
	}
	// The emails were rewritten: filters find the new address, not the old.
	if us := must(s.MatchUsers(ctx(t), x.org.ID, "", "ann.smith@acme.com", 5))(t); len(us) != 1 {
		t.Errorf("new email matches %d users", len(us))
	}
	if us := must(s.MatchUsers(ctx(t), x.org.ID, "", "ann@acme.com", 5))(t); len(us) != 0 {
		t.Errorf("old email still matches %d users", len(us))
	}
	if evs := events(t, s, x.org.ID, "user.updated"); len(evs) != 1 || evs[0].UserID != x.ann.ID || evs[0].Detail["fields"] != "familyName" {
		t.Errorf("user.updated events = %+v", evs)
	}
}

func testSignInProfileConflict(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	newUser(t, s, x.org.ID, "bob")
	in := x.linked("_a1", "sess-1")
	next := x.ann
	next.UserName, next.FamilyName = "Bob", "Renamed"
	in.Profile = &store.ProfileUpdate{User: next, Event: store.AuditEvent{Actor: "idp:okta", Action: "user.updated"}}

	res, err := s.SignIn(ctx(t), in)

	check(t, err)
	if !errors.Is(res.ProfileConflict, store.ErrConflict) {
		t.Errorf("ProfileConflict = %v, want a conflict", res.ProfileConflict)
	}
	got := must(s.GetUser(ctx(t), x.org.ID, x.ann.ID))(t)
	if got.UserName != "ann" || got.FamilyName != "" || got.Version != x.ann.Version || got.LastSignInAt == nil ||
		res.User.UserName != "ann" || res.User.Version != x.ann.Version {
		t.Errorf("stored %+v, returned %+v; want ann unchanged but signed in", got, res.User)
	}
	if !sessionExists(t, s, "sess-1") || len(events(t, s, x.org.ID, "jit.signed_in")) != 1 {
		t.Error("the sign-in did not go ahead without the profile")
	}
	if evs := events(t, s, x.org.ID, "user.updated"); len(evs) != 0 {
		t.Errorf("user.updated events for a profile not written: %+v", evs)
	}
}

func testSignInConcurrentReplays(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	const n = 16
	for round := range 3 {
		assertionID := fmt.Sprintf("_race%d", round)
		fns := make([]func() error, n)
		for i := range fns {
			fns[i] = func() error {
				_, err := s.SignIn(ctx(t), x.linked(assertionID, fmt.Sprintf("sess-%d-%d", round, i)))
				return err
			}
		}
		errs := together(fns...)
		winner := oneWins(t, errs)
		for i, err := range errs {
			if i != winner && !errors.Is(err, store.ErrAssertionUsed) {
				t.Fatalf("round %d, loser %d: %v, want ErrAssertionUsed", round, i, err)
			}
			if got := sessionExists(t, s, fmt.Sprintf("sess-%d-%d", round, i)); got != (i == winner) {
				t.Fatalf("round %d: session %d exists: %t; only the winner's may", round, i, got)
			}
		}
	}
	if evs := events(t, s, x.org.ID, "jit.signed_in"); len(evs) != 3 {
		t.Errorf("%d jit.signed_in events after 3 rounds, want 3", len(evs))
	}
}

func testSignInMalformed(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	for name, edit := range map[string]func(*store.SignIn){
		"no assertion ID":      func(in *store.SignIn) { in.Assertion.ID = "" },
		"no organization":      func(in *store.SignIn) { in.OrgID = "" },
		"no NameID":            func(in *store.SignIn) { in.NameID = "" },
		"two accounts":         func(in *store.SignIn) { in.Account.Link = &x.ann },
		"account without ID":   func(in *store.SignIn) { in.Account.Linked = &store.User{Version: 1} },
		"event without action": func(in *store.SignIn) { in.Events = append(in.Events, store.AuditEvent{Actor: "x"}) },
		"refusal with session": func(in *store.SignIn) { in.Account = store.SignInAccount{} },
		"create of another org": func(in *store.SignIn) {
			in.Account = store.SignInAccount{Create: &store.User{OrgID: "elsewhere", UserName: "eve"}}
		},
	} {
		in := x.linked("_a1", "sess-1")
		edit(&in)
		if _, err := s.SignIn(ctx(t), in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Nothing of it was written.
	must(s.SignIn(ctx(t), x.linked("_a1", "sess-1")))(t)
}

// A sign-in decided on an organization and connection as read (Config)
// commits only while both are unchanged; otherwise it writes nothing, the
// assertion ID included, and says ErrConfigChanged.
func testSignInChangedConfig(t *testing.T, s store.Store) {
	x := newSignInSetup(t, s)
	stamps := func(o store.Org, c store.Connection) *store.ConfigRead {
		return &store.ConfigRead{OrgUpdatedAt: o.UpdatedAt, ConnectionUpdatedAt: c.UpdatedAt}
	}
	in := x.linked("_a1", "sess-1")
	in.Config = stamps(x.org, x.conn)
	must(s.SignIn(ctx(t), in))(t)

	// The connection changes (an Admin turns JIT off, imports new metadata…).
	conn := must(s.UpdateConnection(ctx(t), x.conn.ID, func(c *store.Connection) error { c.Name = "Okta (new)"; return nil }, store.AuditEvent{Actor: "test"}))(t)
	in = x.linked("_a2", "sess-2")
	in.Config = stamps(x.org, x.conn)
	_, err := s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrConfigChanged)
	if sessionExists(t, s, "sess-2") || len(events(t, s, x.org.ID, "jit.signed_in")) != 1 {
		t.Fatal("a sign-in decided on a stale connection wrote its session or event")
	}
	// Decided again on what is stored now, the same assertion signs in.
	in.Config = stamps(x.org, conn)
	must(s.SignIn(ctx(t), in))(t)

	// The organization changes (its onboarding settings or access list).
	org := must(s.UpdateOrg(ctx(t), x.org.ID, func(o *store.Org) error { o.Onboarding.JITSSOConnections = !o.Onboarding.JITSSOConnections; return nil }, store.AuditEvent{Actor: "test"}))(t)
	refusal := store.SignIn{OrgID: x.org.ID, Assertion: x.assertion("_a3"), Config: stamps(x.org, conn),
		Events: []store.AuditEvent{{Actor: "idp:okta", Action: "jit.refused", Rule: "jit_not_allowed"}}}
	_, err = s.SignIn(ctx(t), refusal)
	wantErr(t, err, store.ErrConfigChanged)
	if len(events(t, s, x.org.ID, "jit.refused")) != 0 {
		t.Fatal("a refusal decided on a stale organization wrote its event")
	}
	refusal.Config = stamps(org, conn)
	must(s.SignIn(ctx(t), refusal))(t)

	// Stamps of another connection's, or of a connection that is gone.
	other := newConn(t, s, x.org.ID, "entra")
	in = x.linked("_a4", "sess-4")
	in.Config = stamps(org, other)
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrConfigChanged)
	in.Assertion.ConnectionID = other.ID
	in.NameID = "00u-nobody"
	in.Account = store.SignInAccount{}
	in.Session = nil
	check(t, s.DeleteConnection(ctx(t), other.ID, store.AuditEvent{Actor: "test"}))
	_, err = s.SignIn(ctx(t), in)
	wantErr(t, err, store.ErrConfigChanged)
}
