package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func userTests() []test {
	return []test{
		{"CreateGetRoundTrip", testUserRoundTrip},
		{"CreateDuplicateUserNameDiffersOnlyInCase", testUserDuplicateCase},
		{"SameUserNameInAnotherOrg", testUserOtherOrg},
		{"DuplicateExternalIDIsConflict", testUserDuplicateExternalID},
		{"GetUnknownIsNotFound", testUserUnknown},
		{"UpdateIncrementsVersion", testUserUpdate},
		{"UpdateVersionMismatchWritesNothing", testUserVersionMismatch},
		{"UpdateToTakenUserNameIsConflict", testUserUpdateConflict},
		{"UpdatesAreSerialised", testUserUpdatesSerialised},
		{"DeactivateEndsSessions", testUserDeactivate},
		{"TombstoneFreesUserNameAndKeepsIdentity", testUserTombstone},
		{"DeleteEndsSessionsAndLeavesGroups", testUserDeleteCleansUp},
		{"ListExcludesTombstonesUnlessAsked", testUserListTombstones},
		{"PaginationStableOrder", testUserPagination},
		{"CountCappedAtMaxPageSize", testUserMaxPage},
		{"FilterEveryOperator", testUserFilters},
		{"FilterUnsupportedIsError", testUserFilterErrors},
	}
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	seen := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	in := store.User{
		OrgID: o.ID, UserName: "Ann.Smith@Acme.com", ExternalID: "00u1", DisplayName: "Ann Smith",
		GivenName: "Ann", FamilyName: "Smith", Active: true, Role: "Admin",
		Emails: []store.Email{
			{Value: "Ann.Smith@Acme.com", Type: "work", Primary: true},
			{Value: "ann@home.example", Type: "home"},
		},
		Custom:       map[string]string{"department": "R&D", "costCenter": "42"},
		Source:       store.SourceSCIM,
		ConnectionID: c.ID,
		Resource:     json.RawMessage(`{"userName":"Ann.Smith@Acme.com","active":true}`),
		LastSignInAt: &seen,
	}
	u := must(s.CreateUser(ctx(t), in, store.AuditEvent{Actor: "token:t1"}))(t)
	if u.ID == "" || u.Version != 1 || u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) || u.DeletedAt != nil {
		t.Fatalf("created user %+v: want an ID, Version 1, CreatedAt = UpdatedAt, no DeletedAt", u)
	}
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	for _, x := range []store.User{u, got} {
		if x.ID != u.ID || x.OrgID != o.ID || x.UserName != in.UserName || x.ExternalID != in.ExternalID ||
			x.DisplayName != in.DisplayName || x.GivenName != in.GivenName || x.FamilyName != in.FamilyName ||
			!x.Active || x.Role != "Admin" || x.Source != store.SourceSCIM || x.ConnectionID != c.ID ||
			!slices.Equal(x.Emails, in.Emails) || !maps.Equal(x.Custom, in.Custom) || x.Version != 1 {
			t.Errorf("user = %+v\nwant %+v", x, in)
		}
		if !jsonEqual(t, x.Resource, in.Resource) {
			t.Errorf("Resource = %s, want %s", x.Resource, in.Resource)
		}
		if x.LastSignInAt == nil || !x.LastSignInAt.Equal(seen) {
			t.Errorf("LastSignInAt = %v, want %v", x.LastSignInAt, seen)
		}
	}
	if !got.CreatedAt.Equal(u.CreatedAt) || !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("times: got %v/%v, created %v/%v", got.CreatedAt, got.UpdatedAt, u.CreatedAt, u.UpdatedAt)
	}
	if got.PrimaryEmail() != "Ann.Smith@Acme.com" {
		t.Errorf("PrimaryEmail = %q", got.PrimaryEmail())
	}
	// The caller's slices and maps are not shared with the store.
	in.Emails[0].Value = "changed"
	in.Custom["department"] = "changed"
	if got := must(s.GetUser(ctx(t), o.ID, u.ID))(t); got.Emails[0].Value == "changed" || got.Custom["department"] == "changed" {
		t.Errorf("store shares the caller's memory: %+v", got)
	}

	// A minimal user reads back with nil emails, custom fields and resource.
	m := newUser(t, s, o.ID, "min")
	gm := must(s.GetUser(ctx(t), o.ID, m.ID))(t)
	if gm.Emails != nil || gm.Custom != nil || gm.Resource != nil || gm.ExternalID != "" || gm.LastSignInAt != nil {
		t.Errorf("minimal user = %+v", gm)
	}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("bad JSON %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("bad JSON %q: %v", b, err)
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func testUserDuplicateCase(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	first := newUser(t, s, o.ID, "Ann.Smith@Acme.com")
	for _, name := range []string{"Ann.Smith@Acme.com", "ann.smith@acme.com", "ANN.SMITH@ACME.COM"} {
		_, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: name}, store.AuditEvent{Action: "user.dup"})
		wantErr(t, err, store.ErrConflict)
	}
	_, err := s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: "aNN.smith@acme.com"},
		store.Identity{ConnectionID: newConn(t, s, o.ID, "okta").ID, NameID: "x"}, store.AuditEvent{Action: "user.dup"})
	wantErr(t, err, store.ErrConflict)
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10}))(t)
	if p.Total != 1 || p.Items[0].ID != first.ID {
		t.Errorf("users after conflicts = %v", userNames(p.Items))
	}
	if evs := events(t, s, o.ID, "user.dup"); len(evs) != 0 {
		t.Errorf("failed creates left audit events: %+v", evs)
	}
}

