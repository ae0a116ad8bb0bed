package jit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// janitorSetup stores, relative to now, an expired and a live assertion ID
// and an expired, an idle and a live session.
func janitorSetup(t *testing.T, now time.Time) (*sqlstore.Store, store.ConnectionID, store.User) {
	t.Helper()
	ctx := context.Background()
	st, conn, _ := openTestStore(t)
	org, err := st.GetOrgBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "alice", Active: true, Source: store.SourceJIT},
		store.AuditEvent{Actor: "operator", Action: "user.created"})
	if err != nil {
		t.Fatal(err)
	}
	for id, end := range map[string]time.Time{"old": now.Add(-time.Minute), "live": now.Add(time.Minute)} {
		if err := st.UseAssertion(ctx, conn, id, end); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range []store.Session{
		{CreatedAt: now.Add(-13 * time.Hour), ExpiresAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Minute)},     // expired
		{CreatedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(9 * time.Hour), LastSeenAt: now.Add(-2 * time.Hour)}, // idle
		{CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(11 * time.Hour), LastSeenAt: now.Add(-time.Minute)},      // live
	} {
		s.IDHash, s.OrgID, s.UserID = []byte{byte(i), 1, 2, 3}, org.ID, u.ID
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return st, conn, u
}

func TestJanitor_SweepPurgesOnlyWhatExpired(t *testing.T) {
	now := time.Now()
	st, conn, _ := janitorSetup(t, now)
	ctx := context.Background()
	j, err := NewJanitor(JanitorConfig{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}

	a, s, err := j.Sweep(ctx)

	if err != nil || a != 1 || s != 2 {
		t.Fatalf("Sweep = %d assertions, %d sessions, %v; want 1, 2", a, s, err)
	}
	if err := st.UseAssertion(ctx, conn, "old", now.Add(time.Minute)); err != nil {
		t.Errorf("the purged assertion ID is still recorded: %v", err)
	}
	if err := st.UseAssertion(ctx, conn, "live", now.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the live assertion ID was purged: UseAssertion = %v, want a conflict", err)
	}
	for i, want := range []error{store.ErrNotFound, store.ErrNotFound, nil} {
		if _, err := st.GetSession(ctx, []byte{byte(i), 1, 2, 3}); !errors.Is(err, want) {
			t.Errorf("session %d: GetSession = %v, want %v", i, err, want)
		}
	}
}

func TestJanitor_RunSweepsUntilCancelled(t *testing.T) {
	now := time.Now()
	st, _, _ := janitorSetup(t, now)
	j, err := NewJanitor(JanitorConfig{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- j.Run(ctx) }()

	// The first sweep runs at once; wait for its effect.
	for {
		if _, err := st.GetSession(context.Background(), []byte{0, 1, 2, 3}); errors.Is(err, store.ErrNotFound) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before it was cancelled", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

func TestNewJanitor_Validates(t *testing.T) {
	if _, err := NewJanitor(JanitorConfig{}); err == nil {
		t.Error("no store accepted")
	}
	st, _, _ := openTestStore(t)
	if _, err := NewJanitor(JanitorConfig{Store: st, Interval: -time.Second}); err == nil {
		t.Error("negative interval accepted")
	}
}
