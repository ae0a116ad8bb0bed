package storetest

import (
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func assertionTests() []test {
	return []test{
		{"ReplayIsConflict", testAssertionReplay},
		{"PurgeForgetsExpired", testAssertionPurge},
	}
}

func testAssertionReplay(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	okta, entra := newConn(t, s, o.ID, "okta"), newConn(t, s, o.ID, "entra")
	exp := time.Now().Add(5 * time.Minute)
	check(t, s.UseAssertion(ctx(t), okta.ID, "_a1", exp))
	wantErr(t, s.UseAssertion(ctx(t), okta.ID, "_a1", exp), store.ErrConflict)
	wantErr(t, s.UseAssertion(ctx(t), okta.ID, "_a1", exp.Add(time.Hour)), store.ErrConflict)
	check(t, s.UseAssertion(ctx(t), entra.ID, "_a1", exp)) // IDs are per connection
	check(t, s.UseAssertion(ctx(t), okta.ID, "_A1", exp))  // and exact
}

func testAssertionPurge(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	check(t, s.UseAssertion(ctx(t), c.ID, "old", now.Add(-time.Second)))
	check(t, s.UseAssertion(ctx(t), c.ID, "edge", now))
	check(t, s.UseAssertion(ctx(t), c.ID, "live", now.Add(time.Second)))
	if n := must(s.PurgeAssertions(ctx(t), now))(t); n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	check(t, s.UseAssertion(ctx(t), c.ID, "old", now.Add(time.Minute)))
	wantErr(t, s.UseAssertion(ctx(t), c.ID, "live", now.Add(time.Minute)), store.ErrConflict)
}
