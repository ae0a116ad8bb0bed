package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func sessionTests() []test {
	return []test{
		{"CreateGetTouchDelete", testSessionLifecycle},
		{"DuplicateIDIsConflict", testSessionDuplicate},
		{"DeleteExpiredByAbsoluteAndIdleLimits", testSessionExpiry},
	}
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	now := time.Date(2026, 3, 4, 5, 6, 7, 8910, time.UTC)
	h := []byte{1, 2, 3}
	check(t, s.CreateSession(ctx(t), store.Session{IDHash: h, OrgID: o.ID, UserID: ann.ID, CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}))
	se := must(s.GetSession(ctx(t), []byte{1, 2, 3}))(t)
	micro := now.Truncate(time.Microsecond)
	if !bytes.Equal(se.IDHash, h) || se.UserID != ann.ID || se.OrgID != o.ID || !se.CreatedAt.Equal(micro) ||
		!se.ExpiresAt.Equal(micro.Add(8*time.Hour)) || !se.LastSeenAt.Equal(micro) {
		t.Errorf("session = %+v (LastSeenAt defaults to CreatedAt)", se)
	}
	later := now.Add(time.Minute)
	check(t, s.TouchSession(ctx(t), h, later))
	if se := must(s.GetSession(ctx(t), h))(t); !se.LastSeenAt.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("LastSeenAt = %v, want %v", se.LastSeenAt, later)
	}
	check(t, s.DeleteSession(ctx(t), h))
	_, err := s.GetSession(ctx(t), h)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.TouchSession(ctx(t), h, later), store.ErrNotFound)
	wantErr(t, s.DeleteSession(ctx(t), h), store.ErrNotFound)
}

func testSessionDuplicate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	h := newSession(t, s, ann, "same")
	err := s.CreateSession(ctx(t), store.Session{IDHash: h, OrgID: o.ID, UserID: ann.ID, ExpiresAt: time.Now().Add(time.Hour)})
	wantErr(t, err, store.ErrConflict)
}

func testSessionExpiry(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	mk := func(id string, expires, seen time.Time) []byte {
		h := []byte(id)
		check(t, s.CreateSession(ctx(t), store.Session{IDHash: h, OrgID: o.ID, UserID: ann.ID,
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: expires, LastSeenAt: seen}))
		return h
	}
	expired := mk("expired", now, now)                                 // expiry is inclusive
	idle := mk("idle", now.Add(time.Hour), now.Add(-31*time.Minute))   // idle too long
	fresh := mk("fresh", now.Add(time.Hour), now.Add(-29*time.Minute)) // within both limits
	if n := must(s.DeleteExpiredSessions(ctx(t), now, 0))(t); n != 1 {
		t.Errorf("without an idle limit deleted %d, want 1", n)
	}
	_, err := s.GetSession(ctx(t), expired)
	wantErr(t, err, store.ErrNotFound)
	must(s.GetSession(ctx(t), idle))(t)
	if n := must(s.DeleteExpiredSessions(ctx(t), now, 30*time.Minute))(t); n != 1 {
		t.Errorf("with a 30m idle limit deleted %d, want 1", n)
	}
	_, err = s.GetSession(ctx(t), idle)
	wantErr(t, err, store.ErrNotFound)
	must(s.GetSession(ctx(t), fresh))(t)
}