func testUserOtherOrg(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "a"), newOrg(t, s, "b")
	ua := newUser(t, s, a.ID, "ann", func(u *store.User) { u.ExternalID = "x1" })
	ub := newUser(t, s, b.ID, "ANN", func(u *store.User) { u.ExternalID = "x1" })
	if ua.ID == ub.ID {
		t.Fatal("two organizations' users share an ID")
	}
	_, err := s.GetUser(ctx(t), a.ID, ub.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx(t), a.ID, ub.ID, func(*store.User) error { return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx(t), a.ID, ub.ID, store.AuditEvent{}), store.ErrNotFound)
}

func testUserDuplicateExternalID(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	newUser(t, s, o.ID, "ann", func(u *store.User) { u.ExternalID = "00u1" })
	_, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: "bob", ExternalID: "00u1"}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	// externalId is exact: another case is another value.
	newUser(t, s, o.ID, "cy", func(u *store.User) { u.ExternalID = "00U1" })
	// Empty externalIds never conflict.
	newUser(t, s, o.ID, "dan")
	newUser(t, s, o.ID, "eve")
}

func testUserUnknown(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	_, err := s.GetUser(ctx(t), o.ID, "no-such-user")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateUser(ctx(t), o.ID, "no-such-user", func(*store.User) error { return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx(t), o.ID, "no-such-user", store.AuditEvent{}), store.ErrNotFound)
	_, err = s.CreateUser(ctx(t), store.User{OrgID: "no-such-org", UserName: "ann"}, store.AuditEvent{})
	if err == nil {
		t.Error("CreateUser in an unknown organization succeeded")
	}
}

func testUserUpdate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	u := newUser(t, s, o.ID, "ann", func(u *store.User) {
		u.Emails = []store.Email{{Value: "ann@acme.com", Primary: true}}
	})
	up := must(s.UpdateUser(ctx(t), o.ID, u.ID, func(x *store.User) error {
		if x.Version != 1 || x.UserName != "ann" {
			return fmt.Errorf("fn sees %+v, want the stored user", *x)
		}
		x.ID, x.OrgID, x.Version = "hijack", "hijack", 99
		x.UserName = "Ann.New"
		x.DisplayName = "Ann New"
		x.Emails = []store.Email{{Value: "ann.new@acme.com", Type: "work", Primary: true}}
		x.Custom = map[string]string{"k": "v"}
		return nil
	}, store.AuditEvent{Actor: "token:t1"}))(t)
	if up.ID != u.ID || up.OrgID != o.ID || up.Version != 2 || up.UserName != "Ann.New" || !up.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("updated user = %+v", up)
	}
	if up.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", up.UpdatedAt, u.UpdatedAt)
	}
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	if got.Version != 2 || got.DisplayName != "Ann New" || got.Custom["k"] != "v" || !got.UpdatedAt.Equal(up.UpdatedAt) {
		t.Errorf("stored user = %+v", got)
	}
	// The new email is searchable, the old one is not.
	for email, want := range map[string]int{"ann.new@acme.com": 1, "ann@acme.com": 0} {
		p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: email}}))(t)
		if p.Total != want {
			t.Errorf("emails.value eq %q: %d matches, want %d", email, p.Total, want)
		}
	}
	if evs := events(t, s, o.ID, "user.updated"); len(evs) != 1 || evs[0].UserID != u.ID || evs[0].Actor != "token:t1" {
		t.Errorf("user.updated events = %+v", evs)
	}
}

