package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func auditTests() []test {
	return []test{
		{"WrittenWithChange", testAuditWithChange},
		{"RecordEventKeepsDecision", testAuditRecord},
		{"CursorPagination", testAuditCursor},
		{"QueryFilters", testAuditFilters},
	}
}

func testAuditWithChange(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	before := time.Now().Add(-time.Second)
	u := must(s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: "ann", ConnectionID: c.ID},
		store.AuditEvent{Actor: "token:t1", Action: "user.created", Detail: map[string]string{"via": "scim"}}))(t)
	evs := events(t, s, o.ID, "user.created")
	if len(evs) != 1 {
		t.Fatalf("user.created events = %+v, want 1", evs)
	}
	ev := evs[0]
	if ev.ID == 0 || ev.OrgID != o.ID || ev.UserID != u.ID || ev.ConnectionID != c.ID || ev.Actor != "token:t1" ||
		!maps.Equal(ev.Detail, map[string]string{"via": "scim"}) || ev.Time.Before(before) || ev.Time.Location() != time.UTC {
		t.Errorf("event = %+v", ev)
	}
	// Failed writes leave no event.
	_, err := s.CreateUser(ctx(t), store.User{OrgID: o.ID, UserName: "ANN"}, store.AuditEvent{Action: "failed.create"})
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateUser(ctx(t), o.ID, u.ID, func(*store.User) error { return fmt.Errorf("no") }, store.AuditEvent{Action: "failed.update"})
	if err == nil {
		t.Fatal("update with a failing fn succeeded")
	}
	wantErr(t, s.DeleteUser(ctx(t), o.ID, "nope", store.AuditEvent{Action: "failed.delete"}), store.ErrNotFound)
	_, err = s.CreateGroup(ctx(t), store.Group{OrgID: o.ID, DisplayName: "g"}, []store.UserID{"nope"}, store.AuditEvent{Action: "failed.group"})
	wantErr(t, err, store.ErrInvalidReference)
	for _, a := range []string{"failed.create", "failed.update", "failed.delete", "failed.group"} {
		if evs := events(t, s, o.ID, a); len(evs) != 0 {
			t.Errorf("%s left events %+v", a, evs)
		}
	}
	// Without an action or actor, the store names the change.
	must(s.UpdateUser(ctx(t), o.ID, u.ID, func(x *store.User) error { x.DisplayName = "Ann"; return nil }, store.AuditEvent{}))(t)
	if evs := events(t, s, o.ID, "user.updated"); len(evs) != 1 || evs[0].Actor == "" {
		t.Errorf("default user.updated events = %+v", evs)
	}
}

func testAuditRecord(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	at := time.Date(2026, 2, 3, 4, 5, 6, 7008009, time.UTC)
	check(t, s.RecordEvent(ctx(t), store.AuditEvent{OrgID: o.ID, Time: at, Actor: "idp:okta", Action: "jit.refused",
		ConnectionID: "c1", Rule: "jit.ssoConnections.off", Detail: map[string]string{"reason": "jit off"}}))
	evs := events(t, s, o.ID, "jit.refused")
	if len(evs) != 1 {
		t.Fatalf("jit.refused events = %+v", evs)
	}
	if ev := evs[0]; !ev.Time.Equal(at.Truncate(time.Microsecond)) || ev.Rule != "jit.ssoConnections.off" ||
		ev.ConnectionID != "c1" || ev.Detail["reason"] != "jit off" || ev.Actor != "idp:okta" {
		t.Errorf("event = %+v", ev)
	}
	if evs := must(s.ListEvents(ctx(t), "other-org", store.AuditQuery{}))(t); len(evs) != 0 {
		t.Errorf("another organization sees %+v", evs)
	}
}

func testAuditCursor(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	const n = 25
	for i := range n {
		check(t, s.RecordEvent(ctx(t), store.AuditEvent{OrgID: o.ID, Actor: "system", Action: "test.tick", Detail: map[string]string{"i": fmt.Sprint(i)}}))
	}
	var got []string
	var before int64
	for page := 0; ; page++ {
		evs := must(s.ListEvents(ctx(t), o.ID, store.AuditQuery{Action: "test.tick", Before: before, Limit: 10}))(t)
		if len(evs) == 0 {
			break
		}
		if page > 3 {
			t.Fatal("pagination does not end")
		}
		for i, ev := range evs {
			if i > 0 && ev.ID >= evs[i-1].ID {
				t.Fatalf("events not newest first: %d after %d", ev.ID, evs[i-1].ID)
			}
			got = append(got, ev.Detail["i"])
		}
		before = evs[len(evs)-1].ID
	}
	if len(got) != n {
		t.Fatalf("paged through %d events, want %d", len(got), n)
	}
	for i, v := range got {
		if want := fmt.Sprint(n - 1 - i); v != want {
			t.Errorf("event %d of the walk is %s, want %s", i, v, want)
		}
	}
	if evs := must(s.ListEvents(ctx(t), o.ID, store.AuditQuery{Action: "test.tick"}))(t); len(evs) != n {
		t.Errorf("default limit returned %d of %d", len(evs), n)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, ev := range []store.AuditEvent{
		{Actor: "token:a", Action: "x.one", UserID: "u1"},
		{Actor: "token:b", Action: "x.one", UserID: "u2"},
		{Actor: "token:a", Action: "x.two", UserID: "u1"},
		{Actor: "operator", Action: "x.two"},
	} {
		ev.OrgID, ev.Time = o.ID, t0.Add(time.Duration(i)*time.Hour)
		check(t, s.RecordEvent(ctx(t), ev))
	}
	for _, tc := range []struct {
		q    store.AuditQuery
		want int
	}{
		{store.AuditQuery{Actor: "token:a"}, 2},
		{store.AuditQuery{Action: "x.two"}, 2},
		{store.AuditQuery{UserID: "u1"}, 2},
		{store.AuditQuery{Actor: "token:a", Action: "x.one"}, 1},
		{store.AuditQuery{Since: t0.Add(time.Hour)}, 3}, // inclusive
		{store.AuditQuery{Until: t0.Add(time.Hour)}, 1}, // exclusive
		{store.AuditQuery{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, 2},
		{store.AuditQuery{Limit: 3}, 3},
	} {
		evs := must(s.ListEvents(ctx(t), o.ID, tc.q))(t)
		var mine int
		for _, ev := range evs {
			if ev.Action == "x.one" || ev.Action == "x.two" {
				mine++
			}
		}
		if mine != tc.want {
			t.Errorf("%+v: %d events, want %d", tc.q, mine, tc.want)
		}
	}
}
