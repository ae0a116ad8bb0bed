package sqlstore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// TestCheckpointerCopiesWAL: commits reach the database file through the
// checkpointer while the writer's own checkpoint threshold is far off.
func TestCheckpointerCopiesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	s := openAt(t, path)
	ctx := t.Context()
	org, err := s.CreateOrg(ctx, store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Let the checkpointer copy what Open and CreateOrg wrote, then write
	// more: about a thousand WAL frames, a quarter of the writer's own
	// threshold (wal_autocheckpoint), so that only the checkpointer can move
	// them into the file.
	waitFor(t, func() bool { return size() > 0 })
	before := size()
	for i := range 100 {
		name := fmt.Sprintf("user%03d@example.com", i)
		if _, err := s.CreateUser(ctx, store.User{OrgID: org.ID, UserName: name, Active: true,
			Emails: []store.Email{{Value: name, Primary: true}}}, store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return size() > before })
}

// waitFor polls cond until it holds, failing the test after a minute: the
// checkpointer runs on its own time, and a shared machine can be slow.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