func testUserVersionMismatch(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	u := newUser(t, s, o.ID, "ann")
	_, err := s.UpdateUser(ctx(t), o.ID, u.ID, func(x *store.User) error {
		x.DisplayName = "changed"
		x.Active = false
		if x.Version != 7 { // the client's If-Match
			return fmt.Errorf("if-match 7, have %d: %w", x.Version, store.ErrVersionMismatch)
		}
		return nil
	}, store.AuditEvent{Action: "user.replaced"})
	wantErr(t, err, store.ErrVersionMismatch)
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	if got.Version != 1 || got.DisplayName != "" || !got.Active || !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Errorf("user changed by a refused update: %+v", got)
	}
	if evs := events(t, s, o.ID, "user.replaced"); len(evs) != 0 {
		t.Errorf("refused update left audit events: %+v", evs)
	}
}

func testUserUpdateConflict(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	newUser(t, s, o.ID, "ann", func(u *store.User) { u.ExternalID = "x1" })
	bob := newUser(t, s, o.ID, "bob")
	_, err := s.UpdateUser(ctx(t), o.ID, bob.ID, func(x *store.User) error { x.UserName = "ANN"; return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateUser(ctx(t), o.ID, bob.ID, func(x *store.User) error { x.ExternalID = "x1"; return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	if got := must(s.GetUser(ctx(t), o.ID, bob.ID))(t); got.UserName != "bob" || got.Version != 1 {
		t.Errorf("bob after conflicting updates = %+v", got)
	}
	// Changing only the case of one's own userName is fine.
	must(s.UpdateUser(ctx(t), o.ID, bob.ID, func(x *store.User) error { x.UserName = "Bob"; return nil }, store.AuditEvent{}))(t)
}

// testUserUpdatesSerialised checks that concurrent read-modify-write updates
// never lose one another's changes.
func testUserUpdatesSerialised(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	u := newUser(t, s, o.ID, "ann")
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.UpdateUser(ctx(t), o.ID, u.ID, func(x *store.User) error {
				c, _ := strconv.Atoi(x.Custom["count"]) // absent: 0
				x.Custom = map[string]string{"count": fmt.Sprint(c + 1)}
				return nil
			}, store.AuditEvent{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		check(t, err)
	}
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	if got.Custom["count"] != fmt.Sprint(n) || got.Version != n+1 {
		t.Errorf("after %d updates: count %q, version %d", n, got.Custom["count"], got.Version)
	}
}

func newSession(t *testing.T, s store.Store, u store.User, id string) []byte {
	t.Helper()
	now := time.Now()
	h := []byte(id)
	check(t, s.CreateSession(ctx(t), store.Session{IDHash: h, OrgID: u.OrgID, UserID: u.ID, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now}))
	return h
}

func testUserDeactivate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann, bob := newUser(t, s, o.ID, "ann"), newUser(t, s, o.ID, "bob")
	a1, a2, b1 := newSession(t, s, ann, "a1"), newSession(t, s, ann, "a2"), newSession(t, s, bob, "b1")

	// An update that keeps Active leaves sessions alone.
	must(s.UpdateUser(ctx(t), o.ID, ann.ID, func(x *store.User) error { x.DisplayName = "Ann"; return nil }, store.AuditEvent{}))(t)
	must(s.GetSession(ctx(t), a1))(t)

	up := must(s.UpdateUser(ctx(t), o.ID, ann.ID, func(x *store.User) error { x.Active = false; return nil }, store.AuditEvent{Actor: "token:t1"}))(t)
	if up.Active {
		t.Fatal("user still active")
	}
	for _, h := range [][]byte{a1, a2} {
		_, err := s.GetSession(ctx(t), h)
		wantErr(t, err, store.ErrNotFound)
	}
	must(s.GetSession(ctx(t), b1))(t)
	if evs := events(t, s, o.ID, "user.deactivated"); len(evs) != 1 || evs[0].UserID != ann.ID {
		t.Errorf("user.deactivated events = %+v, want one for ann", evs)
	}
	// Reactivating works and a new session can be made.
	must(s.UpdateUser(ctx(t), o.ID, ann.ID, func(x *store.User) error { x.Active = true; return nil }, store.AuditEvent{}))(t)
	newSession(t, s, ann, "a3")
}

func testUserTombstone(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	old := must(s.CreateLinkedUser(ctx(t), store.User{OrgID: o.ID, UserName: "Ann", ExternalID: "x1", Active: true, Source: store.SourceJIT},
		store.Identity{ConnectionID: c.ID, NameID: "ann-nameid"}, store.AuditEvent{}))(t)
	check(t, s.DeleteUser(ctx(t), o.ID, old.ID, store.AuditEvent{Actor: "token:t1"}))

	tomb := must(s.GetUser(ctx(t), o.ID, old.ID))(t)
	if tomb.DeletedAt == nil || tomb.ID != old.ID || tomb.UserName != "Ann" {
		t.Fatalf("tombstone = %+v, want DeletedAt set and the account kept", tomb)
	}
	if tomb.DeletedAt.Location() != time.UTC || tomb.DeletedAt.Before(old.CreatedAt) {
		t.Errorf("DeletedAt = %v", tomb.DeletedAt)
	}
	id := must(s.GetIdentity(ctx(t), c.ID, "ann-nameid"))(t)
	if id.UserID != old.ID {
		t.Errorf("identity now points to %s, want the tombstone %s", id.UserID, old.ID)
	}
	// The userName and externalId are free again, case-insensitively.
	fresh := newUser(t, s, o.ID, "ANN", func(u *store.User) { u.ExternalID = "x1" })
	if fresh.ID == old.ID {
		t.Fatal("new account reused the tombstone's ID")
	}
	// The tombstone is not updatable, not deletable twice, and cannot get identities.
	_, err := s.UpdateUser(ctx(t), o.ID, old.ID, func(x *store.User) error { x.Active = true; return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx(t), o.ID, old.ID, store.AuditEvent{}), store.ErrNotFound)
	err = s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: "other", OrgID: o.ID, UserID: old.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	if evs := events(t, s, o.ID, "user.deleted"); len(evs) != 1 || evs[0].UserID != old.ID || evs[0].Actor != "token:t1" {
		t.Errorf("user.deleted events = %+v", evs)
	}
}

func testUserDeleteCleansUp(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann, bob := newUser(t, s, o.ID, "ann"), newUser(t, s, o.ID, "bob")
	h := newSession(t, s, ann, "a1")
	g := newGroup(t, s, o.ID, "eng", ann.ID, bob.ID)
	check(t, s.DeleteUser(ctx(t), o.ID, ann.ID, store.AuditEvent{}))
	_, err := s.GetSession(ctx(t), h)
	wantErr(t, err, store.ErrNotFound)
	if ms := must(s.ListMembers(ctx(t), o.ID, g.ID))(t); !slices.Equal(memberIDs(ms), []store.UserID{bob.ID}) {
		t.Errorf("members after delete = %v, want [bob]", fmtIDs(memberIDs(ms)))
	}
	if gs := must(s.ListUserGroups(ctx(t), o.ID, ann.ID))(t); len(gs) != 0 {
		t.Errorf("tombstone still in groups %+v", gs)
	}
	if got := must(s.GetGroup(ctx(t), o.ID, g.ID))(t); got.Version != g.Version+1 {
		t.Errorf("group version %d after losing a member, want %d", got.Version, g.Version+1)
	}
}

func testUserListTombstones(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	newUser(t, s, o.ID, "bob")
	check(t, s.DeleteUser(ctx(t), o.ID, ann.ID, store.AuditEvent{}))
	live := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10}))(t)
	if !slices.Equal(userNames(live.Items), []string{"bob"}) || live.Total != 1 {
		t.Errorf("live users = %v (total %d)", userNames(live.Items), live.Total)
	}
	all := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10, IncludeDeleted: true}))(t)
	if !slices.Equal(userNames(all.Items), []string{"ann", "bob"}) || all.Total != 2 || all.Items[0].DeletedAt == nil {
		t.Errorf("all users = %v (total %d)", userNames(all.Items), all.Total)
	}
	byName := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10,
		Filter: store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "ann"}}))(t)
	if byName.Total != 0 {
		t.Errorf("userName eq ann finds the tombstone: %v", userNames(byName.Items))
	}
}

