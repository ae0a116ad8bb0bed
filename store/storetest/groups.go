package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func groupTests() []test {
	return []test{
		{"CreateGetRoundTrip", testGroupRoundTrip},
		{"DuplicateDisplayNameDiffersOnlyInCase", testGroupDuplicate},
		{"MemberChangeReplaceAddRemove", testGroupMembers},
		{"AddUnknownMemberIsInvalidReference", testGroupBadMember},
		{"UpdateVersionMismatchWritesNothing", testGroupVersionMismatch},
		{"ListUserGroups", testGroupUserGroups},
		{"Filter", testGroupFilters},
		{"Delete", testGroupDelete},
	}
}

func testGroupRoundTrip(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	ann := newUser(t, s, o.ID, "ann", func(u *store.User) { u.DisplayName = "Ann Smith" })
	bob := newUser(t, s, o.ID, "bob")
	in := store.Group{OrgID: o.ID, DisplayName: "Engineering", ExternalID: "g-1", ConnectionID: c.ID,
		Resource: json.RawMessage(`{"displayName":"Engineering"}`)}
	g := must(s.CreateGroup(ctx(t), in, []store.UserID{bob.ID, ann.ID, bob.ID}, store.AuditEvent{Actor: "token:t1"}))(t)
	if g.ID == "" || g.Version != 1 || g.CreatedAt.IsZero() {
		t.Fatalf("created group = %+v", g)
	}
	got := must(s.GetGroup(ctx(t), o.ID, g.ID))(t)
	if got.DisplayName != "Engineering" || got.ExternalID != "g-1" || got.ConnectionID != c.ID ||
		!jsonEqual(t, got.Resource, in.Resource) || !got.CreatedAt.Equal(g.CreatedAt) || got.Version != 1 {
		t.Errorf("group = %+v, want %+v", got, in)
	}
	ms := must(s.ListMembers(ctx(t), o.ID, g.ID))(t)
	want := []store.Member{{UserID: bob.ID, Display: "bob"}, {UserID: ann.ID, Display: "Ann Smith"}}
	if !slices.Equal(ms, want) {
		t.Errorf("members = %+v, want %+v (display name, else userName)", ms, want)
	}
	_, err := s.GetGroup(ctx(t), "other-org", g.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.ListMembers(ctx(t), o.ID, "no-such-group")
	wantErr(t, err, store.ErrNotFound)
	if evs := events(t, s, o.ID, "group.created"); len(evs) != 1 || evs[0].GroupID != g.ID {
		t.Errorf("group.created events = %+v", evs)
	}
}

func testGroupDuplicate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	newGroup(t, s, o.ID, "Engineering")
	_, err := s.CreateGroup(ctx(t), store.Group{OrgID: o.ID, DisplayName: "ENGINEERING"}, nil, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	sales := newGroup(t, s, o.ID, "Sales")
	_, err = s.UpdateGroup(ctx(t), o.ID, sales.ID, func(g *store.Group) error { g.DisplayName = "engineering"; return nil },
		store.MemberChange{}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	newGroup(t, s, newOrg(t, s, "other").ID, "Engineering")
}

func testGroupMembers(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	a, b, c, d := newUser(t, s, o.ID, "a"), newUser(t, s, o.ID, "b"), newUser(t, s, o.ID, "c"), newUser(t, s, o.ID, "d")
	g := newGroup(t, s, o.ID, "eng", a.ID, b.ID)
	steps := []struct {
		name string
		mc   store.MemberChange
		want []store.UserID
	}{
		{"add a new and a present member", store.MemberChange{Add: []store.UserID{c.ID, a.ID}}, []store.UserID{a.ID, b.ID, c.ID}},
		{"remove a present and an absent member", store.MemberChange{Remove: []store.UserID{b.ID, d.ID}}, []store.UserID{a.ID, c.ID}},
		{"add and remove", store.MemberChange{Add: []store.UserID{d.ID}, Remove: []store.UserID{a.ID}}, []store.UserID{c.ID, d.ID}},
		{"replace keeps present members' places", store.MemberChange{Replace: true, Set: []store.UserID{b.ID, d.ID, c.ID}}, []store.UserID{c.ID, d.ID, b.ID}},
		{"nothing", store.MemberChange{}, []store.UserID{c.ID, d.ID, b.ID}},
		{"replace with nothing", store.MemberChange{Replace: true}, nil},
		{"replace from empty", store.MemberChange{Replace: true, Set: []store.UserID{d.ID, a.ID}}, []store.UserID{d.ID, a.ID}},
	}
	version := g.Version
	for _, st := range steps {
		up, err := s.UpdateGroup(ctx(t), o.ID, g.ID, nil, st.mc, store.AuditEvent{})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		version++
		if up.Version != version {
			t.Errorf("%s: version %d, want %d", st.name, up.Version, version)
		}
		got := memberIDs(must(s.ListMembers(ctx(t), o.ID, g.ID))(t))
		if !slices.Equal(got, st.want) && (len(got) != 0 || len(st.want) != 0) {
			t.Errorf("%s: members %v, want %v", st.name, fmtIDs(got), fmtIDs(st.want))
		}
	}
	// fn and the member change go together.
	up := must(s.UpdateGroup(ctx(t), o.ID, g.ID, func(x *store.Group) error { x.DisplayName = "Eng"; return nil },
		store.MemberChange{Add: []store.UserID{b.ID}}, store.AuditEvent{Action: "group.patched"}))(t)
	if up.DisplayName != "Eng" {
		t.Errorf("displayName = %q", up.DisplayName)
	}
	if got := memberIDs(must(s.ListMembers(ctx(t), o.ID, g.ID))(t)); !slices.Equal(got, []store.UserID{d.ID, a.ID, b.ID}) {
		t.Errorf("members = %v", fmtIDs(got))
	}
	if evs := events(t, s, o.ID, "group.patched"); len(evs) != 1 || evs[0].GroupID != g.ID {
		t.Errorf("group.patched events = %+v", evs)
	}
}

func testGroupBadMember(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	gone := newUser(t, s, o.ID, "gone")
	check(t, s.DeleteUser(ctx(t), o.ID, gone.ID, store.AuditEvent{}))
	stranger := newUser(t, s, newOrg(t, s, "other").ID, "stranger")
	g := newGroup(t, s, o.ID, "eng", ann.ID)

	for name, id := range map[string]store.UserID{"unknown": "no-such-user", "tombstone": gone.ID, "other org": stranger.ID} {
		_, err := s.UpdateGroup(ctx(t), o.ID, g.ID, func(x *store.Group) error { x.DisplayName = "renamed"; return nil },
			store.MemberChange{Add: []store.UserID{id}}, store.AuditEvent{Action: "group.bad"})
		if !errorsIs(err, store.ErrInvalidReference) {
			t.Errorf("add %s member: err = %v, want ErrInvalidReference", name, err)
		}
		_, err = s.UpdateGroup(ctx(t), o.ID, g.ID, nil, store.MemberChange{Replace: true, Set: []store.UserID{id}}, store.AuditEvent{Action: "group.bad"})
		if !errorsIs(err, store.ErrInvalidReference) {
			t.Errorf("replace with %s member: err = %v, want ErrInvalidReference", name, err)
		}
		_, err = s.CreateGroup(ctx(t), store.Group{OrgID: o.ID, DisplayName: "new " + name}, []store.UserID{ann.ID, id}, store.AuditEvent{Action: "group.bad"})
		if !errorsIs(err, store.ErrInvalidReference) {
			t.Errorf("create with %s member: err = %v, want ErrInvalidReference", name, err)
		}
	}
	// Nothing was written.
	got := must(s.GetGroup(ctx(t), o.ID, g.ID))(t)
	if got.DisplayName != "eng" || got.Version != 1 {
		t.Errorf("group after refused updates = %+v", got)
	}
	if ms := memberIDs(must(s.ListMembers(ctx(t), o.ID, g.ID))(t)); !slices.Equal(ms, []store.UserID{ann.ID}) {
		t.Errorf("members after refused updates = %v", fmtIDs(ms))
	}
	if p := must(s.ListGroups(ctx(t), o.ID, store.GroupQuery{Count: 10}))(t); p.Total != 1 {
		t.Errorf("%d groups after refused creates, want 1", p.Total)
	}
	if evs := events(t, s, o.ID, "group.bad"); len(evs) != 0 {
		t.Errorf("refused writes left audit events: %+v", evs)
	}
}

func testGroupVersionMismatch(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	g := newGroup(t, s, o.ID, "eng")
	_, err := s.UpdateGroup(ctx(t), o.ID, g.ID, func(x *store.Group) error {
		x.DisplayName = "changed"
		return store.ErrVersionMismatch
	}, store.MemberChange{Add: []store.UserID{ann.ID}}, store.AuditEvent{})
	wantErr(t, err, store.ErrVersionMismatch)
	if got := must(s.GetGroup(ctx(t), o.ID, g.ID))(t); got.Version != 1 || got.DisplayName != "eng" {
		t.Errorf("group = %+v", got)
	}
	if ms := must(s.ListMembers(ctx(t), o.ID, g.ID))(t); len(ms) != 0 {
		t.Errorf("members = %+v, want none", ms)
	}
}

func testGroupUserGroups(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann, bob := newUser(t, s, o.ID, "ann"), newUser(t, s, o.ID, "bob")
	g1 := newGroup(t, s, o.ID, "one", ann.ID)
	newGroup(t, s, o.ID, "two", bob.ID)
	g3 := newGroup(t, s, o.ID, "three", bob.ID, ann.ID)
	var got []store.GroupID
	for _, g := range must(s.ListUserGroups(ctx(t), o.ID, ann.ID))(t) {
		got = append(got, g.ID)
	}
	if !slices.Equal(got, []store.GroupID{g1.ID, g3.ID}) {
		t.Errorf("ann's groups = %v, want %v", got, []store.GroupID{g1.ID, g3.ID})
	}
	if gs := must(s.ListUserGroups(ctx(t), "other-org", ann.ID))(t); len(gs) != 0 {
		t.Errorf("groups seen from another organization: %+v", gs)
	}
}

func testGroupFilters(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann, bob := newUser(t, s, o.ID, "ann"), newUser(t, s, o.ID, "bob")
	eng := must(s.CreateGroup(ctx(t), store.Group{OrgID: o.ID, DisplayName: "Engineering", ExternalID: "g-1"}, []store.UserID{ann.ID}, store.AuditEvent{}))(t)
	sales := newGroup(t, s, o.ID, "Sales", bob.ID)
	all := newGroup(t, s, o.ID, "Everyone", ann.ID, bob.ID)
	empty := newGroup(t, s, o.ID, "Empty")
	other := newOrg(t, s, "other")
	newGroup(t, s, other.ID, "Engineering", newUser(t, s, other.ID, "x").ID)
	M := store.FieldMemberValue
	members := func(f store.Filter) store.Filter { return store.Element{Attr: "members", F: f} }
	for _, tc := range []struct {
		f    store.Filter
		want []store.GroupID
	}{
		{cmp(store.FieldDisplayName, store.OpEq, "ENGINEERING"), []store.GroupID{eng.ID}},
		{cmp(store.FieldDisplayName, store.OpSw, "s"), []store.GroupID{sales.ID}},
		{cmp(store.FieldExternalID, store.OpEq, "g-1"), []store.GroupID{eng.ID}},
		{cmp(store.FieldExternalID, store.OpPresent, nil), []store.GroupID{eng.ID}},
		{cmp(store.FieldID, store.OpEq, string(all.ID)), []store.GroupID{all.ID}},
		{cmp(M, store.OpEq, string(ann.ID)), []store.GroupID{eng.ID, all.ID}},
		{cmp(M, store.OpEq, string(bob.ID)), []store.GroupID{sales.ID, all.ID}},
		{cmp(M, store.OpNe, string(ann.ID)), []store.GroupID{sales.ID, empty.ID}},
		{members(cmp(M, store.OpEq, string(ann.ID))), []store.GroupID{eng.ID, all.ID}},
		{and(cmp(M, store.OpEq, string(ann.ID)), cmp(M, store.OpEq, string(bob.ID))), []store.GroupID{all.ID}},
		{not(cmp(M, store.OpPresent, nil)), []store.GroupID{empty.ID}},
		{or(cmp(store.FieldDisplayName, store.OpEq, "sales"), cmp(store.FieldDisplayName, store.OpEq, "empty")), []store.GroupID{sales.ID, empty.ID}},
		{cmp(store.FieldCreated, store.OpGe, eng.CreatedAt), []store.GroupID{eng.ID, sales.ID, all.ID, empty.ID}},
	} {
		p, err := s.ListGroups(ctx(t), o.ID, store.GroupQuery{Filter: tc.f, Count: 10})
		if err != nil {
			t.Errorf("%v: %v", tc.f, err)
			continue
		}
		var got []store.GroupID
		for _, g := range p.Items {
			got = append(got, g.ID)
		}
		if !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
			t.Errorf("%v: got %v (total %d), want %v", tc.f, got, p.Total, tc.want)
		}
	}
	for _, f := range []store.Filter{
		cmp(store.FieldUserName, store.OpEq, "x"),
		cmp(store.FieldEmailValue, store.OpEq, "x"),
		store.Element{Attr: "emails", F: cmp(store.FieldEmailValue, store.OpEq, "x")},
	} {
		if _, err := s.ListGroups(ctx(t), o.ID, store.GroupQuery{Filter: f, Count: 10}); err == nil {
			t.Errorf("group filter %v: no error", f)
		}
	}
	p := must(s.ListGroups(ctx(t), o.ID, store.GroupQuery{StartIndex: 2, Count: 2}))(t)
	if p.Total != 4 || len(p.Items) != 2 || p.Items[0].ID != sales.ID || p.Items[1].ID != all.ID {
		t.Errorf("page 2..3 of groups = %+v", p)
	}
}

func testGroupDelete(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	g := newGroup(t, s, o.ID, "eng", ann.ID)
	wantErr(t, s.DeleteGroup(ctx(t), "other-org", g.ID, store.AuditEvent{}, nil), store.ErrNotFound)
	// A version check that refuses writes nothing; its error comes back.
	unchanged := func(current int64) error {
		if current == g.Version {
			return nil
		}
		return fmt.Errorf("version %d: %w", current, store.ErrVersionMismatch)
	}
	g = must(s.UpdateGroup(ctx(t), o.ID, g.ID, func(g *store.Group) error { g.DisplayName = "Eng"; return nil }, store.MemberChange{}, store.AuditEvent{}))(t)
	var seen int64
	wantErr(t, s.DeleteGroup(ctx(t), o.ID, g.ID, store.AuditEvent{}, func(current int64) error {
		seen = current
		return fmt.Errorf("want %d: %w", current-1, store.ErrVersionMismatch)
	}), store.ErrVersionMismatch)
	if seen != g.Version {
		t.Errorf("the version check saw %d, want the current %d", seen, g.Version)
	}
	if _, err := s.GetGroup(ctx(t), o.ID, g.ID); err != nil {
		t.Fatalf("a refused version check deleted the group: %v", err)
	}
	check(t, s.DeleteGroup(ctx(t), o.ID, g.ID, store.AuditEvent{Actor: "token:t1"}, unchanged))
	_, err := s.GetGroup(ctx(t), o.ID, g.ID)
	wantErr(t, err, store.ErrNotFound)
	if gs := must(s.ListUserGroups(ctx(t), o.ID, ann.ID))(t); len(gs) != 0 {
		t.Errorf("ann still in %+v", gs)
	}
	wantErr(t, s.DeleteGroup(ctx(t), o.ID, g.ID, store.AuditEvent{}, nil), store.ErrNotFound)
	// The name is free again.
	newGroup(t, s, o.ID, "ENG")
	if evs := events(t, s, o.ID, "group.deleted"); len(evs) != 1 || evs[0].GroupID != g.ID {
		t.Errorf("group.deleted events = %+v", evs)
	}
}
