package storetest

import (
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// testTimezones checks that times go in in any zone, at any precision, and come
// back as the same instant in UTC, truncated to microseconds.
func testTimezones(t *testing.T, s store.Store) {
	zone := time.FixedZone("UTC-3:30", -(3*3600 + 1800))
	in := time.Date(2026, 7, 8, 23, 59, 59, 999999999, zone) // the next day in UTC
	want := in.UTC().Truncate(time.Microsecond)
	utc := func(what string, got time.Time) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", what, got.Location())
		}
	}
	same := func(what string, got time.Time) {
		t.Helper()
		utc(what, got)
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	o := newOrg(t, s, "acme")
	utc("Org.CreatedAt", o.CreatedAt)
	utc("stored Org.CreatedAt", must(s.GetOrg(ctx(t), o.ID))(t).CreatedAt)
	u := newUser(t, s, o.ID, "ann", func(u *store.User) { u.LastSignInAt = &in })
	utc("User.CreatedAt", u.CreatedAt)
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	utc("stored User.CreatedAt", got.CreatedAt)
	utc("stored User.UpdatedAt", got.UpdatedAt)
	if got.CreatedAt != u.CreatedAt {
		t.Errorf("CreatedAt returned by Create (%v) and Get (%v) differ", u.CreatedAt, got.CreatedAt)
	}
	same("User.LastSignInAt", *got.LastSignInAt)

	check(t, s.CreateSession(ctx(t), store.Session{IDHash: []byte("s"), OrgID: o.ID, UserID: u.ID, CreatedAt: in, ExpiresAt: in, LastSeenAt: in}))
	se := must(s.GetSession(ctx(t), []byte("s")))(t)
	same("Session.CreatedAt", se.CreatedAt)
	same("Session.ExpiresAt", se.ExpiresAt)
	same("Session.LastSeenAt", se.LastSeenAt)

	check(t, s.RecordEvent(ctx(t), store.AuditEvent{OrgID: o.ID, Time: in, Action: "tz.test"}))
	same("AuditEvent.Time", events(t, s, o.ID, "tz.test")[0].Time)

	// A filter time in another zone means the same instant.
	p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 1,
		Filter: cmp(store.FieldCreated, store.OpEq, u.CreatedAt.In(zone))}))(t)
	if p.Total != 1 {
		t.Errorf("created eq (same instant, other zone) matched %d users, want 1", p.Total)
	}
	// An expiry given in another zone is compared as an instant.
	if n := must(s.DeleteExpiredSessions(ctx(t), want.Add(-time.Microsecond).In(zone), 0))(t); n != 0 {
		t.Errorf("deleted %d sessions a microsecond before expiry", n)
	}
	if n := must(s.DeleteExpiredSessions(ctx(t), want.In(time.Local), 0))(t); n != 1 {
		t.Errorf("deleted %d sessions at expiry, want 1", n)
	}
}