func testUserPagination(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	other := newOrg(t, s, "other")
	var want []string
	for i := range 23 {
		name := fmt.Sprintf("user-%02d", (i*7)%23) // creation order differs from name order
		newUser(t, s, o.ID, name)
		newUser(t, s, other.ID, name)
		want = append(want, name)
	}
	// Updating a user must not move it.
	mid := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{StartIndex: 5, Count: 1}))(t).Items[0]
	must(s.UpdateUser(ctx(t), o.ID, mid.ID, func(x *store.User) error { x.DisplayName = "moved?"; return nil }, store.AuditEvent{}))(t)

	var got []string
	for start := 1; start <= 23; start += 5 {
		p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{StartIndex: start, Count: 5}))(t)
		if p.Total != 23 {
			t.Fatalf("page at %d: Total %d, want 23", start, p.Total)
		}
		if wantLen := min(5, 23-start+1); len(p.Items) != wantLen {
			t.Fatalf("page at %d has %d items, want %d", start, len(p.Items), wantLen)
		}
		got = append(got, userNames(p.Items)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v\nwant creation order %v", got, want)
	}
	for _, tc := range []struct {
		q         store.UserQuery
		wantItems []string
	}{
		{store.UserQuery{StartIndex: 0, Count: 2}, want[:2]},  // < 1 means 1
		{store.UserQuery{StartIndex: -3, Count: 2}, want[:2]}, // < 1 means 1
		{store.UserQuery{StartIndex: 23, Count: 5}, want[22:]},
		{store.UserQuery{StartIndex: 24, Count: 5}, nil},
		{store.UserQuery{StartIndex: 1, Count: 0}, nil}, // only Total
	} {
		p := must(s.ListUsers(ctx(t), o.ID, tc.q))(t)
		if p.Total != 23 || !slices.Equal(userNames(p.Items), tc.wantItems) {
			t.Errorf("%+v: items %v total %d, want %v total 23", tc.q, userNames(p.Items), p.Total, tc.wantItems)
		}
	}
	// A filtered page counts only the matches.
	f := store.Compare{Field: store.FieldUserName, Op: store.OpSw, Value: "user-1"}
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: f, StartIndex: 2, Count: 3}))(t)
	var wantF []string
	for _, n := range want {
		if n[:6] == "user-1" {
			wantF = append(wantF, n)
		}
	}
	if p.Total != len(wantF) || !slices.Equal(userNames(p.Items), wantF[1:4]) {
		t.Errorf("filtered page = %v (total %d), want %v (total %d)", userNames(p.Items), p.Total, wantF[1:4], len(wantF))
	}
}

func testUserMaxPage(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	n := store.MaxPageSize + 1
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				_, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: fmt.Sprintf("u%04d", i)}, store.AuditEvent{})
				errs <- err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		check(t, err)
	}
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 5 * store.MaxPageSize}))(t)
	if p.Total != n || len(p.Items) != store.MaxPageSize {
		t.Errorf("Count above the cap: %d items, total %d; want %d, %d", len(p.Items), p.Total, store.MaxPageSize, n)
	}
}
