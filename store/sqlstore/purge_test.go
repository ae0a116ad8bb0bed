package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// TestPurgesRunInBatches: the janitor's purges delete at most purgeBatch
// rows per transaction, all the expired rows in the end, and nothing else
// (login links share deleteInBatches; storetest checks what they purge).
func TestPurgesRunInBatches(t *testing.T) {
	s := openTest(t)
	s.purgeBatch = 3
	f := newSignInFixture(t, s)
	ctx := t.Context()
	now := time.Now()
	for i := range 12 {
		expires := now.Add(-time.Minute) // 10 expired, 2 live
		if i >= 10 {
			expires = now.Add(time.Hour)
		}
		if err := s.CreateSession(ctx, store.Session{IDHash: fmt.Appendf(nil, "s%d", i), OrgID: f.org.ID, UserID: f.user.ID,
			ExpiresAt: expires, CreatedAt: now.Add(-2 * time.Hour), LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.UseAssertion(ctx, f.conn.ID, fmt.Sprintf("_a%d", i), expires); err != nil {
			t.Fatal(err)
		}
		window := time.Minute // 10 windows over by now, 2 still open
		if i >= 10 {
			window = 2 * time.Hour
		}
		if _, err := s.CountRate(ctx, fmt.Sprintf("b%d", i), window, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	w := groupOf(t, s)
	for _, tc := range []struct {
		name  string
		purge func() (int, error)
	}{
		{"sessions", func() (int, error) { return s.DeleteExpiredSessions(ctx, now, 0) }},
		{"assertions", func() (int, error) { return s.PurgeAssertions(ctx, now) }},
		{"rate limits", func() (int, error) { return s.PurgeRateLimits(ctx, now) }},
	} {
		before := w.commits.Load()
		n, err := tc.purge()
		if err != nil || n != 10 {
			t.Fatalf("%s: purged %d, %v; want 10", tc.name, n, err)
		}
		if commits := w.commits.Load() - before; commits != 4 {
			t.Errorf("%s: %d transactions for 10 rows in batches of 3, want 4", tc.name, commits)
		}
		if n, err := tc.purge(); err != nil || n != 0 {
			t.Errorf("%s: a second purge deleted %d, %v", tc.name, n, err)
		}
	}
	for i := range 12 {
		_, err := s.GetSession(ctx, fmt.Appendf(nil, "s%d", i))
		if live := i >= 10; live != (err == nil) {
			t.Errorf("session %d after the purge: %v", i, err)
		}
	}
	if err := s.UseAssertion(ctx, f.conn.ID, "_a11", now.Add(time.Hour)); err == nil {
		t.Error("a live assertion ID was purged")
	}
}
