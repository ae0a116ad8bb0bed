package jit

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// openTestStore opens a real SQLite store in a fresh file with organization
// "acme" and its connections "okta" and "other", whose IDs it returns.
func openTestStore(t testing.TB) (st *sqlstore.Store, okta, other store.ConnectionID) {
	t.Helper()
	return openTestStoreAt(t, filepath.Join(t.TempDir(), "onramp.db"))
}

// openTestStoreAt is openTestStore on the SQLite file at path.
func openTestStoreAt(t testing.TB, path string) (st *sqlstore.Store, okta, other store.ConnectionID) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	org, err := st.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme Corp"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []store.ConnectionID
	for _, slug := range []string{"okta", "other"} {
		c, err := st.CreateConnection(ctx, store.Connection{OrgID: org.ID, Slug: slug, Name: slug}, ev)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return st, ids[0], ids[1]
}
