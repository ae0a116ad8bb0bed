package admin_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

func TestRetentionSweeperPurgesOldEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org, err := st.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, store.AuditEvent{Actor: "operator", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, age := range []time.Duration{400 * 24 * time.Hour, 366 * 24 * time.Hour, 364 * 24 * time.Hour, time.Hour} {
		if err := st.RecordEvent(ctx, store.AuditEvent{OrgID: org.ID, Time: now.Add(-age), Actor: "test", Action: "test.event"}); err != nil {
			t.Fatal(err)
		}
	}
	var purged int
	r, err := admin.NewRetentionSweeper(admin.RetentionConfig{Store: st, Keep: admin.DefaultAuditRetention,
		Now: func() time.Time { return now }, Purged: func(n int) { purged += n }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Sweep(ctx)
	if err != nil || n != 2 || purged != 2 {
		t.Fatalf("Sweep = %d, %v (purged %d), want the 2 events older than a year", n, err, purged)
	}
	evs, err := st.ListEvents(ctx, org.ID, store.AuditQuery{Action: "test.event"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events left, want 2", len(evs))
	}
	for _, ev := range evs {
		if now.Sub(ev.Time) > admin.DefaultAuditRetention {
			t.Errorf("event of %s survived", ev.Time)
		}
	}
	// Run sweeps at once and stops with its context.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	cancel()
	<-done

	if _, err := admin.NewRetentionSweeper(admin.RetentionConfig{Store: st}); err == nil {
		t.Error("a sweeper without a retention was accepted")
	}
}
